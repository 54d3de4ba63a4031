"""The guard plan as a Word document (python-docx)."""

from __future__ import annotations

import io

from django.utils.translation import gettext as _
from docx import Document

from govcenter.core.documents import east_asian_font

from ..models import ChecklistPhase, GuardPlan
from ..sla import TZ
from . import plans


def _name(user) -> str:
    return (user.full_name or user.username) if user else ""


def guard_plan_docx(plan: GuardPlan) -> bytes:
    doc = Document()
    style = doc.styles["Normal"]
    east_asian_font(style, "宋体")
    period = plan.guard_period
    doc.add_heading(_("%(event)s 重要活动保障方案") % {"event": plan.event_name}, level=0)
    doc.add_paragraph(_("保障期：%(name)s（%(start)s 至 %(end)s）") % {
        "name": period.name, "start": period.starts_at.astimezone(TZ).strftime("%Y-%m-%d %H:%M"),
        "end": period.ends_at.astimezone(TZ).strftime("%Y-%m-%d %H:%M")})  # fmt: skip
    doc.add_paragraph(_("状态：%(state)s；运维单位：%(unit)s") % {"state": plan.get_state_display(), "unit": plan.unit.name})
    if plan.approved_by_id:
        doc.add_paragraph(_("批准：%(who)s，%(at)s") % {"who": _name(plan.approved_by),
                                                      "at": plan.approved_at.astimezone(TZ).strftime("%Y-%m-%d %H:%M")})  # fmt: skip
    for title, text in ((_("一、保障范围"), plan.scope), (_("二、保障目标"), plan.objectives),
                        (_("三、组织机构"), plan.organisation)):  # fmt: skip
        doc.add_heading(title, level=1)
        for line in text.splitlines():
            doc.add_paragraph(line)
    doc.add_heading(_("四、值班安排"), level=1)
    seats = list(plans.plan_roster(plan))
    table = doc.add_table(rows=1, cols=5)
    table.style = "Table Grid"
    for cell, text in zip(table.rows[0].cells, (_("日期"), _("班次"), _("值班角色"), _("主班"), _("备班")), strict=True):
        cell.text = text
    for a in seats:
        row = table.add_row().cells
        for cell, text in zip(row, (a.date.isoformat(), a.shift.name, a.get_role_display(), _name(a.primary),
                                    _name(a.backup)), strict=True):  # fmt: skip
            cell.text = text
    if not seats:
        doc.add_paragraph(_("（保障期内尚无值班安排）"))
    doc.add_heading(_("五、检查清单"), level=1)
    for phase, label in ChecklistPhase.choices:
        items = list(plan.items.filter(phase=phase).select_related("owner"))
        if not items:
            continue
        doc.add_heading(str(label), level=2)
        table = doc.add_table(rows=1, cols=4)
        table.style = "Table Grid"
        for cell, text in zip(table.rows[0].cells, (_("检查项"), _("责任人"), _("完成"), _("完成情况及佐证")), strict=True):
            cell.text = text
        for item in items:
            row = table.add_row().cells
            for cell, text in zip(row, (item.title, _name(item.owner), "✔" if item.done else "", item.evidence),
                                  strict=True):  # fmt: skip
                cell.text = text
    if plan.summary:
        doc.add_heading(_("六、保障总结"), level=1)
        for line in plan.summary.splitlines():
            doc.add_paragraph(line)
    buffer = io.BytesIO()
    doc.save(buffer)
    return buffer.getvalue()
