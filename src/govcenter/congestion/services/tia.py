"""交通影响评价 services: register an application (its ring area and Beijing's trigger-threshold
flag decided from the point), receive its materials (each file tagged with its material key),
the acceptance check (one 补正通知 listing every missing material; accepting with anything
missing is refused naming every key), review, the expert meeting, opinion / revision round /
不予通过, delivery — each stage with its working-day limit as the deadline — and the timeline and
statistics the dashboard reads."""

from __future__ import annotations

import datetime as dt
import functools
from collections import Counter, defaultdict
from decimal import Decimal, InvalidOperation

import shapely
from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.db import transaction
from django.utils.translation import gettext as _

from govcenter.core import audit, search
from govcenter.core.api.errors import ServiceError
from govcenter.core.attachments import attach
from govcenter.core.calendar import as_local_date, workdays_between
from govcenter.core.comments import comment_add
from govcenter.core.models import Comment, TransitionLog, Unit
from govcenter.core.notifications import notify

from ..models import (
    DeliveryMethod,
    RingArea,
    TiaApplication,
    TiaMaterial,
    TiaRevision,
    TiaState,
    TiaUse,
    UnitRole,
)
from ..models.cases import DISTRICT_BOUNDARY
from ..models.tia import MATERIAL_LABELS, STAGE_LABELS, STAGE_OF_STATE
from .cases import advance, assign_unit, check_location, deadline_for, next_number, now, refuse

PREFIX = "JP"  # 交评
AUDIT_FIELDS = ["state", "deadline", "missing_materials", "supplement_notices", "review_notes", "meeting_date",
                "experts", "minutes_id", "revision_rounds", "decision", "opinion", "delivered_on",
                "delivery_method", "closed_at"]  # fmt: skip
MAX_TEXT = 5000
MAX_FLOOR_AREA = Decimal("3000000")  # m²: more than the largest building on earth (~1.7 million m²)
MAX_EXPERTS = 30
# An application sent back for revision this many times is behind schedule (yellow on the board)
# even while its current stage is within its limit: each round pushes the opinion back.
BEHIND_AFTER_ROUNDS = 2

# The 2nd Ring road (二环路) as a closed polygon of [lon, lat] in GCJ-02, clockwise from 西直门桥.
# APPROXIMATE: hand-placed at the ring's interchanges (西直门、积水潭、德胜门、安定门、东直门、朝阳门、
# 建国门、东便门、广渠门、左安门、永定门、右安门、菜户营、广安门、西便门、复兴门、阜成门) from
# their published GCJ-02 map positions and straight between them, so it is good to a few hundred
# metres: a project beside the ring road should have its ring area chosen by hand (``ring_area``).
# Override with GOVCENTER_CONGESTION_TIA_RING2.
RING2_GCJ02 = (
    (116.3553, 39.9404),  # 西直门桥 (north-west corner)
    (116.3732, 39.9478),  # 积水潭桥
    (116.3827, 39.9487),  # 德胜门
    (116.4097, 39.9490),  # 安定门
    (116.4346, 39.9484),  # 东直门北 (north-east corner)
    (116.4346, 39.9413),  # 东直门桥
    (116.4345, 39.9243),  # 朝阳门桥
    (116.4355, 39.9081),  # 建国门桥
    (116.4378, 39.9007),  # 东便门
    (116.4413, 39.8937),  # 广渠门
    (116.4433, 39.8668),  # 左安门 (south-east corner)
    (116.4265, 39.8664),  # 玉蜓桥
    (116.3993, 39.8663),  # 永定门桥
    (116.3678, 39.8665),  # 右安门桥
    (116.3497, 39.8661),  # 菜户营桥 (south-west corner)
    (116.3513, 39.8806),  # 白纸坊桥
    (116.3569, 39.8894),  # 广安门桥
    (116.3567, 39.8995),  # 西便门桥
    (116.3566, 39.9074),  # 复兴门桥
    (116.3565, 39.9235),  # 阜成门桥
)


# -- settings -----------------------------------------------------------------------------------


def materials_required() -> dict[str, str]:
    """The checklist: material key → label (GOVCENTER_CONGESTION_TIA_MATERIALS, ``key`` or ``key:label``)."""
    out = {}
    for item in settings.GOVCENTER_CONGESTION_TIA_MATERIALS:
        key, _sep, label = item.partition(":")
        out[key.strip()] = label.strip() or str(MATERIAL_LABELS.get(key.strip(), key.strip()))
    return out


