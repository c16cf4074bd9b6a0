"""The built-in output formats of ``run`` and ``report``, registered through the plugin hooks like
any other package's (``register_formats``)."""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Sequence
from typing import Any

from longdep_bench.api.hookspecs import hookimpl
from longdep_bench.api.specs import FormatSpec
from longdep_bench.results.tables import Table, flat_rows, text_tables


def _csv(tables: Sequence[Table]) -> str:
    rows = flat_rows(tables)
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(dict.fromkeys(k for row in rows for k in row)), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


def _finite(value: Any) -> Any:
    """JSON has no NaN or infinity: a missing number is null."""
    return None if isinstance(value, float) and not math.isfinite(value) else value


def _json(tables: Sequence[Table]) -> str:
    rows = [{k: _finite(v) for k, v in row.items()} for row in flat_rows(tables)]
    return json.dumps(rows, indent=2, allow_nan=False)


FORMATS = (
    FormatSpec("github", "GitHub Markdown tables, one per task", lambda tables: text_tables(tables, "github")),
    FormatSpec("plain", "plain-text tables, one per task", lambda tables: text_tables(tables, "plain")),
    FormatSpec("csv", "CSV, one row per architecture and lag", _csv),
    FormatSpec("json", "JSON, one object per architecture and lag (null where a number is missing)", _json),
)


@hookimpl
def register_formats(register):
    """Register github, plain, csv and json."""
    for spec in FORMATS:
        register(spec)
