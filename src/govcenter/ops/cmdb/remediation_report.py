"""漏洞整改报告: the remediation report of one plan, as Word (python-docx) and PDF (fpdf2 with
the vendored WenQuanYi Micro Hei subset, as the parking receipts). Both are built from the
same content (``content(plan)``): the findings, the plan (window, risk, approval), every step
with its rollback, the executions with each step's outcome, and the verifications. The
document is always in Chinese (a record for the Center's files)."""

from __future__ import annotations

import io

from django.utils import timezone

from govcenter.core import workflow
from govcenter.core.documents import east_asian_font
from govcenter.core.fonts import CJK_FONT_PATH

from ..models import RemediationPlan, StepOutcome, Vulnerability, VulnSeverity

TITLE = "漏洞整改报告"
FONT_PATH = CJK_FONT_PATH  # the kernel's vendored CJK font (core/fonts/PROVENANCE.md)
FONT = "WenQuanYiMicroHei"


def _t(value) -> str:
    return timezone.localtime(value).strftime("%Y-%m-%d %H:%M") if value else "—"


def _person(user) -> str:
    return (user.get_full_name() or user.get_username()) if user else "—"


def content(plan: RemediationPlan) -> dict:
    """Headings, paragraphs and tables of the report."""
    vulns = list(Vulnerability.objects.filter(plan=plan).select_related("asset").order_by("asset__code", "plugin_id"))
    severity = dict(VulnSeverity.choices)
    outcome = dict(StepOutcome.choices)
    steps = list(plan.steps.all())
    sections = [
        ("一、基本情况", [
            f"方案编号：{plan.number}",
            f"方案名称：{plan.title}",
            f"运维单位：{plan.unit}",
            f"计划窗口：{_t(plan.window_start)} 至 {_t(plan.window_end)}",
            f"实施风险：{plan.get_risk_display()}{('（' + plan.risk_note + '）') if plan.risk_note else ''}",
            f"制定人：{_person(plan.planned_by)}，制定时间：{_t(plan.created_at)}",
            f"审批人：{_person(plan.approved_by)}，审批时间：{_t(plan.approved_at)}，审批意见：{plan.approval_comment or '—'}",
            f"当前状态：{plan.get_status_display()}",
        ], []),
        ("二、漏洞清单", [f"共 {len(vulns)} 项。"], [{
            "columns": ["资产", "地址", "插件/端口", "漏洞名称", "CVE", "等级", "状态"],
            "widths": (24, 24, 22, 50, 30, 12, 18),
            "rows": [[v.asset.code, v.asset.ip or v.asset.hostname or "—", f"{v.plugin_id}/{v.port}", v.title,
                      ", ".join(v.cves) or "—", severity.get(v.severity, v.severity), v.get_state_display()]
                     for v in vulns],
        }]),  # fmt: skip
        ("三、整改步骤及回退方案", [], [{
            "columns": ["序号", "加固步骤", "回退步骤"],
            "widths": (12, 84, 84),
            "rows": [[str(s.order), s.action, s.rollback] for s in steps],
        }]),
    ]  # fmt: skip
    executions = list(plan.executions.select_related("executed_by"))
    exec_lines = [] if executions else ["尚未实施。"]
    exec_tables = []
    for n, record in enumerate(executions, start=1):
        exec_lines.append(f"第 {n} 次实施：{_person(record.executed_by)}，{_t(record.started_at)} 至 {_t(record.finished_at)}。"
                          f"{record.summary}")  # fmt: skip
        exec_tables.append({
            "columns": ["步骤", "结果", "输出"], "widths": (14, 22, 144),
            "rows": [[str(o["order"]), outcome.get(o["outcome"], o["outcome"]), o.get("output") or "—"] for o in record.outcomes],
        })  # fmt: skip
    sections.append(("四、实施记录", exec_lines, exec_tables))
    checks = list(plan.verifications.select_related("verified_by"))
    sections.append(("五、验证结果", [
        f"{_t(c.verified_at)} {_person(c.verified_by)}（{c.method}）：{'通过' if c.passed else '未通过'}。{c.result}" for c in checks
    ] or ["尚未验证。"], []))  # fmt: skip
    history = []
    for v in vulns:
        for row in workflow.history(v):
            history.append([_t(row.at), v.asset.code, v.plugin_id, row.transition, row.actor_name or "—", row.comment or ""])
    history.sort(key=lambda r: r[0])
    sections.append(("六、处理过程", [], [{
        "columns": ["时间", "资产", "插件", "操作", "人员", "说明"], "widths": (30, 24, 20, 28, 20, 58), "rows": history,
    }]))  # fmt: skip
    return {"title": TITLE, "subtitle": f"{plan.number} {plan.title}", "sections": sections,
            "generated": _t(timezone.now())}  # fmt: skip


def render_docx(plan: RemediationPlan) -> bytes:
    from docx import Document
    from docx.shared import Pt

    data = content(plan)
    doc = Document()
    style = doc.styles["Normal"]
    style.font.size = Pt(10.5)
    east_asian_font(style, "宋体")
    doc.add_heading(data["title"], level=0)
    doc.add_paragraph(data["subtitle"])
    for heading, lines, tables in data["sections"]:
        doc.add_heading(heading, level=1)
        for line in lines:
            doc.add_paragraph(line)
        for table in tables:
            t = doc.add_table(rows=1, cols=len(table["columns"]))
            t.style = "Table Grid"
            for cell, text in zip(t.rows[0].cells, table["columns"], strict=True):
                cell.text = text
            for row in table["rows"]:
                cells = t.add_row().cells
                for cell, text in zip(cells, row, strict=True):
                    cell.text = str(text)
    doc.add_paragraph(f"报告生成时间：{data['generated']}")
    out = io.BytesIO()
    doc.save(out)
    return out.getvalue()


def render_pdf(plan: RemediationPlan) -> bytes:
    from fpdf import FPDF
    from fpdf.enums import XPos, YPos
    from fpdf.fonts import FontFace

    data = content(plan)
    pdf = FPDF(format="A4", unit="mm")
    pdf.set_creator("govcenter")
    pdf.set_title(f"{data['title']} {plan.number}")
    pdf.set_subject(plan.number)
    pdf.set_auto_page_break(auto=True, margin=15)
    pdf.add_font(FONT, fname=str(FONT_PATH))
    pdf.add_page()
    pdf.set_font(FONT, size=18)
    pdf.cell(pdf.epw, 12, data["title"], align="C", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_font(FONT, size=11)
    pdf.cell(pdf.epw, 8, data["subtitle"], align="C", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    for heading, lines, tables in data["sections"]:
        pdf.ln(3)
        pdf.set_font(FONT, size=13)
        pdf.cell(pdf.epw, 9, heading, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        pdf.set_font(FONT, size=9.5)
        for line in lines:
            pdf.multi_cell(pdf.epw, 6, line, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        for table in tables:
            with pdf.table(col_widths=table["widths"], line_height=5.5, first_row_as_headings=True,
                           headings_style=FontFace(emphasis="", fill_color=(235, 235, 235))) as t:  # fmt: skip
                t.row(table["columns"])
                for row in table["rows"]:
                    t.row([str(c) for c in row])
            pdf.ln(2)
    pdf.set_font(FONT, size=9)
    pdf.cell(pdf.epw, 8, f"报告生成时间：{data['generated']}", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    return bytes(pdf.output())
