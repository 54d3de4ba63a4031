"""The 7×24 duty roster (值班表) of an O&M unit.

Shifts (:class:`~govcenter.ops.models.Shift`, seeded 白班 08:30–17:30 and 夜班 17:30–08:30)
tile the day. :func:`roster_generate` fills a date range in a fair rotation: every shift has
an engineer seat (primary on site, backup on call); on non-working days (China's calendar,
调休 included) and guard days (a :class:`GuardPeriod` touching the date) a duty leader seat is
added; on guard days a second engineer seat too (the reinforced pattern). Holiday and guard
shifts are counted apart from workday shifts so the rotation shares them out evenly.

Rules, checked on every write (generation, an edit, an approved swap) — a violation is a
``ServiceError`` with status 409 naming the person and the shifts:

* no person on two overlapping shifts (as primary or backup, any role), nor on site for two
  shifts back to back;
* after a night shift an engineer on site (primary or second seat) rests
  ``GOVCENTER_OPS_DUTY_REST_HOURS`` before the next on-site shift;
* no gaps: :func:`coverage_gaps` lists every span of a range with no engineer primary.

:func:`who_is_on_duty` answers for a moment: the seats whose ``[starts_at, ends_at)`` holds it
(17:30 exactly is the night shift; midnight is the night shift of the day before).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from govcenter.core import audit
from govcenter.core import calendar as workcal
from govcenter.core.api.errors import ServiceError

from ..models import DutyAssignment, DutyDayKind, DutyRole, DutySwap, GuardPeriod, Shift, SwapState
from ..sla import TZ

DEFAULT_SHIFTS = (
    ("day", "白班", dt.time(8, 30), dt.time(17, 30), False),
    ("night", "夜班", dt.time(17, 30), dt.time(8, 30), True),
)
AUDIT_FIELDS = ["unit", "date", "shift", "role", "seat", "starts_at", "ends_at", "day_kind", "primary", "backup"]


@transaction.atomic
def shifts_seed() -> dict[str, int]:
    """The two default shifts, when no shift exists yet (idempotent; edits are kept)."""
    if Shift.objects.exists():
        return {"created": 0, "unchanged": Shift.objects.count()}
    for code, name, starts, ends, night in DEFAULT_SHIFTS:
        shift = Shift.objects.create(code=code, name=name, starts=starts, ends=ends, is_night=night)
        audit.record(action="ops.shift.create", obj=shift,
                     changes=audit.diff({}, audit.snapshot(shift, ["code", "name", "starts", "ends", "is_night"])))  # fmt: skip
    return {"created": len(DEFAULT_SHIFTS), "unchanged": 0}


def shift_span(shift: Shift, day: dt.date) -> tuple[dt.datetime, dt.datetime]:
    """The shift's ``[start, end)`` on ``day`` (Beijing time; an end at or before the start is
    on the next day)."""
    start = dt.datetime.combine(day, shift.starts, tzinfo=TZ)
    end_day = day + dt.timedelta(days=1) if shift.ends <= shift.starts else day
    return start, dt.datetime.combine(end_day, shift.ends, tzinfo=TZ)


def active_shifts() -> list[Shift]:
    """The active shifts in order of start; refused (409) unless they tile the 24 hours."""
    shifts = list(Shift.objects.filter(active=True).order_by("starts"))
    if not shifts:
        raise ServiceError(_("没有启用的班次（请先运行 govcenter seed）。"), code="no_shifts", status=409)
    day = dt.date(2000, 1, 3)
    spans = [shift_span(s, day) for s in shifts]
    total = sum(((e - s) for s, e in spans), dt.timedelta(0))
    tiled = all(spans[i][1] == spans[i + 1][0] for i in range(len(spans) - 1))
    if total != dt.timedelta(hours=24) or not tiled or spans[-1][1] != spans[0][0] + dt.timedelta(hours=24):
        raise ServiceError(_("启用的班次必须首尾相接、覆盖全天 24 小时。"), code="shifts_not_tiled", status=409,
                           details={"shifts": [str(s) for s in shifts]})  # fmt: skip
    return shifts


def day_kind(day: dt.date) -> str:
    """guard when a guard period touches the date, holiday on a non-working day, else workday."""
    start = dt.datetime.combine(day, dt.time(0), tzinfo=TZ)
    if GuardPeriod.objects.filter(starts_at__lt=start + dt.timedelta(days=1), ends_at__gt=start).exists():
        return DutyDayKind.GUARD
    return DutyDayKind.WORKDAY if workcal.is_workday(day) else DutyDayKind.HOLIDAY


def _rest() -> dt.timedelta:
    return dt.timedelta(hours=settings.GOVCENTER_OPS_DUTY_REST_HOURS)


@dataclass
class _Slot:
    """A person's time on one seat (for the rules): on site or on call, after a night or not."""

    user_id: int
    start: dt.datetime
    end: dt.datetime
    onsite: bool
    night: bool
    label: str


