"""Across all kinds of case: the warning board (红 / 黄 / 蓝 per handling unit), urging notices
(催办), the dashboard's counts and the Excel export of any list — each through the caller's
data scope, so a handling unit's board, counts and exports hold only its own cases."""

from __future__ import annotations

import datetime as dt
import types
from collections import Counter, defaultdict
from dataclasses import dataclass, field

from django.conf import settings
from django.db import transaction
from django.db.models import Count
from django.urls import reverse
from django.utils.translation import gettext as _

from govcenter.core import audit, deadlines, tabular
from govcenter.core.models import Unit

from .. import kinds as kind_registry
from ..kinds import Kind
from ..models import CaseUnit, UnitRole
from ..models.cases import DISTRICT_BOUNDARY
from .cases import case_url, now, refuse, unit_users

ALERT_LEVELS = (deadlines.Level.RED, deadlines.Level.YELLOW, deadlines.Level.BLUE)


def open_cases(kind: Kind, user):
    """The caller's open cases of ``kind`` that have a deadline."""
    return (
        kind.model.objects.restrict(user)
        .filter(state__in=kind.open_states, deadline__isnull=False)
        .select_related("district").defer(*DISTRICT_BOUNDARY)
        .prefetch_related("units__unit")
    )


@dataclass
class BoardRow:
    kind: Kind
    case: object
    level: deadlines.Level
    days_left: int
    units: list = field(default_factory=list)  # the case's CaseUnit rows (lead / responsible first)

    @property
    def url(self) -> str:
        return reverse("congestion:case_detail", args=[self.kind.code, self.case.pk])


@dataclass
class UnitLine:
    unit: Unit | None  # None: cases not yet assigned to any unit
    counts: Counter = field(default_factory=Counter)
    rows: list[BoardRow] = field(default_factory=list)


def board(user, *, on: dt.date | None = None, kind_codes=None, levels=ALERT_LEVELS) -> list[UnitLine]:
    """Open cases in the caller's scope whose colour is one of ``levels``, grouped per handling
    unit (a case counts once for each of its lead / responsible units; co-units see it under
    their own name too), most severe first."""
    on = on or deadlines.today()
    lines: dict[int | None, UnitLine] = {}
    for kind in kind_registry.all_kinds():
        if kind_codes and kind.code not in kind_codes:
            continue
        if not user.has_perm(kind.view_permission):
            continue
        for case in open_cases(kind, user).order_by("deadline", "id").iterator(chunk_size=500):
            level = kind.warning(case, on=on)
            if level not in levels:
                continue
            links = sorted(case.units.all(), key=lambda u: (u.role == UnitRole.CO, u.unit_id))
            row = BoardRow(kind, case, level, deadlines.workdays_left(case.deadline, on=on), links)
            for unit in [link.unit for link in links] or [None]:
                line = lines.setdefault(unit.pk if unit else None, UnitLine(unit))
                line.counts[str(level)] += 1
                line.rows.append(row)
    severity = deadlines.SEVERITY
    for line in lines.values():
        line.rows.sort(key=lambda r: (-severity[r.level], r.days_left))
    return sorted(
        lines.values(),
        key=lambda ln: (-ln.counts["red"], -ln.counts["yellow"], -ln.counts["blue"], str(ln.unit or "")),
    )


def case_unit_urge(*, actor, link: CaseUnit, comment: str = "") -> CaseUnit:
    """催办: tell ``link``'s unit (its people who can see the kind) that its part is due or
    overdue; counted on the unit's part, audited. Only open cases with a deadline are urged,
    and not twice within ``GOVCENTER_CONGESTION_URGE_MIN_HOURS``."""
    if not actor.has_perm("congestion.urge_caseunit"):
        raise refuse(_("您无权催办。"), "forbidden", "unit", link.unit_id, status=403)
    case = link.case
    kind = kind_registry.for_model(type(case))
    if kind is None or not kind.model.objects.restrict(actor).filter(pk=case.pk).exists():
        raise refuse(_("事项不存在。"), "not_found", "case", link.object_id, status=404)
    if not kind.is_open(case) or case.deadline is None:
        raise refuse(_("该事项已办结或没有办理期限，无需催办。"), "not_urgeable", "case", case.pk, status=409)
    at = now()
    gap = dt.timedelta(hours=settings.GOVCENTER_CONGESTION_URGE_MIN_HOURS)
    comment = (comment or "").strip()[:500]
    with transaction.atomic():
        locked = CaseUnit.objects.select_for_update().get(pk=link.pk)
        if locked.urged_at is not None and at - locked.urged_at < gap:
            raise refuse(
                _("该单位 %(h)d 小时内已被催办过。") % {"h": settings.GOVCENTER_CONGESTION_URGE_MIN_HOURS},
                "urged_recently", "unit", link.unit_id, status=409,
            )  # fmt: skip
        locked.urge_count += 1
        locked.urged_at = at
        locked.save(update_fields=["urge_count", "urged_at"])
        level = kind.warning(case)
        title = _("催办（第%(n)d次）：%(t)s") % {"n": locked.urge_count, "t": case.title}
        from govcenter.core.notifications import notify

        notify(
            unit_users(locked.unit, kind.view_permission),
            verb="urge",
            title=title,
            body=comment or _("办理期限：%(d)s，请抓紧办理。") % {"d": case.deadline.isoformat()},
            target=case,
            url=case_url(case),
            level="warning",
            sms_template="case_urge",
            sms_context={"deadline": (locked.deadline or case.deadline).isoformat()},
        )
        audit.record(
            action="congestion.caseunit.urge",
            obj=case,
            changes={"after": {"unit": locked.unit_id, "urge_count": locked.urge_count, "level": str(level)}},
            reason=comment,
        )
    return locked


