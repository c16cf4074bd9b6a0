"""``python -m longdep_bench``: the command line."""

from longdep_bench.cli import main

main()
