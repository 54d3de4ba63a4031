"""MDS Agency push of events, telemetry and trips: validation, the Stream, the consumer, the lake."""

from __future__ import annotations

import json
import time
import uuid

import pytest
from django.test import Client

from govcenter.analytics.lake import compact, duckdb_connection
from govcenter.analytics.stream import open_stream
from govcenter.bikeshare.consumer import consume, decode
from govcenter.bikeshare.models import OperatorProfile, OperatorRejection
from govcenter.bikeshare.services.ingest import MAX_BATCH, operator_profile_set, stream_name
from govcenter.bikeshare.services.registry import vehicles_register
from govcenter.core.geo import Datum, distance_m, to_gcj02
from govcenter.core.models import AuditEntry

from .conftest import PROVIDER_A, PROVIDER_B, assert_error, signed_headers, vehicle

pytestmark = pytest.mark.django_db

# Tiananmen Square as a GPS (WGS-84) receiver reports it, and a point in Shanghai.
BEIJING_WGS = (116.3912, 39.9075)
SHANGHAI = (121.4737, 31.2304)


def url(kind: str) -> str:
    return f"/api/v1/bikeshare/agency/{kind}"


def push_kind(key, kind: str, payload):
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    headers = signed_headers(key, body, path=url(kind))
    return Client().post(url(kind), data=body, content_type="application/json", **headers)


def now_ms() -> int:
    return int(time.time() * 1000)


@pytest.fixture
def stream_url(tmp_path, settings):
    settings.GOVCENTER_STREAM_URL = f"spool://{tmp_path / 'stream'}"
    return settings.GOVCENTER_STREAM_URL


@pytest.fixture
def bikes(org, keys):
    """Two bikes of operator A, one of operator B: device ids (str)."""
    a = [vehicle("MT-1"), vehicle("MT-2")]
    b = [vehicle("HL-1", provider=PROVIDER_B)]
    assert vehicles_register(operator=org.op_a, records=a).success == 2
    assert vehicles_register(operator=org.op_b, records=b).success == 1
    return type("Bikes", (), {"a1": a[0]["device_id"], "a2": a[1]["device_id"], "b1": b[0]["device_id"]})


def gps(lon_lat) -> dict:
    return {"lng": lon_lat[0], "lat": lon_lat[1]}


def telemetry(device_id, *, ts=None, where=BEIJING_WGS, trip=None, **extra) -> dict:
    return {
        "device_id": device_id,
        "provider_id": PROVIDER_A,
        "telemetry_id": str(uuid.uuid4()),
        "timestamp": now_ms() - 60_000 if ts is None else ts,
        "trip_ids": [trip] if trip else None,
        "journey_id": None,
        "location": gps(where),
        "battery_percent": 80,
        **extra,
    }


def event(device_id, *, ts=None, where=BEIJING_WGS, **extra) -> dict:
    record = {
        "device_id": device_id,
        "provider_id": PROVIDER_A,
        "event_id": str(uuid.uuid4()),
        "vehicle_state": "available",
        "event_types": ["provider_drop_off"],
        "timestamp": now_ms() - 60_000 if ts is None else ts,
        "location": gps(where),
        **extra,
    }
    return record


def trip(device_id, *, start=None, minutes=12, distance=2400, end_where=(116.4012, 39.9132), **extra) -> dict:
    start = now_ms() - 3_600_000 if start is None else start
    return {
        "device_id": device_id,
        "provider_id": PROVIDER_A,
        "trip_id": str(uuid.uuid4()),
        "start_time": start,
        "end_time": start + minutes * 60_000,
        "start_location": gps(BEIJING_WGS),
        "end_location": gps(end_where),
        "duration": minutes * 60,
        "distance": distance,
        "trip_type": ["rider"],
        **extra,
    }


def published(kind: str, stream_url: str) -> list[dict]:
    """Every row published to ``bikeshare-<kind>`` so far (read by a throw-away group)."""
    return [row for message in messages(kind, stream_url) for row in message["rows"]]