# -- counts ------------------------------------------------------------------------------------


@dataclass
class KindSummary:
    kind: Kind
    total: int
    open: int
    overdue: int
    by_state: list[tuple[str, str, int]]  # (state, label, count)
    by_district: list[tuple[str, int]]


def summaries(user, *, year: int | None = None) -> list[KindSummary]:
    """Per kind the caller may see: totals, open, overdue, counts by state and district."""
    today = deadlines.today()
    out = []
    for kind in kind_registry.all_kinds():
        if not user.has_perm(kind.view_permission):
            continue
        qs = kind.model.objects.restrict(user)
        if year:
            qs = qs.filter(year=year)
        labels = dict(kind.model._meta.get_field("state").choices)
        by_state = dict(qs.order_by().values_list("state").annotate(n=Count("id")))
        out.append(
            KindSummary(
                kind=kind,
                total=sum(by_state.values()),
                open=sum(n for s, n in by_state.items() if s in kind.open_states),
                overdue=qs.filter(kind.overdue_q(on=today)).count(),
                by_state=[(s, str(labels.get(s, s)), by_state[s]) for s in labels if s in by_state],
                by_district=[
                    (name or _("未定位"), n)
                    for name, n in qs.order_by()
                    .values_list("district__name_zh")
                    .annotate(n=Count("id"))
                    .order_by("-n")
                ],
            )
        )
    return out


def unit_counts(user, *, year: int | None = None) -> list[tuple[str, str, int, int]]:
    """Per handling unit (lead / responsible): (unit, role label, cases, open cases) over every
    kind the caller may see."""
    totals: dict[tuple[int, str], list[int]] = defaultdict(lambda: [0, 0])
    role_labels = dict(UnitRole.choices)
    for kind in kind_registry.all_kinds():
        if not user.has_perm(kind.view_permission):
            continue
        qs = kind.model.objects.restrict(user)
        if year:
            qs = qs.filter(year=year)
        ids = qs.values("pk")
        links = CaseUnit.objects.filter(
            content_type__app_label=kind.model._meta.app_label,
            content_type__model=kind.model._meta.model_name,
            object_id__in=ids,
        ).exclude(role=UnitRole.CO)
        open_ids = qs.filter(state__in=kind.open_states).values("pk")
        for unit, role, n in links.order_by().values_list("unit_id", "role").annotate(n=Count("id")):
            totals[(unit, role)][0] += n
        for unit, role, n in (
            links.filter(object_id__in=open_ids)
            .order_by()
            .values_list("unit_id", "role")
            .annotate(n=Count("id"))
        ):
            totals[(unit, role)][1] += n
    names = {u.pk: str(u) for u in Unit.objects.filter(pk__in={unit for unit, _role in totals})}
    return sorted(
        ((names[unit], str(role_labels.get(role, role)), t, o) for (unit, role), (t, o) in totals.items()),
        key=lambda r: (-r[3], -r[2], r[0]),
    )


# -- export ------------------------------------------------------------------------------------


def export_columns(kind: Kind) -> list[tabular.Column]:
    columns = []
    for name in (*kind.columns, "warning"):
        if name == "warning":
            columns.append(tabular.Column("warning", "预警"))
            continue
        model_field = kind.model._meta.get_field(name)
        if model_field.choices:
            columns.append(
                tabular.Column(
                    name, str(model_field.verbose_name), type="enum",
                    choices=types.SimpleNamespace(choices=model_field.choices),
                )
            )  # fmt: skip
        else:
            columns.append(tabular.Column(name, str(model_field.verbose_name)))
    return columns


def export_xlsx(kind: Kind, queryset, *, actor, filters: dict) -> bytes:
    """The filtered, scoped list as .xlsx (its columns, Chinese header); audited. Refused over
    ``GOVCENTER_CONGESTION_EXPORT_MAX_ROWS`` rows (narrow the filters)."""
    limit = settings.GOVCENTER_CONGESTION_EXPORT_MAX_ROWS
    count = queryset.count()
    if count > limit:
        raise refuse(
            _("导出行数 %(n)d 超过上限 %(max)d，请缩小筛选范围。") % {"n": count, "max": limit},
            "too_many_rows", "filters", count, status=400,
        )  # fmt: skip
    columns = export_columns(kind)
    today = deadlines.today()

    def value(case, col):
        if col.key == "warning":
            return deadlines.Level(kind.warning(case, on=today)).label
        raw = getattr(case, col.key)
        if isinstance(raw, dt.datetime):
            return raw.astimezone(dt.timezone(dt.timedelta(hours=8))).strftime("%Y-%m-%d %H:%M")
        if hasattr(raw, "pk"):
            return str(raw)
        return tabular.cell_label(col, raw)

    rows = ([value(case, col) for col in columns] for case in queryset.iterator(chunk_size=1000))
    data = tabular.render_xlsx(columns, rows, sheet_title=str(kind.label)[:30])
    audit.record(
        action="congestion.export",
        object_type=kind.model._meta.label_lower,
        changes={"after": {"kind": kind.code, "rows": count, "filters": filters}},
    )
    return data