def _slots_of(assignment: DutyAssignment, *, primary=None, backup=None) -> list[_Slot]:
    primary_id = primary.pk if primary is not None else assignment.primary_id
    backup_id = backup.pk if backup is not None else assignment.backup_id
    label = f"{assignment.date} {assignment.shift.name} {assignment.get_role_display()}"
    onsite = assignment.role == DutyRole.ENGINEER
    out = [_Slot(primary_id, assignment.starts_at, assignment.ends_at, onsite, assignment.shift.is_night, label)]
    if backup_id:
        out.append(_Slot(backup_id, assignment.starts_at, assignment.ends_at, False, False, label))
    return out


def _conflict(slot: _Slot, other: _Slot) -> str | None:
    """Why ``slot`` and ``other`` (same person) cannot both stand, or None."""
    if slot.start < other.end and other.start < slot.end:
        return "overlap"
    rest = _rest()
    for first, second in ((other, slot), (slot, other)):
        if first.night and first.onsite and second.onsite and first.end <= second.start < first.end + rest:
            return "rest"
    if slot.onsite and other.onsite and (slot.end == other.start or other.end == slot.start):
        return "consecutive"
    return None


def _refuse(kind: str, user, slot: _Slot, other: _Slot):
    name = getattr(user, "full_name", "") or getattr(user, "username", str(user))
    if kind == "overlap":
        message = _("%(name)s 的班次时间重叠：%(a)s 与 %(b)s。")
    elif kind == "consecutive":
        message = _("%(name)s 不能连续在岗值两个班次：%(a)s 与 %(b)s。")
    else:
        message = _("%(name)s 夜班后须休息 %(hours)s 小时：%(a)s 与 %(b)s。")
    raise ServiceError(
        message % {"name": name, "a": slot.label, "b": other.label, "hours": settings.GOVCENTER_OPS_DUTY_REST_HOURS},
        code=f"duty_{kind}", status=409, details={"user": [name], "shifts": [slot.label, other.label]},
    )  # fmt: skip


def check_rules(assignments: list[DutyAssignment], users: dict[int, object] | None = None, *,
                exclude_ids=()) -> None:  # fmt: skip
    """Refuse (409) if any person of ``assignments`` (as they would be saved) clashes with
    another of them or with a stored assignment (other than ``exclude_ids``)."""
    slots = [s for a in assignments for s in _slots_of(a)]
    if not slots:
        return
    low = min(s.start for s in slots) - _rest() - dt.timedelta(days=1)
    high = max(s.end for s in slots) + _rest()
    people = {s.user_id for s in slots}
    stored = (
        DutyAssignment.objects.filter(starts_at__lt=high, ends_at__gt=low)
        .filter(Q(primary_id__in=people) | Q(backup_id__in=people))
        .exclude(pk__in=[*exclude_ids, *(a.pk for a in assignments if a.pk)])
        .select_related("shift")
    )
    others = [s for a in stored for s in _slots_of(a)]
    by_user: dict[int, list[_Slot]] = defaultdict(list)
    for s in others:
        by_user[s.user_id].append(s)
    users = users or {}
    for index, slot in enumerate(slots):
        for other in [*by_user[slot.user_id], *(o for o in slots[index + 1:] if o.user_id == slot.user_id)]:
            kind = _conflict(slot, other)
            if kind:
                _refuse(kind, users.get(slot.user_id, slot.user_id), slot, other)


