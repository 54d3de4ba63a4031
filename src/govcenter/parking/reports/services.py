"""Generating, listing and handing out the parking reports (statistics 8 周报 and 9 月报).

* :func:`parkingreport_generate` — gather the sections of the period (:mod:`.sections`, the
  statistics' own compute) for the city or one district, render Word and Excel
  (:mod:`.render`), store both under ``GOVCENTER_VAR_DIR/reports/parking/…`` (written
  atomically) and record the :class:`~govcenter.parking.models.reports.ParkingReport` row with
  their SM3 digests, audited in the same transaction. One row per kind + period + district:
  regenerating replaces its files with a new version; ``replace=False`` (the schedule) keeps a
  report that is already there.
* :func:`parkingreport_request` — on demand (the page, the API): check the request now (bad
  input is a 400 at once), mark the row ``queued`` and hand the work to a Huey job
  (:func:`parkingreport_run`, task ``parking.report_generate``), which generates it as the user
  who asked. A report already queued or running is not queued twice; a stored version stays
  downloadable until the new one replaces it. A month's city report over a year of Beijing
  data takes seconds to tens of seconds: no request waits for it.
* :func:`parkingreport_list` — the reports the caller may see (scoped: a district's staff see
  their district's versions, the city version only with ``view_city_parkingreport`` or a full
  scope).
* :func:`parkingreport_file` — a stored file after checking its SM3; every download audited.

Scope: on demand the report is computed as the requesting user. The city version needs a full
data scope (a partial one would give a "city" report of some districts). A district's version
is computed with the query's ``district`` and a scope restricted to that district (the system's
scope is ``Scope(district_ids={district})``; a user's own scope must cover the district). The
schedule acts as the system (``actor=None``) with a full scope.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import shutil
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from govcenter.core import audit
from govcenter.core.api.errors import ServiceError
from govcenter.core.crypto import sm3_hex
from govcenter.core.documents import write_atomic
from govcenter.core.models import District, Unit
from govcenter.core.scope import FULL_SCOPE, Scope, scope_for

from ..models.reports import ParkingReport, ParkingReportKind, ParkingReportStatus
from ..stats2.common import StatQuery
from . import render
from .sections import SECTIONS, Context, gather

log = logging.getLogger(__name__)
SYSTEM = None
VIEW_PERMISSION = "parking.view_parkingreport"
ADD_PERMISSION = "parking.add_parkingreport"
CITY_PERMISSION = "parking.view_city_parkingreport"
CONTENT_TYPES = {
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
AUDIT_FIELDS = [
    "kind", "label", "period_start", "period_end", "district_id", "version", "status",
    "docx_path", "docx_sm3", "xlsx_path", "xlsx_sm3", "duration_ms",
]  # fmt: skip
# A queued or running job older than this is taken as lost (a worker died): a new request queues it again.
STALE_JOB = dt.timedelta(minutes=30)
PENDING = (ParkingReportStatus.QUEUED, ParkingReportStatus.RUNNING)
_MONTH = re.compile(r"^(\d{4})-(\d{2})$")
_WEEK = re.compile(r"^(\d{4})-W(\d{2})$")


@dataclass(frozen=True)
class Period:
    kind: str
    label: str
    start: dt.date
    end: dt.date

    def previous(self) -> Period:
        if self.kind == ParkingReportKind.WEEKLY:
            return week_period(self.start - dt.timedelta(days=7))
        return month_period(self.start - dt.timedelta(days=1))


def week_period(day: dt.date) -> Period:
    """The ISO week (Monday–Sunday) holding ``day``."""
    year, week, weekday = day.isocalendar()
    start = day - dt.timedelta(days=weekday - 1)
    return Period(ParkingReportKind.WEEKLY, f"{year}-W{week:02d}", start, start + dt.timedelta(days=6))


def month_period(day: dt.date) -> Period:
    """The calendar month holding ``day``."""
    first = day.replace(day=1)
    last = (first + dt.timedelta(days=32)).replace(day=1) - dt.timedelta(days=1)
    return Period(ParkingReportKind.MONTHLY, f"{first:%Y-%m}", first, last)


def parse_period(kind: str, label: str | None, today: dt.date | None = None) -> Period:
    """``weekly`` + ``2026-W44`` or ``monthly`` + ``2026-10``; no label: the last complete one.

    400 ``invalid_kind`` / ``invalid_period`` (a malformed label, or a period not yet ended).
    """
    today = today or timezone.localdate()
    if kind not in ParkingReportKind.values:
        raise ServiceError(
            _("未知的报告类型（weekly 或 monthly）。"), code="invalid_kind", details={"kind": [str(kind)]}
        )
    label = (label or "").strip().upper()
    if not label:
        return previous_period(kind, today)
    period = None
    if kind == ParkingReportKind.MONTHLY and (m := _MONTH.match(label)) and 1 <= int(m[2]) <= 12:
        period = month_period(dt.date(int(m[1]), int(m[2]), 1))
    elif kind == ParkingReportKind.WEEKLY and (m := _WEEK.match(label)):
        try:
            period = week_period(dt.date.fromisocalendar(int(m[1]), int(m[2]), 1))
        except ValueError:
            period = None
    if period is None:
        raise ServiceError(
            _("期间格式有误（周：2026-W44，月：2026-10）。"),
            code="invalid_period",
            details={"period": [label]},
        )
    if period.end >= today:
        raise ServiceError(_("期间尚未结束。"), code="invalid_period", details={"period": [label]})
    return period


def previous_period(kind: str, today: dt.date) -> Period:
    """The last complete week (Monday–Sunday) or month before ``today``."""
    if kind == ParkingReportKind.WEEKLY:
        return week_period(today - dt.timedelta(days=today.isoweekday()))
    return month_period(today.replace(day=1) - dt.timedelta(days=1))


def _require(actor, permission: str) -> None:
    if actor is SYSTEM:
        return
    if not getattr(actor, "is_authenticated", False) or not actor.has_perm(permission):
        raise PermissionDenied(_("没有停车统计报告权限。"))


def report_scope(actor, district: District | None):
    """Whose scope computes the report: checked with the framework's scope functions.

    City: the system or a user with a full scope. A district: the system restricted to the
    district, or a user whose scope covers it (400 ``unknown_district`` otherwise — the same
    answer as a district that does not exist).
    """
    if district is None:
        if actor is SYSTEM:
            return FULL_SCOPE
        if not scope_for(actor).all:
            raise ServiceError(
                _("全市报告需要全部数据范围，请选择所属区。"),
                code="city_not_permitted",
                details={"district": [""]},
            )
        return actor
    if actor is SYSTEM or scope_for(actor).all:
        return Scope(district_ids=frozenset({district.pk}))
    if not District.objects.restrict(actor).filter(pk=district.pk).exists():
        raise ServiceError(
            _("未知的区或不在数据范围内。"), code="unknown_district", details={"district": [str(district.pk)]}
        )
    return actor


def district_of(actor, raw) -> District | None:
    """The district of a form/API value (an id; with ``by_code`` a code), or None for the city.

    400 ``unknown_district`` when absent or outside the caller's scope (the same answer).
    """
    if raw in (None, ""):
        return None
    qs = District.objects.all() if actor is SYSTEM else District.objects.restrict(actor)
    text = str(raw).strip()
    district = qs.filter(pk=int(text)).first() if text.isdigit() and len(text) < 9 else None
    if district is None:
        district = qs.filter(code=text).first()
    if district is None:
        raise ServiceError(
            _("未知的区或不在数据范围内。"), code="unknown_district", details={"district": [text[:20]]}
        )
    return district


def title_of(period: Period, district: District | None) -> str:
    place = district.name_zh if district is not None else _("全市")
    if period.kind == ParkingReportKind.WEEKLY:
        return _("%(place)s道路停车周报（%(label)s）") % {"place": place, "label": period.label}
    year, month = period.label.split("-")
    return _("%(place)s道路停车月报（%(year)s年%(month)d月）") % {
        "place": place,
        "year": year,
        "month": int(month),
    }


def _key(period: Period, district: District | None) -> dict:
    return {"kind": period.kind, "period_start": period.start, "district": district}


def _parameters(period: Period, district: District | None) -> dict:
    """What a report is of (stored on its row; a generated one adds its sections and scope)."""
    return {
        "kind": period.kind,
        "period": period.label,
        "start": period.start.isoformat(),
        "end": period.end.isoformat(),
        "district": district.code if district else None,
    }


def parkingreport_generate(
    *,
    actor,
    kind: str,
    label: str | None = None,
    district: District | None = None,
    replace: bool = True,
    now: dt.datetime | None = None,
    lake_root=None,
) -> ParkingReport:
    """Build, store and record the report of the period (and district); returns its row."""
    _require(actor, ADD_PERMISSION)
    generated_at = (now or timezone.now()).replace(microsecond=0)
    period = parse_period(kind, label, timezone.localtime(generated_at).date())
    scope = report_scope(actor, district)
    existing = ParkingReport.objects.filter(**_key(period, district)).first()
    if existing is not None and not replace and existing.status == ParkingReportStatus.DONE:
        return existing
    started = time.monotonic()
    parameters = {
        **_parameters(period, district),
        "sections": [f"{fn.__module__}.{fn.__name__}" for fn in SECTIONS],
        "scope": "system" if actor is SYSTEM else getattr(actor, "username", ""),
    }
    var = Path(settings.GOVCENTER_VAR_DIR)
    place = district.code if district else "city"
    stamp = generated_at.astimezone(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    folder = (
        var / "reports" / "parking" / period.kind / period.label / place / f"{stamp}-{uuid.uuid4().hex[:8]}"
    )
    try:
        previous = period.previous()
        ctx = Context(
            actor=scope,
            query=StatQuery(period.start, period.end, district=district),
            previous=StatQuery(previous.start, previous.end, district=district),
            now=generated_at,
            root=lake_root,
        )
        sections = gather(ctx)
        title = title_of(period, district)
        subtitle = _("统计期间：%(start)s 至 %(end)s") % {"start": period.start, "end": period.end}
        local = timezone.localtime(generated_at)
        files = {
            "docx": render.docx(title=title, subtitle=subtitle, sections=sections, generated_at=local),
            "xlsx": render.xlsx(title=title, subtitle=subtitle, sections=sections, generated_at=local),
        }
        folder.mkdir(parents=True, exist_ok=False)
        paths = {}
        for ext, content in files.items():
            paths[ext] = folder / f"parking-{period.kind}-{period.label}-{place}.{ext}"
            write_atomic(paths[ext], content)
    except Exception as exc:
        shutil.rmtree(folder, ignore_errors=True)
        _record_failure(actor, period, district, parameters, generated_at, exc, started)
        raise
    user = None if actor is SYSTEM else actor
    values = {
        "period_end": period.end,
        "label": period.label,
        "parameters": parameters,
        "status": ParkingReportStatus.DONE,
        "docx_path": str(paths["docx"].relative_to(var)),
        "docx_sm3": sm3_hex(files["docx"]),
        "xlsx_path": str(paths["xlsx"].relative_to(var)),
        "xlsx_sm3": sm3_hex(files["xlsx"]),
        "summary": {s.key: {"title": s.title, "kpis": s.kpis} for s in sections},
        "generated_at": generated_at,
        "generated_by": user,
        "generated_by_name": user.username if user else "system",
        "duration_ms": int((time.monotonic() - started) * 1000),
        "error": "",
    }
    old_folder = None
    try:
        with transaction.atomic():
            report = (
                ParkingReport.objects.select_for_update(of=("self",)).filter(**_key(period, district)).first()
            )
            if report is None:
                report = ParkingReport.objects.create(**_key(period, district), **values)
            else:
                if report.docx_path:
                    old_folder = (var / report.docx_path).parent
                    report.version += 1  # a row only queued so far gets its first version
                for name, value in values.items():
                    setattr(report, name, value)
                report.save()
            audit.record(
                action="parking.report.generate",
                obj=report,
                changes={"after": audit.snapshot(report, AUDIT_FIELDS)},
            )
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    if old_folder is not None and old_folder != folder:
        shutil.rmtree(old_folder, ignore_errors=True)  # the replaced version's files
    return report


def _record_failure(actor, period, district, parameters, generated_at, exc, started) -> None:
    """A failed run leaves its error on the row (a new row: status failed; a stored one keeps its files)."""
    if isinstance(exc, ServiceError | PermissionDenied):
        return
    message = f"{type(exc).__name__}: {exc}"[:2000]
    with transaction.atomic():
        report = (
            ParkingReport.objects.select_for_update(of=("self",)).filter(**_key(period, district)).first()
        )
        if report is not None:
            _failed(report, message)
            return
        user = None if actor is SYSTEM else actor
        ParkingReport.objects.create(
            **_key(period, district), period_end=period.end, label=period.label, parameters=parameters,
            status=ParkingReportStatus.FAILED, generated_at=generated_at, generated_by=user,
            generated_by_name=user.username if user else "system", error=message,
            duration_ms=int((time.monotonic() - started) * 1000),
        )  # fmt: skip


def _failed(report: ParkingReport, message: str) -> None:
    """Record a failure on a stored row: a row with files keeps them (done), one without is failed."""
    report.error = message
    report.status = ParkingReportStatus.DONE if report.docx_path else ParkingReportStatus.FAILED
    report.save(update_fields=["error", "status"])


def parkingreport_request(
    *, actor, kind: str, label: str | None = None, district: District | None = None, now=None
) -> ParkingReport:
    """Queue the report of the period (and district) for a Huey job; returns its row (``queued``,
    or already queued / running). The request is checked now: permission, period, scope."""
    from django.db import IntegrityError

    _require(actor, ADD_PERMISSION)
    now = (now or timezone.now()).replace(microsecond=0)
    period = parse_period(kind, label, timezone.localtime(now).date())
    report_scope(actor, district)
    try:
        with transaction.atomic():
            report = (
                ParkingReport.objects.select_for_update(of=("self",)).filter(**_key(period, district)).first()
            )
            if (
                report is not None
                and report.status in PENDING
                and report.requested_at is not None
                and now - report.requested_at < STALE_JOB
            ):
                return report  # on its way: one job per report
            if report is None:
                report = ParkingReport(
                    **_key(period, district), period_end=period.end, label=period.label, generated_at=now,
                    parameters=_parameters(period, district),
                )  # fmt: skip
            report.status = ParkingReportStatus.QUEUED
            report.requested_at, report.requested_by = now, actor
            report.error = ""
            report.save()
            audit.record(
                action="parking.report.request",
                obj=report,
                changes={
                    "after": {"kind": period.kind, "period": period.label, "district_id": report.district_id}
                },
            )
            from ..tasks import report_generate

            transaction.on_commit(lambda: report_generate(report.pk))
    except IntegrityError:  # another request created the row first: that one is queued
        return ParkingReport.objects.get(**_key(period, district))
    return report


def parkingreport_run(report_id: int, *, now=None, lake_root=None) -> ParkingReport:
    """The job of a queued report: claim it (queued → running, so it runs once) and generate it as
    the user who asked, with their permission and scope as they are now. Failures are on the row."""
    claimed = ParkingReport.objects.filter(pk=report_id, status=ParkingReportStatus.QUEUED).update(
        status=ParkingReportStatus.RUNNING
    )
    report = ParkingReport.objects.select_related("district", "requested_by").get(pk=report_id)
    if not claimed:
        return report
    actor = report.requested_by
    try:
        if actor is None or not actor.is_active:
            raise PermissionDenied(_("申请人已停用，报告未生成。"))
        return parkingreport_generate(
            actor=actor, kind=report.kind, label=report.label, district=report.district, now=now,
            lake_root=lake_root,
        )  # fmt: skip
    except (ServiceError, PermissionDenied) as exc:
        message = str(getattr(exc, "detail", exc))
    except Exception as exc:  # the traceback is logged; the row gets the error below even when
        # parkingreport_generate failed after its own _record_failure (saving the finished row)
        log.exception("parking report %s failed", report_id)
        message = f"{type(exc).__name__}: {exc}"[:2000]
    with transaction.atomic():
        report = ParkingReport.objects.select_for_update(of=("self",)).get(pk=report_id)
        _failed(report, message)
    return report


def parkingreport_list(actor):
    """The reports the caller may see, newest period first (scoped; the city version by permission)."""
    _require(actor, VIEW_PERMISSION)
    qs = ParkingReport.objects.select_related("district", "requested_by")
    if actor is SYSTEM or scope_for(actor).all:
        return qs
    visible = qs.restrict(actor)
    if actor.has_perm(CITY_PERMISSION):
        return qs.filter(Q(pk__in=visible.values("pk")) | Q(district__isnull=True))
    return visible


def file_name(report: ParkingReport, ext: str) -> str:
    place = report.district.code if report.district_id else "city"
    return f"parking-{report.kind}-{report.label}-{place}-v{report.version}.{ext}"


def parkingreport_file(*, actor, report: ParkingReport, ext: str) -> tuple[bytes, str, str]:
    """(bytes, file name, content type) of a stored file after checking its SM3; audited.

    400 ``bad_kind``; 404 ``file_missing`` (a failed report, or a file gone); 409
    ``file_corrupt`` when the bytes on disk are not the ones recorded.
    """
    _require(actor, VIEW_PERMISSION)
    if ext not in CONTENT_TYPES:
        raise ServiceError(_("文件类型不正确。"), code="bad_kind", details={"kind": [str(ext)[:10]]})
    relative = getattr(report, f"{ext}_path")
    try:
        data = (Path(settings.GOVCENTER_VAR_DIR) / relative).read_bytes() if relative else None
    except OSError:
        data = None
    if data is None:
        raise ServiceError(_("报告文件不存在。"), code="file_missing", status=404)
    digest = sm3_hex(data)
    if digest != getattr(report, f"{ext}_sm3"):
        with transaction.atomic():
            audit.record(
                action="parking.report.download", obj=report, changes={"file": ext, "sm3": digest}, success=False,
                reason="digest mismatch",
            )  # fmt: skip
        raise ServiceError(_("报告文件校验失败，可能已被改动。"), code="file_corrupt", status=409)
    with transaction.atomic():
        audit.record(action="parking.report.download", obj=report, changes={"file": ext, "sm3": digest})
    return data, file_name(report, ext), CONTENT_TYPES[ext]


def district_units() -> list[District]:
    """The districts that have a district parking unit (each gets its own version)."""
    ids = Unit.objects.filter(kind="district_unit", district__isnull=False, is_active=True).values(
        "district_id"
    )
    return list(District.objects.filter(pk__in=ids).order_by("sort_order", "code"))


def generate_due(kind: str, now: dt.datetime | None = None, *, lake_root=None) -> list[ParkingReport]:
    """The scheduled run: the last complete period's city report and each district unit's version.

    Idempotent: a report already stored for the kind + period + district is kept (a re-run or a
    second worker makes nothing new); only missing or failed ones are generated.
    """
    now = now or timezone.now()
    made = []
    for district in [None, *district_units()]:
        made.append(
            parkingreport_generate(
                actor=SYSTEM, kind=kind, district=district, replace=False, now=now, lake_root=lake_root
            )
        )
    return made
