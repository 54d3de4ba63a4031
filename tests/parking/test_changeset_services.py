"""Change sets (规划车位调整): review, atomic apply with a diff, stale items, revert, four eyes."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from govcenter.core.models import AuditEntry
from govcenter.parking.models import ChangeSet, Segment, Space, SpaceVersion
from govcenter.parking.services import base as base_services
from govcenter.parking.services import changesets as services
from tests.factories import UserFactory
from tests.parking.factories import DONGCHENG_POINT, RoadFactory, SegmentFactory, SpaceFactory

pytestmark = pytest.mark.django_db
LON, LAT = DONGCHENG_POINT


@pytest.fixture
def reviewer(org):
    return UserFactory(username="t_data", unit=org.office, role_set=[org.roles["data_staff"]])


@pytest.fixture
def dc(org):
    road = RoadFactory(district=org.dongcheng, managing_unit=org.unit_dc)
    segment = SegmentFactory(road=road, code="DC-CS")
    moving = SpaceFactory(segment=segment, number="001")
    retiring = SpaceFactory(segment=segment, number="002")
    return segment, moving, retiring


def _build(org, dc):
    segment, moving, retiring = dc
    cs = services.changeset_create(actor=org.manager_dc, district=org.dongcheng, title="王府井调整")
    services.changeset_item_add(
        actor=org.manager_dc,
        change_set=cs,
        op="add",
        segment=segment,
        number="010",
        lon=LON + 0.0003,
        lat=LAT,
    )
    services.changeset_item_add(
        actor=org.manager_dc, change_set=cs, op="move", space=moving, lon=LON + 0.0004, lat=LAT, number="001A"
    )
    services.changeset_item_add(actor=org.manager_dc, change_set=cs, op="retire", space=retiring)
    return cs


def _approved(org, dc, reviewer):
    cs = _build(org, dc)
    services.changeset_submit(actor=org.manager_dc, change_set=cs)
    return services.changeset_review(actor=reviewer, change_set=cs, approve=True, comment="同意")


def test_happy_path_apply_writes_versions_and_diff(org, dc, reviewer):
    segment, moving, retiring = dc
    cs = _approved(org, dc, reviewer)
    assert cs.status == "approved" and cs.reviewer == reviewer
    cs = services.changeset_apply(actor=reviewer, change_set=cs)
    assert cs.status == "applied" and cs.applied_by == reviewer

    added = Space.objects.get(segment=segment, number="010")
    moving.refresh_from_db()
    retiring.refresh_from_db()
    assert (moving.number, moving.lon, moving.version) == ("001A", pytest.approx(LON + 0.0004), 2)
    assert retiring.status == "retired" and retiring.version == 2
    assert SpaceVersion.objects.filter(space=added).count() == 1
    assert Segment.objects.get(pk=segment.pk).capacity == 2  # 001A and 010

    by_item = {row["item"]: row for row in cs.diff}
    assert (
        by_item[1]["op"] == "add" and by_item[1]["before"] is None and by_item[1]["after"]["number"] == "010"
    )
    assert by_item[2]["before"]["number"] == "001" and by_item[2]["after"]["number"] == "001A"
    assert by_item[2]["before"]["lon"] == pytest.approx(LON) and by_item[2]["after"]["version"] == 2
    assert by_item[3]["before"]["status"] == "active" and by_item[3]["after"]["status"] == "retired"
    actions = set(AuditEntry.objects.values_list("action", flat=True))
    assert {
        "parking.changeset.apply",
        "parking.space.create",
        "parking.space.update",
        "parking.space.retire",
    } <= actions


def test_a_stale_item_fails_the_whole_apply_naming_it(org, dc, reviewer):
    segment, moving, retiring = dc
    cs = _approved(org, dc, reviewer)
    base_services.space_update(actor=org.manager_dc, space=retiring, space_type="large")  # changed since
    spaces_before = Space.objects.count()
    with pytest.raises(ValidationError, match="第 3 项") as info:
        services.changeset_apply(actor=reviewer, change_set=cs)
    assert "已变更" in str(info.value)
    # nothing of items 1 and 2 was written
    assert Space.objects.count() == spaces_before
    moving.refresh_from_db()
    assert moving.number == "001" and moving.version == 1
    assert ChangeSet.objects.get(pk=cs.pk).status == "approved"


def test_an_item_whose_space_was_retired_fails(org, dc, reviewer):
    _, moving, _ = dc
    cs = _approved(org, dc, reviewer)
    base_services.space_retire(actor=org.manager_dc, space=moving)
    with pytest.raises(ValidationError, match="第 2 项.*已撤销"):
        services.changeset_apply(actor=reviewer, change_set=cs)


def test_a_failing_add_names_its_item(org, dc, reviewer):
    segment, *_ = dc
    SpaceFactory(segment=segment, number="010")  # the number the add item wants
    cs = _approved(org, dc, reviewer)
    with pytest.raises(ValidationError, match="第 1 项.*已存在"):
        services.changeset_apply(actor=reviewer, change_set=cs)


def test_revert_restores_everything(org, dc, reviewer):
    segment, moving, retiring = dc
    cs = services.changeset_apply(actor=reviewer, change_set=_approved(org, dc, reviewer))
    cs = services.changeset_revert(actor=reviewer, change_set=cs, reason="规划取消")
    assert cs.status == "reverted"
    added = Space.objects.get(segment=segment, number="010")
    moving.refresh_from_db()
    retiring.refresh_from_db()
    assert added.status == "retired"
    assert (moving.number, moving.lon) == ("001", pytest.approx(LON)) and moving.version == 3
    assert retiring.status == "active" and retiring.version == 3
    assert Segment.objects.get(pk=segment.pk).capacity == 2  # 001 and 002 again
    with pytest.raises(ValidationError):
        services.changeset_revert(actor=reviewer, change_set=cs)


def test_revert_refused_when_a_space_changed_since(org, dc, reviewer):
    _, moving, _ = dc
    cs = services.changeset_apply(actor=reviewer, change_set=_approved(org, dc, reviewer))
    base_services.space_update(actor=org.manager_dc, space=moving, space_type="large")
    moving.refresh_from_db()
    with pytest.raises(ValidationError, match=f"泊位 {moving}.*不能撤回"):
        services.changeset_revert(actor=reviewer, change_set=cs)
    assert ChangeSet.objects.get(pk=cs.pk).status == "applied"
    assert Space.objects.get(segment__code="DC-CS", number="010").status == "active"


def test_reviewer_cannot_be_the_author(org, dc):
    cs = _build(org, dc)
    services.changeset_submit(actor=org.manager_dc, change_set=cs)
    with pytest.raises(ValidationError, match="编制人不能审核"):
        services.changeset_review(actor=org.manager_dc, change_set=cs, approve=True)


def test_rejected_cannot_apply_and_goes_back_to_draft_on_edit(org, dc, reviewer):
    segment, *_ = dc
    cs = _build(org, dc)
    services.changeset_submit(actor=org.manager_dc, change_set=cs)
    with pytest.raises(ValidationError, match="审核意见"):
        services.changeset_review(actor=reviewer, change_set=cs, approve=False)
    cs = services.changeset_review(actor=reviewer, change_set=cs, approve=False, comment="位置不合理")
    assert cs.status == "rejected"
    with pytest.raises(ValidationError, match="已批准"):
        services.changeset_apply(actor=reviewer, change_set=cs)
    services.changeset_item_add(
        actor=org.manager_dc, change_set=cs, op="add", segment=segment, number="011", lon=LON, lat=LAT
    )
    assert ChangeSet.objects.get(pk=cs.pk).status == "draft"


def test_items_need_the_district_and_draft(org, dc, reviewer):
    segment, moving, _ = dc
    xc_seg = SegmentFactory(road=RoadFactory(district=org.xicheng, managing_unit=org.unit_xc))
    cs = services.changeset_create(actor=org.manager_dc, district=org.dongcheng, title="t")
    with pytest.raises(ValidationError):
        services.changeset_item_add(
            actor=org.manager_dc, change_set=cs, op="add", segment=xc_seg, number="1", lon=LON, lat=LAT
        )
    with pytest.raises(ValidationError):
        services.changeset_item_add(actor=org.manager_dc, change_set=cs, op="move", space=moving)
    with pytest.raises(ValidationError, match="没有调整项"):
        services.changeset_submit(actor=org.manager_dc, change_set=cs)
    with pytest.raises(ValidationError, match="数据范围"):
        services.changeset_create(actor=org.manager_xc, district=org.dongcheng, title="t")
    services.changeset_item_add(actor=org.manager_dc, change_set=cs, op="retire", space=moving)
    services.changeset_submit(actor=org.manager_dc, change_set=cs)
    with pytest.raises(ValidationError, match="草稿"):
        services.changeset_item_add(actor=org.manager_dc, change_set=cs, op="retire", space=dc[2])
