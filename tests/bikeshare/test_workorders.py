"""Work orders (派单): numbering, deadlines, the state machine, scope, sweep, generation from
violations with dedupe, and the response statistics the monthly assessment reads."""

from __future__ import annotations

import datetime as dt
import re
import threading
import uuid
from zoneinfo import ZoneInfo

import pytest
from django.core.exceptions import PermissionDenied
from django.db import connection
from django.utils import timezone

from govcenter.bikeshare.live import open_live_state
from govcenter.bikeshare.models import FleetQuota, ScanCheck, Vehicle
from govcenter.bikeshare.models.workorders import WorkOrder, WorkOrderCounter, WorkOrderEvent
from govcenter.bikeshare.services import workorders as wo
from govcenter.core.api.errors import ServiceError
from govcenter.core.models import AuditEntry
from tests.factories import RoleFactory, UserFactory

from .conftest import PROVIDER_A

pytestmark = pytest.mark.django_db

BJ = ZoneInfo("Asia/Shanghai")
DC_GCJ = (116.4174, 39.9289)  # 东城区
XC_GCJ = (116.3661, 39.9123)  # 西城区


@pytest.fixture
def w(org):
    o = org
    o.role_wo_center = RoleFactory(
        code="t-wo-center",
        scope_kind="all",
        perms=[wo.VIEW_PERMISSION, wo.ISSUE_PERMISSION, wo.VERIFY_PERMISSION],
    )
    o.role_wo_operator = RoleFactory(
        code="t-wo-operator", scope_kind="operator", perms=[wo.VIEW_PERMISSION, wo.RESPOND_PERMISSION]
    )
    o.role_wo_district = RoleFactory(code="t-wo-district", scope_kind="districts", perms=[wo.VIEW_PERMISSION])
    o.role_wo_leader = RoleFactory(code="t-wo-leader", scope_kind="all", perms=[wo.VIEW_PERMISSION])
    o.wo_center = UserFactory(username="t_wo_center", unit=o.center, role_set=[o.role_wo_center])
    o.wo_op_a = UserFactory(username="t_wo_op_a", unit=o.op_a, role_set=[o.role_wo_operator])
    o.wo_op_b = UserFactory(username="t_wo_op_b", unit=o.op_b, role_set=[o.role_wo_operator])
    o.wo_dc = UserFactory(username="t_wo_dc", unit=o.unit_dc, role_set=[o.role_wo_district])
    o.wo_leader = UserFactory(username="t_wo_leader", unit=o.center, role_set=[o.role_wo_leader])
    return o


def _order(w, operator=None, district="dc", kind="manual", **kw):
    district = {"dc": w.dongcheng, "xc": w.xicheng, None: None}[district]
    return wo.workorder_create(
        w.wo_center,
        operator=operator or w.op_a,
        district=district,
        kind=kind,
        title=kw.pop("title", "测试派单"),
        **kw,
    )


# -- numbering and deadlines ------------------------------------------------------------------


def test_numbers_are_readable_unique_and_per_beijing_month(w):
    first, second = _order(w), _order(w)
    month = timezone.now().astimezone(BJ).strftime("%Y%m")
    assert re.fullmatch(rf"派单-{month}-\d{{4}}", first.number)
    assert int(second.number[-4:]) == int(first.number[-4:]) + 1
    # 2026-11-30 16:30 UTC is already December in Beijing.
    assert wo.next_number(dt.datetime(2026, 11, 30, 16, 30, tzinfo=dt.UTC)) == "派单-202612-0001"
    assert wo.next_number(dt.datetime(2026, 11, 30, 15, 30, tzinfo=dt.UTC)).startswith("派单-202611-")
    assert WorkOrderCounter.objects.get(period="202612").last == 1


@pytest.mark.postgres  # SQLite's in-memory test database refuses concurrent writers ("table is locked")
@pytest.mark.django_db(transaction=True)
def test_numbers_stay_unique_when_issued_from_several_threads(w):
    n = 6
    barrier = threading.Barrier(n)
    numbers: list = [None] * n

    def run(i):
        try:
            barrier.wait()
            numbers[i] = wo.next_number(dt.datetime(2030, 1, 15, tzinfo=dt.UTC))
        except BaseException as exc:  # noqa: BLE001
            numbers[i] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(isinstance(x, str) for x in numbers), numbers
    assert sorted(numbers) == [f"派单-203001-{i:04d}" for i in range(1, n + 1)]


