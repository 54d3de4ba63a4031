"""Services of 政策研究信息 (documents with versions and tags), 科研项目信息 (projects, budget lines,
deliverables) and 宣传 (news and notices reviewed before publishing).

Every case belongs to a unit (its 责任单位, a ``CaseUnit``: the handling units' scope); every write
is a workflow transition (history + audit) or audited, in one transaction, and re-indexes the case
for the full-text search (titles, bodies, tags, the text of the current files).

Budget rule (科研项目): an expenditure line that would take the total spent over the budget is
**refused** (409 ``budget_exceeded``, naming ``amount_fen`` and the amount left). The budget is
raised only by an approved adjustment (``project_adjust_budget``, by a holder of
``congestion.approve_researchproject`` — the Center's leaders), with its reason in the history.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter

from django.db import transaction
from django.db.models import Count, Sum
from django.db.models.functions import ExtractYear
from django.utils.translation import gettext as _

from govcenter.core import attachments, audit, search
from govcenter.core.api.errors import ServiceError
from govcenter.core.calendar import as_local_date
from govcenter.core.masking import mask
from govcenter.core.models import Attachment, Unit

from ..models import (
    AcceptanceConclusion,
    DeliverableType,
    ExpenseCategory,
    MidtermConclusion,
    PolicyCategory,
    PolicyDocument,
    PolicyTag,
    PolicyVersion,
    ProjectDeliverable,
    ProjectExpense,
    PublicityItem,
    PublicityState,
    PublicityType,
    ResearchProject,
    UnitRole,
)
from .cases import advance, assign_unit, deadline_for, next_number, now, refuse

MAX_BODY = 100_000
MAX_TAGS = 20
POLICY_FIELDS = ["state", "version", "published_at", "withdraw_reason", "closed_at"]
PROJECT_FIELDS = ["state", "contract_number", "contract_date", "contract_amount_fen", "midterm_date",
                  "midterm_conclusion", "acceptance_date", "acceptance_conclusion", "budget_fen", "spent_fen",
                  "closed_at"]  # fmt: skip
PUBLICITY_FIELDS = ["state", "published_at", "return_reason", "withdraw_reason", "closed_at"]


# -- shared ---------------------------------------------------------------------------------------


def _text(value, field: str, *, max_length: int, required: bool = True) -> str:
    value = (value or "").strip()
    if required and not value:
        raise refuse(_("%(f)s必填。") % {"f": field}, "required", field)
    if len(value) > max_length:
        raise refuse(_("内容过长（最多 %(n)d 字）。") % {"n": max_length}, "too_long", field, len(value))
    return value


def _choice(value, choices, field: str):
    if value not in choices.values:
        raise refuse(_("“%(v)s”不是有效的选项。") % {"v": value}, "invalid_choice", field, value)
    return value


def _fen(value, field: str, *, allow_zero: bool = False) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0 or (value == 0 and not allow_zero):
        raise refuse(_("金额须为正整数（单位：分）。"), "invalid_amount", field, value)
    return value


def _day(value, field: str) -> dt.date:
    if not isinstance(value, dt.date) or isinstance(value, dt.datetime):
        raise refuse(_("日期必填。"), "required", field, value or "")
    return value


def attach_files(obj, *, actor, files, field: str = "files") -> list[Attachment]:
    """Attach each upload to ``obj``; a refused file (type, size, name) is reported under
    ``field`` with the file's name, and nothing of the step is written (the caller's transaction)."""
    rows = []
    for upload in files or ():
        name = getattr(upload, "name", "") or ""
        try:
            rows.append(attachments.attach(obj, actor=actor, name=name.rsplit("/", 1)[-1], upload=upload))
        except ServiceError as exc:
            raise ServiceError(
                f"{name}：{exc.detail}", code=exc.error_code, status=exc.status_code,
                details={field: [f"{name}: {exc.detail}"]},
            ) from None  # fmt: skip
    return rows


def _owner(actor, unit: Unit | None) -> Unit:
    unit = unit or getattr(actor, "unit", None)
    if unit is None:
        raise refuse(_("请选择责任单位。"), "required", "unit")
    return unit


def _register(case, *, actor, unit: Unit, prefix: str, notify_perm: str, label: str):
    """Number, save and give ``unit`` the case as its 责任单位; audited and indexed."""
    at = now()
    case.year = as_local_date(at).year
    case.number = next_number(prefix, case.year)
    case.created_by = actor if getattr(actor, "pk", None) else None
    case.created_at = at
    case.save()
    assign_unit(case, actor=actor, unit=unit, role=UnitRole.RESPONSIBLE, deadline=case.deadline,
                title=f"{label}：{case.title}", notify_perm=notify_perm)  # fmt: skip
    audit.record(action=f"congestion.{case._meta.model_name}.create", obj=case,
                 changes={"after": {"number": case.number, "title": case.title, "unit": unit.pk}})  # fmt: skip
    return case


def _attachment_text(obj) -> str:
    return "\n".join(t for t in attachments.attachments_of(obj).values_list("text", flat=True) if t)


def _in_scope(model, user):
    return model.objects.restrict(user)


# -- 政策研究信息 ----------------------------------------------------------------------------------


def _tags(names) -> list[PolicyTag]:
    clean = []
    for name in names or ():
        name = str(name).strip().lstrip("#")
        if not name:
            continue
        if len(name) > 30:
            raise refuse(_("标签最长 30 字。"), "too_long", "tags", name)
        if name not in clean:
            clean.append(name)
    if len(clean) > MAX_TAGS:
        raise refuse(_("标签最多 %(n)d 个。") % {"n": MAX_TAGS}, "too_many", "tags", len(clean))
    return [PolicyTag.objects.get_or_create(name=n)[0] for n in clean]


def policy_document(doc: PolicyDocument) -> tuple[str, str]:
    """Title and body for the search index: number, issuer, category, tags, abstract, the current
    version's text and the text of its file."""
    current = doc.versions.filter(number=doc.version).select_related("attachment").first()
    file_text = current.attachment.text if current and current.attachment_id else ""
    parts = [doc.number, doc.doc_number, doc.issuer, doc.get_category_display(),
             " ".join(t.name for t in doc.tags.all()), doc.abstract, doc.body, file_text]  # fmt: skip
    return doc.title, "\n".join(p for p in parts if p)


