"""The Word rendering (python-docx): a cover, a contents list, then per section its summary
lines, its charts and its tables. Chinese text is set in 宋体 / 黑体 through the ``w:eastAsia``
font attribute (python-docx's ``font.name`` sets only the Latin font)."""

from __future__ import annotations

import datetime as dt
import io

from govcenter.core.documents import docx_with_cover, east_asian_font

from . import charts

FONT, HEADING_FONT = "宋体", "黑体"


def _east_asian(run, name: str = FONT):
    return east_asian_font(run, name)


def render(*, title: str, subtitle: str, sections: list[dict], generated_at: dt.datetime) -> bytes:
    from docx.shared import Cm, Pt

    doc = docx_with_cover(
        title=title,
        lines=[subtitle, "北京市交通综合治理事务中心", f"生成时间：{generated_at:%Y-%m-%d %H:%M}"],
        author="北京市交通综合治理事务中心",
        generated_at=generated_at,
        font=FONT,
        heading_font=HEADING_FONT,
    )
    _east_asian(doc.add_heading(level=1).add_run("目录"), HEADING_FONT)
    for number, section in enumerate(sections, start=1):
        _east_asian(doc.add_paragraph().add_run(f"{number}. {section['title']}"))
    doc.add_page_break()

    for number, section in enumerate(sections, start=1):
        _east_asian(doc.add_heading(level=1).add_run(f"{number}. {section['title']}"), HEADING_FONT)
        for line in section["summary"]:
            _east_asian(doc.add_paragraph(style="List Bullet").add_run(str(line)))
        for table in section["tables"]:
            if table.get("chart") == "bar":
                png = charts.bar(table)
                if png:
                    doc.add_picture(io.BytesIO(png), width=Cm(15))
            _east_asian(doc.add_paragraph(style="Caption").add_run(str(table["title"])))
            grid = doc.add_table(rows=1, cols=len(table["columns"]))
            grid.style = "Table Grid"
            for cell, col in zip(grid.rows[0].cells, table["columns"], strict=True):
                run = _east_asian(cell.paragraphs[0].add_run(str(col)))
                run.bold, run.font.size = True, Pt(9)
            for row in table["rows"]:
                for cell, value in zip(grid.add_row().cells, row, strict=True):
                    _east_asian(cell.paragraphs[0].add_run("" if value is None else str(value))).font.size = Pt(9)
            if not table["rows"]:
                _east_asian(doc.add_paragraph().add_run("（无）"))
    buf = io.BytesIO()
    doc.save(buf)
    return buf.getvalue()
