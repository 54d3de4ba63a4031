"""The vendored CJK font every server-side document is drawn with (receipts, report PDFs and
charts): WenQuanYi Micro Hei, Apache-2.0, subset to ASCII + GB2312 + CJK punctuation +
full-width forms — see ``PROVENANCE.md`` and ``LICENSE`` beside it. Registered by path, so no
system font is needed on the Center's intranet machines."""

from pathlib import Path

CJK_FONT_PATH = Path(__file__).resolve().parent / "wqy-microhei-gb2312.ttf"
