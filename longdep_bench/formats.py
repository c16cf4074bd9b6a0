"""The built-in output formats of ``run`` and ``report``, registered through the plugin hooks like
any other package's (``register_formats``)."""

from __future__ import annotations

import csv
import io
import json
from typing import Sequence

from longdep_bench.hookspecs import hookimpl
from longdep_bench.specs import FormatSpec
from longdep_bench.tables import Table, flat_rows, text_tables


def _csv(tables: Sequence[Table]) -> str:
    rows = flat_rows(tables)
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(dict.fromkeys(k for row in rows for k in row)), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


FORMATS = (
    FormatSpec("github", "GitHub Markdown tables, one per task", lambda tables: text_tables(tables, "github")),
    FormatSpec("plain", "plain-text tables, one per task", lambda tables: text_tables(tables, "plain")),
    FormatSpec("csv", "CSV, one row per architecture and lag", _csv),
    FormatSpec("json", "JSON, one object per architecture and lag", lambda tables: json.dumps(flat_rows(tables),
                                                                                              indent=2)),
)


@hookimpl
def register_formats(register):
    """Register github, plain, csv and json."""
    for spec in FORMATS:
        register(spec)
