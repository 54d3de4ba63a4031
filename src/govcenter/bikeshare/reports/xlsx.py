"""The Excel version of the monthly report (openpyxl): one sheet per section.

Each sheet: the section's title, then its tables (a bold header row, number formats per
column, over-quota rows filled red); the first table's header is frozen. Every chart of the
section is a native openpyxl chart (line or clustered bar) whose series reference a data
block written on the same sheet to the right of the tables, so the numbers in the chart are
the cells, not a picture.
"""

from __future__ import annotations

import datetime as dt
import io

from django.utils.translation import gettext as _

from .charts import xlsx_chart
from .layout import EXCEL_FORMATS, TEXT, Section, sections, summary_text, title

HEADER_FILL = "DDE7F3"
WARN_FILL = "F8D7DA"


def _write_table(ws, row: int, table) -> tuple[int, int]:
    """Write one table from ``row``; returns (header row, next free row)."""
    from openpyxl.styles import Alignment, Font, PatternFill

    ws.cell(row=row, column=1, value=table.title).font = Font(bold=True, size=11)
    header = row + 1
    for c, col in enumerate(table.columns, start=1):
        cell = ws.cell(row=header, column=c, value=col.title)
        cell.font = Font(bold=True)
        cell.fill = PatternFill("solid", fgColor=HEADER_FILL)
        cell.alignment = Alignment(horizontal="center", vertical="center", wrap_text=True)
    warn = PatternFill("solid", fgColor=WARN_FILL)
    for i, values in enumerate(table.rows):
        r = header + 1 + i
        hot = bool(table.highlight and table.highlight[i])
        for c, (col, value) in enumerate(zip(table.columns, values, strict=True), start=1):
            cell = ws.cell(row=r, column=c, value=value)
            if col.kind != TEXT and value is not None:
                cell.number_format = EXCEL_FORMATS[col.kind]
            if hot:
                cell.fill = warn
                cell.font = Font(bold=True, color="9C0006")
    return header, header + 1 + len(table.rows) + 1


def _sheet(wb, sec: Section) -> None:
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    ws = wb.create_sheet(sec.key[:31])
    ws.cell(row=1, column=1, value=sec.title).font = Font(bold=True, size=14)
    row = 2
    for text in sec.paragraphs:
        ws.cell(row=row, column=1, value=text)
        row += 1
    row += 1
    frozen = None
    width = 1
    for table in sec.tables:
        header, row = _write_table(ws, row, table)
        if frozen is None:
            frozen = header
        width = max(width, len(table.columns))
    ws.freeze_panes = ws.cell(row=(frozen or 1) + 1, column=2 if frozen else 1)
    for c in range(1, width + 1):
        ws.column_dimensions[get_column_letter(c)].width = 22 if c == 1 else 14
    col = width + 2
    chart_row = 1
    for chart in sec.charts:
        anchor = f"{get_column_letter(col + len(chart.series) + 2)}{chart_row}"
        xlsx_chart(ws, chart, col, anchor)
        col += len(chart.series) + 2 + 12  # data block, gap, room for the chart


def render(data: dict, *, generated_at: dt.datetime | None = None) -> bytes:
    """The .xlsx bytes of the report."""
    from openpyxl import Workbook

    wb = Workbook()
    wb.properties.title = title(data)
    wb.properties.creator = _("北京市交通综合治理事务中心")
    if generated_at is not None:
        naive = generated_at.astimezone(dt.UTC).replace(tzinfo=None, microsecond=0)
        wb.properties.created = wb.properties.modified = naive
    cover = wb.active
    cover.title = _("封面")
    cover["A1"] = title(data)
    cover["A2"] = _("统计期间：%(first)s 至 %(last)s") % data
    cover["A3"] = summary_text(data)
    cover.column_dimensions["A"].width = 100
    for sec in sections(data):
        _sheet(wb, sec)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()