def stage_workdays(stage: str) -> int:
    return int(settings.GOVCENTER_CONGESTION_TIA_WORKDAYS[stage])


@functools.cache
def _ring2(vertices: tuple) -> shapely.Polygon:
    polygon = shapely.Polygon(vertices)
    shapely.prepare(polygon)
    return polygon


def inside_ring2(lon: float, lat: float) -> bool:
    vertices = settings.GOVCENTER_CONGESTION_TIA_RING2 or RING2_GCJ02
    return bool(_ring2(tuple(tuple(v) for v in vertices)).contains(shapely.Point(lon, lat)))


def ring_area_of(lon: float, lat: float, district_code: str) -> str:
    """二环内 from the polygon, else the district's area: six central districts / sub-centre / other."""
    if inside_ring2(lon, lat):
        return RingArea.RING2
    if district_code in settings.GOVCENTER_CONGESTION_TIA_CENTRAL_DISTRICTS:
        return RingArea.CENTRAL
    if district_code in settings.GOVCENTER_CONGESTION_TIA_SUBCENTRE_DISTRICTS:
        return RingArea.SUBCENTRE
    return RingArea.OTHER


def threshold_of(ring_area: str, use: str) -> int:
    return int(settings.GOVCENTER_CONGESTION_TIA_THRESHOLDS[ring_area][use])


def threshold_flag(app: TiaApplication) -> dict:
    """The flag and the rule behind it (the threshold in force when the application was registered)."""
    area, use = RingArea(app.ring_area), TiaUse(app.use)
    text = _("%(area)s%(use)s项目地上建筑面积超过 %(t)s 平方米须做交通影响评价") % {
        "area": area.label, "use": use.label, "t": f"{app.threshold_m2:,}",
    }  # fmt: skip
    return {
        "needs_tia": app.needs_tia,
        "rule": f"{area.value}.{use.value}",
        "ring_area": area.value,
        "use": use.value,
        "threshold_m2": app.threshold_m2,
        "floor_area_m2": str(app.floor_area),
        "ring_area_chosen": app.ring_area_chosen,
        "text": text,
    }


# -- helpers ------------------------------------------------------------------------------------


def tia_document(app: TiaApplication) -> tuple[str, str]:
    parts = [app.number, app.builder, app.get_use_display(), app.body, app.review_notes, app.opinion]
    return app.title, "\n".join(p for p in parts if p)


def _text(value, field: str, label: str = "", *, required: bool = True, limit: int = MAX_TEXT) -> str:
    value = (value or "").strip()
    if required and not value:
        raise refuse(_("请填写%(f)s。") % {"f": label or field}, "required", field)
    if len(value) > limit:
        raise refuse(_("内容过长（最多 %(n)d 字）。") % {"n": limit}, "too_long", field, len(value))
    return value


def _choice(value, choices, field: str):
    if value not in choices.values:
        raise refuse(_("“%(v)s”不是有效的选项。") % {"v": value}, "invalid_choice", field, value)
    return value


def _floor_area(value) -> Decimal:
    try:
        area = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        raise refuse(
            _("地上建筑面积须为数字（平方米）。"), "invalid_floor_area", "floor_area", value
        ) from None
    if not area.is_finite() or area.as_tuple().exponent < -2:
        raise refuse(_("地上建筑面积最多保留两位小数。"), "invalid_floor_area", "floor_area", value)
    if not Decimal("0") < area <= MAX_FLOOR_AREA:
        raise refuse(
            _("地上建筑面积须大于 0 且不超过 %(max)s 平方米。") % {"max": f"{MAX_FLOOR_AREA:,.0f}"},
            "invalid_floor_area", "floor_area", value,
        )  # fmt: skip
    return area


def _enter_stage(app: TiaApplication, at: dt.datetime) -> TiaApplication:
    """Start the clock of the stage of ``app``'s (new) state: its deadline is the stage's limit
    in working days from ``at`` (none once closed); the review unit's deadline follows."""
    stage = STAGE_OF_STATE.get(app.state)
    due = deadline_for(at, workdays=stage_workdays(stage)) if stage else None
    TiaApplication.objects.filter(pk=app.pk).update(deadline=due, stage_started_at=at)
    app.deadline, app.stage_started_at = due, at
    if due is not None:
        app.units.filter(role=UnitRole.LEAD).update(deadline=due)
    search.index(app)
    return app


def _step(app, transition: str, *, actor, comment: str = "", **kwargs) -> TiaApplication:
    app = advance(app, transition, actor=actor, comment=comment, audit_fields=AUDIT_FIELDS, **kwargs)
    return _enter_stage(app, now())