def messages(kind: str, stream_url: str) -> list[dict]:
    """Every message published to ``bikeshare-<kind>`` so far, decoded."""
    out = []
    with open_stream(stream_name(kind), stream_url) as stream:
        for m in stream.read(f"probe{uuid.uuid4().hex[:8]}", "probe", max_records=1000, block_ms=10):
            if m.data[:1] == b"{":  # version 1: JSON rows
                payload = json.loads(m.data)
                assert payload["kind"] == kind
            else:  # version 2: Arrow IPC columns (telemetry), read as the consumer reads it
                payload = {"v": 2, "kind": kind, "rows": decode(kind, [m])}
            out.append(payload)
    return out


def rejections(org) -> dict:
    return dict(OperatorRejection.objects.filter(operator=org.op_a).values_list("reason", "count"))


# ------------------------------------------------------------------------------------------
# Happy path per kind
# ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "make", "wrap"),
    [
        ("telemetry", telemetry, "telemetry"),
        ("events", event, "data"),
        ("trips", trip, None),
    ],
)
def test_happy_path_per_kind(org, keys, bikes, stream_url, kind, make, wrap):
    records = [make(bikes.a1), make(bikes.a2)]
    response = push_kind(keys.a, kind, {wrap: records} if wrap else records)
    assert response.status_code == 201, response.content
    assert response.json() == {"success": 2, "total": 2, "failures": []}
    rows = published(kind, stream_url)
    assert sorted(r["device_id"] for r in rows) == sorted([bikes.a1, bikes.a2])
    assert {r["operator"] for r in rows} == {org.op_a.code}
    assert {r["vehicle_id"] for r in rows} == {"MT-1", "MT-2"}
    assert {r["source_datum"] for r in rows} == {"WGS-84"}
    key = {"telemetry": "timestamp", "events": "event_id", "trips": "trip_id"}[kind]
    assert sorted(str(r[key]) for r in rows) == sorted(str(x[key]) for x in records)


def test_unsigned_push_is_refused_and_publishes_nothing(org, keys, bikes, stream_url):
    body = json.dumps([telemetry(bikes.a1)]).encode()
    response = Client().post(url("telemetry"), data=body, content_type="application/json")
    assert_error(response, 401, "missing_signature_headers")
    assert published("telemetry", stream_url) == []


# ------------------------------------------------------------------------------------------
# Rejections, one per code, and the mixed batch
# ------------------------------------------------------------------------------------------


def test_mixed_batch_is_a_partial_success_with_every_rejection_code(org, keys, bikes, stream_url):
    now = now_ms()
    good = telemetry(bikes.a1, ts=now - 1000)
    batch = [
        good,
        {k: v for k, v in telemetry(bikes.a1).items() if k != "location"},  # missing_param
        telemetry(bikes.a1, battery_percent=140),  # bad_param (schema)
        telemetry(bikes.a1, provider_id="not-a-uuid"),  # bad_param (schema)
        dict(good, telemetry_id=str(uuid.uuid4())),  # duplicate_in_batch: same (device_id, timestamp)
        telemetry(str(uuid.uuid4())),  # unknown_vehicle
        telemetry(bikes.b1),  # other_operator_vehicle
        telemetry(bikes.a2, ts=now + 3_600_000),  # timestamp_in_future
        telemetry(bikes.a2, ts=now - 30 * 86_400_000),  # timestamp_too_old
        telemetry(bikes.a2, where=SHANGHAI),  # outside_beijing
        "nonsense",  # bad_param
    ]
    response = push_kind(keys.a, "telemetry", batch)
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["success"], body["total"]) == (1, len(batch))
    got = [(f["error"], f["item"]) for f in body["failures"]]
    assert [e for e, _ in got] == [
        "missing_param",
        "bad_param",
        "bad_param",
        "duplicate_in_batch",
        "unknown_vehicle",
        "other_operator_vehicle",
        "timestamp_in_future",
        "timestamp_too_old",
        "outside_beijing",
        "bad_param",
    ]
    assert [item for _, item in got] == batch[1:]
    assert body["failures"][0]["error_details"] == ["location"]
    for failure in body["failures"]:
        assert set(failure) == {"item", "error", "error_description", "error_details"}
        assert failure["error_description"]
    rows = published("telemetry", stream_url)
    assert [(r["device_id"], r["timestamp"]) for r in rows] == [(bikes.a1, now - 1000)]
    assert rejections(org) == {
        "missing_param": 1,
        "bad_param": 3,
        "duplicate_in_batch": 1,
        "unknown_vehicle": 1,
        "other_operator_vehicle": 1,
        "timestamp_in_future": 1,
        "timestamp_too_old": 1,
        "outside_beijing": 1,
    }