def test_deadline_per_kind_from_settings_with_defaults(w, settings):
    before = timezone.now()
    order = _order(w, kind="outside_fence")
    assert order.due_at - order.issued_at == dt.timedelta(hours=2)
    assert order.initial_due_at == order.due_at and order.issued_at >= before
    assert _order(w, kind="over_quota").due_at - before >= dt.timedelta(hours=24)
    settings.GOVCENTER_BIKESHARE_WORKORDER_DUE_HOURS = {"outside_fence": 0.5}
    order = _order(w, kind="outside_fence", title="另一件")
    assert order.due_at - order.issued_at == dt.timedelta(minutes=30)
    order = _order(w, kind="manual", due_hours=6)
    assert order.due_at - order.issued_at == dt.timedelta(hours=6)


@pytest.mark.parametrize(
    ("kw", "code"),
    [
        ({"title": ""}, "missing"),
        ({"operator": "NOPE"}, "bad_operator"),
        ({"district": "999999"}, "bad_district"),
        ({"kind": "bogus"}, "bad_kind"),
        ({"due_hours": 0}, "bad_due"),
        ({"due_hours": 10_000}, "bad_due"),
        ({"lon": "x", "lat": 1}, "bad_position"),
    ],
)
def test_manual_create_refuses_bad_input(w, kw, code):
    args = {"operator": w.op_a, "title": "x", **kw}
    with pytest.raises(ServiceError) as err:
        wo.workorder_create(w.wo_center, **args)
    assert err.value.error_code == code
    assert not WorkOrder.objects.exists()


def test_manual_create_needs_issue_permission_and_converts_position(w):
    with pytest.raises(PermissionDenied):
        wo.workorder_create(w.wo_op_a, operator=w.op_a, title="x")
    with pytest.raises(PermissionDenied):
        wo.workorder_create(w.wo_leader, operator=w.op_a, title="x")
    order = wo.workorder_create(
        w.wo_center, operator=w.op_a.code, title="x", lon=116.41, lat=39.92, datum="WGS-84"
    )
    assert order.datum == "GCJ-02" and order.lon != 116.41 and abs(order.lon - 116.41) < 0.01
    assert order.source == "manual" and order.issued_by == w.wo_center


def test_duplicate_open_dedupe_key_is_refused_until_closed(w):
    first = _order(w, dedupe_key="k-1")
    with pytest.raises(ServiceError) as err:
        _order(w, dedupe_key="k-1")
    assert err.value.error_code == "duplicate" and err.value.status_code == 409
    assert err.value.details["number"] == [first.number]
    wo.workorder_cancel(w.wo_center, first, reason="误派")
    again = _order(w, dedupe_key="k-1")
    assert again.pk != first.pk


# -- the state machine --------------------------------------------------------------------------


def test_respond_close_happy_path_with_history_and_audit(w):
    order = _order(w)
    audits = AuditEntry.objects.count()
    order = wo.workorder_respond(w.wo_op_a, order.pk, note="已调走", evidence=["PHOTO-1", "PHOTO-2"])
    assert order.status == "responded" and order.responded_by == w.wo_op_a
    assert order.response_evidence == ["PHOTO-1", "PHOTO-2"] and order.responded_on_time is True
    order = wo.workorder_close(w.wo_center, order, note="核查通过")
    assert order.status == "closed" and order.closed_at is not None
    actions = list(order.events.values_list("action", "from_status", "to_status"))
    assert actions == [
        ("issue", "", "issued"),
        ("respond", "issued", "responded"),
        ("close", "responded", "closed"),
    ]
    assert order.events.get(action="respond").actor == w.wo_op_a
    assert AuditEntry.objects.count() == audits + 2
    assert set(AuditEntry.objects.values_list("action", flat=True)) >= {
        "bikeshare.workorder.issue",
        "bikeshare.workorder.respond",
        "bikeshare.workorder.close",
    }


