"""Services every subsystem's cases share: yearly numbers, places, unit assignment with
working-day deadlines and notices, and the scoped reads (ADR 0006)."""

from __future__ import annotations

import contextlib
import contextvars
import datetime as dt

import numpy as np
from django.contrib.contenttypes.models import ContentType
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from govcenter.core import audit, deadlines, workflow
from govcenter.core.api.errors import ServiceError
from govcenter.core.calendar import as_local_date
from govcenter.core.districts import get_index
from govcenter.core.models import District, Unit, User
from govcenter.core.notifications import notify

from ..models import CaseSequence, CaseUnit, UnitRole

# Where a case may be: Beijing's extent (GCJ-02), with a margin.
LON_RANGE, LAT_RANGE = (115.3, 117.6), (39.3, 41.2)
MAX_LINE_POINTS = 500
MAX_DEADLINE_MONTHS = 36  # no case is given more than three years


def refuse(message: str, code: str, field: str, value="", *, status: int = 400) -> ServiceError:
    return ServiceError(message, code=code, status=status, details={field: [str(value)[:200]]})


def next_number(prefix: str, year: int) -> str:
    """The next number of series ``prefix`` in ``year`` (``JY-2026-00001``): gapless, taken
    under a row lock in the caller's transaction."""
    with transaction.atomic():
        CaseSequence.objects.get_or_create(prefix=prefix, year=year)
        seq = CaseSequence.objects.select_for_update().get(prefix=prefix, year=year)
        seq.last += 1
        seq.save(update_fields=["last"])
    return f"{prefix}-{year}-{seq.last:05d}"


def check_location(location) -> tuple[dict | None, District | None]:
    """A GeoJSON Point or LineString in GCJ-02 with every point inside one of Beijing's districts
    (ServiceError otherwise), and the district of its first point."""
    if location in (None, "", {}):
        return None, None
    if not isinstance(location, dict) or location.get("type") not in ("Point", "LineString"):
        raise refuse(
            _("位置须为 GeoJSON 的 Point 或 LineString（GCJ-02）。"), "invalid_location", "location", location
        )
    coords = location.get("coordinates")
    points = [coords] if location["type"] == "Point" else coords
    try:
        array = np.asarray(points, dtype=np.float64)
    except (TypeError, ValueError):
        raise refuse(_("位置坐标无效。"), "invalid_location", "location", coords) from None
    if (
        array.ndim != 2
        or array.shape[1] != 2
        or not 1 <= len(array) <= MAX_LINE_POINTS
        or (location["type"] == "LineString" and len(array) < 2)
        or not np.isfinite(array).all()
    ):
        raise refuse(_("位置坐标无效。"), "invalid_location", "location", coords)
    lon, lat = array[:, 0], array[:, 1]
    if not (
        (lon >= LON_RANGE[0]) & (lon <= LON_RANGE[1]) & (lat >= LAT_RANGE[0]) & (lat <= LAT_RANGE[1])
    ).all():
        raise refuse(
            _("位置不在北京市范围内（坐标须为 GCJ-02 经纬度）。"), "location_outside", "location", coords
        )
    codes = get_index().lookup_codes(lon, lat)
    if not all(codes):
        raise refuse(
            _("位置不在北京市范围内（坐标须为 GCJ-02 经纬度）。"), "location_outside", "location", coords
        )
    coordinates = array.tolist() if location["type"] == "LineString" else array[0].tolist()
    clean = {"type": location["type"], "coordinates": coordinates, "datum": "GCJ-02"}
    return clean, District.objects.filter(code=str(codes[0])).first()


def deadline_for(start: dt.datetime, *, workdays: int | None = None, day: dt.date | None = None) -> dt.date:
    """A case deadline: ``workdays`` working days after ``start``, or ``day`` when it is a
    working day after ``start`` (400 ``deadline_not_workday`` naming the next working day)."""
    if day is None:
        return deadlines.due_after(start, workdays=workdays)
    try:
        day = deadlines.check_deadline(day)
    except deadlines.DeadlineError as exc:
        raise refuse(str(exc), "deadline_not_workday", "deadline", exc.suggestion) from None
    if day < as_local_date(start):
        raise refuse(_("办理期限不能早于今天。"), "deadline_in_past", "deadline", day)
    if day > deadlines.add_months(as_local_date(start), MAX_DEADLINE_MONTHS):
        raise refuse(
            _("办理期限不能晚于 %(n)d 个月之后。") % {"n": MAX_DEADLINE_MONTHS},
            "deadline_too_far",
            "deadline",
            day,
        )
    return day


def unit_users(unit: Unit, perm: str):
    """The active users of ``unit`` itself who hold ``perm`` (``app.codename``) through a role —
    who a unit's notices about the work reach. (A sub-unit's people do not: a case assigned to a
    unit is outside their own-unit scope until the unit passes it down.)"""
    app_label, codename = perm.split(".", 1)
    holders = Q(roles__permissions__codename=codename, roles__permissions__content_type__app_label=app_label)
    return User.objects.filter(unit=unit, is_active=True).filter(holders | Q(is_superuser=True)).distinct()