def test_trip_rules(org, keys, bikes, stream_url):
    start = now_ms() - 7_200_000
    ok = trip(bikes.a1, start=start)
    backwards = dict(trip(bikes.a1, start=start), end_time=start - 1000)
    too_long_duration = dict(trip(bikes.a1, start=start, minutes=10), duration=3600)
    too_far = trip(bikes.a1, start=now_ms() - 6 * 3_600_000, minutes=300, distance=150_000)  # 30 km/h
    too_fast = trip(bikes.a1, start=start, minutes=5, distance=20_000)  # 240 km/h
    outside_end = trip(bikes.a2, start=start, end_where=SHANGHAI)
    future_end = trip(bikes.a2, start=now_ms() - 60_000, minutes=120, distance=10_000)
    duplicate = dict(ok)
    scooter_like = dict(trip(bikes.a2, start=start), trip_type=["taxi"])  # not a micromobility trip type
    batch = [
        ok,
        backwards,
        too_long_duration,
        too_far,
        too_fast,
        outside_end,
        future_end,
        duplicate,
        scooter_like,
    ]
    response = push_kind(keys.a, "trips", {"trips": batch})
    assert response.status_code == 200, response.content
    body = response.json()
    assert [(f["error"], f["error_details"]) for f in body["failures"]] == [
        ("trip_end_before_start", ["end_time"]),
        ("trip_implausible", ["duration"]),
        ("trip_implausible", ["distance"]),
        ("trip_implausible", ["distance", "duration"]),
        ("outside_beijing", ["end_location"]),
        ("timestamp_in_future", ["end_time"]),
        ("duplicate_in_batch", ["trip_id"]),
        ("bad_param", ["trip_type/0"]),
    ]
    assert [r["trip_id"] for r in published("trips", stream_url)] == [ok["trip_id"]]


def test_event_rules(org, keys, bikes, stream_url):
    ok = event(bikes.a1)
    no_location = {k: v for k, v in event(bikes.a2).items() if k != "location"}
    geography_driven = dict(no_location, event_id=str(uuid.uuid4()), event_geographies=[str(uuid.uuid4())])
    wrong_type_for_state = event(bikes.a1, vehicle_state="removed", event_types=["trip_start"])
    trip_start_without_trip = event(bikes.a1, vehicle_state="on_trip", event_types=["trip_start"])
    duplicate = dict(ok, timestamp=ok["timestamp"] - 5)
    response = push_kind(
        keys.a,
        "events",
        [ok, no_location, geography_driven, wrong_type_for_state, trip_start_without_trip, duplicate],
    )
    assert response.status_code == 200, response.content
    assert [f["error"] for f in response.json()["failures"]] == [
        "bad_param",
        "bad_param",
        "missing_param",
        "duplicate_in_batch",
    ]
    rows = published("events", stream_url)
    assert [r["event_id"] for r in rows] == [ok["event_id"], geography_driven["event_id"]]
    assert rows[1]["lon"] is None and rows[1]["source_datum"] is None


def test_provider_id_must_be_the_operators_when_its_profile_names_one(org, keys, bikes, stream_url):
    operator_profile_set(actor=None, operator=org.op_a, provider_id=PROVIDER_A)
    response = push_kind(
        keys.a, "telemetry", [telemetry(bikes.a1), telemetry(bikes.a2, provider_id=PROVIDER_B)]
    )
    assert response.status_code == 200
    failures = response.json()["failures"]
    assert [(f["error"], f["error_details"]) for f in failures] == [("bad_param", ["provider_id"])]


# ------------------------------------------------------------------------------------------
# Whole-batch refusals publish nothing
# ------------------------------------------------------------------------------------------


def test_too_large_batch_is_refused_whole(org, keys, bikes, stream_url):
    batch = [telemetry(bikes.a1, ts=now_ms() - 1000 - i) for i in range(MAX_BATCH["telemetry"] + 1)]
    body = json.dumps(batch, separators=(",", ":")).encode()
    if len(body) > 2_500_000:  # Django's default request-size limit: send minimal items instead
        body = json.dumps([{}] * (MAX_BATCH["telemetry"] + 1)).encode()
    response = push_kind(keys.a, "telemetry", body)
    error = assert_error(response, 413, "batch_too_large")
    assert error["details"] == {"max": 10_000, "received": 10_001}
    assert published("telemetry", stream_url) == []
    assert rejections(org) == {"batch_too_large": 1}


