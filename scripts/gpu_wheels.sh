#!/usr/bin/env bash
# Wheels that scripts/gpu_check.sh installs on a GPU machine without network: longdep-bench itself and
# tqdm, the one dependency the GPU image lacks. Writes dist/ (ignored by git; carry it to the machine).
set -euo pipefail
cd "$(dirname "$0")/.."
rm -rf dist build  # build/ keeps files that the source no longer has: they would land in the wheel
python3 -m pip wheel --no-deps --quiet -w dist . tqdm
ls dist
