"""Pulling operators' MDS Provider endpoints and GBFS feeds (bikeshare.pull, tasks, subcommand).

A real HTTP server (``http.server`` in a thread) serves the fixtures of ``tests/bikeshare/data``
(see its README for their sources and licences); what the pull ingests is read back from the
stream (a spool in tmp_path), as the ingest tests do for pushes.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from govcenter.analytics.stream import open_stream
from govcenter.bikeshare.consumer import decode
from govcenter.bikeshare.models import OperatorRejection
from govcenter.bikeshare.pull import PullError, hour_param, pull_gbfs, pull_provider, pull_state
from govcenter.bikeshare.services.ingest import operator_profile_set, stream_name
from govcenter.bikeshare.services.registry import vehicles_register
from govcenter.bikeshare.tasks import pull_all

from .conftest import PROVIDER_A, PROVIDER_B, vehicle

pytestmark = pytest.mark.django_db

DATA = Path(__file__).parent / "data"
D1, D2 = "8a0f7a1c-6c1e-4b7e-9a55-2f3c0a9b1d01", "8a0f7a1c-6c1e-4b7e-9a55-2f3c0a9b1d02"
FIXTURE_HOUR_MS = 1562238000000  # 2019-07-04T11:00Z: the hour the MDS fixtures' times are in
TOKEN = "op-a-secret-token"


def load(name: str) -> dict:
    return json.loads((DATA / name).read_text(encoding="utf-8"))


# ------------------------------------------------------------------------------------------
# The local HTTP server
# ------------------------------------------------------------------------------------------


class FixtureServer:
    """Routes (path with query) → replies ``(status, body, delay_s)``, consumed in order; the
    last reply repeats. Unknown paths answer 404. Every request is logged with its headers."""

    def __init__(self):
        self.routes: dict[str, list] = {}
        self.requests: list[tuple[str, dict]] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 (http.server's name)
                server.requests.append((self.path, dict(self.headers)))
                replies = server.routes.get(self.path)
                if not replies:
                    status, body, delay = 404, b'{"error":"not_found"}', 0
                else:
                    status, body, delay = replies.pop(0) if len(replies) > 1 else replies[0]
                if delay:
                    time.sleep(delay)
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except OSError:  # the client gave up (the timeout test)
                    pass

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def reply(self, path: str, *replies):
        """Serve ``replies`` (a dict body, or ``(status, body[, delay])``) at ``path``."""
        out = []
        for r in replies:
            status, body, *rest = r if isinstance(r, tuple) else (200, r)
            data = body if isinstance(body, bytes) else json.dumps(body).encode()
            out.append((status, data, rest[0] if rest else 0))
        self.routes[path] = out

    def paths(self, prefix: str = "") -> list[str]:
        return [p for p, _ in self.requests if p.startswith(prefix)]

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server():
    s = FixtureServer()
    yield s
    s.close()


@pytest.fixture
def pull_settings(settings, tmp_path):
    settings.GOVCENTER_STREAM_URL = f"spool://{tmp_path / 'stream'}"
    settings.GOVCENTER_BIKESHARE_PULL_STATE_FILE = str(tmp_path / "pull-state.json")
    settings.GOVCENTER_BIKESHARE_PULL_BACKOFF_SECONDS = 0.01
    settings.GOVCENTER_BIKESHARE_PULL_RETRIES = 2
    settings.GOVCENTER_BIKESHARE_PULL_TIMEOUT_SECONDS = 5
    settings.GOVCENTER_BIKESHARE_PULL_TOKENS = {}
    return settings


@pytest.fixture
def op_a(org, server, pull_settings):
    """Operator A with a Provider endpoint on the local server, its token, and bikes D1, D2."""
    operator_profile_set(
        actor=None, operator=org.op_a, provider_api_url=f"{server.url}/mds/", provider_id=PROVIDER_A
    )
    pull_settings.GOVCENTER_BIKESHARE_PULL_TOKENS = {org.op_a.code: TOKEN}
    result = vehicles_register(
        operator=org.op_a, records=[vehicle("MT-1", device_id=D1), vehicle("MT-2", device_id=D2)]
    )
    assert result.success == 2
    return org.op_a


def published(kind: str) -> list[dict]:
    """Every row published to ``bikeshare-<kind>`` so far (read by a throw-away group)."""
    rows = []
    with open_stream(stream_name(kind)) as stream:
        for m in stream.read(f"probe{uuid.uuid4().hex[:8]}", "probe", max_records=1000, block_ms=10):
            rows += decode(kind, [m])  # either message version, as the consumer reads it
    return rows


def recent_hour(hours_back: int = 3) -> dt.datetime:
    now = timezone.now().astimezone(dt.UTC).replace(minute=0, second=0, microsecond=0)
    return now - dt.timedelta(hours=hours_back)


def shifted(body: dict, hour: dt.datetime, *, next_link=None) -> dict:
    """A fixture body with its record times moved from the fixture hour into ``hour``."""
    body = copy.deepcopy(body)
    delta = int(hour.timestamp() * 1000) - FIXTURE_HOUR_MS

    def shift(record):
        for name in ("timestamp", "start_time", "end_time"):
            if name in record:
                record[name] += delta
        for name in ("last_event", "last_telemetry"):
            if isinstance(record.get(name), dict):
                shift(record[name])

    for key in ("trips", "telemetry", "events", "vehicles_status"):
        for record in body.get(key, []):
            shift(record)
    if "links" in body:
        body["links"]["next"] = next_link
    return body


def serve_trips_hour(server, hour, *, page2_replies=None):
    """Serve the two trips pages for ``hour``; page 1 links to page 2 (a relative link)."""
    label = hour_param(hour)
    page2 = f"trips-page2?end_time={label}"
    server.reply(
        f"/mds/trips?end_time={label}", shifted(load("mds-provider/trips-page1.json"), hour, next_link=page2)
    )
    body2 = shifted(load("mds-provider/trips-page2.json"), hour)
    server.reply(f"/mds/{page2}", *(page2_replies or [body2]))
    return body2


# ------------------------------------------------------------------------------------------
# MDS Provider
# ------------------------------------------------------------------------------------------


def test_trips_across_two_pages_are_ingested_like_a_push(op_a, server):
    hour = recent_hour()
    serve_trips_hour(server, hour)
    report = pull_provider(op_a, "trips", since=hour, until=hour + dt.timedelta(hours=1))

    assert report.hours == [hour_param(hour)] and report.pages == 2
    assert (report.total, report.accepted, dict(report.failures)) == (4, 3, {"unknown_vehicle": 1})
    rows = published("trips")
    expected = [t["trip_id"] for t in load("mds-provider/trips-page1.json")["trips"]]
    expected.append(load("mds-provider/trips-page2.json")["trips"][0]["trip_id"])
    assert sorted(r["trip_id"] for r in rows) == sorted(expected)
    assert {r["operator"] for r in rows} == {op_a.code}
    assert {r["source_datum"] for r in rows} == {"WGS-84"}
    # The unknown device counts as the operator's rejection, exactly as a pushed one would.
    assert OperatorRejection.objects.get(operator=op_a, reason="unknown_vehicle").count == 1
    # Both pages asked with the MDS Accept header and the operator's token.
    assert server.paths("/mds/trips") == [
        f"/mds/trips?end_time={hour_param(hour)}",
        f"/mds/trips-page2?end_time={hour_param(hour)}",
    ]
    for _path, headers in server.requests:
        assert headers["Authorization"] == f"Bearer {TOKEN}"
        assert headers["Accept"] == "application/vnd.mds+json;version=2.0"
    assert pull_state(op_a, "trips")["last_hour"] == hour.isoformat()


def test_telemetry_and_events_hours(op_a, server):
    hour = recent_hour()
    label = hour_param(hour)
    server.reply(f"/mds/telemetry?telemetry_time={label}", shifted(load("mds-provider/telemetry.json"), hour))
    server.reply(
        f"/mds/events/historical?event_time={label}", shifted(load("mds-provider/events.json"), hour)
    )
    until = hour + dt.timedelta(hours=1)

    telemetry = pull_provider(op_a, "telemetry", since=hour, until=until)
    assert (telemetry.accepted, dict(telemetry.failures)) == (2, {"outside_beijing": 1})
    assert sorted(r["device_id"] for r in published("telemetry")) == [D1, D2]

    events = pull_provider(op_a, "events", since=hour, until=until)
    assert (events.accepted, events.failed) == (2, 0)
    assert sorted(r["vehicle_state"] for r in published("events")) == ["available", "non_operational"]


def test_vehicles_status_feeds_events_and_telemetry(op_a, server):
    hour = recent_hour()
    server.reply("/mds/vehicles/status", shifted(load("mds-provider/vehicles-status.json"), hour))
    report = pull_provider(op_a, "vehicles_status")
    assert (report.total, report.accepted, report.failed) == (4, 4, 0)
    assert sorted(r["device_id"] for r in published("events")) == [D1, D2]
    assert sorted(r["device_id"] for r in published("telemetry")) == [D1, D2]


def test_a_500_is_retried_then_succeeds(op_a, server):
    hour = recent_hour()
    body2 = serve_trips_hour(server, hour)
    serve_trips_hour(server, hour, page2_replies=[(500, {"error": "boom"}), body2])
    report = pull_provider(op_a, "trips", since=hour, until=hour + dt.timedelta(hours=1))
    assert report.accepted == 3
    page2 = f"/mds/trips-page2?end_time={hour_param(hour)}"
    assert server.paths(page2) == [page2, page2]
    assert len(published("trips")) == 3


def test_a_timeout_is_retried_then_succeeds(op_a, server, pull_settings):
    pull_settings.GOVCENTER_BIKESHARE_PULL_TIMEOUT_SECONDS = 0.3
    hour = recent_hour()
    body2 = serve_trips_hour(server, hour)
    serve_trips_hour(server, hour, page2_replies=[(200, body2, 1.5), body2])
    report = pull_provider(op_a, "trips", since=hour, until=hour + dt.timedelta(hours=1))
    assert report.accepted == 3
    assert len(server.paths("/mds/trips-page2")) == 2


def test_persistent_errors_fail_without_advancing(op_a, server):
    hour = recent_hour()
    serve_trips_hour(server, hour, page2_replies=[(503, b"")])
    with pytest.raises(PullError, match="gave up after 3 attempts"):
        pull_provider(op_a, "trips", since=hour, until=hour + dt.timedelta(hours=1))
    assert len(server.paths("/mds/trips-page2")) == 3
    assert pull_state(op_a, "trips").get("last_hour") is None


def test_resume_after_an_interruption(op_a, server):
    h1, h2, h3 = recent_hour(4), recent_hour(3), recent_hour(2)
    serve_trips_hour(server, h1)
    body2 = serve_trips_hour(server, h2, page2_replies=[(500, b"")])  # hour 2 breaks on page 2
    serve_trips_hour(server, h3)
    with pytest.raises(PullError):
        pull_provider(op_a, "trips", since=h1, until=h3 + dt.timedelta(hours=1))
    assert pull_state(op_a, "trips")["last_hour"] == h1.isoformat()
    assert len(published("trips")) == 3 + 2  # hour 1 whole, hour 2's first page

    server.reply(f"/mds/trips-page2?end_time={hour_param(h2)}", body2)  # the provider recovers
    server.requests.clear()
    report = pull_provider(op_a, "trips", until=h3 + dt.timedelta(hours=1))  # no since: resume
    assert report.hours == [hour_param(h2), hour_param(h3)]
    assert f"/mds/trips?end_time={hour_param(h1)}" not in server.paths()
    assert pull_state(op_a, "trips")["last_hour"] == h3.isoformat()
    # Hour 2's first page went out twice; the lake drops the double by trip_id (idempotency).
    rows = published("trips")
    assert len(rows) == 3 + 2 + 3 + 3
    assert len({r["trip_id"] for r in rows}) == 3  # the fixture's trips, shifted per hour, share ids


def test_backfill_does_not_rewind_and_resumed_runs_catch_up_in_steps(op_a, server, pull_settings):
    pull_settings.GOVCENTER_BIKESHARE_PULL_FIRST_HOURS = 4
    pull_settings.GOVCENTER_BIKESHARE_PULL_MAX_HOURS = 2
    first = pull_provider(op_a, "trips")  # empty hours (404): now-4, now-3
    assert first.hours == [hour_param(recent_hour(4)), hour_param(recent_hour(3))]
    second = pull_provider(op_a, "trips")
    assert second.hours == [hour_param(recent_hour(2)), hour_param(recent_hour(1))]
    backfill = pull_provider(op_a, "trips", since=recent_hour(10), until=recent_hour(5))
    assert len(backfill.hours) == 5  # an explicit window is not capped
    assert pull_state(op_a, "trips")["last_hour"] == recent_hour(1).isoformat()
    assert pull_provider(op_a, "trips").hours == []  # nothing new to pull


def test_not_ready_hour_stops_and_is_retried_later(op_a, server):
    h1, h2 = recent_hour(3), recent_hour(2)
    serve_trips_hour(server, h1)
    server.reply(f"/mds/trips?end_time={hour_param(h2)}", (202, b""))
    report = pull_provider(op_a, "trips", since=h1)
    assert report.hours == [hour_param(h1)] and report.pending == hour_param(h2)
    assert pull_state(op_a, "trips")["last_hour"] == h1.isoformat()


def test_a_next_link_to_another_host_is_refused(op_a, server):
    hour = recent_hour()
    body = shifted(load("mds-provider/trips-page1.json"), hour, next_link="http://evil.example/steal")
    server.reply(f"/mds/trips?end_time={hour_param(hour)}", body)
    with pytest.raises(PullError, match="leaves the provider's host"):
        pull_provider(op_a, "trips", since=hour, until=hour + dt.timedelta(hours=1))


# ------------------------------------------------------------------------------------------
# GBFS
# ------------------------------------------------------------------------------------------


def gbfs_vehicle_ids() -> list[str]:
    return [v["vehicle_id"] for v in load("gbfs-3.0/vehicle_status.json")["data"]["vehicles"]]


@pytest.fixture
def gbfs_bikes(org, pull_settings):
    """Operator A's registered bikes carrying the first three vehicle ids of the GBFS example."""
    ids = gbfs_vehicle_ids()[:3]
    assert vehicles_register(operator=org.op_a, records=[vehicle(i) for i in ids]).success == 3
    return ids