def test_reopen_returns_to_issued_with_a_new_deadline(w):
    order = _order(w, kind="outside_fence")
    first_due = order.due_at
    wo.workorder_respond(w.wo_op_a, order, note="处理了")
    with pytest.raises(ServiceError) as err:
        wo.workorder_reopen(w.wo_center, order, note="")
    assert err.value.error_code == "missing"
    order = wo.workorder_reopen(w.wo_center, order, note="现场仍有车", due_hours=1)
    assert order.status == "issued" and order.reopen_count == 1
    assert order.initial_due_at == first_due and order.due_at != first_due
    assert abs((order.due_at - timezone.now()) - dt.timedelta(hours=1)) < dt.timedelta(minutes=1)
    order = wo.workorder_respond(w.wo_op_a, order, note="再次处理")
    assert order.first_responded_at < order.responded_at
    assert list(order.events.values_list("action", flat=True)) == ["issue", "respond", "reopen", "respond"]


@pytest.mark.parametrize(
    ("setup", "action"),
    [
        ([], "close"),
        ([], "reopen"),
        (["respond", "close"], "respond"),
        (["respond", "close"], "cancel"),
        (["respond", "close"], "reopen"),
        (["cancel"], "respond"),
        (["cancel"], "close"),
    ],
)
def test_illegal_transitions_are_refused_with_409(w, setup, action):
    order = _order(w)
    steps = {
        "respond": lambda o: wo.workorder_respond(w.wo_op_a, o, note="n"),
        "close": lambda o: wo.workorder_close(w.wo_center, o),
        "reopen": lambda o: wo.workorder_reopen(w.wo_center, o, note="不行"),
        "cancel": lambda o: wo.workorder_cancel(w.wo_center, o, reason="撤销"),
    }
    for step in setup:
        order = steps[step](order)
    status = WorkOrder.objects.get(pk=order.pk).status
    events = WorkOrderEvent.objects.filter(order=order).count()
    with pytest.raises(ServiceError) as err:
        steps[action](WorkOrder.objects.get(pk=order.pk) if action != "respond" else order.pk)
    assert err.value.error_code == "bad_transition" and err.value.status_code == 409
    assert WorkOrder.objects.get(pk=order.pk).status == status
    assert WorkOrderEvent.objects.filter(order=order).count() == events


def test_retries_are_harmless(w):
    order = _order(w)
    wo.workorder_respond(w.wo_op_a, order, note="n", evidence=["P1"])
    wo.workorder_respond(w.wo_op_a, order, note="n", evidence=["P1"])  # the same response again
    with pytest.raises(ServiceError):
        wo.workorder_respond(w.wo_op_a, order, note="other")
    wo.workorder_close(w.wo_center, order)
    wo.workorder_close(w.wo_center, order)
    other = _order(w, title="b")
    wo.workorder_cancel(w.wo_center, other, reason="r")
    wo.workorder_cancel(w.wo_center, other, reason="r")
    assert WorkOrderEvent.objects.filter(order=order).count() == 3
    assert WorkOrderEvent.objects.filter(order=other).count() == 2


def test_respond_needs_note_or_evidence_and_checks_evidence(w):
    order = _order(w)
    with pytest.raises(ServiceError) as err:
        wo.workorder_respond(w.wo_op_a, order, note=" ", evidence=[])
    assert err.value.error_code == "missing"
    with pytest.raises(ServiceError) as err:
        wo.workorder_respond(w.wo_op_a, order, evidence=[f"P{i}" for i in range(wo.MAX_EVIDENCE_ITEMS + 1)])
    assert err.value.error_code == "bad_evidence"
    order = wo.workorder_respond(w.wo_op_a, order, evidence="PHOTO-9\n\n照片已上传")
    assert order.response_evidence == ["PHOTO-9", "照片已上传"]


# -- scope ----------------------------------------------------------------------------------------


def test_scope_operator_sees_and_acts_only_on_its_own_orders(w):
    mine = _order(w, operator=w.op_a, district="dc")
    theirs = _order(w, operator=w.op_b, district="xc", title="乙")
    assert set(wo.workorder_list(user=w.wo_op_a)) == {mine}
    assert set(wo.workorder_list(user=w.wo_op_b)) == {theirs}
    assert set(wo.workorder_list(user=w.wo_dc)) == {mine}
    assert set(wo.workorder_list(user=w.wo_center)) == {mine, theirs}
    assert set(wo.workorder_list(user=w.nobody)) == set()
    with pytest.raises(ServiceError) as err:
        wo.workorder_respond(w.wo_op_b, mine.pk, note="不是我的")
    assert err.value.status_code == 404
    with pytest.raises(PermissionDenied):
        wo.workorder_respond(w.wo_dc, mine.pk, note="区里代答")
    with pytest.raises(PermissionDenied):
        wo.workorder_close(w.wo_op_a, mine.pk)
    assert WorkOrder.objects.get(pk=mine.pk).status == "issued"