def _display(user) -> str:
    return user.full_name or user.username


# --- generation -------------------------------------------------------------------------------


class _Picker:
    """Fair choice: the eligible person with the fewest shifts of this kind (holiday/guard
    shifts counted apart from workday ones, night shifts apart too), then the fewest in all,
    then the one who waited longest."""

    def __init__(self, people: list, prior: list[_Slot]):
        self.people = people
        self.placed: dict[int, list[_Slot]] = defaultdict(list)
        for slot in prior:
            self.placed[slot.user_id].append(slot)
        self.counts: dict[tuple[int, str], int] = defaultdict(int)
        self.last: dict[int, int] = {}
        self.tick = 0

    def eligible(self, user, slot: _Slot) -> bool:
        return all(_conflict(slot, other) is None for other in self.placed[user.pk])

    def pick(self, slot_template: _Slot, bucket: str, exclude=()) -> object | None:
        best, best_key = None, None
        for index, user in enumerate(self.people):
            if user.pk in exclude:
                continue
            slot = _Slot(user.pk, slot_template.start, slot_template.end, slot_template.onsite, slot_template.night,
                         slot_template.label)  # fmt: skip
            if not self.eligible(user, slot):
                continue
            key = (self.counts[(user.pk, bucket)], self.counts[(user.pk, "all")], self.last.get(user.pk, -1), index)
            if best_key is None or key < best_key:
                best, best_key = user, key
        if best is not None:
            self.tick += 1
            self.placed[best.pk].append(_Slot(best.pk, slot_template.start, slot_template.end, slot_template.onsite,
                                              slot_template.night, slot_template.label))  # fmt: skip
            self.counts[(best.pk, bucket)] += 1
            self.counts[(best.pk, "all")] += 1
            self.last[best.pk] = self.tick
        return best


def _no_one(label: str, what: str):
    raise ServiceError(
        _("%(slot)s 无人可排（%(what)s）：人手不足或违反休息规则。") % {"slot": label, "what": what},
        code="duty_unfillable", status=409, details={"slot": [label]},
    )  # fmt: skip