def to_beijing(vehicles: list[dict], lon_key="lon", lat_key="lat") -> None:
    """Move the Paris example's vehicles to Beijing, keeping their spread."""
    for v in vehicles:
        v[lon_key] += 116.39 - 2.35
        v[lat_key] += 39.90 - 48.85


def test_gbfs_3_0_feed(org, server, gbfs_bikes):
    gbfs = load("gbfs-3.0/gbfs.json")
    for feed in gbfs["data"]["feeds"]:
        if feed["name"] == "vehicle_status":
            feed["url"] = f"{server.url}/gbfs/3.0/vehicle-status"
    status = load("gbfs-3.0/vehicle_status.json")
    status["last_updated"] = (timezone.now() - dt.timedelta(seconds=30)).isoformat()
    vehicles = status["data"]["vehicles"]
    to_beijing(vehicles[:2])  # the third registered bike stays in Paris
    server.reply("/gbfs/3.0/gbfs.json", gbfs)
    server.reply("/gbfs/3.0/vehicle-status", status)

    report = pull_gbfs(org.op_a, f"{server.url}/gbfs/3.0/gbfs.json")
    assert (report.unmatched, report.total, report.accepted, dict(report.failures)) == (
        4, 3, 2, {"outside_beijing": 1},
    )  # fmt: skip
    rows = published("telemetry")
    assert sorted(r["vehicle_id"] for r in rows) == sorted(gbfs_bikes[:2])

    report = pull_gbfs(org.op_a, f"{server.url}/gbfs/3.0/gbfs.json")  # polled again: same keys
    assert {(r["device_id"], r["timestamp"]) for r in published("telemetry")} == {
        (r["device_id"], r["timestamp"]) for r in rows
    }


