"""The report's two files from the same sections: Word (python-docx, PNG charts in the vendored
CJK font) and Excel (openpyxl, one sheet per section with the same numbers and a native chart).

Both are byte-stable for the same figures and time (no wall clock inside): the tests read the
tables back from both and compare them with the statistics' compute.
"""

from __future__ import annotations

import datetime as dt
import io

from django.utils.translation import gettext as _

from govcenter.core import charts
from govcenter.core.documents import docx_with_cover, east_asian_font

from .sections import Section, number

FONT, HEADING_FONT = "宋体", "黑体"
AUTHOR = "北京市交通综合治理事务中心"


def text(value) -> str:
    """A table cell in the Word file (the Excel cell holds the number itself)."""
    return number(value)


def docx(*, title: str, subtitle: str, sections: list[Section], generated_at: dt.datetime) -> bytes:
    from docx.enum.text import WD_ALIGN_PARAGRAPH
    from docx.shared import Cm, Pt

    generated = _("生成时间：%(t)s") % {"t": f"{generated_at:%Y-%m-%d %H:%M}"}
    doc = docx_with_cover(
        title=title,
        lines=[subtitle, AUTHOR, generated],
        author=AUTHOR,
        generated_at=generated_at,
        font=FONT,
        heading_font=HEADING_FONT,
        blank=4,
    )
    for i, sec in enumerate(sections, start=1):
        east_asian_font(doc.add_heading(level=1).add_run(f"{i}. {sec.title}"), HEADING_FONT)
        if sec.paragraph:
            east_asian_font(doc.add_paragraph().add_run(sec.paragraph), FONT)
        for chart in sec.charts:
            doc.add_picture(io.BytesIO(charts.render(chart)), width=Cm(15.5))
        for table in sec.tables:
            east_asian_font(doc.add_paragraph(style="Caption").add_run(table.title), FONT)
            body = [*table.rows, *([table.total] if table.total else [])]
            grid = doc.add_table(rows=1 + len(body), cols=1 + len(table.columns))
            grid.style = "Table Grid"
            for r, values in enumerate([[table.first, *table.columns], *body]):
                for c, (cell, value) in enumerate(zip(grid.rows[r].cells, values, strict=True)):
                    para = cell.paragraphs[0]
                    run = east_asian_font(para.add_run(str(value) if r == 0 or c == 0 else text(value)), FONT)
                    run.font.size, run.bold = Pt(8), r == 0
                    if r and c:
                        para.alignment = WD_ALIGN_PARAGRAPH.RIGHT
    buf = io.BytesIO()
    doc.save(buf)
    return buf.getvalue()


def xlsx(*, title: str, subtitle: str, sections: list[Section], generated_at: dt.datetime) -> bytes:
    from openpyxl import Workbook
    from openpyxl.styles import Font, PatternFill
    from openpyxl.utils import get_column_letter

    wb = Workbook()
    wb.properties.title, wb.properties.creator = title, AUTHOR
    naive = generated_at.astimezone(dt.UTC).replace(tzinfo=None, microsecond=0)
    wb.properties.created = wb.properties.modified = naive
    cover = wb.active
    cover.title = _("封面")
    for row, line in enumerate(
        (title, subtitle, AUTHOR, _("生成时间：%(t)s") % {"t": f"{generated_at:%Y-%m-%d %H:%M}"}), 1
    ):
        cover.cell(row=row, column=1, value=line)
    cover.column_dimensions["A"].width = 80
    fill = PatternFill("solid", fgColor="DDE7F3")
    for i, sec in enumerate(sections, start=1):
        ws = wb.create_sheet(sheet_name(i, sec))
        ws.cell(row=1, column=1, value=f"{i}. {sec.title}").font = Font(bold=True, size=14)
        ws.cell(row=2, column=1, value=sec.paragraph)
        row, width = 4, 1
        for table in sec.tables:
            ws.cell(row=row, column=1, value=table.title).font = Font(bold=True)
            for c, head in enumerate([table.first, *table.columns], start=1):
                cell = ws.cell(row=row + 1, column=c, value=str(head))
                cell.font, cell.fill = Font(bold=True), fill
            row += 2
            for values in [*table.rows, *([table.total] if table.total else [])]:
                for c, value in enumerate(values, start=1):
                    ws.cell(row=row, column=c, value=value)
                row += 1
            row += 1
            width = max(width, 1 + len(table.columns))
        for c in range(1, width + 1):
            ws.column_dimensions[get_column_letter(c)].width = 16 if c == 1 else 13
        col = width + 2
        for chart in sec.charts:
            if not chart.categories:
                continue
            anchor = f"{get_column_letter(col + len(chart.series) + 1)}{row + 1}"
            charts.xlsx_chart(ws, chart, col, anchor)
            col += len(chart.series) + 2
            row += 18
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def sheet_name(i: int, sec: Section) -> str:
    name = f"{i} {sec.title}"
    for bad in "[]:*?/\\":
        name = name.replace(bad, " ")
    return name[:31]
