"""Data scope through a to-many path (a case assigned to several units): each row once, in
lists, counts and search, for a caller whose unit subtree holds several of its units."""

from __future__ import annotations

import pytest

from govcenter.core import search
from tests.helpers.org import build_org
from tests.workflow_app.models import Memo, MemoUnit


@pytest.fixture
def org(db):
    return build_org()


def test_a_case_reached_through_two_of_my_units_is_listed_once(org):
    both = Memo.objects.create(title="东城两单位共办")
    MemoUnit.objects.create(memo=both, unit=org.unit_dc, role="lead")
    MemoUnit.objects.create(memo=both, unit=org.sub_dc, role="co")  # a sub-unit of the same subtree
    co_only = Memo.objects.create(title="东城一所协办")
    MemoUnit.objects.create(memo=co_only, unit=org.sub_dc, role="co")
    xicheng = Memo.objects.create(title="西城主办")
    MemoUnit.objects.create(memo=xicheng, unit=org.unit_xc, role="lead")

    mine = Memo.objects.restrict(org.own_dc)  # own_unit: 东城停车单位 and its sub-units
    assert mine.count() == 2
    assert sorted(m.title for m in mine) == ["东城一所协办", "东城两单位共办"]
    assert list(Memo.objects.restrict(org.leader).order_by("pk")) == [both, co_only, xicheng]
    assert Memo.objects.restrict(org.plain_dc).count() == 0  # no role, no scope


def test_search_through_a_to_many_scope(org):
    search.register("test.memo", Memo, document=lambda m: (m.title, ""))
    try:
        memo = Memo.objects.create(title="协办事项交通组织")
        MemoUnit.objects.create(memo=memo, unit=org.unit_dc)
        MemoUnit.objects.create(memo=memo, unit=org.sub_dc)
        search.index(memo)
        total, hits = search.query(org.own_dc, "交通组织")
        assert total == 1 and [h.object_id for h in hits] == [memo.pk]
        assert search.query(org.manager_xc, "交通组织")[0] == 0
    finally:
        search._registry.pop("test.memo", None)