@transaction.atomic
def roster_generate(*, actor, unit, start: dt.date, end: dt.date, team: list, leaders: list = (),
                    replace: bool = False) -> list[DutyAssignment]:  # fmt: skip
    """Fill ``[start, end]`` for ``unit`` (see the module docstring); audited as one entry.
    Existing assignments in the range are refused (409) unless ``replace``. ``actor`` None: the
    command line (the operator); a user needs ``ops.manage_duty``."""
    if actor is not None and not actor.has_perm("ops.manage_duty"):
        raise ServiceError(_("您无权编排值班表。"), code="permission_denied", status=403)
    if end < start:
        raise ServiceError(_("结束日期须不早于开始日期。"), code="invalid", details={"to": [end.isoformat()]})
    if (end - start).days > 366:
        raise ServiceError(_("一次最多编排一年。"), code="invalid", details={"to": [end.isoformat()]})
    team = list(dict.fromkeys(team))
    if len(team) < 2:
        raise ServiceError(_("值班工程师至少两人（主班和备班）。"), code="invalid", details={"team": [str(len(team))]})
    strangers = [u.username for u in team if u.unit_id != unit.pk or not u.is_active]
    if strangers:
        raise ServiceError(_("值班工程师须为该运维单位的在职人员。"), code="invalid", details={"team": strangers})
    shifts = active_shifts()
    days = [start + dt.timedelta(days=i) for i in range((end - start).days + 1)]
    kinds = {d: day_kind(d) for d in days}
    if not leaders and any(k != DutyDayKind.WORKDAY for k in kinds.values()):
        raise ServiceError(_("范围内有节假日或保障期，须指定值班领导。"), code="invalid", details={"leaders": [_("必填")]})
    existing = DutyAssignment.objects.select_for_update().filter(unit=unit, date__gte=start, date__lte=end)
    if existing.exists():
        if not replace:
            raise ServiceError(_("该时段已有值班安排（使用替换选项重新编排）。"), code="roster_exists", status=409,
                               details={"from": [start.isoformat()], "to": [end.isoformat()]})  # fmt: skip
        removed = existing.count()
        existing.delete()
    else:
        removed = 0
    first_start = shift_span(shifts[0], start)[0]
    last_end = shift_span(shifts[-1], end)[1]
    people = [*team, *leaders]
    prior = [
        s
        for a in DutyAssignment.objects.filter(
            starts_at__lt=last_end + _rest(), ends_at__gt=first_start - _rest() - dt.timedelta(days=1)
        ).filter(Q(primary__in=people) | Q(backup__in=people)).select_related("shift")
        for s in _slots_of(a)
    ]  # fmt: skip
    engineers, bosses = _Picker(team, prior), _Picker(list(leaders), prior)
    # a backup is on call: it must not overlap, and counts in its own bucket
    made = []
    for day in days:
        kind = kinds[day]
        bucket = "workday" if kind == DutyDayKind.WORKDAY else "holiday"
        for shift in shifts:
            begin, finish = shift_span(shift, day)
            label = f"{day} {shift.name}"
            night = "night" if shift.is_night else "day"
            seats = 2 if kind == DutyDayKind.GUARD else 1
            taken: set[int] = set()
            for seat in range(1, seats + 1):
                primary = engineers.pick(_Slot(0, begin, finish, True, shift.is_night, label), f"{bucket}-{night}",
                                         exclude=taken)  # fmt: skip
                if primary is None:
                    _no_one(label, _("主班"))
                taken.add(primary.pk)
                backup = None
                if seat == 1:
                    backup = engineers.pick(_Slot(0, begin, finish, False, False, label), "backup", exclude=taken)
                    if backup is None:
                        _no_one(label, _("备班"))
                    taken.add(backup.pk)
                made.append(DutyAssignment(unit=unit, date=day, shift=shift, role=DutyRole.ENGINEER, seat=seat,
                                           starts_at=begin, ends_at=finish, day_kind=kind, primary=primary,
                                           backup=backup))  # fmt: skip
            if kind != DutyDayKind.WORKDAY:
                leader = bosses.pick(_Slot(0, begin, finish, False, False, label), "leader", exclude=taken)
                if leader is None:
                    _no_one(label, _("值班领导"))
                made.append(DutyAssignment(unit=unit, date=day, shift=shift, role=DutyRole.LEADER, seat=1,
                                           starts_at=begin, ends_at=finish, day_kind=kind, primary=leader))  # fmt: skip
    check_rules(made, {u.pk: u for u in people})
    DutyAssignment.objects.bulk_create(made)
    audit.record(
        action="ops.duty.generate", object_type="ops.dutyassignment", object_id=unit.pk, object_repr=str(unit),
        changes={"from": start.isoformat(), "to": end.isoformat(), "created": len(made), "replaced": removed,
                 "team": [u.username for u in team], "leaders": [u.username for u in leaders]},
    )  # fmt: skip
    return made


@transaction.atomic
def assignment_set(*, actor, assignment: DutyAssignment, primary, backup=None, reason: str) -> DutyAssignment:
    """Change who sits on one seat (the duty leader's edit), the rules checked; audited."""
    if not actor.has_perm("ops.manage_duty"):
        raise ServiceError(_("您无权编排值班表。"), code="permission_denied", status=403)
    if not (reason or "").strip():
        raise ServiceError(_("请填写原因。"), code="invalid", details={"reason": [_("必填")]})
    locked = DutyAssignment.objects.select_for_update().select_related("shift").get(pk=assignment.pk)
    if backup is not None and backup.pk == primary.pk:
        raise ServiceError(_("主班和备班不能是同一人。"), code="invalid", details={"backup": [backup.username]})
    before = audit.snapshot(locked, AUDIT_FIELDS)
    locked.primary, locked.backup = primary, backup
    check_rules([locked], {primary.pk: primary, **({backup.pk: backup} if backup else {})})
    locked.save(update_fields=["primary", "backup"])
    audit.record(action="ops.duty.assign", obj=locked, changes=audit.diff(before, audit.snapshot(locked, AUDIT_FIELDS)),
                 reason=reason.strip())  # fmt: skip
    return locked


