"""The report's charts: the kernel's (:mod:`govcenter.core.charts`), shared with the parking reports."""

from govcenter.core.charts import (  # noqa: F401
    COLOURS,
    DPI,
    FONT_PATH,
    OK,
    WARN,
    Chart,
    covered,
    font_codepoints,
    render,
    safe_label,
    xlsx_chart,
)