def _version(doc, *, actor, body: str, note: str, files) -> PolicyVersion:
    files = list(files or ())
    if len(files) > 1:
        raise refuse(_("每个版本只能附一个文件。"), "too_many", "files", len(files))
    rows = attach_files(doc, actor=actor, files=files)
    return PolicyVersion.objects.create(
        document=doc, number=doc.version, note=note, body=body, attachment=rows[0] if rows else None,
        created_at=now(), created_by=actor if getattr(actor, "pk", None) else None,
    )  # fmt: skip


def policy_create(
    *, actor, title: str, issuer: str, issued_on: dt.date, category: str, tags=(), doc_number: str = "",
    abstract: str = "", body: str = "", note: str = "", unit: Unit | None = None, files=(),
) -> PolicyDocument:  # fmt: skip
    """Enter a document (draft, version 1 with its file)."""
    doc = PolicyDocument(
        title=_text(title, "title", max_length=200),
        issuer=_text(issuer, "issuer", max_length=100),
        issued_on=_day(issued_on, "issued_on"),
        category=_choice(category, PolicyCategory, "category"),
        doc_number=_text(doc_number, "doc_number", max_length=60, required=False),
        abstract=_text(abstract, "abstract", max_length=5000, required=False),
        body=_text(body, "body", max_length=MAX_BODY, required=False),
    )
    note = _text(note, "note", max_length=500, required=False)
    unit = _owner(actor, unit)
    with transaction.atomic():
        tags = _tags(tags)
        _register(doc, actor=actor, unit=unit, prefix="ZC", notify_perm="congestion.change_policydocument",
                  label=_("新政策研究文件"))  # fmt: skip
        doc.tags.set(tags)
        _version(doc, actor=actor, body=doc.body, note=note or _("初始版本"), files=files)
        search.index(doc)
    return doc


def policy_add_version(
    *, actor, document: PolicyDocument, note: str, body: str = "", files=(), tags=None
) -> PolicyDocument:
    """A new version (text and/or file): the older ones stay readable; the new one is indexed."""
    body = _text(body, "body", max_length=MAX_BODY, required=False)
    note = _text(note, "note", max_length=500)
    if not body and not files:
        raise refuse(_("新版本须有正文或文件。"), "required", "files")
    with transaction.atomic():
        doc = advance(document, "add_version", actor=actor, comment=note, audit_fields=POLICY_FIELDS)
        doc.body = body or doc.body
        doc.save(update_fields=["body", "updated_at"])
        if tags is not None:
            doc.tags.set(_tags(tags))
        _version(doc, actor=actor, body=doc.body, note=note, files=files)
        search.index(doc)
    return doc