def missing_materials(app: TiaApplication) -> list[str]:
    """The required material keys with no file received yet, in checklist order."""
    have = set(app.materials.values_list("key", flat=True))
    return [key for key in materials_required() if key not in have]


# -- services -----------------------------------------------------------------------------------


def tia_submit(
    *, actor, title: str, builder: str, location, floor_area, use: str, ring_area: str | None = None,
    body: str = "",
) -> TiaApplication:  # fmt: skip
    """Register an application (``submitted``, ``JP-<year>-NNNNN``): the point (GCJ-02) inside
    Beijing gives the district and the ring area (unless ``ring_area`` is chosen), and with the
    use and floor area the trigger-threshold flag. The acceptance clock starts."""
    title = _text(title, "title", _("项目名称"), limit=200)
    builder = _text(builder, "builder", _("建设单位"), limit=200)
    body = _text(body, "body", required=False)
    _choice(use, TiaUse, "use")
    area = _floor_area(floor_area)
    if not isinstance(location, dict) or location.get("type") != "Point":
        raise refuse(
            _("项目位置须为地图上的一个点（GeoJSON Point，GCJ-02）。"),
            "invalid_location",
            "location",
            location,
        )
    location, district = check_location(location)
    if district is None:
        raise refuse(_("位置不在北京市范围内（坐标须为 GCJ-02 经纬度）。"), "location_outside", "location",
                     location["coordinates"])  # fmt: skip
    computed = ring_area_of(*location["coordinates"], district.code)
    chosen = bool(ring_area)
    if chosen:
        _choice(ring_area, RingArea, "ring_area")
    effective = ring_area if chosen else computed
    threshold = threshold_of(effective, use)
    at = now()
    year = as_local_date(at).year
    with transaction.atomic():
        app = TiaApplication.objects.create(
            number=next_number(PREFIX, year), year=year, title=title, body=body, builder=builder,
            location=location, district=district, floor_area=area, use=use, ring_area=effective,
            ring_area_chosen=chosen, threshold_m2=threshold, needs_tia=area > threshold,
            created_by=actor if getattr(actor, "pk", None) else None, created_at=at,
        )  # fmt: skip
        audit.record(
            action="congestion.tiaapplication.submit",
            obj=app,
            changes={"after": {"number": app.number, "floor_area": str(area), "use": use, "ring_area": effective,
                               "ring_area_computed": computed, "needs_tia": app.needs_tia}},
        )  # fmt: skip
        _enter_stage(app, at)
    return app


def tia_add_materials(
    *, actor, application: TiaApplication, material: str, files, comment: str = ""
) -> TiaApplication:
    """Receive files of one checklist material (before acceptance, or while supplementing)."""
    required = materials_required()
    if material not in required:
        raise refuse(_("未知的申请材料。"), "invalid_choice", "material", material)
    if not files:
        raise refuse(_("请上传材料文件。"), "required", "files")
    at = now()
    with transaction.atomic():
        app = advance(
            application, "add_materials", actor=actor, audit_fields=AUDIT_FIELDS,
            comment=comment or _("收到材料：%(m)s") % {"m": required[material]},
        )  # fmt: skip
        for upload in files:
            row = attach(app, actor=actor, name=getattr(upload, "name", ""), upload=upload)
            TiaMaterial.objects.create(
                application=app, key=material, attachment=row, received_at=at,
                received_by=actor if getattr(actor, "pk", None) else None,
            )  # fmt: skip
    return app


def tia_request_supplement(*, actor, application: TiaApplication, comment: str = "") -> TiaApplication:
    """The 补正通知: one notice listing EVERY missing material (computed here, never picked by
    hand, so nothing is asked for piecemeal); the applicant's supplement clock starts."""
    missing = missing_materials(application)
    if not missing:
        raise refuse(_("材料已齐全，无需补正，请直接受理。"), "materials_complete", "materials", "")
    labels = materials_required()
    listing = "、".join(labels[k] for k in missing)
    with transaction.atomic():
        app = _step(
            application, "request_supplement", actor=actor, comment=comment or listing, missing=missing
        )
        comment_add(app, actor=actor, kind=Comment.Kind.LETTER, counterpart=app.builder,
                    body=_("补正通知：请一次性补正以下材料：%(list)s。") % {"list": listing})  # fmt: skip
        if app.created_by_id and app.created_by_id != getattr(actor, "pk", None):
            notify([app.created_by], verb="tia_supplement", target=app,
                   title=_("交评申请 %(n)s 需补正材料：%(list)s") % {"n": app.number, "list": listing})  # fmt: skip
    return app