@pytest.mark.parametrize("payload", [b"{not json", b"[]", b'{"rows": []}', b'"x"', b"{}"])
def test_a_body_that_is_no_batch_is_refused_whole(org, keys, bikes, stream_url, payload):
    response = push_kind(keys.a, "events", payload)
    assert_error(response, 400, "invalid_json" if payload.startswith(b"{not") else "invalid_body")
    assert published("events", stream_url) == []


def test_a_batch_of_only_bad_records_is_a_200_and_publishes_nothing(org, keys, bikes, stream_url):
    response = push_kind(keys.a, "telemetry", [telemetry(bikes.b1)])
    assert response.status_code == 200
    assert response.json()["success"] == 0
    assert published("telemetry", stream_url) == []


# ------------------------------------------------------------------------------------------
# Datums
# ------------------------------------------------------------------------------------------


def test_a_wgs84_operators_point_is_stored_as_its_gcj02_twin(org, keys, bikes, stream_url):
    response = push_kind(keys.a, "telemetry", [telemetry(bikes.a1)])
    assert response.status_code == 201
    (row,) = published("telemetry", stream_url)
    expected = to_gcj02(*BEIJING_WGS, Datum.WGS84)
    assert (row["lon"], row["lat"]) == pytest.approx(expected, abs=1e-6)
    assert row["source_datum"] == "WGS-84"
    # The GCJ-02 offset in Beijing is a few hundred metres: the point really moved.
    assert 300 < distance_m(*BEIJING_WGS, row["lon"], row["lat"]) < 900


@pytest.mark.parametrize("datum", ["GCJ-02", "BD-09"])
def test_the_declared_datum_is_converted_from_and_kept(org, keys, bikes, stream_url, datum):
    operator_profile_set(actor=None, operator=org.op_a, datum=datum)
    response = push_kind(keys.a, "events", [event(bikes.a1)])
    assert response.status_code == 201
    (row,) = published("events", stream_url)
    assert row["source_datum"] == datum
    assert (row["lon"], row["lat"]) == pytest.approx(to_gcj02(*BEIJING_WGS, datum), abs=1e-6)


def test_points_near_the_border_are_judged_after_conversion(org, keys, bikes, stream_url):
    """A BD-09 point is ~1 km north-east of its GCJ-02 twin: the same numbers read as GCJ-02
    would be judged elsewhere. Here we only check the judgement uses the converted point: a
    Shanghai point in any datum stays outside."""
    operator_profile_set(actor=None, operator=org.op_a, datum="BD-09")
    response = push_kind(keys.a, "telemetry", [telemetry(bikes.a1, where=SHANGHAI)])
    assert [f["error"] for f in response.json()["failures"]] == ["outside_beijing"]


def test_operator_profile_set_is_audited_and_validated(org):
    from django.core.exceptions import ValidationError

    profile = operator_profile_set(actor=None, operator=org.op_a, datum="gcj02", provider_id=PROVIDER_A)
    assert (profile.datum, str(profile.provider_id)) == ("GCJ-02", PROVIDER_A)
    operator_profile_set(actor=None, operator=org.op_a, datum="BD-09")
    assert OperatorProfile.objects.get(operator=org.op_a).datum == "BD-09"
    actions = list(
        AuditEntry.objects.filter(action__startswith="bikeshare.operator_profile").values_list(
            "action", flat=True
        )
    )
    assert sorted(actions) == ["bikeshare.operator_profile.create", "bikeshare.operator_profile.update"]
    with pytest.raises(ValidationError):
        operator_profile_set(actor=None, operator=org.op_a, datum="Mars-1")
    with pytest.raises(ValidationError):
        operator_profile_set(actor=None, operator=org.center, datum="WGS-84")
    assert OperatorProfile.objects.get(operator=org.op_a).datum == "BD-09"


# ------------------------------------------------------------------------------------------
# End to end: push → stream → consumer → lake (and live state)
# ------------------------------------------------------------------------------------------


