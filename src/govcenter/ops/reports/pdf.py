"""The PDF rendering (fpdf2) in the vendored CJK font (see :mod:`.charts`): the same cover,
contents, summary lines, charts and tables as the Word file."""

from __future__ import annotations

import datetime as dt
import io

from fpdf import FPDF
from fpdf.enums import XPos, YPos
from fpdf.fonts import FontFace

from . import charts

FONT = "WenQuanYiMicroHei"


def render(*, title: str, subtitle: str, sections: list[dict], generated_at: dt.datetime) -> bytes:
    pdf = FPDF(format="A4", unit="mm")
    pdf.set_creator("govcenter")
    pdf.set_title(title)
    pdf.set_creation_date(generated_at)
    pdf.set_auto_page_break(auto=True, margin=15)
    pdf.add_font(FONT, fname=str(charts.FONT_PATH))
    width = None

    def line(text: str, size: float = 10.5, h: float = 7, align: str = "L") -> None:
        pdf.set_font(FONT, size=size)
        pdf.multi_cell(width, h, text, align=align, new_x=XPos.LMARGIN, new_y=YPos.NEXT)

    pdf.add_page()
    width = pdf.epw
    pdf.ln(60)
    line(title, 22, 14, "C")
    line(subtitle, 14, 9, "C")
    line("北京市交通综合治理事务中心", 14, 9, "C")
    line(f"生成时间：{generated_at:%Y-%m-%d %H:%M}", 11, 8, "C")
    pdf.add_page()
    line("目录", 16, 10)
    for number, section in enumerate(sections, start=1):
        line(f"{number}. {section['title']}")
    for number, section in enumerate(sections, start=1):
        pdf.add_page()
        line(f"{number}. {section['title']}", 15, 10)
        for text in section["summary"]:
            line(f"· {text}")
        for table in section["tables"]:
            if table.get("chart") == "bar":
                png = charts.bar(table)
                if png:
                    pdf.image(io.BytesIO(png), w=width * 0.85)
            pdf.ln(2)
            line(str(table["title"]), 11, 8)
            if not table["rows"]:
                line("（无）", 9.5, 6)
                continue
            pdf.set_font(FONT, size=8.5)
            with pdf.table(line_height=5.5, first_row_as_headings=True,
                           headings_style=FontFace(emphasis="", fill_color=(235, 235, 235))) as grid:  # fmt: skip
                grid.row([str(c) for c in table["columns"]])
                for row in table["rows"]:
                    grid.row(["" if v is None else str(v) for v in row])
    return bytes(pdf.output())