def tia_resubmit(*, actor, application: TiaApplication, comment: str = "") -> TiaApplication:
    """The applicant has supplemented: back to the acceptance check (its clock restarts)."""
    with transaction.atomic():
        return _step(application, "resubmit", actor=actor, comment=comment)


def tia_accept(*, actor, application: TiaApplication, unit: Unit, comment: str = "") -> TiaApplication:
    """受理: refused (400 ``materials_missing``, every missing key under ``materials``) unless the
    checklist is complete; the review unit (主办) gets the application with the review limit."""
    missing = missing_materials(application)
    if missing:
        labels = materials_required()
        raise ServiceError(
            _("申请材料不全，缺少：%(list)s。") % {"list": "、".join(labels[k] for k in missing)},
            code="materials_missing", status=400, details={"materials": missing},
        )  # fmt: skip
    with transaction.atomic():
        app = _step(application, "accept", actor=actor, comment=comment)
        assign_unit(app, actor=actor, unit=unit, role=UnitRole.LEAD, deadline=app.deadline,
                    title=_("新受理交评申请：%(t)s") % {"t": app.title},
                    notify_perm="congestion.review_tiaapplication")  # fmt: skip
    return app


def tia_review(*, actor, application: TiaApplication, notes: str) -> TiaApplication:
    """形式审查 and 内容审查 done: the notes, and on to the expert review meeting."""
    notes = _text(notes, "notes", _("审查意见"))
    with transaction.atomic():
        return _step(application, "review", actor=actor, notes=notes)


def tia_hold_meeting(
    *, actor, application: TiaApplication, date: dt.date, experts: list[str], files=None, comment: str = ""
) -> TiaApplication:
    """The 专家评审会: its date (not in the future), the experts' names, the minutes file."""
    experts = [e.strip() for e in experts or [] if e and e.strip()]
    if not experts or len(experts) > MAX_EXPERTS or any(len(e) > 50 for e in experts):
        raise refuse(
            _("请填写评审专家姓名（1–%(n)d 人）。") % {"n": MAX_EXPERTS}, "required", "experts", experts
        )
    if date > as_local_date(now()):
        raise refuse(_("评审会日期不能晚于今天。"), "invalid_date", "date", date)
    if date < as_local_date(application.stage_started_at or application.created_at):
        raise refuse(_("评审会日期不能早于进入专家评审阶段的日期。"), "invalid_date", "date", date)
    if not files:
        raise refuse(_("请上传评审会纪要。"), "required", "files")
    with transaction.atomic():
        minutes = [attach(application, actor=actor, name=getattr(f, "name", ""), upload=f) for f in files]
        return _step(application, "hold_meeting", actor=actor, comment=comment, date=date, experts=experts,
                     minutes=minutes[0])  # fmt: skip


def tia_issue_opinion(*, actor, application: TiaApplication, conditions: str) -> TiaApplication:
    """评审意见: passed with conditions; the letter goes to delivery."""
    conditions = _text(conditions, "conditions", _("评审意见的条件"))
    with transaction.atomic():
        return _step(application, "issue_opinion", actor=actor, conditions=conditions, at=now())


def tia_revise(*, actor, application: TiaApplication, comments: str) -> TiaApplication:
    """Back to the applicant for a revision round with the experts' comments (rounds counted)."""
    comments = _text(comments, "comments", _("专家意见"))
    with transaction.atomic():
        app = _step(application, "revise", actor=actor, comment=comments[:500])
        TiaRevision.objects.create(
            application=app, round=app.revision_rounds, comments=comments, opened_at=now()
        )
    return app


def tia_submit_revision(
    *, actor, application: TiaApplication, files=None, comment: str = ""
) -> TiaApplication:
    """The revised report is back (optionally its files, filed as the TIA report): to the experts again."""
    with transaction.atomic():
        app = _step(application, "submit_revision", actor=actor, comment=comment)
        for upload in files or []:
            row = attach(app, actor=actor, name=getattr(upload, "name", ""), upload=upload)
            TiaMaterial.objects.create(application=app, key="tia_report", attachment=row, received_at=now(),
                                       received_by=actor if getattr(actor, "pk", None) else None)  # fmt: skip
        app.revisions.filter(round=app.revision_rounds).update(resubmitted_at=now())
    return app