def test_gbfs_3_0_example_as_is_is_rejected_as_too_old(org, server, gbfs_bikes):
    gbfs = load("gbfs-3.0/gbfs.json")
    for feed in gbfs["data"]["feeds"]:
        feed["url"] = feed["url"].replace("https://berlin.example.tier-services.io", server.url)
    server.reply("/gbfs.json", gbfs)
    server.reply("/tier_paris/gbfs/3.0/vehicle-status", load("gbfs-3.0/vehicle_status.json"))
    report = pull_gbfs(org.op_a, f"{server.url}/gbfs.json")
    assert (report.accepted, dict(report.failures)) == (0, {"timestamp_too_old": 3})
    assert published("telemetry") == []


def test_gbfs_2_3_feed(org, server, gbfs_bikes):
    gbfs = load("gbfs-2.3/gbfs.json")
    for feed in gbfs["data"]["en"]["feeds"]:
        feed["url"] = feed["url"].replace("https://example.com", server.url)
    status = load("gbfs-2.3/free_bike_status.json")
    reported = int(time.time()) - 120
    for bike in status["data"]["bikes"]:
        bike["last_reported"] = reported
    to_beijing(status["data"]["bikes"])
    server.reply("/gbfs/2.3/gbfs.json", gbfs)
    server.reply("/gbfs/2.3/en/free_bike_status.json", status)

    report = pull_gbfs(org.op_a, f"{server.url}/gbfs/2.3/gbfs.json")
    assert (report.unmatched, report.accepted, report.failed) == (4, 3, 0)
    rows = published("telemetry")
    assert sorted(r["vehicle_id"] for r in rows) == sorted(gbfs_bikes)
    assert {r["timestamp"] for r in rows} == {reported * 1000}