def coverage_gaps(*, unit, start: dt.datetime, end: dt.datetime) -> list[tuple[dt.datetime, dt.datetime]]:
    """The spans of ``[start, end)`` no engineer primary of ``unit`` covers (empty: 7×24)."""
    spans = DutyAssignment.objects.filter(unit=unit, role=DutyRole.ENGINEER, starts_at__lt=end, ends_at__gt=start)
    gaps, cursor = [], start
    for begin, finish in spans.order_by("starts_at").values_list("starts_at", "ends_at"):
        if begin > cursor:
            gaps.append((cursor, begin))
        cursor = max(cursor, finish)
    if cursor < end:
        gaps.append((cursor, end))
    return gaps


def who_is_on_duty(at: dt.datetime | None = None, *, unit=None, user=None):
    """The seats on duty at ``at`` (default now): a queryset, engineer seats first. ``user``
    restricts to the caller's data scope."""
    moment = at or timezone.now()
    if timezone.is_naive(moment):
        raise ServiceError(_("时间须带时区。"), code="invalid", details={"at": [moment.isoformat()]})
    qs = DutyAssignment.objects.filter(starts_at__lte=moment, ends_at__gt=moment)
    if user is not None:
        qs = qs.restrict(user)
    if unit is not None:
        qs = qs.filter(unit=unit)
    return qs.select_related("shift", "primary", "backup", "unit").order_by("unit_id", "role", "seat")


def seat_dict(a: DutyAssignment) -> dict:
    return {
        "id": a.pk, "unit": a.unit.code, "date": a.date.isoformat(), "shift": a.shift.name, "role": a.role,
        "role_label": a.get_role_display(), "seat": a.seat, "day_kind": a.day_kind,
        "starts_at": a.starts_at.astimezone(TZ).isoformat(), "ends_at": a.ends_at.astimezone(TZ).isoformat(),
        "primary": {"id": a.primary_id, "name": _display(a.primary)},
        "backup": {"id": a.backup_id, "name": _display(a.backup)} if a.backup_id else None,
    }  # fmt: skip


# --- swaps ------------------------------------------------------------------------------------


@transaction.atomic
def swap_request(*, actor, assignment: DutyAssignment, counterpart, counter_assignment=None, reason: str) -> DutySwap:
    """The requester (primary or backup of ``assignment``) asks to hand it to ``counterpart``
    (taking ``counter_assignment`` of theirs in exchange, if given). Audited."""
    if not actor.has_perm("ops.request_duty_swap"):
        raise ServiceError(_("您无权申请换班。"), code="permission_denied", status=403)
    if not (reason or "").strip():
        raise ServiceError(_("请填写换班原因。"), code="invalid", details={"reason": [_("必填")]})
    if actor.pk not in (assignment.primary_id, assignment.backup_id):
        raise ServiceError(_("只能申请调换本人的班次。"), code="invalid", details={"assignment": [str(assignment.pk)]})
    if counterpart.pk == actor.pk or counterpart.unit_id != assignment.unit_id or not counterpart.is_active:
        raise ServiceError(_("换班对象须为同一运维单位的其他在职人员。"), code="invalid",
                           details={"counterpart": [counterpart.username]})  # fmt: skip
    if counter_assignment is not None and counterpart.pk not in (counter_assignment.primary_id, counter_assignment.backup_id):
        raise ServiceError(_("对方班次须为对方本人的班次。"), code="invalid",
                           details={"counter_assignment": [str(counter_assignment.pk)]})  # fmt: skip
    if assignment.starts_at <= timezone.now():
        raise ServiceError(_("已开始的班次不能调换。"), code="invalid", details={"assignment": [str(assignment.pk)]})
    _swapped(assignment, counter_assignment, actor, counterpart)  # refuse now what approval would refuse
    swap = DutySwap.objects.create(unit=assignment.unit, assignment=assignment, counter_assignment=counter_assignment,
                                   requester=actor, counterpart=counterpart, reason=reason.strip()[:300])  # fmt: skip
    audit.record(action="ops.duty.swap_request", obj=swap,
                 changes=audit.diff({}, audit.snapshot(swap, ["assignment", "counter_assignment", "requester",
                                                              "counterpart", "reason", "state"])))  # fmt: skip
    return swap


