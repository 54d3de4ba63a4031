"""The PDF of a parking e-receipt (电子收费票据), drawn with fpdf2 and the vendored Chinese font.

The font is ``core/fonts/wqy-microhei-gb2312.ttf`` (WenQuanYi Micro Hei, Apache-2.0, subset to
ASCII + GB2312 + CJK punctuation + full-width forms; see ``core/fonts/PROVENANCE.md`` and
``bin/subset-font``); fpdf2 embeds only the glyphs a document uses. Everything printed comes
from the receipt's signed ``content`` (so the paper shows exactly what was signed), plus the
signature, the key id and where to verify. The document is always in Chinese: it is a fiscal
document, not UI.
"""

from __future__ import annotations

from urllib.parse import unquote

from fpdf import FPDF
from fpdf.enums import XPos, YPos
from fpdf.fonts import FontFace

from govcenter.core.fonts import CJK_FONT_PATH

from .models.receipts import Receipt, ReceiptStatus
from .services.receipts import format_yuan

FONT_PATH = CJK_FONT_PATH
FONT = "WenQuanYiMicroHei"
TITLE = "北京市道路停车电子收费票据"


def _short_time(iso: str) -> str:
    return iso.replace("T", " ")[:16] if iso else "—"


def render_receipt_pdf(receipt: Receipt, *, verify_url: str) -> bytes:
    """The receipt as a one-page A4 PDF (more pages when it has many items)."""
    content = receipt.content
    pdf = FPDF(format="A4", unit="mm")
    pdf.set_creator("govcenter")
    pdf.set_title(f"{TITLE} {receipt.number}")
    pdf.set_subject(receipt.number)
    pdf.set_keywords(receipt.number)
    pdf.set_auto_page_break(auto=True, margin=15)
    pdf.add_font(FONT, fname=str(FONT_PATH))
    pdf.add_page()
    width = pdf.epw

    pdf.set_font(FONT, size=18)
    pdf.cell(width, 12, TITLE, align="C", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    if receipt.status == ReceiptStatus.VOIDED:
        pdf.set_text_color(200, 0, 0)
        pdf.set_font(FONT, size=14)
        pdf.cell(
            width, 9, f"已红冲作废：{receipt.void_reason}", align="C", new_x=XPos.LMARGIN, new_y=YPos.NEXT
        )
        pdf.set_text_color(0, 0, 0)
    pdf.ln(2)

    pdf.set_font(FONT, size=10.5)
    header = [
        ("票据号码", content.get("number", receipt.number)),
        ("开票时间", _short_time(content.get("issued_at", ""))),
        ("所属区", content.get("district", {}).get("name", "")),
        ("收款单位", content.get("payee", {}).get("name", "")),
        ("交款人（车牌）", "、".join(content.get("payer", {}).get("plates", [])) or "—"),
    ]
    for label, value in header:
        pdf.cell(32, 7, label, border=1)
        pdf.cell(width - 32, 7, str(value), border=1, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(4)

    pdf.set_font(FONT, size=9.5)
    with pdf.table(
        col_widths=(10, 18, 50, 16, 30, 30, 26),
        text_align=("CENTER", "CENTER", "LEFT", "CENTER", "CENTER", "CENTER", "RIGHT"),
        line_height=6.5,
        first_row_as_headings=True,
        # One face only (no bold file vendored): headings are set off by their fill.
        headings_style=FontFace(emphasis="", fill_color=(235, 235, 235)),
    ) as table:
        table.row(["序号", "订单号", "路段", "泊位", "驶入时间", "驶离时间", "金额（元）"])
        for index, item in enumerate(content.get("items", []), start=1):
            segment = item.get("segment", {})
            table.row(
                [
                    str(index),
                    str(item.get("order_id", "")),
                    f"{segment.get('name', '')}（{segment.get('code', '')}）",
                    str(item.get("space", "")),
                    _short_time(item.get("started_at", "")),
                    _short_time(item.get("ended_at", "")),
                    format_yuan(int(item.get("amount_fen", 0))),
                ]
            )
    pdf.ln(3)

    total = int(content.get("total_fen", receipt.total_fen))
    pdf.set_font(FONT, size=11)
    pdf.cell(32, 8, "合计（小写）", border=1)
    pdf.cell(width - 32, 8, format_yuan(total), border=1, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.cell(32, 8, "合计（大写）", border=1)
    pdf.cell(
        width - 32,
        8,
        "人民币" + content.get("total_capital", ""),
        border=1,
        new_x=XPos.LMARGIN,
        new_y=YPos.NEXT,
    )
    pdf.ln(5)

    pdf.set_font(FONT, size=8.5)
    lines = [
        "签名算法：SM2（SM3 摘要，GB/T 32918；签名者标识 1234567812345678），签名对象为票面内容的规范化 JSON（UTF-8，键排序，无空格）",
        f"密钥标识：{receipt.key_id}    票面摘要（SM3）：{receipt.content_sm3}",
        f"电子签名（Base64）：{receipt.signature}",
        f"核验地址：{unquote(verify_url)}",
        "本票据由北京市交通综合治理事务中心道路停车电子收费系统开具，可凭票据号码在上述地址核验真伪。",
    ]
    for line in lines:
        pdf.multi_cell(width, 4.6, line, align="L", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        pdf.ln(1)
    return bytes(pdf.output())