def assign_unit(
    case,
    *,
    actor,
    unit: Unit,
    role: str,
    deadline: dt.date | None,
    title: str,
    notify_perm: str,
    url: str = "",
) -> CaseUnit:
    """Give ``unit`` its part in ``case`` (once per unit) and tell its people who hold
    ``notify_perm`` (in-app + SMS)."""
    if role not in UnitRole.values:
        raise refuse(_("未知的承办角色。"), "invalid_choice", "role", role)
    if not unit.is_active:
        raise refuse(_("该单位已停用。"), "unit_inactive", "unit", unit.pk)
    link, created = CaseUnit.objects.get_or_create(
        content_type=ContentType.objects.get_for_model(case),
        object_id=case.pk,
        unit=unit,
        defaults={
            "role": role,
            "deadline": deadline,
            "assigned_at": now(),
            "assigned_by": actor if getattr(actor, "pk", None) else None,
        },
    )
    if not created:
        raise refuse(_("该单位已在办理此事项。"), "already_assigned", "unit", unit.pk, status=409)
    audit.record(
        action="congestion.caseunit.assign",
        obj=case,
        changes={
            "after": {"unit": unit.pk, "role": role, "deadline": deadline.isoformat() if deadline else None}
        },
    )
    notify(
        unit_users(unit, notify_perm),
        verb="assigned",
        title=title,
        target=case,
        url=url or case_url(case),
        sms_template="case_notice",
        sms_context={"deadline": deadline.isoformat() if deadline else _("见系统")},
    )
    return link


def renew_units(
    case, *, actor, role: str, deadline: dt.date, title: str, notify_perm: str, url: str = ""
) -> int:
    """Give the units of ``role`` in ``case`` a new deadline (a case sent back for another
    round), audited, and tell their people (in-app + SMS); returns how many units."""
    links = list(case.units.filter(role=role).select_related("unit"))
    for link in links:
        audit.record(
            action="congestion.caseunit.renew",
            obj=case,
            changes={
                "before": {
                    "unit": link.unit_id,
                    "deadline": link.deadline.isoformat() if link.deadline else None,
                },
                "after": {"unit": link.unit_id, "deadline": deadline.isoformat()},
            },
        )
        link.deadline = deadline
        link.save(update_fields=["deadline"])
        notify(
            unit_users(link.unit, notify_perm), verb="returned", title=title, target=case, url=url or case_url(case),
            sms_template="case_notice", sms_context={"deadline": deadline.isoformat()},
        )  # fmt: skip
    return len(links)


def case_url(case) -> str:
    """The page of ``case`` (for notices)."""
    from django.urls import reverse

    from .. import kinds

    kind = kinds.for_model(type(case))
    return reverse("congestion:case_detail", args=[kind.code, case.pk]) if kind else ""


_CLOCK: contextvars.ContextVar[dt.datetime | None] = contextvars.ContextVar("congestion_clock", default=None)


def now() -> dt.datetime:
    """The services' clock: the real time, or the moment set by :func:`clock`."""
    return _CLOCK.get() or timezone.now()


def advance(case, transition: str, **kwargs):
    """``core.workflow.advance`` on the services' clock (the history row carries the
    :func:`clock` moment when one is set)."""
    return workflow.advance(case, transition, logged_at=_CLOCK.get(), **kwargs)


@contextlib.contextmanager
def clock(moment: dt.datetime):
    """Run the services as of ``moment`` (an aware datetime): the year-long demo and imports of
    historical registers replay each step at the time it happened, so numbers, deadlines and
    histories read as they would have then. Never used by a request."""
    if timezone.is_naive(moment):
        raise ValueError("clock needs an aware datetime")
    token = _CLOCK.set(moment)
    try:
        yield moment
    finally:
        _CLOCK.reset(token)


def may_contribute(user, case) -> bool:
    """Whether ``user`` may add comments, communication logs and files to ``case``: the Center's
    staff who register cases of its kind, and the people of a unit handling it (or of a unit
    above one). Readers (leaders, other units' staff) may not."""
    from govcenter.core.models import Unit

    from .. import kinds

    if not getattr(user, "is_authenticated", False):
        return False
    kind = kinds.for_model(type(case))
    if kind is None or not kind.model.objects.restrict(user).filter(pk=case.pk).exists():
        return False
    if user.is_superuser or (kind.create is not None and user.has_perm(kind.create.permission)):
        return True
    if getattr(user, "unit", None) is None:
        return False
    mine = Unit.objects.subtree_ids(user.unit)
    return case.units.filter(unit_id__in=mine).exists()


def _contributor(user, case) -> None:
    if not may_contribute(user, case):
        raise refuse(
            _("您不是该事项的办理人员，不能添加记录或附件。"), "forbidden", "case", case.pk, status=403
        )


def case_comment(*, actor, case, body: str, kind: str = "comment", counterpart: str = ""):
    """A comment or communication log (电话 / 函件 / 会议 / 走访) on ``case`` by one of its
    contributors (:func:`may_contribute`); the kernel audits it."""
    from govcenter.core import comments

    _contributor(actor, case)
    return comments.comment_add(case, actor=actor, body=body, kind=kind, counterpart=counterpart)


def case_attach(*, actor, case, uploads) -> list:
    """Attach uploaded files to ``case`` (each checked, stored and audited by the kernel in its
    own transaction: a refused file names itself, the ones before it stay) and put their text
    into the case's search document."""
    from govcenter.core import attachments, search

    _contributor(actor, case)
    uploads = list(uploads or [])
    if not uploads:
        raise refuse(_("请选择要上传的文件。"), "required", "files")
    rows = []
    try:
        for upload in uploads:
            rows.append(attachments.attach(case, actor=actor, name=upload.name, upload=upload))
    finally:
        if rows:
            search.index(case)
    return rows