def policy_publish(*, actor, document: PolicyDocument, comment: str = "") -> PolicyDocument:
    with transaction.atomic():
        doc = advance(document, "publish", actor=actor, comment=comment, audit_fields=POLICY_FIELDS, at=now())
        search.index(doc)
    return doc


def policy_archive(*, actor, document: PolicyDocument, comment: str = "") -> PolicyDocument:
    return advance(document, "archive", actor=actor, comment=comment, audit_fields=POLICY_FIELDS, at=now())


def policy_withdraw(*, actor, document: PolicyDocument, reason: str) -> PolicyDocument:
    reason = _text(reason, "reason", max_length=500)
    return advance(document, "withdraw", actor=actor, comment=reason, audit_fields=POLICY_FIELDS,
                   reason=reason, at=now())  # fmt: skip


def policy_search(user, text: str = "", *, tag: str = "", limit: int = 50) -> list[PolicyDocument]:
    """Documents the caller sees, matching the full-text query and/or carrying ``tag``."""
    docs = _in_scope(PolicyDocument, user)
    if tag:
        docs = docs.filter(tags__name=tag.strip())
    if text:
        _total, hits = search.query(user, text, kinds=["congestion.policydocument"], limit=limit)
        order = {h.object_id: i for i, h in enumerate(hits)}
        return sorted(docs.filter(pk__in=list(order)), key=lambda d: order[d.pk])
    return list(docs.order_by("-issued_on", "-id")[:limit])


# -- 科研项目信息 ----------------------------------------------------------------------------------


def project_document(p: ResearchProject) -> tuple[str, str]:
    """Title and body for the search index (the investigator's name and phone never enter it)."""
    parts = [p.number, p.organisation, p.contract_number, p.body, p.midterm_opinion,
             *p.deliverables.values_list("title", flat=True), _attachment_text(p)]  # fmt: skip
    return p.title, "\n".join(x for x in parts if x)


def project_create(
    *, actor, title: str, organisation: str, investigator_name: str, budget_fen: int, body: str = "",
    investigator_phone: str = "", deadline: dt.date | None = None, unit: Unit | None = None,
) -> ResearchProject:  # fmt: skip
    """立项: a project with its budget and planned completion day (a working day)."""
    project = ResearchProject(
        title=_text(title, "title", max_length=200),
        organisation=_text(organisation, "organisation", max_length=100),
        investigator_name=_text(investigator_name, "investigator_name", max_length=50),
        investigator_phone=_text(investigator_phone, "investigator_phone", max_length=20, required=False),
        budget_fen=_fen(budget_fen, "budget_fen"),
        body=_text(body, "body", max_length=MAX_BODY, required=False),
        deadline=deadline_for(now(), day=deadline) if deadline else None,
    )
    if project.investigator_phone:
        from govcenter.core.models.org import validate_phone

        try:
            validate_phone(project.investigator_phone)
        except Exception:  # noqa: BLE001  (Django's ValidationError: the message names the format)
            raise refuse(_("电话号码格式不正确。"), "invalid", "investigator_phone", "") from None
    unit = _owner(actor, unit)
    with transaction.atomic():
        _register(project, actor=actor, unit=unit, prefix="KY", notify_perm="congestion.change_researchproject",
                  label=_("新科研项目"))  # fmt: skip
        search.index(project)
    return project


def project_sign_contract(
    *, actor, project: ResearchProject, contract_number: str, contract_date: dt.date, amount_fen: int, files=(),
    comment: str = "",
) -> ResearchProject:  # fmt: skip
    number = _text(contract_number, "contract_number", max_length=60)
    day = _day(contract_date, "contract_date")
    amount = _fen(amount_fen, "amount_fen")
    if amount > project.budget_fen:
        raise refuse(
            _("合同金额超过项目预算。"), "budget_exceeded", "amount_fen", project.budget_fen, status=409
        )
    with transaction.atomic():
        project = advance(project, "sign_contract", actor=actor, comment=comment, audit_fields=PROJECT_FIELDS,
                          number=number, day=day, amount_fen=amount)  # fmt: skip
        attach_files(project, actor=actor, files=files)
        search.index(project)
    return project


