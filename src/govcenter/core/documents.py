"""Small helpers shared by the server-side documents (Word reports, PDFs, exports).

* :func:`east_asian_font` — python-docx sets only the Latin font name; Chinese text follows the
  run's or style's ``w:eastAsia`` font, which has to be set on the XML.
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


def write_atomic(path: Path, content: bytes) -> None:
    """Write ``content`` to ``path`` through a temporary file beside it (fsync + ``os.replace``)."""
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "wb") as fh:
        fh.write(content)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