# ------------------------------------------------------------------------------------------
# The periodic task and the subcommand
# ------------------------------------------------------------------------------------------


def test_task_pulls_every_operator_and_survives_a_failing_one(org, op_a, server, pull_settings):
    pull_settings.GOVCENTER_BIKESHARE_PULL_KINDS = ["trips"]
    pull_settings.GOVCENTER_BIKESHARE_PULL_FIRST_HOURS = 4
    serve_trips_hour(server, recent_hour(2))
    # Operator B's endpoint: a port nobody listens on (a server started and closed).
    dead = FixtureServer()
    dead.close()
    operator_profile_set(
        actor=None, operator=org.op_b, provider_api_url=f"{dead.url}/mds/", provider_id=PROVIDER_B
    )

    summary = pull_all()
    assert (summary["pulls"], summary["errors"], summary["accepted"], summary["failed"]) == (2, 1, 3, 1)
    assert pull_state(org.op_b, "trips")["errors"] == 1
    assert "last_hour" not in pull_state(org.op_b, "trips")
    assert pull_state(op_a, "trips")["last_hour"] == recent_hour(1).isoformat()
    assert len(published("trips")) == 3

    assert pull_all()["errors"] == 1  # again: counted again, nothing re-pulled for A
    assert pull_state(org.op_b, "trips")["errors"] == 2
    assert len(published("trips")) == 3


def test_subcommand_pull(op_a, server):
    hour = recent_hour()
    serve_trips_hour(server, hour)
    out = StringIO()
    call_command(
        "bikeshare", "pull", "--operator", op_a.code, "--kind", "trips",
        "--since", hour.isoformat(), "--until", (hour + dt.timedelta(hours=1)).isoformat(), stdout=out,
    )  # fmt: skip
    report = json.loads(out.getvalue())
    assert (report["accepted"], report["failed"], report["hours"]) == (3, 1, [hour_param(hour)])
    with pytest.raises(CommandError, match="--kind"):
        call_command("bikeshare", "pull", "--operator", op_a.code, "--kind", "bogus")
    with pytest.raises(CommandError, match="--operator"):
        call_command("bikeshare", "pull", "--operator", "NOPE")