def project_midterm(
    *, actor, project: ResearchProject, day: dt.date, conclusion: str, opinion: str = ""
) -> ResearchProject:
    """中期检查: 通过 moves on to acceptance; 整改 (with the opinion) waits for another check."""
    _day(day, "day")
    _choice(conclusion, MidtermConclusion, "conclusion")
    opinion = _text(opinion, "opinion", max_length=5000, required=conclusion == MidtermConclusion.RECTIFY)
    with transaction.atomic():
        project = advance(project, "midterm", actor=actor, comment=opinion, audit_fields=PROJECT_FIELDS,
                          day=day, conclusion=conclusion, opinion=opinion)  # fmt: skip
        search.index(project)
    return project


def project_accept(
    *, actor, project: ResearchProject, day: dt.date, conclusion: str, experts: str, comment: str = ""
) -> ResearchProject:
    """验收: 通过 / 不通过 / 延期验收 (the project waits for another acceptance)."""
    _day(day, "day")
    _choice(conclusion, AcceptanceConclusion, "conclusion")
    experts = _text(experts, "experts", max_length=500)
    return advance(project, "accept", actor=actor, comment=comment, audit_fields=PROJECT_FIELDS,
                   day=day, conclusion=conclusion, experts=experts)  # fmt: skip


def project_close(*, actor, project: ResearchProject, comment: str = "") -> ResearchProject:
    return advance(project, "close", actor=actor, comment=comment, audit_fields=PROJECT_FIELDS, at=now())


def project_add_expense(
    *, actor, project: ResearchProject, category: str, amount_fen: int, spent_on: dt.date, note: str = ""
) -> ResearchProject:
    """An expenditure line; refused when the total would exceed the budget (see the module)."""
    _choice(category, ExpenseCategory, "category")
    amount = _fen(amount_fen, "amount_fen")
    _day(spent_on, "spent_on")
    note = _text(note, "note", max_length=300, required=False)
    with transaction.atomic():
        current = ResearchProject.objects.select_for_update().get(pk=project.pk)
        left = current.budget_fen - current.spent_fen
        if amount > left:
            raise ServiceError(
                _("支出超出预算：剩余预算 %(left)s 分。须先报批预算调整。") % {"left": left},
                code="budget_exceeded", status=409, details={"amount_fen": [str(amount)], "remaining_fen": [str(left)]},
            )  # fmt: skip
        project = advance(project, "add_expense", actor=actor, comment=note, audit_fields=PROJECT_FIELDS,
                          amount_fen=amount)  # fmt: skip
        ProjectExpense.objects.create(project=project, category=category, amount_fen=amount, spent_on=spent_on,
                                      note=note, created_at=now(),
                                      created_by=actor if getattr(actor, "pk", None) else None)  # fmt: skip
    return project


def project_adjust_budget(
    *, actor, project: ResearchProject, budget_fen: int, reason: str
) -> ResearchProject:
    """An approved budget adjustment (the new total budget), by a leader; never below what is spent."""
    budget = _fen(budget_fen, "budget_fen")
    reason = _text(reason, "reason", max_length=500)
    if budget < project.spent_fen:
        raise refuse(
            _("调整后的预算不能低于已支出金额。"), "budget_below_spent", "budget_fen", project.spent_fen
        )
    return advance(project, "adjust_budget", actor=actor, comment=reason, audit_fields=PROJECT_FIELDS,
                   budget_fen=budget)  # fmt: skip


def project_add_deliverable(
    *, actor, project: ResearchProject, kind: str, title: str, day: dt.date, files=()
) -> ResearchProject:
    """成果 (report, paper, software, patent) with its file."""
    _choice(kind, DeliverableType, "kind")
    title = _text(title, "title", max_length=200)
    _day(day, "day")
    files = list(files or ())
    if len(files) > 1:
        raise refuse(_("每项成果只能附一个文件。"), "too_many", "files", len(files))
    with transaction.atomic():
        project = advance(project, "add_deliverable", actor=actor, comment=title, audit_fields=PROJECT_FIELDS)
        rows = attach_files(project, actor=actor, files=files)
        ProjectDeliverable.objects.create(project=project, kind=kind, title=title, day=day,
                                          attachment=rows[0] if rows else None, created_at=now())  # fmt: skip
        search.index(project)
    return project


def project_budget(project: ResearchProject) -> dict:
    """Budget, spent, remaining and spending per category (fen)."""
    by_category = dict(
        project.expenses.values_list("category")
        .annotate(total=Sum("amount_fen"))
        .values_list("category", "total")
    )
    return {"budget_fen": project.budget_fen, "spent_fen": project.spent_fen,
            "remaining_fen": project.budget_fen - project.spent_fen, "by_category": by_category}  # fmt: skip


