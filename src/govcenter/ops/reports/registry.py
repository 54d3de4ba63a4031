"""The report's sections: ``settings.GOVCENTER_OPS_REPORT_SECTIONS``, an explicit tuple of
dotted paths to ``section(start, end) -> dict`` functions, called in order.

Only the configuration is tolerant — an area leaves the report by leaving the list. A path
that does not import, or a section that returns the wrong shape, is an error: a report with a
silently missing chapter is worse than no report.
"""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.utils.module_loading import import_string

KEYS = {"key": str, "title": str, "summary": list, "figures": dict, "tables": list}


class SectionError(ValueError):
    pass


def section_functions(paths=None) -> list:
    return [import_string(path) for path in (settings.GOVCENTER_OPS_REPORT_SECTIONS if paths is None else paths)]


def check(section: dict, path: str) -> dict:
    for name, kind in KEYS.items():
        if not isinstance(section.get(name), kind):
            raise SectionError(f"{path}: section[{name!r}] must be a {kind.__name__}")
    for table in section["tables"]:
        if not isinstance(table.get("columns"), list) or not isinstance(table.get("rows"), list):
            raise SectionError(f"{path}: each table needs columns and rows")
        if any(len(row) != len(table["columns"]) for row in table["rows"]):
            raise SectionError(f"{path}: table {table.get('title')!r} has a row of the wrong width")
    return section


def gather(start: dt.date, end: dt.date, paths=None) -> list[dict]:
    """Every configured section of [start, end], checked."""
    names = list(settings.GOVCENTER_OPS_REPORT_SECTIONS if paths is None else paths)
    return [check(fn(start, end), name) for name, fn in zip(names, section_functions(names), strict=True)]
