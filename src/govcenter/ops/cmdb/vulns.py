"""The vulnerability register (漏洞登记) and its remediation (整改).

Scanner import (``import_scan``): a CSV file, all or nothing. Accepted formats:

``nessus`` — Nessus "CSV export" columns (header names, any case, any order):
    required ``Plugin ID``, ``Risk``, ``Host``, ``Port``, ``Name``;
    optional ``CVE``, ``CVSS`` (or ``CVSS v2.0 Base Score`` / ``CVSS v3.0 Base Score``),
    ``Protocol``, ``Synopsis``, ``Description``, ``Solution`` (other columns are ignored).
    Nessus writes one row per CVE: rows of the same host + plugin + port are one finding.
``generic`` — the same facts under plain names:
    required ``host``, ``vuln_id``, ``port``, ``severity``, ``name``;
    optional ``cve`` (several separated by commas, semicolons or spaces), ``cvss``,
    ``protocol``, ``synopsis``, ``description``, ``solution``.

Severity (``Risk``/``severity``): Critical/High/Medium/Low or 严重/高危/中危/低危 (高/中/低);
``None``/``Info``/信息 rows are informational and skipped (counted). The file may be UTF-8
(with or without BOM) or GB18030. ``Host`` is an IP address or host name of an asset in the
caller's scope. Any bad line (unknown host, bad severity, bad port, missing value) or a missing
column refuses the whole file, with every problem by line number; nothing is imported. A
finding already registered (same asset + plugin + port) is not duplicated: an open one is
left as it is (its ``last_seen_at`` moves), a verified or closed one is reopened.

Remediation: ``plan_create`` (steps, each with its rollback; the findings go to *planned*) →
``plan_approve`` / ``plan_reject`` (by someone with ``approve_remediation`` who is not the
planner) → ``plan_execute`` (per-step outcome and output; all steps done → *executed*) →
``plan_verify`` (passed → *verified*; failed → back to *planned*, to be approved again) →
``plan_close``. Each finding's step goes through ``core.workflow.advance`` (permission, data
scope, history, audit).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import ipaddress
import re
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from govcenter.core import audit, workflow
from govcenter.core.api.errors import ServiceError

from ..models import (
    Asset,
    ExecutionRecord,
    PlanRisk,
    PlanStatus,
    RemediationPlan,
    RemediationStep,
    StepOutcome,
    Verification,
    Vulnerability,
    VulnSeverity,
    VulnState,
)

SCANNERS = ("nessus", "generic")
COLUMNS = {
    "nessus": {
        "plugin_id": ["plugin id"], "severity": ["risk"], "host": ["host"], "port": ["port"], "title": ["name"],
        "cve": ["cve"], "cvss": ["cvss", "cvss v3.0 base score", "cvss v2.0 base score"], "protocol": ["protocol"],
        "synopsis": ["synopsis"], "description": ["description"], "solution": ["solution"],
    },
    "generic": {
        "plugin_id": ["vuln_id"], "severity": ["severity"], "host": ["host"], "port": ["port"], "title": ["name"],
        "cve": ["cve"], "cvss": ["cvss"], "protocol": ["protocol"], "synopsis": ["synopsis"],
        "description": ["description"], "solution": ["solution"],
    },
}  # fmt: skip
REQUIRED = ("plugin_id", "severity", "host", "port", "title")
SEVERITY_WORDS = {
    "critical": "critical", "严重": "critical", "紧急": "critical",
    "high": "high", "高": "high", "高危": "high",
    "medium": "medium", "中": "medium", "中危": "medium",
    "low": "low", "低": "low", "低危": "low",
}  # fmt: skip
INFO_WORDS = {"none", "info", "informational", "信息", "无"}
CVE_RE = re.compile(r"CVE-\d{4}-\d{4,}", re.IGNORECASE)
MAX_ERRORS = 50
AUDIT_FIELDS = ("state", "plan_id", "verified_at", "closed_at")


def decode(data: bytes) -> str:
    """UTF-8 (a BOM is dropped) or GB18030; anything else is refused."""
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise ServiceError(_("文件编码无法识别：请使用 UTF-8 或 GB18030。"), code="invalid_scan",
                       details={"lines": {"0": ["encoding: not UTF-8 or GB18030"]}})  # fmt: skip


@dataclass
class Finding:
    asset: Asset
    plugin_id: str
    port: int
    protocol: str
    severity: str
    title: str
    cvss: Decimal | None
    synopsis: str
    description: str
    solution: str
    cves: list[str] = field(default_factory=list)
    lines: list[int] = field(default_factory=list)


def _host_index(actor) -> dict[str, Asset]:
    qs = Asset.objects.restrict(actor) if actor is not None else Asset.objects.all()
    index: dict[str, Asset] = {}
    for asset in qs.filter(Q(ip__isnull=False) | ~Q(hostname="")):
        if asset.hostname:
            index[asset.hostname.lower()] = asset
        if asset.ip:
            index[str(ipaddress.ip_address(asset.ip))] = asset
    return index


def parse_scan(data: bytes, *, scanner: str, actor) -> tuple[list[Finding], int]:
    """The findings of a scan file (merged by asset + plugin + port) and the number of
    informational rows skipped; raises ServiceError ``invalid_scan`` listing every bad line."""
    if scanner not in SCANNERS:
        raise ServiceError(_("未知的扫描器格式。"), code="invalid", details={"scanner": [str(scanner)]})
    text = decode(data)
    reader = csv.reader(io.StringIO(text, newline=""))
    errors: dict[str, list[str]] = {}
    try:
        header = next(reader)
    except StopIteration:
        raise ServiceError(_("文件为空。"), code="invalid_scan", details={"lines": {"1": ["empty file"]}}) from None
    except csv.Error as exc:
        raise ServiceError(_("CSV 格式错误。"), code="invalid_scan", details={"lines": {"1": [str(exc)]}}) from None
    names = [h.strip().lower() for h in header]
    positions: dict[str, int] = {}
    for key, aliases in COLUMNS[scanner].items():
        for alias in aliases:
            if alias in names:
                positions[key] = names.index(alias)
                break
    missing = [COLUMNS[scanner][key][0] for key in REQUIRED if key not in positions]
    if missing:
        raise ServiceError(_("缺少必需的列：%(cols)s。") % {"cols": ", ".join(missing)}, code="invalid_scan",
                           details={"lines": {"1": [f"missing column: {c}" for c in missing]}})  # fmt: skip
    hosts = _host_index(actor)
    findings: dict[tuple, Finding] = {}
    skipped = 0

    def cell(row, key) -> str:
        pos = positions.get(key)
        return row[pos].strip() if pos is not None and pos < len(row) else ""

    while True:
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            errors.setdefault(str(reader.line_num), []).append(f"CSV: {exc}")
            break
        line = reader.line_num
        if not any(c.strip() for c in row):
            continue
        problems = []
        risk = cell(row, "severity")
        if risk.lower() in INFO_WORDS:
            skipped += 1
            continue
        severity = SEVERITY_WORDS.get(risk.lower())
        if severity is None:
            problems.append(f"bad severity {risk!r} (Critical/High/Medium/Low, 严重/高危/中危/低危)")
        host = cell(row, "host")
        try:
            host_key = str(ipaddress.ip_address(host))
        except ValueError:
            host_key = host.lower()
        asset = hosts.get(host_key)
        if not host:
            problems.append("host is empty")
        elif asset is None:
            problems.append(f"unknown host {host!r}: no asset in your scope has this IP address or host name")
        port_text = cell(row, "port") or "0"
        try:
            port = int(port_text)
            if not 0 <= port <= 65535:
                raise ValueError
        except ValueError:
            problems.append(f"bad port {port_text!r}")
            port = 0
        plugin_id, title = cell(row, "plugin_id"), cell(row, "title")
        if not plugin_id:
            problems.append(f"{COLUMNS[scanner]['plugin_id'][0]} is empty")
        if not title:
            problems.append(f"{COLUMNS[scanner]['title'][0]} is empty")
        cvss_text = cell(row, "cvss")
        cvss = None
        if cvss_text:
            try:
                cvss = Decimal(cvss_text).quantize(Decimal("0.1"))
                if not Decimal(0) <= cvss <= Decimal(10):
                    raise InvalidOperation
            except InvalidOperation:
                problems.append(f"bad CVSS {cvss_text!r}")
                cvss = None
        if problems:
            errors[str(line)] = problems
            if len(errors) >= MAX_ERRORS:
                break
            continue
        key = (asset.pk, plugin_id[:40], port)
        finding = findings.get(key)
        if finding is None:
            finding = findings[key] = Finding(
                asset=asset, plugin_id=plugin_id[:40], port=port, protocol=cell(row, "protocol")[:10].lower(),
                severity=severity, title=title[:300], cvss=cvss, synopsis=cell(row, "synopsis"),
                description=cell(row, "description"), solution=cell(row, "solution"),
            )  # fmt: skip
        finding.lines.append(line)
        for cve in CVE_RE.findall(cell(row, "cve")):
            if cve.upper() not in finding.cves:
                finding.cves.append(cve.upper())
    if errors:
        count = len(errors)
        raise ServiceError(
            _("扫描文件有 %(n)d 行错误，未导入任何内容。") % {"n": count}, code="invalid_scan",
            details={"lines": errors},
        )  # fmt: skip
    if not findings and not skipped:
        raise ServiceError(_("文件中没有漏洞记录。"), code="invalid_scan", details={"lines": {"2": ["no rows"]}})
    return list(findings.values()), skipped


@transaction.atomic
def import_scan(*, actor, data: bytes, scanner: str, scanned_at: dt.datetime | None = None,
                filename: str = "") -> dict[str, int]:  # fmt: skip
    """Register the findings of a scan file (all or nothing, see the module docstring);
    returns ``{"created", "unchanged", "reopened", "informational"}``."""
    if actor is not None and not actor.has_perm("ops.import_scan"):
        raise ServiceError(_("您无权导入漏洞扫描结果。"), code="permission_denied", status=403)
    when = scanned_at or timezone.now()
    findings, skipped = parse_scan(data, scanner=scanner, actor=actor)
    counts = {"created": 0, "unchanged": 0, "reopened": 0, "informational": skipped}
    for f in findings:
        vuln = Vulnerability.objects.filter(asset=f.asset, plugin_id=f.plugin_id, port=f.port).first()
        if vuln is None:
            vuln = Vulnerability.objects.create(
                asset=f.asset, scanner=scanner, plugin_id=f.plugin_id, port=f.port, protocol=f.protocol, cves=f.cves,
                cvss=f.cvss, title=f.title, severity=f.severity, synopsis=f.synopsis, description=f.description,
                solution=f.solution, found_at=when, last_seen_at=when,
            )  # fmt: skip
            audit.record(action="ops.vuln.register", obj=vuln,
                         changes={"after": {"severity": f.severity, "cves": f.cves, "scanner": scanner}})  # fmt: skip
            counts["created"] += 1
            continue
        Vulnerability.objects.filter(pk=vuln.pk, last_seen_at__lt=when).update(last_seen_at=when)
        if vuln.state in (VulnState.VERIFIED, VulnState.CLOSED):
            workflow.advance(vuln, "reopen", actor=actor, comment=_("复扫再次发现"), audit_fields=AUDIT_FIELDS,
                             action="ops.vuln.reopen")  # fmt: skip
            counts["reopened"] += 1
        else:
            counts["unchanged"] += 1
    audit.record(action="ops.vuln.import", object_type="ops.scan", object_repr=(filename or scanner)[:200],
                 changes={"scanner": scanner, **counts})  # fmt: skip
    return counts


# --------------------------------------------------------------------------------------------
# Remediation
# --------------------------------------------------------------------------------------------


def _now(at: dt.datetime | None) -> dt.datetime:
    moment = at or timezone.now()
    if timezone.is_naive(moment):
        raise ServiceError(_("时间须带时区。"), code="invalid", details={"at": [moment.isoformat()]})
    return moment


def _next_number(at: dt.datetime) -> str:
    prefix = f"ZG-{timezone.localtime(at).year}-"
    last = (RemediationPlan.objects.filter(number__startswith=prefix).order_by("-number")
            .values_list("number", flat=True).first())  # fmt: skip
    return f"{prefix}{int(last.rsplit('-', 1)[1]) + 1 if last else 1:04d}"


def _advance_all(plan: RemediationPlan, transition: str, *, actor, comment: str = "", when=None, **kwargs) -> None:
    for vuln in Vulnerability.objects.filter(plan=plan).order_by("pk"):
        workflow.advance(vuln, transition, actor=actor, comment=comment, audit_fields=AUDIT_FIELDS,
                         action=f"ops.vuln.{transition}", logged_at=when, **kwargs)  # fmt: skip


def _lock_plan(plan: RemediationPlan, actor, statuses) -> RemediationPlan:
    qs = RemediationPlan.objects.restrict(actor) if actor is not None else RemediationPlan.objects.all()
    locked = qs.select_for_update().filter(pk=plan.pk).first()
    if locked is None:
        raise ServiceError(_("该整改方案不在您的数据范围内。"), code="out_of_scope", status=404)
    if locked.status not in statuses:
        raise ServiceError(_("当前状态下不能执行该操作。"), code="illegal_transition", status=409,
                           details={"status": [locked.status], "allowed_from": list(statuses)})  # fmt: skip
    return locked


def clean_steps(steps) -> list[tuple[str, str]]:
    """``[(action, rollback), …]``: at least one, each with both texts (one rollback per step)."""
    steps = [((a or "").strip(), (r or "").strip()) for a, r in steps or []]
    steps = [(a, r) for a, r in steps if a or r]
    if not steps:
        raise ServiceError(_("整改方案至少需要一个加固步骤。"), code="invalid", details={"steps": [_("必填")]})
    details = {}
    for index, (action, rollback) in enumerate(steps, start=1):
        if not action:
            details[str(index)] = [_("缺少加固步骤")]
        elif not rollback:
            details[str(index)] = [_("每个加固步骤必须有对应的回退步骤")]
    if details:
        raise ServiceError(_("每个加固步骤必须有对应的回退步骤。"), code="rollback_required", details={"steps": details})
    return steps


@transaction.atomic
def plan_create(
    *, actor, vulnerabilities, title: str, window_start: dt.datetime, window_end: dt.datetime, risk: str,
    steps, risk_note: str = "", at: dt.datetime | None = None,
) -> RemediationPlan:  # fmt: skip
    """A remediation plan for registered findings of one unit; they become *planned*."""
    when = _now(at)
    title = (title or "").strip()
    details = {}
    if not title:
        details["title"] = [_("必填")]
    if risk not in PlanRisk.values:
        details["risk"] = [str(risk)]
    if not window_start or not window_end or window_end <= window_start:
        details["window_end"] = [_("计划窗口结束须晚于开始")]
    if details:
        raise ServiceError(_("整改方案信息有误。"), code="invalid", details=details)
    steps = clean_steps(steps)
    ids = sorted({v.pk for v in vulnerabilities})
    if not ids:
        raise ServiceError(_("请选择要整改的漏洞。"), code="invalid", details={"vulnerabilities": [_("必填")]})
    qs = Vulnerability.objects.restrict(actor) if actor is not None else Vulnerability.objects.all()
    vulns = list(qs.filter(pk__in=ids).select_related("asset"))
    if len(vulns) != len(ids):
        raise ServiceError(_("部分漏洞不在您的数据范围内。"), code="out_of_scope", status=404)
    not_registered = [str(v.pk) for v in vulns if v.state != VulnState.REGISTERED]
    if not_registered:
        raise ServiceError(_("只能为“已登记”的漏洞制定方案。"), code="illegal_transition", status=409,
                           details={"vulnerabilities": not_registered})  # fmt: skip
    units = {v.asset.unit_id for v in vulns}
    if len(units) != 1:
        raise ServiceError(_("一个整改方案只能包含同一运维单位的漏洞。"), code="invalid", details={"vulnerabilities": ids})
    plan = RemediationPlan.objects.create(
        number=_next_number(when), title=title[:200], unit_id=units.pop(), window_start=window_start,
        window_end=window_end, risk=risk, risk_note=(risk_note or "").strip(),
        planned_by=actor if getattr(actor, "pk", None) else None, created_at=when,
    )  # fmt: skip
    RemediationStep.objects.bulk_create(
        RemediationStep(plan=plan, order=i, action=a, rollback=r) for i, (a, r) in enumerate(steps, start=1)
    )
    audit.record(action="ops.remediation.plan", obj=plan,
                 changes={"after": {"number": plan.number, "vulnerabilities": ids, "steps": len(steps), "risk": risk}})  # fmt: skip
    for vuln in vulns:
        workflow.advance(vuln, "plan_it", actor=actor, comment=plan.number, audit_fields=AUDIT_FIELDS,
                         action="ops.vuln.plan", logged_at=when, plan=plan)  # fmt: skip
    return plan


@transaction.atomic
def plan_revise(*, actor, plan: RemediationPlan, steps, risk_note: str | None = None) -> RemediationPlan:
    """Replace the steps of a plan awaiting approval or sent back by a failed verification
    (by someone who may plan remediation); it then awaits approval again."""
    if actor is not None and not actor.has_perm("ops.plan_remediation"):
        raise ServiceError(_("您无权执行该操作。"), code="transition_forbidden", status=403)
    steps = clean_steps(steps)
    plan = _lock_plan(plan, actor, (PlanStatus.SUBMITTED, PlanStatus.FAILED))
    before = [(s.action, s.rollback) for s in plan.steps.all()]
    plan.steps.all().delete()
    RemediationStep.objects.bulk_create(
        RemediationStep(plan=plan, order=i, action=a, rollback=r) for i, (a, r) in enumerate(steps, start=1)
    )
    plan.status = PlanStatus.SUBMITTED
    if risk_note is not None:
        plan.risk_note = risk_note.strip()
    plan.save(update_fields=["status", "risk_note"])
    audit.record(action="ops.remediation.revise", obj=plan,
                 changes={"before": {"steps": before}, "after": {"steps": steps}})  # fmt: skip
    return plan


def _not_the_planner(plan: RemediationPlan, actor) -> None:
    if actor is not None and plan.planned_by_id is not None and plan.planned_by_id == getattr(actor, "pk", None):
        raise ServiceError(_("整改方案不能由制定人本人审批。"), code="self_approval", status=403)


@transaction.atomic
def plan_approve(*, actor, plan: RemediationPlan, comment: str = "", at: dt.datetime | None = None) -> RemediationPlan:
    when = _now(at)
    plan = _lock_plan(plan, actor, (PlanStatus.SUBMITTED, PlanStatus.FAILED))
    _not_the_planner(plan, actor)
    _advance_all(plan, "approve", actor=actor, comment=comment, when=when)
    before = audit.snapshot(plan, ["status", "approved_by_id", "approved_at", "approval_comment"])
    plan.status, plan.approved_by, plan.approved_at = PlanStatus.APPROVED, actor if getattr(actor, "pk", None) else None, when
    plan.approval_comment = (comment or "").strip()
    plan.save(update_fields=["status", "approved_by", "approved_at", "approval_comment"])
    audit.record(action="ops.remediation.approve", obj=plan, changes=audit.diff(
        before, audit.snapshot(plan, ["status", "approved_by_id", "approved_at", "approval_comment"])))  # fmt: skip
    return plan


@transaction.atomic
def plan_reject(*, actor, plan: RemediationPlan, comment: str, at: dt.datetime | None = None) -> RemediationPlan:
    """Sent back with a reason: the findings are *registered* again, waiting for a new plan."""
    if not (comment or "").strip():
        raise ServiceError(_("请填写驳回理由。"), code="invalid", details={"comment": [_("必填")]})
    when = _now(at)
    plan = _lock_plan(plan, actor, (PlanStatus.SUBMITTED, PlanStatus.FAILED))
    _not_the_planner(plan, actor)
    _advance_all(plan, "reject", actor=actor, comment=comment, when=when)
    plan.status, plan.approval_comment = PlanStatus.REJECTED, comment.strip()
    plan.save(update_fields=["status", "approval_comment"])
    audit.record(action="ops.remediation.reject", obj=plan, reason=comment.strip()[:500],
                 changes={"after": {"status": plan.status}})  # fmt: skip
    return plan


@transaction.atomic
def plan_execute(
    *, actor, plan: RemediationPlan, outcomes: list[dict], started_at: dt.datetime, finished_at: dt.datetime,
    summary: str = "",
) -> ExecutionRecord:  # fmt: skip
    """Record an execution: ``outcomes`` one ``{"order", "outcome", "output"}`` per step.
    All steps done → the findings are *executed*; otherwise (a step failed or was rolled
    back) the record is kept and the plan stays approved for another attempt."""
    plan = _lock_plan(plan, actor, (PlanStatus.APPROVED,))
    if actor is not None and not actor.has_perm("ops.execute_remediation"):
        raise ServiceError(_("您无权执行该操作。"), code="transition_forbidden", status=403)
    start, end = _now(started_at), _now(finished_at)
    if end < start:
        raise ServiceError(_("结束时间不能早于开始时间。"), code="invalid", details={"finished_at": [end.isoformat()]})
    if end > timezone.now() + dt.timedelta(minutes=5):
        raise ServiceError(_("时间不能晚于现在。"), code="invalid", details={"finished_at": [end.isoformat()]})
    orders = list(plan.steps.values_list("order", flat=True))
    by_order = {}
    details = {}
    for item in outcomes or []:
        try:
            order = int(item.get("order"))
        except (TypeError, ValueError):
            details["outcomes"] = [str(item.get("order"))]
            continue
        if item.get("outcome") not in StepOutcome.values:
            details[str(order)] = [f"outcome {item.get('outcome')!r}"]
        by_order[order] = {"order": order, "outcome": item.get("outcome"), "output": str(item.get("output") or "")[:5000]}
    missing = [o for o in orders if o not in by_order]
    extra = [o for o in by_order if o not in orders]
    if missing:
        details["missing"] = [str(o) for o in missing]
    if extra:
        details["unknown"] = [str(o) for o in extra]
    if details:
        raise ServiceError(_("请填写每个步骤的执行结果。"), code="invalid", details=details)
    record = ExecutionRecord.objects.create(
        plan=plan, executed_by=actor if getattr(actor, "pk", None) else None, started_at=start, finished_at=end,
        outcomes=[by_order[o] for o in orders], summary=(summary or "").strip(),
    )  # fmt: skip
    all_done = all(by_order[o]["outcome"] == StepOutcome.DONE for o in orders)
    audit.record(action="ops.remediation.execute", obj=plan,
                 changes={"after": {"outcomes": {str(o): by_order[o]["outcome"] for o in orders}, "complete": all_done}})  # fmt: skip
    if all_done:
        _advance_all(plan, "execute", actor=actor, comment=summary[:500], when=end)
        plan.status = PlanStatus.EXECUTED
        plan.save(update_fields=["status"])
    return record


@transaction.atomic
def plan_verify(
    *, actor, plan: RemediationPlan, passed: bool, result: str, method: str = "复扫", at: dt.datetime | None = None,
) -> Verification:  # fmt: skip
    """The rescan / check after execution. Passed → *verified*; failed → *planned* again."""
    if not (result or "").strip():
        raise ServiceError(_("请填写验证结果。"), code="invalid", details={"result": [_("必填")]})
    when = _now(at)
    plan = _lock_plan(plan, actor, (PlanStatus.EXECUTED,))
    check = Verification.objects.create(plan=plan, verified_by=actor if getattr(actor, "pk", None) else None,
                                        verified_at=when, method=(method or "复扫").strip()[:100], passed=bool(passed),
                                        result=result.strip())  # fmt: skip
    if passed:
        _advance_all(plan, "verify", actor=actor, comment=result.strip()[:500], when=when, at=when)
        plan.status = PlanStatus.VERIFIED
    else:
        _advance_all(plan, "fail_verification", actor=actor, comment=result.strip()[:500], when=when)
        plan.status = PlanStatus.FAILED
    plan.save(update_fields=["status"])
    audit.record(action="ops.remediation.verify", obj=plan, changes={"after": {"passed": bool(passed), "status": plan.status}})
    return check


@transaction.atomic
def plan_close(*, actor, plan: RemediationPlan, at: dt.datetime | None = None) -> RemediationPlan:
    when = _now(at)
    plan = _lock_plan(plan, actor, (PlanStatus.VERIFIED,))
    _advance_all(plan, "close", actor=actor, when=when, at=when)
    plan.status = PlanStatus.CLOSED
    plan.save(update_fields=["status"])
    audit.record(action="ops.remediation.close", obj=plan, changes={"after": {"status": plan.status}})
    return plan


SEVERITY_ORDER = {s: i for i, s in enumerate(VulnSeverity.values)}