def _exchange(assignment: DutyAssignment, giver, taker) -> DutyAssignment:
    if assignment.primary_id == giver.pk:
        assignment.primary = taker
    elif assignment.backup_id == giver.pk:
        assignment.backup = taker
    else:
        raise ServiceError(_("班次人员已变更，换班申请失效。"), code="state_changed", status=409,
                           details={"assignment": [str(assignment.pk)]})  # fmt: skip
    if assignment.backup_id and assignment.backup_id == assignment.primary_id:
        raise ServiceError(_("换班后主班和备班为同一人。"), code="duty_overlap", status=409,
                           details={"assignment": [str(assignment.pk)]})  # fmt: skip
    return assignment


def _swapped(assignment, counter, requester, counterpart) -> list[DutyAssignment]:
    """The seats as they would be after the swap, checked against the rules (409)."""
    ids = [assignment.pk] + ([counter.pk] if counter is not None else [])
    rows = {a.pk: a for a in DutyAssignment.objects.select_related("shift").filter(pk__in=ids)}
    changed = [_exchange(rows[assignment.pk], requester, counterpart)]
    if counter is not None:
        changed.append(_exchange(rows[counter.pk], counterpart, requester))
    check_rules(changed, {requester.pk: requester, counterpart.pk: counterpart})
    return changed


@transaction.atomic
def swap_decide(*, actor, swap: DutySwap, approve: bool, comment: str = "") -> DutySwap:
    """The duty leader approves (the seats change, the rules checked again) or rejects."""
    if not actor.has_perm("ops.approve_duty_swap"):
        raise ServiceError(_("您无权审批换班。"), code="permission_denied", status=403)
    swap = DutySwap.objects.select_for_update().select_related("requester", "counterpart").get(pk=swap.pk)
    if swap.state != SwapState.PENDING:
        raise ServiceError(_("该换班申请已处理。"), code="state_changed", status=409, details={"state": [swap.state]})
    if actor.pk in (swap.requester_id, swap.counterpart_id):
        raise ServiceError(_("不能审批本人参与的换班。"), code="transition_forbidden", status=403)
    before = audit.snapshot(swap, ["state", "decided_by", "decided_at"])
    if approve:
        # lock both seats, then re-read them and check the rules as they stand now
        list(DutyAssignment.objects.select_for_update().filter(pk__in=[swap.assignment_id, swap.counter_assignment_id or 0]))
        for row in _swapped(swap.assignment, swap.counter_assignment, swap.requester, swap.counterpart):
            old = audit.snapshot(DutyAssignment.objects.get(pk=row.pk), AUDIT_FIELDS)
            row.save(update_fields=["primary", "backup"])
            audit.record(action="ops.duty.assign", obj=row, changes=audit.diff(old, audit.snapshot(row, AUDIT_FIELDS)),
                         reason=f"swap #{swap.pk}")  # fmt: skip
    swap.state = SwapState.APPROVED if approve else SwapState.REJECTED
    swap.decided_by, swap.decided_at = actor, timezone.now()
    swap.save(update_fields=["state", "decided_by", "decided_at"])
    audit.record(action="ops.duty.swap_" + ("approve" if approve else "reject"), obj=swap,
                 changes=audit.diff(before, audit.snapshot(swap, ["state", "decided_by", "decided_at"])),
                 reason=comment)  # fmt: skip
    return swap