def _lake_telemetry(root) -> list[tuple]:
    con = duckdb_connection(root)
    try:
        return con.execute(
            "SELECT device_id, epoch_ms(timestamp), lon, lat, source_datum, operator FROM telemetry ORDER BY 1, 2"
        ).fetchall()
    finally:
        con.close()


def test_end_to_end_telemetry_lands_in_the_lake_exactly_once(org, keys, bikes, stream_url, tmp_path):
    lake = tmp_path / "lake"
    now = now_ms()
    batch = [
        telemetry(bikes.a1, ts=now - 3000),
        telemetry(bikes.a1, ts=now - 2000),
        telemetry(bikes.a2, ts=now - 1000),
    ]
    for _ in range(2):  # the operator never saw our answer and pushes again
        response = push_kind(keys.a, "telemetry", batch)
        assert response.status_code == 201, response.content
    assert consume("telemetry", stream_url=stream_url, lake_root=lake, block_ms=10) == 2
    assert consume("telemetry", stream_url=stream_url, lake_root=lake, block_ms=10) == 0  # all acked

    raw = _lake_telemetry(lake)
    assert len(raw) == 6  # at least once: both pushes arrived
    compact(lake, "telemetry")
    rows = _lake_telemetry(lake)
    expected = []
    for record in batch:
        lon, lat = to_gcj02(record["location"]["lng"], record["location"]["lat"], Datum.WGS84)
        expected.append((record["device_id"], record["timestamp"], lon, lat, "WGS-84", org.op_a.code))
    assert [r[:2] for r in rows] == sorted((e[0], e[1]) for e in expected)
    for got, want in zip(rows, sorted(expected), strict=True):
        assert got[2:4] == pytest.approx(want[2:4], abs=1e-6)
        assert got[4:] == want[4:]


def test_a_failed_handler_acks_nothing_and_the_batch_comes_again(org, keys, bikes, stream_url, tmp_path):
    lake = tmp_path / "lake"
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("x")  # the lake root is a file: the write fails
    assert push_kind(keys.a, "trips", [trip(bikes.a1)]).status_code == 201
    with pytest.raises(OSError):
        consume("trips", stream_url=stream_url, lake_root=blocker, block_ms=10)
    assert consume("trips", stream_url=stream_url, lake_root=lake, block_ms=10) == 1
    con = duckdb_connection(lake)
    try:
        assert con.execute("SELECT count(*) FROM trips").fetchone() == (1,)
    finally:
        con.close()


def test_consumer_updates_the_live_state_for_telemetry_and_events(org, keys, bikes, stream_url, tmp_path):
    from govcenter.bikeshare.live import open_live_state

    now = now_ms()
    assert push_kind(keys.a, "telemetry", [telemetry(bikes.a1, ts=now - 5000)]).status_code == 201
    assert push_kind(keys.a, "events", [event(bikes.a1, ts=now - 1000, vehicle_state="non_operational",
                                               event_types=["maintenance"])]).status_code == 201  # fmt: skip
    with open_live_state(f"sqlite:///{tmp_path / 'live.db'}") as live:
        consume("telemetry", stream_url=stream_url, lake_root=tmp_path / "lake", live=live, block_ms=10)
        state = live.get(bikes.a1)
        assert (state.timestamp_ms, state.vehicle_state) == (now - 5000, "available")
        assert (state.lon, state.lat) == pytest.approx(to_gcj02(*BEIJING_WGS, Datum.WGS84), abs=1e-6)
        assert state.district == "110101"  # Dongcheng: Tiananmen
        consume("events", stream_url=stream_url, lake_root=tmp_path / "lake", live=live, block_ms=10)
        state = live.get(bikes.a1)
        assert (state.timestamp_ms, state.vehicle_state) == (now - 1000, "non_operational")


def test_accepted_records_are_published_a_few_hundred_per_message(org, keys, bikes, stream_url, settings):
    settings.GOVCENTER_BIKESHARE_INGEST_MESSAGE_RECORDS = 2
    now = now_ms()
    batch = [telemetry(bikes.a1, ts=now - 1000 * i) for i in range(1, 6)]
    assert push_kind(keys.a, "telemetry", batch).status_code == 201
    got = messages("telemetry", stream_url)
    assert [len(m["rows"]) for m in got] == [2, 2, 1]
    assert [r["timestamp"] for m in got for r in m["rows"]] == [r["timestamp"] for r in batch]