# -- sweep --------------------------------------------------------------------------------------


def test_sweep_marks_overdue_once_per_deadline(w):
    order = _order(w, kind="outside_fence")
    on_time = _order(w, kind="over_quota", title="配额")
    later = order.due_at + dt.timedelta(minutes=1)
    assert wo.sweep_overdue(order.due_at - dt.timedelta(seconds=1)) == 0
    assert wo.sweep_overdue(later) == 1
    assert wo.sweep_overdue(later) == 0
    order.refresh_from_db()
    on_time.refresh_from_db()
    assert order.overdue_at == order.due_at and on_time.overdue_at is None
    assert order.events.filter(action="overdue", actor=None).count() == 1
    # Responded late: still counted overdue; reopened and late again: marked again.
    order = wo.workorder_respond(w.wo_op_a, order, note="晚了")
    order = wo.workorder_reopen(w.wo_center, order, note="不行", due_hours=3)
    assert order.overdue_at is not None and order.overdue_at < order.due_at
    assert wo.sweep_overdue(order.due_at + dt.timedelta(seconds=1)) == 1
    order.refresh_from_db()
    assert order.overdue_at == order.due_at
    assert order.events.filter(action="overdue").count() == 2


# -- statistics -----------------------------------------------------------------------------------


def _at(y, m, d, h=10):
    return dt.datetime(y, m, d, h, tzinfo=BJ)


def test_response_stats_counts_by_beijing_issue_date(w):
    def make(issued, *, respond_after=None, cancel=False, close=False, operator=None, overdue=False):
        order, _ = wo._issue(
            operator=operator or w.op_a,
            kind="outside_fence",
            subject="s",
            title="t",
            dedupe_key=uuid.uuid4().hex,
            now=issued,
        )
        if overdue:
            wo.sweep_overdue(order.due_at + dt.timedelta(seconds=1))
        if respond_after is not None:
            order = wo.workorder_respond(w.wo_op_a if operator is None else w.wo_op_b, order, note="n")
            WorkOrder.objects.filter(pk=order.pk).update(
                first_responded_at=issued + respond_after, responded_at=issued + respond_after
            )
            order.refresh_from_db()
        if close:
            wo.workorder_close(w.wo_center, order)
        if cancel:
            wo.workorder_cancel(w.wo_center, order, reason="r")
        return order

    make(
        _at(2026, 10, 1, 0) + dt.timedelta(minutes=30), respond_after=dt.timedelta(hours=1), close=True
    )  # on time
    make(_at(2026, 10, 15), respond_after=dt.timedelta(hours=3), overdue=True)  # late, overdue
    make(_at(2026, 10, 20), overdue=True)  # never responded
    make(_at(2026, 10, 21))  # open, not yet due in this story
    make(_at(2026, 10, 22), respond_after=dt.timedelta(minutes=10), cancel=True)  # cancelled: excluded
    make(_at(2026, 9, 30, 23) + dt.timedelta(minutes=59))  # September in Beijing (15:59 UTC): excluded
    make(_at(2026, 11, 1, 0), respond_after=dt.timedelta(hours=1))  # November: excluded
    make(_at(2026, 10, 5), respond_after=dt.timedelta(hours=1), operator=w.op_b)  # other operator

    stats = wo.response_stats(w.op_a, dt.date(2026, 10, 1), dt.date(2026, 10, 31))
    assert stats == {
        "issued": 4,
        "responded": 2,
        "responded_on_time": 1,
        "closed": 1,
        "overdue": 2,
        "rate_on_time": 0.25,
    }
    assert wo.response_stats(w.op_a.code, dt.date(2026, 10, 1), dt.date(2026, 10, 31)) == stats
    everyone = wo.response_stats_all(dt.date(2026, 10, 1), dt.date(2026, 10, 31))
    assert everyone[w.op_a.code] == stats
    assert everyone[w.op_b.code]["issued"] == 1 and everyone[w.op_b.code]["rate_on_time"] == 1.0
    empty = wo.response_stats(w.op_b, dt.date(2026, 12, 1), dt.date(2026, 12, 31))
    assert empty["issued"] == 0 and empty["rate_on_time"] is None
    with pytest.raises(ServiceError):
        wo.response_stats(w.op_a, dt.date(2026, 10, 2), dt.date(2026, 10, 1))
    with pytest.raises(ServiceError):
        wo.response_stats(w.unit_dc, dt.date(2026, 10, 1), dt.date(2026, 10, 2))  # not an operator


