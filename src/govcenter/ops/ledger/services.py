"""The contract & SLA ledger: the O&M contract, its payment milestones, quality assessments,
late-service records — and the penalties computed from the recorded facts.

Money is integer fen. A share of the price is ``percent_of(price, bp)`` in basis points
(1 % = 100 bp), rounded half up to the fen (``(price * bp + 5000) // 10000``): the only
rounding in the ledger. Decimal appears only where yuan are shown.

The penalty lines (:func:`penalties`), each with its basis and the ids of the rows it comes
from, as of a date (facts after it are not counted):

* **late service** — 1 %/day of the price for every day a deliverable is late (a deliverable not
  yet delivered counts its days up to ``as_of``), capped at 5 % in total;
* **faults over 12 hours** — 1 % of the price for each incident of the contractor's unit reported
  in the service period that the contractor caused (``contractor_caused``, set at resolve) and
  that breached the 12-hour rule (``breach``, from ``sla.evaluate``), capped at 10 %;
  the incident numbers are listed;
* **quality shortfall** — 10 % for each assessment graded 不合格.

The bond (10 % of the price) decision follows the grade of the latest assessment: with a grade
in ``GOVCENTER_OPS_BOND_RETURN_GRADES`` (default 优/良/合格) it is returned less the penalties
(never below zero); otherwise it is withheld. All rates are settings (the contract's terms,
not law).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils.translation import gettext as _

from govcenter.core import audit
from govcenter.core.api.errors import ServiceError

from ..models import Contract, Grade, Incident, LateService, PaymentMilestone, QualityAssessment
from ..sla import TZ

MILESTONE_PERCENTS = (50, 40, 10)


def percent_of(amount_fen: int, bp: int) -> int:
    """``bp`` basis points of ``amount_fen``, rounded half up to the fen (amounts are ≥ 0)."""
    if amount_fen < 0 or bp < 0:
        raise ValueError("amounts and rates are not negative")
    return (amount_fen * bp + 5000) // 10000


def bond_fen(price_fen: int) -> int:
    return percent_of(price_fen, settings.GOVCENTER_OPS_BOND_BP)


def milestone_amounts(price_fen: int, percents=MILESTONE_PERCENTS) -> list[int]:
    """The milestone amounts: each its share rounded half up, the last the remainder (so the
    amounts always sum to the price exactly)."""
    if sum(percents) != 100:
        raise ValueError("the milestone percentages must sum to 100")
    amounts = [percent_of(price_fen, p * 100) for p in percents[:-1]]
    return [*amounts, price_fen - sum(amounts)]


def grade_for(score: int) -> str:
    excellent, good, passing = settings.GOVCENTER_OPS_GRADE_THRESHOLDS
    if score >= excellent:
        return Grade.EXCELLENT
    if score >= good:
        return Grade.GOOD
    if score >= passing:
        return Grade.PASS
    return Grade.FAIL


def yuan(fen: int) -> str:
    return f"{(Decimal(fen) / 100).quantize(Decimal('0.01')):,}"


# ---------------------------------------------------------------------------- writes


def _need(actor, permission: str) -> None:
    """``actor=None`` is the system (demo loaders, seeding); a person needs the permission."""
    if actor is not None and not actor.has_perm(permission):
        raise PermissionDenied(_("没有权限。"))


@transaction.atomic
def contract_create(
    *, actor, number: str, name: str, contractor, price_fen: int, service_start: dt.date, service_end: dt.date,
    milestones: list[dict], demo: bool = False,
) -> Contract:  # fmt: skip
    """A contract with its three milestones (``[{"condition", "due_date"}] × 3``: 50 %, 40 %, 10 %)."""
    _need(actor, "ops.add_contract")
    number, name = (number or "").strip(), (name or "").strip()
    errors = {}
    if not number:
        errors["number"] = [_("必填")]
    if not name:
        errors["name"] = [_("必填")]
    if not isinstance(price_fen, int) or isinstance(price_fen, bool) or price_fen <= 0:
        errors["price_fen"] = [_("合同价须为正整数（分）")]
    if service_end < service_start:
        errors["service_end"] = [_("服务期结束不能早于开始")]
    if len(milestones) != len(MILESTONE_PERCENTS):
        errors["milestones"] = [_("须有三个付款节点（50%/40%/10%）")]
    if errors:
        raise ServiceError(_("合同信息有误。"), code="invalid", details=errors)
    if Contract.objects.filter(number=number).exists():
        raise ServiceError(_("合同编号已存在。"), code="conflict", status=409, details={"number": [number]})
    contract = Contract.objects.create(number=number, name=name, contractor=contractor, price_fen=price_fen,
                                       service_start=service_start, service_end=service_end,
                                       bond_fen=bond_fen(price_fen), demo=demo)  # fmt: skip
    for seq, (percent, amount, spec) in enumerate(
        zip(MILESTONE_PERCENTS, milestone_amounts(price_fen), milestones, strict=True), start=1
    ):
        PaymentMilestone.objects.create(contract=contract, seq=seq, percent=percent, amount_fen=amount,
                                        condition=spec["condition"], due_date=spec["due_date"])  # fmt: skip
    audit.record(action="ops.contract.create", obj=contract,
                 changes={"after": audit.snapshot(contract, ["number", "name", "price_fen", "service_start",
                                                             "service_end", "bond_fen"])})  # fmt: skip
    return contract


@transaction.atomic
def assessment_record(
    *, actor, contract: Contract, period_start: dt.date, period_end: dt.date, score: int, assessed_on: dt.date,
    note: str = "", demo: bool = False,
) -> QualityAssessment:  # fmt: skip
    """A quality assessment; the grade and the shortfall flag follow from the score."""
    _need(actor, "ops.add_qualityassessment")
    if not isinstance(score, int) or not 0 <= score <= 100:
        raise ServiceError(_("得分须为 0–100 的整数。"), code="invalid", details={"score": [str(score)]})
    if period_end < period_start:
        raise ServiceError(_("考核期结束不能早于开始。"), code="invalid", details={"period_end": [str(period_end)]})
    grade = grade_for(score)
    row = QualityAssessment.objects.create(contract=contract, period_start=period_start, period_end=period_end,
                                           score=score, grade=grade, shortfall=grade == Grade.FAIL, note=note,
                                           assessed_on=assessed_on, demo=demo)  # fmt: skip
    audit.record(action="ops.assessment.record", obj=row,
                 changes={"after": audit.snapshot(row, ["contract_id", "period_start", "period_end", "score",
                                                        "grade", "shortfall"])})  # fmt: skip
    return row


@transaction.atomic
def late_service_record(
    *, actor, contract: Contract, deliverable: str, due_date: dt.date, delivered_on: dt.date | None = None,
    note: str = "", demo: bool = False,
) -> LateService:  # fmt: skip
    """A deliverable due on ``due_date``, delivered late on ``delivered_on`` (or not yet)."""
    _need(actor, "ops.add_lateservice")
    if delivered_on is not None and delivered_on <= due_date:
        raise ServiceError(_("按期交付不是迟延。"), code="invalid", details={"delivered_on": [str(delivered_on)]})
    row = LateService.objects.create(contract=contract, deliverable=deliverable.strip()[:200], due_date=due_date,
                                     delivered_on=delivered_on, note=note, demo=demo)  # fmt: skip
    audit.record(action="ops.lateservice.record", obj=row,
                 changes={"after": audit.snapshot(row, ["contract_id", "deliverable", "due_date", "delivered_on"])})
    return row


# ---------------------------------------------------------------------------- penalties


@dataclass
class PenaltyLine:
    key: str  # late_service | fault | quality
    title: str
    basis: str  # the rule, in words
    count: int  # days / faults / assessments counted
    uncapped_fen: int
    cap_fen: int | None
    amount_fen: int
    sources: list[dict] = field(default_factory=list)  # {"type", "id", "label", …}

    def as_dict(self) -> dict:
        return {
            "key": self.key, "title": self.title, "basis": self.basis, "count": self.count,
            "uncapped_fen": self.uncapped_fen, "cap_fen": self.cap_fen, "amount_fen": self.amount_fen,
            "capped": self.cap_fen is not None and self.uncapped_fen > self.cap_fen, "sources": self.sources,
        }  # fmt: skip


@dataclass
class Penalties:
    contract: Contract
    as_of: dt.date
    lines: list[PenaltyLine]
    total_fen: int
    bond_fen: int
    grade: str | None
    assessment_id: int | None
    bond_returned: bool | None  # None: no assessment yet
    bond_return_fen: int

    def as_dict(self) -> dict:
        c = self.contract
        return {
            "contract": {"number": c.number, "name": c.name, "contractor": c.contractor.code,
                         "price_fen": c.price_fen, "service_start": c.service_start.isoformat(),
                         "service_end": c.service_end.isoformat()},
            "as_of": self.as_of.isoformat(),
            "lines": [line.as_dict() for line in self.lines],
            "total_fen": self.total_fen,
            "bond": {"bond_fen": self.bond_fen, "grade": self.grade, "assessment_id": self.assessment_id,
                     "returned": self.bond_returned, "return_fen": self.bond_return_fen,
                     "rule": _bond_rule()},
            "milestones": [
                {"seq": m.seq, "percent": m.percent, "amount_fen": m.amount_fen, "condition": m.condition,
                 "due_date": m.due_date.isoformat(),
                 "condition_met_on": m.condition_met_on.isoformat() if m.condition_met_on else None,
                 "paid_on": m.paid_on.isoformat() if m.paid_on else None}
                for m in c.milestones.all()
            ],
        }  # fmt: skip


def _bond_rule() -> str:
    names = "/".join(str(Grade(g).label) for g in settings.GOVCENTER_OPS_BOND_RETURN_GRADES if g in Grade.values)
    return _("最近一次考核为%(grades)s：扣除违约金后退还；否则不予退还") % {"grades": names}


def _pct(bp: int) -> str:
    """Basis points as a percentage for the basis text: 100 → "1", 250 → "2.5"."""
    return f"{bp / 100:g}"


def _capped(uncapped: int, cap: int) -> int:
    return min(uncapped, cap)


def contributing_incidents(contract: Contract, as_of: dt.date):
    """The incidents the 12-hour fault line counts (see the module docstring)."""
    start = dt.datetime.combine(contract.service_start, dt.time.min, tzinfo=TZ)
    end = dt.datetime.combine(min(as_of, contract.service_end) + dt.timedelta(days=1), dt.time.min, tzinfo=TZ)
    return (
        Incident.objects.filter(unit=contract.contractor, contractor_caused=True, breach=True,
                                reported_at__gte=start, reported_at__lt=end)
        .order_by("reported_at", "number")
    )  # fmt: skip


def penalties(contract: Contract, as_of: dt.date) -> Penalties:
    """Every penalty line of ``contract`` as of ``as_of`` (inclusive), with its basis and the
    rows it comes from; the total; the bond decision. Pure reading."""
    price = contract.price_fen
    lines = []

    # Late service.
    late_rows, days_total = [], 0
    for row in LateService.objects.filter(contract=contract, due_date__lt=as_of).order_by("due_date", "id"):
        last = min(row.delivered_on, as_of) if row.delivered_on else as_of
        days = (last - row.due_date).days
        if days <= 0:
            continue
        days_total += days
        late_rows.append({"type": "late_service", "id": row.pk, "label": row.deliverable, "days": days,
                          "due_date": row.due_date.isoformat(),
                          "delivered_on": row.delivered_on.isoformat() if row.delivered_on else None})  # fmt: skip
    per_day, cap = settings.GOVCENTER_OPS_LATE_BP_PER_DAY, settings.GOVCENTER_OPS_LATE_CAP_BP
    uncapped = percent_of(price, per_day * days_total)
    lines.append(PenaltyLine(
        key="late_service", title=_("迟延服务"),
        basis=_("每迟延一日按合同价 %(rate)s%% 计，累计不超过 %(cap)s%%") % {"rate": _pct(per_day), "cap": _pct(cap)},
        count=days_total, uncapped_fen=uncapped, cap_fen=percent_of(price, cap),
        amount_fen=_capped(uncapped, percent_of(price, cap)), sources=late_rows,
    ))  # fmt: skip

    # Contractor-caused faults over the breach hours.
    faults = list(contributing_incidents(contract, as_of))
    each, cap = settings.GOVCENTER_OPS_FAULT_BP, settings.GOVCENTER_OPS_FAULT_CAP_BP
    uncapped = percent_of(price, each * len(faults))
    lines.append(PenaltyLine(
        key="fault", title=_("超过12小时的运维方原因故障"),
        basis=_("运维方原因导致故障超过 %(hours)s 小时的，每次按合同价 %(rate)s%% 计，累计不超过 %(cap)s%%")
        % {"hours": settings.GOVCENTER_OPS_BREACH_HOURS, "rate": _pct(each), "cap": _pct(cap)},
        count=len(faults), uncapped_fen=uncapped, cap_fen=percent_of(price, cap),
        amount_fen=_capped(uncapped, percent_of(price, cap)),
        sources=[{"type": "incident", "id": i.pk, "label": i.number, "title": i.title, "severity": i.severity,
                  "reported_at": i.reported_at.astimezone(TZ).isoformat()} for i in faults],
    ))  # fmt: skip

    # Quality-assessment shortfall.
    assessments = list(QualityAssessment.objects.filter(contract=contract, assessed_on__lte=as_of)
                       .order_by("period_start", "assessed_on", "id"))  # fmt: skip
    short = [a for a in assessments if a.shortfall]
    rate = settings.GOVCENTER_OPS_QUALITY_BP
    amount = percent_of(price, rate * len(short))
    lines.append(PenaltyLine(
        key="quality", title=_("质量考核不达标"),
        basis=_("考核等级为不合格的，每次按合同价 %(rate)s%% 计") % {"rate": _pct(rate)},
        count=len(short), uncapped_fen=amount, cap_fen=None, amount_fen=amount,
        sources=[{"type": "assessment", "id": a.pk, "label": f"{a.period_start}–{a.period_end}", "score": a.score,
                  "grade": a.grade} for a in short],
    ))  # fmt: skip

    total = sum(line.amount_fen for line in lines)
    latest = assessments[-1] if assessments else None
    bond = contract.bond_fen
    returned = None if latest is None else latest.grade in settings.GOVCENTER_OPS_BOND_RETURN_GRADES
    return Penalties(
        contract=contract, as_of=as_of, lines=lines, total_fen=total, bond_fen=bond,
        grade=latest.grade if latest else None, assessment_id=latest.pk if latest else None,
        bond_returned=returned, bond_return_fen=max(bond - total, 0) if returned else 0,
    )  # fmt: skip


@transaction.atomic
def milestone_update(*, actor, milestone: PaymentMilestone, condition_met_on: dt.date | None,
                     paid_on: dt.date | None) -> PaymentMilestone:  # fmt: skip
    """Record that a milestone's condition was met and when it was paid (paid needs met)."""
    _need(actor, "ops.change_paymentmilestone")
    if paid_on is not None and condition_met_on is None:
        raise ServiceError(_("付款条件未满足，不能登记支付。"), code="invalid", details={"paid_on": [str(paid_on)]})
    row = PaymentMilestone.objects.select_for_update().get(pk=milestone.pk)
    before = audit.snapshot(row, ["condition_met_on", "paid_on"])
    row.condition_met_on, row.paid_on = condition_met_on, paid_on
    row.save(update_fields=["condition_met_on", "paid_on"])
    audit.record(action="ops.milestone.update", obj=row.contract,
                 changes=audit.diff(before, audit.snapshot(row, ["condition_met_on", "paid_on"])))  # fmt: skip
    return row
