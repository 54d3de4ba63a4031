"""Planned space adjustments (规划车位调整): change sets reviewed, applied atomically, revertible.

States: draft → submitted → approved | rejected; approved → applied → reverted. A
rejected set goes back to draft when its author edits it (items are only edited in
draft). The reviewer is never the author (four eyes). Applying and reverting need the
reviewer permission (checked by the views); the services check scope and state.

Apply runs every item through the base services (:func:`space_create`,
:func:`space_update`, :func:`space_retire`) in one transaction, so every change writes
its space version and audit entry, and a refused item rolls back all of them. An item
is stale — and fails the whole apply, named — when its space is retired or has a newer
version than the one the item was written against. ``diff`` records, per item, the
space's attributes before and after and the version after.

Revert undoes an applied set in reverse order (added spaces retired, moved spaces moved
back, retired spaces re-activated), again all or nothing, and only while none of the
touched spaces changed since the apply (its version is still the one ``diff`` recorded);
otherwise it refuses, naming the space.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Max
from django.utils import timezone
from django.utils.translation import gettext as _

from govcenter.core import audit
from govcenter.core.models import District

from ..models import ChangeSet, ChangeSetItem, Segment, Space
from . import base as base_services
from .base import check_district_in_scope, district_parking_unit

CHANGESET_FIELDS = [
    "district_id",
    "title",
    "description",
    "status",
    "author_id",
    "reviewer_id",
    "review_comment",
]
ITEM_FIELDS = [
    "position",
    "op",
    "segment_id",
    "space_id",
    "base_version",
    "number",
    "lon",
    "lat",
    "space_type",
    "note",
]
DIFF_FIELDS = ("number", "segment_id", "lon", "lat", "space_type", "status")
S = ChangeSet.Status


def _lock(change_set: ChangeSet) -> ChangeSet:
    return ChangeSet.objects.select_for_update().get(pk=change_set.pk)


def _space_state(space: Space) -> dict:
    return {
        **{name: getattr(space, name) for name in DIFF_FIELDS},
        "segment_code": space.segment.code,
        "version": space.version,
    }


def _transition(
    cs: ChangeSet, action: str, *, reason: str = "", extra: dict | None = None, **fields
) -> ChangeSet:
    before = audit.snapshot(cs, CHANGESET_FIELDS)
    for name, value in fields.items():
        setattr(cs, name, value)
    cs.save()
    changes = audit.diff(before, audit.snapshot(cs, CHANGESET_FIELDS))
    audit.record(
        action=f"parking.changeset.{action}", obj=cs, changes={**changes, **(extra or {})}, reason=reason
    )
    return cs


@transaction.atomic
def changeset_create(*, actor, district: District, title: str, description: str = "") -> ChangeSet:
    """Open a draft change set for ``district`` (within the actor's scope); audited."""
    check_district_in_scope(actor, district.pk)
    cs = ChangeSet(
        district=district,
        managing_unit=district_parking_unit(district),
        title=title,
        description=description,
        author=actor if getattr(actor, "pk", None) else None,
    )
    cs.full_clean()
    cs.save()
    audit.record(
        action="parking.changeset.create",
        obj=cs,
        changes={"before": {}, "after": audit.snapshot(cs, CHANGESET_FIELDS)},
    )
    return cs


def _editable(actor, change_set: ChangeSet) -> ChangeSet:
    cs = _lock(change_set)
    check_district_in_scope(actor, cs.district_id)
    if cs.status == S.REJECTED:
        cs.status = S.DRAFT  # the author reworks a rejected set; it goes through review again
        cs.save(update_fields=["status", "updated_at"])
    if cs.status != S.DRAFT:
        raise ValidationError(_("只有草稿状态的方案可以修改。"), code="not_draft")
    return cs


@transaction.atomic
def changeset_item_add(
    *,
    actor,
    change_set: ChangeSet,
    op: str,
    segment: Segment | None = None,
    space: Space | None = None,
    number: str = "",
    lon: float | None = None,
    lat: float | None = None,
    space_type: str = "",
    note: str = "",
) -> ChangeSetItem:
    """Add an item to a draft set: ``add`` (segment, number, lon/lat GCJ-02, type),
    ``move`` (space, new lon/lat and/or new number) or ``retire`` (space).

    The space's current version is recorded so apply can tell a stale item.
    """
    cs = _editable(actor, change_set)
    item = ChangeSetItem(change_set=cs, op=op, note=note)
    if op == ChangeSetItem.Op.ADD:
        if segment is None or not number or lon is None or lat is None:
            raise ValidationError(_("新增泊位须填写路段、泊位编号和经纬度。"), code="incomplete")
        segment = Segment.objects.get(pk=segment.pk)
        if segment.district_id != cs.district_id:
            raise ValidationError({"segment": _("路段不属于本方案的区。")}, code="district_mismatch")
        if segment.status == Segment.Status.RETIRED:
            raise ValidationError({"segment": _("路段已撤销。")}, code="segment_retired")
        item.segment, item.number, item.lon, item.lat = segment, number, lon, lat
        item.space_type = space_type or Space.Type.STANDARD
    elif op in (ChangeSetItem.Op.MOVE, ChangeSetItem.Op.RETIRE):
        if space is None:
            raise ValidationError({"space": _("请选择泊位。")}, code="incomplete")
        space = Space.objects.select_related("segment").get(pk=space.pk)
        if space.district_id != cs.district_id:
            raise ValidationError({"space": _("泊位不属于本方案的区。")}, code="district_mismatch")
        if space.status == Space.Status.RETIRED:
            raise ValidationError({"space": _("泊位已撤销。")}, code="space_retired")
        if cs.items.filter(space=space).exists():
            raise ValidationError({"space": _("本方案已有该泊位的调整项。")}, code="duplicate_item")
        item.space, item.segment, item.base_version = space, space.segment, space.version
        if op == ChangeSetItem.Op.MOVE:
            if (lon is None) != (lat is None):
                raise ValidationError({"lon": _("经度和纬度须同时填写。")}, code="incomplete")
            if lon is None and not number:
                raise ValidationError(_("调整泊位须填写新的经纬度或新的编号。"), code="incomplete")
            item.number, item.lon, item.lat = number, lon, lat
    else:
        raise ValidationError({"op": _("未知的操作。")}, code="bad_op")
    item.position = (cs.items.aggregate(m=Max("position"))["m"] or 0) + 1
    item.full_clean()
    item.save()
    audit.record(
        action="parking.changeset.item_add",
        obj=cs,
        changes={"before": {}, "after": audit.snapshot(item, ITEM_FIELDS)},
    )
    return item


@transaction.atomic
def changeset_item_remove(*, actor, item: ChangeSetItem) -> None:
    """Remove an item from a draft set; audited."""
    cs = _editable(actor, item.change_set)
    item = ChangeSetItem.objects.get(pk=item.pk, change_set=cs)
    snap = audit.snapshot(item, ITEM_FIELDS)
    item.delete()
    audit.record(action="parking.changeset.item_remove", obj=cs, changes={"before": snap, "after": {}})


@transaction.atomic
def changeset_submit(*, actor, change_set: ChangeSet) -> ChangeSet:
    """Submit a draft (with at least one item) for review."""
    cs = _editable(actor, change_set)
    if not cs.items.exists():
        raise ValidationError(_("方案没有调整项，不能提交。"), code="empty")
    return _transition(
        cs, "submit", status=S.SUBMITTED, submitted_at=timezone.now(), reviewer=None, review_comment=""
    )


@transaction.atomic
def changeset_review(*, actor, change_set: ChangeSet, approve: bool, comment: str = "") -> ChangeSet:
    """Approve or reject a submitted set; the reviewer is never its author; a rejection needs a comment."""
    cs = _lock(change_set)
    check_district_in_scope(actor, cs.district_id)
    if cs.status != S.SUBMITTED:
        raise ValidationError(_("只有待审核的方案可以审核。"), code="not_submitted")
    if actor is not None and cs.author_id == actor.pk:
        raise ValidationError(_("编制人不能审核自己的方案。"), code="reviewer_is_author")
    if not approve and not comment.strip():
        raise ValidationError({"comment": _("驳回须填写审核意见。")}, code="comment_required")
    return _transition(
        cs,
        "approve" if approve else "reject",
        reason=comment,
        status=S.APPROVED if approve else S.REJECTED,
        reviewer=actor if getattr(actor, "pk", None) else None,
        reviewed_at=timezone.now(),
        review_comment=comment,
    )


def _item_error(item: ChangeSetItem, exc: ValidationError | str) -> ValidationError:
    message = exc if isinstance(exc, str) else base_services._flat(exc)
    return ValidationError(
        _("第 %(n)d 项（%(item)s）：%(error)s") % {"n": item.position, "item": item, "error": message},
        code="item_failed",
        params={"item": item.position},
    )


@transaction.atomic
def changeset_apply(*, actor, change_set: ChangeSet) -> ChangeSet:
    """Apply an approved set: every item through the base services, all or nothing; records the diff.

    A stale item (its space retired, or changed since the item was written) fails the whole
    apply with the item named.
    """
    cs = _lock(change_set)
    check_district_in_scope(actor, cs.district_id)
    if cs.status != S.APPROVED:
        raise ValidationError(_("只有已批准的方案可以实施。"), code="not_approved")
    diff: list[dict] = []
    for item in cs.items.select_related("segment", "space").order_by("position"):
        try:
            if item.op == ChangeSetItem.Op.ADD:
                space = base_services.space_create(
                    actor=actor,
                    segment=item.segment,
                    number=item.number,
                    lon=item.lon,
                    lat=item.lat,
                    space_type=item.space_type or Space.Type.STANDARD,
                )
                before = None
            else:
                space = Space.objects.select_for_update().select_related("segment").get(pk=item.space_id)
                if space.status == Space.Status.RETIRED:
                    raise _item_error(item, _("泊位已撤销（方案编制后发生变化）。"))
                if space.version != item.base_version:
                    raise _item_error(
                        item,
                        _("泊位在方案编制后已变更（版本 v%(then)d → v%(now)d），请重新编制。")
                        % {"then": item.base_version or 0, "now": space.version},
                    )
                before = _space_state(space)
                if item.op == ChangeSetItem.Op.MOVE:
                    fields = {}
                    if item.lon is not None:
                        fields.update(lon=item.lon, lat=item.lat)
                    if item.number:
                        fields["number"] = item.number
                    space = base_services.space_update(
                        actor=actor, space=space, reason=_("车位调整方案：%(t)s") % {"t": cs.title}, **fields
                    )
                else:
                    space = base_services.space_retire(
                        actor=actor, space=space, reason=_("车位调整方案：%(t)s") % {"t": cs.title}
                    )
            space = Space.objects.select_related("segment").get(pk=space.pk)
        except ValidationError as exc:
            if getattr(exc, "code", None) == "item_failed":
                raise
            raise _item_error(item, exc) from exc
        diff.append(
            {
                "item": item.position,
                "op": item.op,
                "space_id": space.pk,
                "space": str(space),
                "before": before,
                "after": _space_state(space),
            }
        )
    user = actor if getattr(actor, "pk", None) else None
    return _transition(
        cs,
        "apply",
        extra={"diff": diff},
        status=S.APPLIED,
        applied_at=timezone.now(),
        applied_by=user,
        diff=diff,
    )


@transaction.atomic
def changeset_revert(*, actor, change_set: ChangeSet, reason: str = "") -> ChangeSet:
    """Undo an applied set (reverse order), all or nothing; refused, naming the space, when a
    touched space changed since the apply."""
    cs = _lock(change_set)
    check_district_in_scope(actor, cs.district_id)
    if cs.status != S.APPLIED:
        raise ValidationError(_("只有已实施的方案可以撤回。"), code="not_applied")
    spaces = {
        s.pk: s
        for s in Space.objects.select_for_update()
        .select_related("segment")
        .filter(pk__in=[row["space_id"] for row in cs.diff])
    }
    for row in cs.diff:
        space = spaces[row["space_id"]]
        if space.version != row["after"]["version"]:
            raise ValidationError(
                _("泊位 %(space)s 在方案实施后已变更（版本 v%(then)d → v%(now)d），不能撤回。")
                % {"space": space, "then": row["after"]["version"], "now": space.version},
                code="changed_since_apply",
            )
    why = reason or _("撤回车位调整方案：%(t)s") % {"t": cs.title}
    undone = []
    for row in reversed(cs.diff):
        space = spaces[row["space_id"]]
        if row["op"] == ChangeSetItem.Op.ADD:
            base_services.space_retire(actor=actor, space=space, reason=why)
        elif row["op"] == ChangeSetItem.Op.MOVE:
            before = row["before"]
            base_services.space_update(
                actor=actor,
                space=space,
                reason=why,
                number=before["number"],
                lon=before["lon"],
                lat=before["lat"],
            )
        else:
            space = base_services.space_reactivate(actor=actor, space=space, reason=why)
            if row["before"]["status"] != space.status:  # it was closed (not active) when retired
                base_services.space_update(
                    actor=actor, space=space, reason=why, status=row["before"]["status"]
                )
        undone.append(row["space_id"])
    user = actor if getattr(actor, "pk", None) else None
    return _transition(
        cs,
        "revert",
        reason=why,
        extra={"undone_spaces": undone},
        status=S.REVERTED,
        reverted_at=timezone.now(),
        reverted_by=user,
    )
