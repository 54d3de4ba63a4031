"""The Word version of the monthly report (python-docx): cover, summary, one heading per section
with its tables and PNG charts, page numbers in the footer."""

from __future__ import annotations

import datetime as dt
import io

from django.utils.translation import gettext as _

from govcenter.core.documents import east_asian_font

from . import charts as chart_images
from .layout import TEXT, Section, fmt, sections, title

FONT = "宋体"
HEADING_FONT = "黑体"
WARN_FILL = "F8D7DA"


def _east_asian(run, name: str) -> None:
    east_asian_font(run, name)


def _page_number(paragraph) -> None:
    """A PAGE field (Word fills the number in)."""
    from docx.oxml import OxmlElement
    from docx.oxml.ns import qn

    run = paragraph.add_run()
    for kind, text in (("begin", None), (None, "PAGE"), ("end", None)):
        if kind:
            el = OxmlElement("w:fldChar")
            el.set(qn("w:fldCharType"), kind)
        else:
            el = OxmlElement("w:instrText")
            el.set(qn("xml:space"), "preserve")
            el.text = text
        run._r.append(el)


def _shade(cell, fill: str) -> None:
    from docx.oxml import OxmlElement
    from docx.oxml.ns import qn

    shd = OxmlElement("w:shd")
    shd.set(qn("w:val"), "clear")
    shd.set(qn("w:color"), "auto")
    shd.set(qn("w:fill"), fill)
    cell._tc.get_or_add_tcPr().append(shd)


def _table(doc, table) -> None:
    from docx.enum.text import WD_ALIGN_PARAGRAPH
    from docx.shared import Pt

    doc.add_paragraph(table.title, style="Caption")
    grid = doc.add_table(rows=1, cols=len(table.columns))
    grid.style = "Table Grid"
    for cell, col in zip(grid.rows[0].cells, table.columns, strict=True):
        cell.text = ""
        run = cell.paragraphs[0].add_run(col.title)
        run.bold = True
        run.font.size = Pt(9)
        _east_asian(run, FONT)
        _shade(cell, "DDE7F3")
    for i, row in enumerate(table.rows):
        cells = grid.add_row().cells
        hot = bool(table.highlight and table.highlight[i])
        for cell, col, value in zip(cells, table.columns, row, strict=True):
            para = cell.paragraphs[0]
            run = para.add_run(fmt(value, col.kind))
            run.font.size = Pt(9)
            _east_asian(run, FONT)
            if col.kind != TEXT:
                para.alignment = WD_ALIGN_PARAGRAPH.RIGHT
            if hot:
                _shade(cell, WARN_FILL)
                run.bold = True


def _heading(doc, text: str, level: int) -> None:
    heading = doc.add_heading(level=level)
    _east_asian(heading.add_run(text), HEADING_FONT)


def _section(doc, sec: Section) -> None:
    from docx.shared import Cm

    _heading(doc, sec.title, 1)
    for text in sec.paragraphs:
        _east_asian(doc.add_paragraph().add_run(text), FONT)
    for chart in sec.charts:
        doc.add_picture(io.BytesIO(chart_images.render(chart)), width=Cm(15.5))
    for table in sec.tables:
        _table(doc, table)


def render(data: dict, *, generated_at: dt.datetime | None = None) -> bytes:
    """The .docx bytes of the report."""
    from docx import Document
    from docx.enum.text import WD_ALIGN_PARAGRAPH
    from docx.shared import Pt

    doc = Document()
    style = doc.styles["Normal"]
    style.font.size = Pt(10.5)
    east_asian_font(style, FONT)
    props = doc.core_properties
    props.title = title(data)
    props.author = _("北京市交通综合治理事务中心")
    props.subject = _("互联网租赁自行车监管月报")
    if generated_at is not None:
        props.created = props.modified = generated_at.replace(microsecond=0)

    # Cover.
    for _i in range(6):
        doc.add_paragraph()
    cover = doc.add_paragraph()
    cover.alignment = WD_ALIGN_PARAGRAPH.CENTER
    run = cover.add_run(title(data))
    run.bold = True
    run.font.size = Pt(22)
    _east_asian(run, HEADING_FONT)
    for line in (_("北京市交通综合治理事务中心"), _("统计期间：%(first)s 至 %(last)s") % data):
        p = doc.add_paragraph()
        p.alignment = WD_ALIGN_PARAGRAPH.CENTER
        r = p.add_run(line)
        r.font.size = Pt(14)
        _east_asian(r, FONT)
    doc.add_page_break()

    footer = doc.sections[0].footer.paragraphs[0]
    footer.alignment = WD_ALIGN_PARAGRAPH.CENTER
    _page_number(footer)

    for sec in sections(data):
        _section(doc, sec)
    buf = io.BytesIO()
    doc.save(buf)
    return buf.getvalue()
