"""Writes of the query builder (statistic 10): saved areas and queries, schedules, Excel exports.

Every write is audited in its transaction. Files go to
``GOVCENTER_VAR_DIR/reports/parking/query/<yyyy-mm>/`` (written atomically, SM3 recorded and
checked at download, like the O&M reports); a file is computed for one user under that user's
scope and only that user may download it.
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from pathlib import Path

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from govcenter.core import audit
from govcenter.core.api.errors import ServiceError
from govcenter.core.crypto import sm3_hex
from govcenter.core.documents import write_atomic

from ..models.stats_query import Cadence, QueryExport, SavedQuery, ScheduledExport, StatArea
from ..stats2 import builder

log = logging.getLogger(__name__)
RUN_PERM = "parking.view_dailydistrictstat"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
RUN_HOUR = 7  # scheduled exports run from 07:00 Beijing time


def _require(user, *perms: str) -> None:
    if user is None or not user.is_authenticated or not all(user.has_perm(p) for p in (RUN_PERM, *perms)):
        raise PermissionDenied(_("没有权限。"))


def _own(user, obj) -> None:
    if obj.owner_id != user.pk and not user.is_superuser:
        raise PermissionDenied(_("只能修改自己创建的内容。"))


def _name(name) -> str:
    name = (name or "").strip() if isinstance(name, str) else ""
    if not name or len(name) > 100:
        raise ServiceError(
            _("名称不能为空，且不超过 100 字。"), code="invalid_name", details={"name": [str(name)[:100]]}
        )
    return name


# ------------------------------------------------------------------ areas


@transaction.atomic
def area_create(
    *, actor, name: str, polygon=None, segment_codes=None, shared: bool = False, kind: str = ""
) -> StatArea:
    """A saved area from a polygon (checked: closed, inside Beijing) or a list of segment codes."""
    _require(actor, "parking.add_statarea")
    if (polygon is None) == (segment_codes is None):
        raise ServiceError(
            _("请给出多边形或路段列表之一。"),
            code="invalid_area",
            details={"area": ["polygon|segment_codes"]},
        )
    seg_ids: list[int] = []
    if polygon is not None:
        builder.parse_polygon(polygon)
        kind = kind or StatArea.Kind.POLYGON
    else:
        seg_ids = builder.resolve_area(actor, {"kind": "segments", "codes": segment_codes}).segment_ids
        kind = StatArea.Kind.SEGMENTS
    area = StatArea.objects.create(
        name=_name(name), kind=kind, polygon=polygon, segment_ids=seg_ids, owner=actor, shared=bool(shared)
    )
    audit.record(
        action="parking.stats.area.create",
        obj=area,
        changes={"after": {"name": area.name, "kind": kind, "shared": area.shared}},
    )
    return area


@transaction.atomic
def area_update(*, actor, area: StatArea, name=None, shared=None) -> StatArea:
    _require(actor, "parking.change_statarea")
    _own(actor, area)
    before = {"name": area.name, "shared": area.shared}
    if name is not None:
        area.name = _name(name)
    if shared is not None:
        area.shared = bool(shared)
    area.save()
    audit.record(
        action="parking.stats.area.update",
        obj=area,
        changes={"before": before, "after": {"name": area.name, "shared": area.shared}},
    )
    return area


@transaction.atomic
def area_delete(*, actor, area: StatArea) -> None:
    _require(actor, "parking.delete_statarea")
    _own(actor, area)
    audit.record(action="parking.stats.area.delete", obj=area, changes={"before": {"name": area.name}})
    area.delete()


# ------------------------------------------------------------------ saved queries


def _area_ids(spec) -> list[int]:
    area = spec.get("area") if isinstance(spec, dict) else None
    if isinstance(area, dict) and area.get("kind") == "saved":
        try:
            return [int(area.get("id"))]
        except (TypeError, ValueError):
            return []
    return []


@transaction.atomic
def saved_query_create(*, actor, name: str, spec: dict, shared: bool = False) -> SavedQuery:
    """Save a spec (checked now against the saver's scope; checked again at every run)."""
    _require(actor, "parking.add_savedquery")
    builder.parse_spec(actor, spec)
    saved = SavedQuery.objects.create(name=_name(name), spec=spec, owner=actor, shared=bool(shared))
    audit.record(
        action="parking.stats.query.save",
        obj=saved,
        changes={"after": {"name": saved.name, "spec": spec, "shared": saved.shared}},
    )
    return saved


@transaction.atomic
def saved_query_update(
    *, actor, saved: SavedQuery, name=None, spec=None, shared=None, new_token: bool = False
) -> SavedQuery:
    _require(actor, "parking.change_savedquery")
    _own(actor, saved)
    before = {"name": saved.name, "spec": saved.spec, "shared": saved.shared}
    if name is not None:
        saved.name = _name(name)
    if spec is not None:
        builder.parse_spec(actor, spec)
        saved.spec = spec
    if shared is not None:
        saved.shared = bool(shared)
    if new_token:
        from ..models.stats_query import _token

        saved.share_token = _token()
    saved.save()
    audit.record(
        action="parking.stats.query.update",
        obj=saved,
        changes={
            "before": before,
            "after": {"name": saved.name, "spec": saved.spec, "shared": saved.shared},
            "new_token": new_token,
        },
    )
    return saved


@transaction.atomic
def saved_query_delete(*, actor, saved: SavedQuery) -> None:
    _require(actor, "parking.delete_savedquery")
    _own(actor, saved)
    audit.record(action="parking.stats.query.delete", obj=saved, changes={"before": {"name": saved.name}})
    saved.delete()


def saved_query_run(*, viewer, saved: SavedQuery, limit: int = builder.PAGE_LIMIT):
    """Run a saved query for ``viewer`` — always the viewer's scope, never the owner's."""
    _require(viewer)
    return builder.query(viewer, saved.spec, limit=limit, allow_area_ids=_area_ids(saved.spec))


def saved_query_by_token(*, viewer, token: str) -> SavedQuery:
    """The saved query of a share link (login and the statistics permission still required)."""
    _require(viewer)
    saved = SavedQuery.objects.filter(share_token=str(token)[:64]).first()
    if saved is None:
        raise ServiceError(
            _("分享链接无效或已失效。"), code="unknown_query", status=404, details={"token": ["?"]}
        )
    return saved


# ------------------------------------------------------------------ exports


def _export_dir(now: dt.datetime) -> Path:
    folder = (
        Path(settings.GOVCENTER_VAR_DIR)
        / "reports"
        / "parking"
        / "query"
        / timezone.localtime(now).strftime("%Y-%m")
    )
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@transaction.atomic
def export_start(
    *, actor, spec: dict, title: str = "", schedule: ScheduledExport | None = None, enqueue: bool = True
) -> QueryExport:
    """Queue a background Excel export of ``spec`` for ``actor`` (the spec is checked now)."""
    _require(actor)
    builder.parse_spec(actor, spec, allow_area_ids=_area_ids(spec))
    job = QueryExport.objects.create(user=actor, spec=spec, title=(title or "")[:100], schedule=schedule)
    audit.record(
        action="parking.stats.query.export_start",
        obj=job,
        changes={"after": {"spec": spec, "title": job.title}},
    )
    if enqueue:
        from ..tasks import stats_query_export

        transaction.on_commit(lambda: stats_query_export(job.pk))
    return job


def export_run(job_id: int, *, now=None) -> QueryExport:
    """Compute and write one export job (the Huey task's body); failures are recorded on the job."""
    now = now or timezone.now()
    job = QueryExport.objects.select_related("user").get(pk=job_id)
    if job.status in (QueryExport.Status.DONE, QueryExport.Status.RUNNING):
        return job
    job.status = QueryExport.Status.RUNNING
    job.save(update_fields=["status"])
    try:
        result = builder.run(
            job.user,
            builder.parse_spec(job.user, job.spec, allow_area_ids=_area_ids(job.spec)),
            limit=builder.EXPORT_LIMIT,
            timeout=float(getattr(settings, "GOVCENTER_PARKING_QUERY_EXPORT_TIMEOUT_S", 600)),
        )
        content = builder.workbook_bytes(result, job.title)
        path = _export_dir(now) / f"query-{job.pk}-{uuid.uuid4().hex[:8]}.xlsx"
        write_atomic(path, content)
        with transaction.atomic():
            job.status = QueryExport.Status.DONE
            job.rows = len(result.rows)
            job.file_path = str(path.relative_to(Path(settings.GOVCENTER_VAR_DIR)))
            job.file_sm3 = sm3_hex(content)
            job.finished_at = timezone.now()
            job.save()
            audit.record(
                action="parking.stats.query.export",
                obj=job,
                changes={
                    "after": {
                        "rows": job.rows,
                        "file": job.file_path,
                        "sm3": job.file_sm3,
                        "user": job.user.username,
                    }
                },
            )
    except ServiceError as exc:
        job.status = QueryExport.Status.FAILED
        job.error_code, job.error_message = exc.error_code, str(exc.detail)
        job.finished_at = timezone.now()
        job.save()
    except Exception as exc:  # recorded for the user; the traceback goes to the log
        log.exception("query export %s failed", job.pk)
        job.status = QueryExport.Status.FAILED
        job.error_code, job.error_message = "error", str(exc)[:500]
        job.finished_at = timezone.now()
        job.save()
    return job


def export_file(*, actor, job: QueryExport) -> tuple[bytes, str]:
    """(bytes, file name) of a finished export — its own user only; SM3 checked; audited."""
    _require(actor)
    if job.user_id != actor.pk:
        raise PermissionDenied(_("只能下载自己的导出文件。"))
    if job.status != QueryExport.Status.DONE:
        raise ServiceError(
            _("导出尚未完成。"), code="export_not_ready", status=409, details={"status": [job.status]}
        )
    path = Path(settings.GOVCENTER_VAR_DIR) / job.file_path
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise ServiceError(_("导出文件缺失，请联系管理员。"), code="export_missing", status=500) from None
    if sm3_hex(data) != job.file_sm3:
        raise ServiceError(_("导出文件校验失败。"), code="export_corrupt", status=500)
    audit.record(action="parking.stats.query.download", obj=job, changes={"file": job.file_path})
    return data, path.name


# ------------------------------------------------------------------ schedules


def next_run_after(cadence: str, moment: dt.datetime) -> dt.datetime:
    """The next 07:00 Beijing time after ``moment``: every day, every Monday, the 1st of every month."""
    local = timezone.localtime(moment)
    tz = local.tzinfo
    day = local.date()
    candidate = dt.datetime.combine(day, dt.time(RUN_HOUR), tz)
    if candidate <= local:
        day += dt.timedelta(days=1)
    if cadence == Cadence.WEEKLY:
        day += dt.timedelta(days=(7 - day.weekday()) % 7)
    elif cadence == Cadence.MONTHLY and day.day != 1:
        day = (day.replace(day=1) + dt.timedelta(days=32)).replace(day=1)
    return dt.datetime.combine(day, dt.time(RUN_HOUR), tz)


def period_for(cadence: str, moment: dt.datetime) -> tuple[dt.date, dt.date]:
    """The window a run exports: yesterday, the last 7 days, or the previous calendar month."""
    today = timezone.localtime(moment).date()
    end = today - dt.timedelta(days=1)
    if cadence == Cadence.DAILY:
        return end, end
    if cadence == Cadence.WEEKLY:
        return today - dt.timedelta(days=7), end
    first = today.replace(day=1)
    last = first - dt.timedelta(days=1)
    return last.replace(day=1), last


@transaction.atomic
def schedule_create(*, actor, saved: SavedQuery, cadence: str, recipients=(), now=None) -> ScheduledExport:
    """Export ``saved`` on a cadence to its owner and ``recipients`` (each under their own scope)."""
    _require(actor, "parking.add_scheduledexport")
    if saved.owner_id != actor.pk and not saved.shared:
        raise ServiceError(
            _("未知的查询。"), code="unknown_query", status=404, details={"query": [str(saved.pk)]}
        )
    if cadence not in Cadence.values:
        raise ServiceError(
            _("周期应为 daily、weekly 或 monthly。"),
            code="invalid_cadence",
            details={"cadence": [str(cadence)]},
        )
    people = list(recipients)
    for person in people:
        if not person.is_active or not person.has_perm(RUN_PERM):
            raise ServiceError(
                _("接收人没有统计查询权限。"),
                code="invalid_recipient",
                details={"recipients": [person.username]},
            )
    schedule = ScheduledExport.objects.create(
        query=saved, owner=actor, cadence=cadence, next_run=next_run_after(cadence, now or timezone.now())
    )
    schedule.recipients.set(people)
    audit.record(
        action="parking.stats.schedule.create",
        obj=schedule,
        changes={
            "after": {"query": saved.pk, "cadence": cadence, "recipients": [p.username for p in people]}
        },
    )
    return schedule


@transaction.atomic
def schedule_delete(*, actor, schedule: ScheduledExport) -> None:
    _require(actor, "parking.delete_scheduledexport")
    _own(actor, schedule)
    audit.record(
        action="parking.stats.schedule.delete", obj=schedule, changes={"before": {"query": schedule.query_id}}
    )
    schedule.delete()


def schedules_run_due(*, now=None) -> list[int]:
    """Run every due schedule once (claimed by moving ``next_run`` first, so two workers never both
    run it); one export per person (owner + recipients), each under that person's scope."""
    now = now or timezone.now()
    jobs: list[int] = []
    for schedule in ScheduledExport.objects.filter(active=True, next_run__lte=now).select_related(
        "query", "owner"
    ):
        claimed = ScheduledExport.objects.filter(pk=schedule.pk, next_run=schedule.next_run).update(
            next_run=next_run_after(schedule.cadence, now), last_run=now
        )
        if not claimed:
            continue
        start, end = period_for(schedule.cadence, now)
        spec = {**schedule.query.spec, "window": {"start": start.isoformat(), "end": end.isoformat()}}
        people = [schedule.owner, *schedule.recipients.exclude(pk=schedule.owner_id)]
        for person in people:
            if not person.is_active or not person.has_perm(RUN_PERM):
                continue
            title = f"{schedule.query.name} {start.isoformat()}–{end.isoformat()}"[:100]
            try:
                job = export_start(actor=person, spec=spec, title=title, schedule=schedule, enqueue=False)
            except ServiceError as exc:  # e.g. a district the recipient cannot see: recorded, not fatal
                job = QueryExport.objects.create(
                    user=person, spec=spec, title=title, schedule=schedule, status=QueryExport.Status.FAILED,
                    error_code=exc.error_code, error_message=str(exc.detail), finished_at=timezone.now(),
                )  # fmt: skip
                jobs.append(job.pk)
                continue
            export_run(job.pk, now=now)
            jobs.append(job.pk)
    return jobs
