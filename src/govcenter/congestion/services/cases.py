"""Services every subsystem's cases share: yearly numbers, places, unit assignment with
working-day deadlines and notices, and the scoped reads (ADR 0006)."""

from __future__ import annotations

import contextlib
import contextvars
import datetime as dt
import functools

import numpy as np
from django.contrib.contenttypes.models import ContentType
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from govcenter.core import deadlines, workflow
from govcenter.core.api.errors import ServiceError
from govcenter.core.calendar import as_local_date
from govcenter.core.models import District, Unit, User
from govcenter.core.notifications import notify

from ..models import CaseSequence, CaseUnit, UnitRole

# Where a case may be: Beijing's extent (GCJ-02), with a margin.
LON_RANGE, LAT_RANGE = (115.3, 117.6), (39.3, 41.2)
MAX_LINE_POINTS = 500


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


@functools.cache
def _district_index():
    from govcenter.core.districts import DistrictIndex

    return DistrictIndex.from_files()


def check_location(location) -> tuple[dict | None, District | None]:
    """A GeoJSON Point or LineString in GCJ-02 inside Beijing (ServiceError otherwise), and the
    district of its first point (None when it falls in none)."""
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
    code = str(_district_index().lookup_codes(lon[:1], lat[:1])[0])
    coordinates = array.tolist() if location["type"] == "LineString" else array[0].tolist()
    clean = {"type": location["type"], "coordinates": coordinates, "datum": "GCJ-02"}
    return clean, District.objects.filter(code=code).first()


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
            "assigned_by": actor if getattr(actor, "pk", None) else None,
        },
    )
    if not created:
        raise refuse(_("该单位已在办理此事项。"), "already_assigned", "unit", unit.pk, status=409)
    notify(
        unit_users(unit, notify_perm),
        verb="assigned",
        title=title,
        target=case,
        url=url,
        sms_template="case_notice",
        sms_context={"deadline": deadline.isoformat() if deadline else _("见系统")},
    )
    return link


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


def case_attach(*, actor, case, uploads) -> list:
    """Attach uploaded files to ``case`` (each checked, stored, audited by the kernel) and put
    their text into its search document; all or none."""
    from govcenter.core import attachments, search

    uploads = list(uploads or [])
    if not uploads:
        raise refuse(_("请选择要上传的文件。"), "required", "files")
    with transaction.atomic():
        rows = [attachments.attach(case, actor=actor, name=u.name, upload=u) for u in uploads]
        search.index(case)
    return rows