# -- 宣传 ------------------------------------------------------------------------------------------


def publicity_document(item: PublicityItem) -> tuple[str, str]:
    return item.title, "\n".join(p for p in [item.number, item.get_kind_display(), item.body,
                                             _attachment_text(item)] if p)  # fmt: skip


def publicity_create(
    *, actor, kind: str, title: str, body: str, unit: Unit | None = None, files=()
) -> PublicityItem:
    item = PublicityItem(
        kind=_choice(kind, PublicityType, "kind"),
        title=_text(title, "title", max_length=200),
        body=_text(body, "body", max_length=MAX_BODY),
    )
    unit = _owner(actor, unit)
    with transaction.atomic():
        _register(item, actor=actor, unit=unit, prefix="XC", notify_perm="congestion.change_publicityitem",
                  label=_("新宣传稿件"))  # fmt: skip
        attach_files(item, actor=actor, files=files)
        search.index(item)
    return item


def publicity_add_files(*, actor, item: PublicityItem, files) -> PublicityItem:
    if not files:
        raise refuse(_("请选择文件。"), "required", "files")
    with transaction.atomic():
        item = advance(item, "add_files", actor=actor, audit_fields=PUBLICITY_FIELDS)
        attach_files(item, actor=actor, files=files)
        search.index(item)
    return item


def publicity_submit(*, actor, item: PublicityItem, comment: str = "") -> PublicityItem:
    return advance(item, "submit", actor=actor, comment=comment, audit_fields=PUBLICITY_FIELDS)


def publicity_approve(*, actor, item: PublicityItem, comment: str = "") -> PublicityItem:
    """审核通过并发布: visible on the public page from now."""
    return advance(item, "approve", actor=actor, comment=comment, audit_fields=PUBLICITY_FIELDS, at=now())


def publicity_send_back(*, actor, item: PublicityItem, reason: str) -> PublicityItem:
    reason = _text(reason, "reason", max_length=500)
    return advance(
        item, "send_back", actor=actor, comment=reason, audit_fields=PUBLICITY_FIELDS, reason=reason
    )


def publicity_withdraw(*, actor, item: PublicityItem, reason: str) -> PublicityItem:
    reason = _text(reason, "reason", max_length=500)
    return advance(item, "withdraw", actor=actor, comment=reason, audit_fields=PUBLICITY_FIELDS,
                   reason=reason, at=now())  # fmt: skip


def published_items():
    """What citizens see: published news and notices, newest first (no scope: public)."""
    return PublicityItem.objects.filter(state=PublicityState.PUBLISHED).order_by("-published_at", "-id")


def public_attachments(item: PublicityItem):
    return attachments.attachments_of(item).order_by("id")


# -- statistics for the dashboard ------------------------------------------------------------------


def _counts(queryset, field: str) -> dict:
    return {
        str(k): n for k, n in queryset.order_by().values_list(field).annotate(n=Count("pk", distinct=True))
    }


def library_statistics(user) -> dict:
    """Counts the caller may see: per kind, by state, by category / type, by year."""
    out = {}
    for code, model, category in [
        ("policy", PolicyDocument, "category"),
        ("research", ResearchProject, None),
        ("publicity", PublicityItem, "kind"),
    ]:
        qs = _in_scope(model, user)
        row = {"total": qs.count(), "by_state": _counts(qs, "state"), "by_year": _counts(qs, "year")}
        if category:
            row[f"by_{category}"] = _counts(qs, category)
        out[code] = row
    research = _in_scope(ResearchProject, user)
    out["research"]["budget_fen"] = research.aggregate(s=Sum("budget_fen"))["s"] or 0
    out["research"]["spent_fen"] = research.aggregate(s=Sum("spent_fen"))["s"] or 0
    out["research"]["deliverables_by_kind"] = dict(
        Counter(
            ProjectDeliverable.objects.filter(project__in=research.values("pk")).values_list(
                "kind", flat=True
            )
        )
    )
    out["policy"]["by_issued_year"] = {
        str(y): n
        for y, n in _in_scope(PolicyDocument, user).order_by().annotate(y=ExtractYear("issued_on"))
        .values_list("y").annotate(n=Count("pk", distinct=True))
    }  # fmt: skip
    return out


def masked_investigator(project: ResearchProject) -> str:
    return mask(project.investigator_name, "name")
