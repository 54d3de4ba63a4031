"""Small helpers shared by the server-side documents (Word reports, PDFs, exports).

* :func:`east_asian_font` — python-docx sets only the Latin font name; Chinese text follows the
  run's or style's ``w:eastAsia`` font, which has to be set on the XML.
* :func:`docx_with_cover` — a Word document with the house's body font and a centred cover page
  (title, then the lines under it), shared by the O&M and the parking reports.
* :func:`write_atomic` — a generated file appears whole or not at all (temporary file in the same
  folder, fsync, ``os.replace``), so a download never reads half a report.
"""

from __future__ import annotations

import os
from pathlib import Path


def east_asian_font(target, name: str):
    """Set ``name`` as the Latin and the East Asian font of a python-docx run or style; returns it."""
    from docx.oxml.ns import qn

    target.font.name = name
    element = target.element if hasattr(target, "element") else target._element
    element.get_or_add_rPr().get_or_add_rFonts().set(qn("w:eastAsia"), name)
    return target


def docx_with_cover(
    *, title: str, lines: list[str], author: str, generated_at, font: str, heading_font: str, blank: int = 6
):
    """A python-docx ``Document``: body font ``font`` (10.5 pt), title/author/created set (no wall
    clock: ``generated_at``), ``blank`` empty lines, the title (22 pt, bold, ``heading_font``),
    ``lines`` centred (14 pt, the last 11 pt), then a page break."""
    from docx import Document
    from docx.enum.text import WD_ALIGN_PARAGRAPH
    from docx.shared import Pt

    doc = Document()
    normal = doc.styles["Normal"]
    normal.font.size = Pt(10.5)
    east_asian_font(normal, font)
    props = doc.core_properties
    props.title, props.author = title, author
    props.created = props.modified = generated_at.replace(microsecond=0, tzinfo=None)
    for _i in range(blank):
        doc.add_paragraph()
    sizes = [22, *([14] * (len(lines) - 1)), 11] if lines else [22]
    for text, size in zip([title, *lines], sizes, strict=True):
        p = doc.add_paragraph()
        p.alignment = WD_ALIGN_PARAGRAPH.CENTER
        run = east_asian_font(p.add_run(text), heading_font if size > 20 else font)
        run.font.size, run.bold = Pt(size), size > 20
    doc.add_page_break()
    return doc


def write_atomic(path: Path, content: bytes) -> None:
    """Write ``content`` to ``path`` through a temporary file beside it (fsync + ``os.replace``)."""
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "wb") as fh:
        fh.write(content)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