@pytest.mark.parametrize("backend", [pytest.param("redis", marks=pytest.mark.redis),
                                     pytest.param("nats", marks=pytest.mark.nats)])  # fmt: skip
def test_end_to_end_over_a_real_stream_server(org, keys, bikes, tmp_path, settings, request, backend):
    """The same path with Redis Streams / NATS JetStream as the Stream (own stream prefix, deleted after)."""
    base = request.getfixturevalue(f"{backend}_url")
    settings.GOVCENTER_STREAM_URL = base
    settings.GOVCENTER_BIKESHARE_INGEST_STREAM_PREFIX = f"t{uuid.uuid4().hex[:12]}"
    lake = tmp_path / "lake"
    try:
        batch = [telemetry(bikes.a1, ts=now_ms() - 2000), telemetry(bikes.a2, ts=now_ms() - 1000)]
        assert push_kind(keys.a, "telemetry", batch).status_code == 201
        assert push_kind(keys.a, "telemetry", batch).status_code == 201
        assert consume("telemetry", stream_url=base, lake_root=lake, block_ms=2000) == 2
        compact(lake, "telemetry")
        assert [r[:2] for r in _lake_telemetry(lake)] == sorted(
            (r["device_id"], r["timestamp"]) for r in batch
        )
    finally:
        stream = open_stream(stream_name("telemetry"), base)
        stream.destroy()
        stream.close()


def test_consume_subcommand_drains_the_stream_into_the_lake(org, keys, bikes, stream_url, tmp_path, settings):
    from io import StringIO

    from django.core.management import call_command

    settings.GOVCENTER_LAKE_DIR = tmp_path / "lake"
    record = trip(bikes.a1)
    assert push_kind(keys.a, "trips", [record]).status_code == 201
    out = StringIO()
    call_command("bikeshare", "consume", "--kind", "trips", "--once", stdout=out)
    assert json.loads(out.getvalue()) == {"kind": "trips", "messages": 1}
    con = duckdb_connection(tmp_path / "lake")
    try:
        assert con.execute("SELECT trip_id, duration_s, distance_m FROM trips").fetchall() == [
            (record["trip_id"], record["duration"], float(record["distance"]))
        ]
    finally:
        con.close()


def test_consume_subcommand_refuses_an_unknown_kind(org):
    from django.core.management import call_command

    from govcenter.core.management.base import UsageError

    with pytest.raises(UsageError) as caught:
        call_command("bikeshare", "consume", "--kind", "vehicles", "--once")
    assert caught.value.returncode == 2 and "--kind" in str(caught.value)


def test_vendored_ingest_schemas_are_what_the_script_builds():
    """data/mds/{event,telemetry,trip}.schema.json are reproducible from the vendored MDS YAML."""
    import subprocess
    import sys

    from govcenter.bikeshare.services.ingest import MDS_DIR

    done = subprocess.run(
        [sys.executable, str(MDS_DIR / "build_ingest_schemas.py"), "--check"], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr


def test_the_periodic_task_drains_every_stream_into_lake_and_live(
    org, keys, bikes, stream_url, tmp_path, settings
):
    from govcenter.bikeshare.live import open_live_state
    from govcenter.bikeshare.tasks import consume_all

    settings.GOVCENTER_LAKE_DIR = tmp_path / "lake"
    settings.GOVCENTER_BIKESHARE_LIVE_URL = f"sqlite:///{tmp_path / 'live.db'}"
    now = now_ms()
    assert push_kind(keys.a, "telemetry", [telemetry(bikes.a1, ts=now - 4000)]).status_code == 201
    assert push_kind(keys.a, "trips", [trip(bikes.a2)]).status_code == 201
    assert consume_all() == {"events": 0, "telemetry": 1, "trips": 1}
    assert [r[0] for r in _lake_telemetry(tmp_path / "lake")] == [bikes.a1]
    with open_live_state(settings.GOVCENTER_BIKESHARE_LIVE_URL) as live:
        assert live.get(bikes.a1).timestamp_ms == now - 4000
    assert consume_all() == {"events": 0, "telemetry": 0, "trips": 0}  # all acked