# -- generation -----------------------------------------------------------------------------------


@pytest.fixture
def live(tmp_path, settings):
    url = f"sqlite:///{tmp_path / 'wo-live.db'}"
    settings.GOVCENTER_BIKESHARE_LIVE_URL = url
    settings.GOVCENTER_LAKE_DIR = tmp_path / "no-lake"
    with open_live_state(url) as store:
        yield store


def _park(store, operator, ids, point):
    now_ms = int(timezone.now().timestamp() * 1000)
    store.update(
        {
            "operator": [operator] * len(ids),
            "device_id": ids,
            "vehicle_id": [f"V-{i}" for i in ids],
            "timestamp_ms": [now_ms] * len(ids),
            "lon": [point[0] + 0.0001 * k for k in range(len(ids))],
            "lat": [point[1]] * len(ids),
            "vehicle_state": ["available"] * len(ids),
        }
    )


def test_outside_fence_generation_one_order_per_operator_and_district_deduped(w, live, settings):
    settings.GOVCENTER_BIKESHARE_WORKORDER_MAX_VEHICLES = 2
    _park(live, w.op_a.code, ["a1", "a2", "a3"], DC_GCJ)
    _park(live, w.op_a.code, ["a4"], XC_GCJ)
    _park(live, w.op_b.code, ["b1"], DC_GCJ)
    _park(live, "OP-GHOST", ["g1"], DC_GCJ)  # no unit: no order
    result = wo.generate_from_violations(w.wo_center, kinds=["outside_fence"], live=live)
    assert result["created"] == 3 and result["existing"] == 0 and result["errors"] == []
    orders = {(o.operator.code, o.district.code): o for o in WorkOrder.objects.filter(kind="outside_fence")}
    assert set(orders) == {(w.op_a.code, "110101"), (w.op_a.code, "110102"), (w.op_b.code, "110101")}
    big = orders[(w.op_a.code, "110101")]
    assert big.evidence["count"] == 3 and big.evidence["listed"] == 2 and len(big.evidence["vehicles"]) == 2
    assert big.dedupe_key == f"outside_fence:{w.op_a.code}:110101" and big.source == "system"
    assert big.issued_by == w.wo_center and big.due_at - big.issued_at == dt.timedelta(hours=2)
    again = wo.generate_from_violations(w.wo_center, kinds=["outside_fence"], live=live)
    assert again["created"] == 0 and again["existing"] == 3
    wo.workorder_respond(w.wo_op_a, big, note="已处理")
    wo.workorder_close(w.wo_center, big)
    third = wo.generate_from_violations(kinds=["outside_fence"], live=live)  # the system
    assert third["created"] == 1 and WorkOrder.objects.count() == 4
    assert WorkOrder.objects.order_by("-id").first().issued_by is None


def test_generation_needs_city_wide_issuer_and_known_kinds(w, live):
    with pytest.raises(PermissionDenied):
        wo.generate_from_violations(w.wo_op_a, live=live)
    with pytest.raises(ServiceError) as err:
        wo.generate_from_violations(w.wo_center, kinds=["manual"], live=live)
    assert err.value.error_code == "bad_kind"


def test_over_quota_and_scan_violation_generation(w, live):
    now = timezone.now()
    for k in range(3):
        Vehicle.objects.create(
            operator=w.op_a,
            device_id=uuid.uuid4(),
            provider_id=PROVIDER_A,
            vehicle_id=f"Q-{k}",
            state="available",
            district=w.dongcheng,
            registered_at=now - dt.timedelta(days=1),
        )
    quota = FleetQuota.objects.create(
        operator=w.op_a, district=w.dongcheng, quota=1, valid_from=now - dt.timedelta(days=2)
    )
    check = ScanCheck.objects.create(
        inspector=w.wo_center,
        unit=w.center,
        checked_at=now - dt.timedelta(hours=1),
        vehicle_code="Q-0",
        operator=w.op_a,
        district=w.dongcheng,
        result="damaged",
    )
    ScanCheck.objects.create(
        inspector=w.wo_center,
        unit=w.center,
        checked_at=now,
        vehicle_code="Q-1",
        operator=w.op_a,
        result="compliant",
    )
    result = wo.generate_from_violations(w.wo_center, kinds=["over_quota", "scan_violation"], live=live)
    assert result["by_kind"]["over_quota"] == {"created": 1, "existing": 0}
    assert result["by_kind"]["scan_violation"] == {"created": 1, "existing": 0}
    quota_order = WorkOrder.objects.get(kind="over_quota")
    assert quota_order.dedupe_key == f"over_quota:{quota.pk}" and quota_order.evidence["excess"] == 2
    assert quota_order.due_at - quota_order.issued_at == dt.timedelta(hours=24)
    scan_order = WorkOrder.objects.get(kind="scan_violation")
    assert scan_order.dedupe_key == f"scan:{check.pk}" and scan_order.subject == "Q-0"
    again = wo.generate_from_violations(w.wo_center, kinds=["over_quota", "scan_violation"], live=live)
    assert again["created"] == 0 and again["existing"] == 2