def tia_reject(*, actor, application: TiaApplication, reasons: str) -> TiaApplication:
    """不予通过, with the reasons; the decision goes to delivery."""
    reasons = _text(reasons, "reasons", _("不予通过的理由"))
    with transaction.atomic():
        return _step(application, "reject", actor=actor, comment=reasons[:500], reasons=reasons, at=now())


def tia_deliver(
    *, actor, application: TiaApplication, delivered_on: dt.date, delivery_method: str, comment: str = ""
) -> TiaApplication:  # noqa: E501
    """送达: the opinion (or rejection) letter delivered on a day (not before the decision, not
    in the future) by a method; the application is closed."""
    _choice(delivery_method, DeliveryMethod, "delivery_method")
    at = now()
    if delivered_on > as_local_date(at) or (
        application.decided_at and delivered_on < as_local_date(application.decided_at)
    ):
        raise refuse(
            _("送达日期须在出具意见之后、且不晚于今天。"), "invalid_date", "delivered_on", delivered_on
        )
    with transaction.atomic():
        return _step(
            application, "deliver", actor=actor, comment=comment, on=delivered_on, how=delivery_method, at=at
        )


# -- timeline and statistics --------------------------------------------------------------------


def _stages(app: TiaApplication, logs: list, *, today: dt.date) -> list[dict]:
    """The stages ``app`` went through, from its transition log rows (oldest first)."""
    out, start, state = [], app.created_at, TiaState.SUBMITTED
    for row in logs:
        if row.state == state:  # a self-transition (materials received) is no new stage
            continue
        out.append((state, start, row.at))
        start, state = row.at, row.state
    if state != TiaState.CLOSED:
        out.append((state, start, None))
    stages = []
    for st, begin, end in out:
        stage = STAGE_OF_STATE[st]
        days = workdays_between(as_local_date(begin), as_local_date(end) if end else today)
        limit = stage_workdays(stage)
        stages.append({
            "stage": stage, "label": str(STAGE_LABELS[stage]), "state": str(st), "start": begin, "end": end,
            "workdays": days, "limit_workdays": limit, "over_limit": days > limit,
        })  # fmt: skip
    return stages


def _logs_by_app(ids) -> dict[int, list]:
    ct = ContentType.objects.get_for_model(TiaApplication)
    rows = defaultdict(list)
    for row in TransitionLog.objects.filter(content_type=ct, object_id__in=[str(i) for i in ids]).order_by(
        "at", "id"
    ):
        rows[int(row.object_id)].append(row)
    return rows


def tia_timeline(application: TiaApplication) -> list[dict]:
    """Per stage: start, end (None while it runs), working days taken (to today while it
    runs), the stage's limit and whether it was exceeded."""
    return _stages(application, _logs_by_app([application.pk])[application.pk], today=as_local_date(now()))


def tia_statistics(user, *, year: int | None = None) -> dict:
    """Counts by state, district, use and ring area; the share over the trigger threshold;
    average working days per stage and the share of stages over their limit — over the
    applications in ``user``'s data scope (of ``year`` when given)."""
    apps = TiaApplication.objects.restrict(user).select_related("district").defer(*DISTRICT_BOUNDARY)
    if year is not None:
        apps = apps.filter(year=year)
    apps = list(apps)
    logs = _logs_by_app([a.pk for a in apps])
    today = as_local_date(now())
    per_stage: dict[str, list] = defaultdict(list)
    for app in apps:
        for s in _stages(app, logs[app.pk], today=today):
            if s["end"] is not None:
                per_stage[s["stage"]].append(s)
    total = len(apps)
    flagged = sum(a.needs_tia for a in apps)
    return {
        "total": total,
        "by_state": dict(Counter(a.state for a in apps)),
        "by_district": dict(Counter(a.district.code if a.district else "" for a in apps)),
        "by_use": dict(Counter(a.use for a in apps)),
        "by_ring_area": dict(Counter(a.ring_area for a in apps)),
        "over_threshold": flagged,
        "over_threshold_share": round(flagged / total, 4) if total else 0.0,
        "revision_rounds": sum(a.revision_rounds for a in apps),
        "stages": {
            stage: {
                "label": str(STAGE_LABELS[stage]),
                "finished": len(rows),
                "avg_workdays": round(sum(r["workdays"] for r in rows) / len(rows), 2),
                "over_limit_share": round(sum(r["over_limit"] for r in rows) / len(rows), 4),
            }
            for stage, rows in per_stage.items()
        },
    }