def test_demo_loader_creates_every_status_once(w):
    from govcenter.core.models import Unit

    for code in ("OP-MEITUAN", "OP-HELLO"):
        Unit.objects.create(code=code, name_zh=code, kind="operator")
    made = wo.load_demo_workorders()
    assert sum(made.values()) == 12
    statuses = set(WorkOrder.objects.filter(operator__code="OP-MEITUAN").values_list("status", flat=True))
    assert statuses == {"issued", "responded", "closed", "cancelled"}
    assert WorkOrder.objects.filter(operator__code="OP-HELLO", overdue_at__isnull=False).exists()
    assert wo.load_demo_workorders() == {}
    assert WorkOrder.objects.count() == 12


def test_accumulation_generation_from_the_lake_and_live_picture(w, live, settings, tmp_path):
    from govcenter.analytics.lake.writer import LakeWriter
    from govcenter.bikeshare.analyses import station_areas

    settings.GOVCENTER_LAKE_DIR = tmp_path / "lake"
    settings.GOVCENTER_BIKESHARE_WORKORDER_ACCUMULATION_THRESHOLD = 3
    settings.GOVCENTER_BIKESHARE_WORKORDER_ACCUMULATION_MIN_BIKES = 2
    station = station_areas().to_pylist()[0]
    target = (station["lon"], station["lat"])
    start = dt.datetime(2026, 11, 2, 8, 5, tzinfo=BJ)
    trips = [
        {"operator": w.op_a.code, "trip_id": f"t{i}", "device_id": f"d{i}", "vehicle_id": f"v{i}",
         "start_time": start + dt.timedelta(minutes=i), "end_time": start + dt.timedelta(minutes=20 + i),
         "start_lon": target[0] + 0.05, "start_lat": target[1] + 0.05, "end_lon": target[0],
         "end_lat": target[1], "source_datum": "GCJ-02", "distance_m": 5000.0, "duration_s": 1200}
        for i in range(5)
    ]  # fmt: skip
    LakeWriter(settings.GOVCENTER_LAKE_DIR).write("trips", trips)
    _park(live, w.op_a.code, ["s1", "s2", "s3"], target)
    _park(live, w.op_b.code, ["s4"], target)  # one bike: below the minimum
    now = dt.datetime(2026, 11, 2, 10, 0, 0, 517_203, tzinfo=BJ)  # a clock reading, microseconds and all
    result = wo.generate_from_violations(w.wo_center, kinds=["accumulation"], live=live, now=now)
    assert result["errors"] == [] and result["by_kind"]["accumulation"] == {"created": 1, "existing": 0}
    order = WorkOrder.objects.get(kind="accumulation")
    assert (
        order.operator == w.op_a and order.evidence["net_inflow"] == 5 and order.evidence["bikes_nearby"] == 3
    )
    assert order.dedupe_key == f"accumulation:{station['station_id']}:2026-11-02:{w.op_a.code}"
    assert order.due_at - order.issued_at == dt.timedelta(hours=2)
    again = wo.generate_from_violations(w.wo_center, kinds=["accumulation"], live=live, now=now)
    assert again["by_kind"]["accumulation"] == {"created": 0, "existing": 1}
    # Without a lake nothing is issued and nothing fails.
    settings.GOVCENTER_LAKE_DIR = tmp_path / "none"
    assert wo.generate_from_violations(w.wo_center, live=live, now=now)["errors"] == []
