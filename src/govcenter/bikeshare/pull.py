"""Pull an operator's data: MDS 2.0 Provider endpoints and GBFS feeds, fed to the push path.

Operators push (MDS Agency, ``api/ingest.py``); some only offer the pull side — an MDS
Provider API (``OperatorProfile.provider_api_url``) or a public GBFS feed
(``OperatorProfile.gbfs_url``). This module fetches those and hands every record to
:func:`govcenter.bikeshare.services.ingest.ingest`, the very function a push goes through,
so pulled and pushed data get the same validation, datum conversion (ADR 0005), rejection
counts and stream (``bikeshare-<kind>``).

**MDS Provider** (:func:`pull_provider`), one UTC hour at a time, only completed hours:

* ``trips`` — ``GET <base>/trips?end_time=YYYY-MM-DDTHH`` (body key ``trips``);
* ``events`` — ``GET <base>/events/historical?event_time=…`` (``events``);
* ``telemetry`` — ``GET <base>/telemetry?telemetry_time=…`` (``telemetry``);
* ``vehicles_status`` — ``GET <base>/vehicles/status`` (no window): each record's
  ``last_event`` goes to ingest ``events`` and ``last_telemetry`` to ingest ``telemetry``.

Pages are followed through ``links.next`` (JSON:API paging, MDS ``response/paging``); a next
link to another host than the base URL's is refused (the token must not leak). Requests carry
``Accept: application/vnd.mds+json;version=2.0`` and ``Authorization: Bearer <token>``.

Status handling: 200 — records; 404 — "no operations during this hour" (an empty, finished
hour); 202 — "not yet available": the pull stops there and the hour is tried again next run;
5xx, 429, connection errors and timeouts are retried ``GOVCENTER_BIKESHARE_PULL_RETRIES``
times with exponential backoff (``GOVCENTER_BIKESHARE_PULL_BACKOFF_SECONDS`` × 2ⁿ), then the
pull fails with :class:`PullError`; other 4xx fail at once.

**Credentials.** ``OperatorProfile`` has no credential field (and this module may add no
model), so the bearer token comes from the setting ``GOVCENTER_BIKESHARE_PULL_TOKENS``
(``{"<operator code>": "<token>"}``); no token → no ``Authorization`` header.

**Resume.** The last completed hour per (operator, kind) is kept in a small JSON file,
``GOVCENTER_BIKESHARE_PULL_STATE_FILE`` (default ``<GOVCENTER_VAR_DIR>/bikeshare-pull-state.json``),
written atomically (temp file + rename) under an exclusive ``flock``. Not the Django cache: the
default cache is per-process memory and a Redis cache may evict, and losing the position would
silently skip or re-pull days. An hour is recorded only after all its pages were ingested, so an
interrupted run re-pulls that hour; ingest is idempotent per record key (the lake drops doubles),
so that is safe. The file also counts errors per (operator, kind) with the last message.

**GBFS** (:func:`pull_gbfs`): ``gbfs.json`` → the ``vehicle_status`` feed (3.0) or
``free_bike_status`` (2.x; 2.x lists feeds per language). Decision: the vehicles go through
ingest ``telemetry`` — not straight into the live picture — so they are checked, converted
and streamed like pushed telemetry, and the consumer updates the live picture and the lake
from the stream as for any telemetry. GBFS has no ``device_id``: a GBFS ``vehicle_id``
(2.x ``bike_id``) is matched against the operator's registered ``Vehicle.vehicle_id``; GBFS
allows rotating ids (privacy), so unmatched vehicles are counted as ``unmatched`` and not
sent (they are not the operator's fault, and must not count as its rejections). The record's
time is the vehicle's ``last_reported``, else the feed's ``last_updated``; its
``telemetry_id`` is a UUID5 of (device_id, time), so polling an unchanged feed again yields
the same keys. Coordinates are in the operator's declared datum, as for its MDS data.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import json
import logging
import os
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode, urljoin, urlsplit

from django.conf import settings
from django.utils import timezone

from govcenter.core.models import Unit

from .models import Vehicle
from .services.ingest import MAX_BATCH, ingest, operator_profile

log = logging.getLogger(__name__)

# kind → (path under the base URL, the hour's query parameter, the body's data key)
PROVIDER_KINDS = {
    "trips": ("trips", "end_time", "trips"),
    "events": ("events/historical", "event_time", "events"),
    "telemetry": ("telemetry", "telemetry_time", "telemetry"),
    "vehicles_status": ("vehicles/status", None, "vehicles_status"),
}
HOURLY_KINDS = ("trips", "events", "telemetry")
MDS_ACCEPT = "application/vnd.mds+json;version=2.0"
GBFS_STATE_KIND = "gbfs"
MAX_PAGES = 10_000  # a guard against a provider whose next links loop

DEFAULTS = {
    "GOVCENTER_BIKESHARE_PULL_TOKENS": {},
    "GOVCENTER_BIKESHARE_PULL_STATE_FILE": None,  # None: <GOVCENTER_VAR_DIR>/bikeshare-pull-state.json
    "GOVCENTER_BIKESHARE_PULL_TIMEOUT_SECONDS": 30.0,
    "GOVCENTER_BIKESHARE_PULL_RETRIES": 3,
    "GOVCENTER_BIKESHARE_PULL_BACKOFF_SECONDS": 2.0,
    "GOVCENTER_BIKESHARE_PULL_FIRST_HOURS": 24,  # a first pull starts this many hours back
    "GOVCENTER_BIKESHARE_PULL_MAX_HOURS": 48,  # hours per run at most (catch-up in steps)
    "GOVCENTER_BIKESHARE_PULL_KINDS": ["trips", "events", "telemetry"],  # what the periodic task pulls
}


def setting(name: str):
    return getattr(settings, name, DEFAULTS[name])


class PullError(Exception):
    """A pull that could not complete (HTTP error after retries, bad body, bad next link)."""


# ------------------------------------------------------------------------------------------
# HTTP: a stdlib session (requests is not a dependency); any requests.Session works too.
# ------------------------------------------------------------------------------------------


@dataclass
class Response:
    status_code: int
    content: bytes
    headers: dict

    def json(self):
        return json.loads(self.content)


class UrllibSession:
    """The part of ``requests.Session`` this module uses (``get``), on ``urllib.request``."""

    def get(self, url: str, *, headers: dict, timeout: float) -> Response:
        request = urllib.request.Request(url, headers=headers, method="GET")  # noqa: S310 (fetch checks the scheme)
        try:
            with urllib.request.urlopen(request, timeout=timeout) as r:  # noqa: S310 (http/https only, checked)
                return Response(r.status, r.read(), dict(r.headers))
        except urllib.error.HTTPError as exc:
            return Response(exc.code, exc.read() or b"", dict(exc.headers or {}))


RETRYABLE_STATUS = frozenset({429, 500, 502, 503, 504})


def fetch(session, url: str, *, headers: dict) -> Response:
    """GET ``url`` with retries: connection errors, timeouts, 429 and 5xx are retried with backoff."""
    if urlsplit(url).scheme not in ("http", "https"):
        raise PullError(f"refusing a non-HTTP URL: {url!r}")
    retries = max(0, int(setting("GOVCENTER_BIKESHARE_PULL_RETRIES")))
    backoff = float(setting("GOVCENTER_BIKESHARE_PULL_BACKOFF_SECONDS"))
    timeout = float(setting("GOVCENTER_BIKESHARE_PULL_TIMEOUT_SECONDS"))
    last = ""
    for attempt in range(retries + 1):
        if attempt:
            time.sleep(backoff * 2 ** (attempt - 1))
        try:
            response = session.get(url, headers=headers, timeout=timeout)
        except Exception as exc:  # URLError, timeouts, resets; requests' errors with a requests session
            last = f"{type(exc).__name__}: {exc}"
            log.warning("bikeshare pull: %s failed (attempt %d): %s", url, attempt + 1, last)
            continue
        if response.status_code in RETRYABLE_STATUS:
            last = f"HTTP {response.status_code}"
            log.warning("bikeshare pull: %s answered %s (attempt %d)", url, response.status_code, attempt + 1)
            continue
        return response
    raise PullError(f"{url}: gave up after {retries + 1} attempts ({last})")


def _json(response: Response, url: str) -> dict:
    try:
        body = response.json()
    except ValueError:
        raise PullError(f"{url}: the body is not JSON") from None
    if not isinstance(body, dict):
        raise PullError(f"{url}: the body is not a JSON object")
    return body


# ------------------------------------------------------------------------------------------
# The resume state (a JSON file; see the module docstring)
# ------------------------------------------------------------------------------------------


def state_path() -> Path:
    configured = setting("GOVCENTER_BIKESHARE_PULL_STATE_FILE")
    if configured:
        return Path(configured)
    return Path(settings.GOVCENTER_VAR_DIR) / "bikeshare-pull-state.json"


def _state_key(operator: Unit, kind: str) -> str:
    return f"{operator.code}:{kind}"


def _read_state(path: Path) -> dict:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except ValueError:
        log.error("bikeshare pull: state file %s is not JSON; starting afresh", path)
        return {}


@contextlib.contextmanager
def _locked_state():
    """The state dict, under an exclusive lock; written back atomically on exit."""
    path = state_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_name(path.name + ".lock"), "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            state = _read_state(path)
            yield state
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                json.dump(state, f, ensure_ascii=False, indent=1, sort_keys=True)
            os.replace(tmp, path)
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def pull_state(operator: Unit, kind: str) -> dict:
    """What is remembered for (operator, kind): ``last_hour`` (ISO, UTC), ``errors``, ``last_error``…"""
    return _read_state(state_path()).get(_state_key(operator, kind), {})


def _state_update(operator: Unit, kind: str, **values) -> None:
    with _locked_state() as state:
        entry = state.setdefault(_state_key(operator, kind), {})
        errors = values.pop("add_errors", 0)
        if errors:
            entry["errors"] = entry.get("errors", 0) + errors
        entry.update(values)


def _remember_hour(operator: Unit, kind: str, hour: dt.datetime) -> None:
    """Record ``hour`` as pulled; the position only moves forward (a backfill of older hours
    must not send the periodic pull back to re-pull everything since)."""
    with _locked_state() as state:
        entry = state.setdefault(_state_key(operator, kind), {})
        last = entry.get("last_hour")
        if last is None or dt.datetime.fromisoformat(last) < hour:
            entry["last_hour"] = hour.isoformat()
        entry["last_run_at"] = timezone.now().isoformat()


def record_error(operator: Unit, kind: str, message: str) -> None:
    """Count a failed pull of (operator, kind) in the state file (the task calls this)."""
    _state_update(
        operator, kind, add_errors=1, last_error=message[:500], last_error_at=timezone.now().isoformat()
    )


# ------------------------------------------------------------------------------------------
# Reports
# ------------------------------------------------------------------------------------------


@dataclass
class PullReport:
    """What one pull did: hours finished, pages read, records accepted/failed by reason."""

    operator: str
    kind: str
    hours: list[str] = field(default_factory=list)  # completed windows, "YYYY-MM-DDTHH"
    pending: str | None = None  # the hour the provider said is not ready yet (202)
    pages: int = 0
    total: int = 0
    accepted: int = 0
    failures: Counter = field(default_factory=Counter)  # error code → count
    unmatched: int = 0  # GBFS only: vehicles whose id matches no registered vehicle

    @property
    def failed(self) -> int:
        return sum(self.failures.values())

    def add(self, result) -> None:
        self.total += result.total
        self.accepted += result.success
        self.failures.update(f["error"] for f in result.failures)

    def as_dict(self) -> dict:
        return {
            "operator": self.operator, "kind": self.kind, "hours": self.hours, "pending": self.pending,
            "pages": self.pages, "total": self.total, "accepted": self.accepted, "failed": self.failed,
            "failures": dict(sorted(self.failures.items())), "unmatched": self.unmatched,
        }  # fmt: skip


def _ingest_batches(report: PullReport, operator: Unit, kind: str, records: list, stream_url) -> None:
    """Hand ``records`` to ingest in batches of at most MAX_BATCH[kind] (ingest refuses bigger)."""
    size = MAX_BATCH[kind]
    for i in range(0, len(records), size):
        report.add(ingest(operator=operator, kind=kind, records=records[i : i + size], stream_url=stream_url))


# ------------------------------------------------------------------------------------------
# MDS Provider
# ------------------------------------------------------------------------------------------


def _utc_hour(moment: dt.datetime) -> dt.datetime:
    if timezone.is_naive(moment):
        raise ValueError("since/until must be time zone-aware")
    return moment.astimezone(dt.UTC).replace(minute=0, second=0, microsecond=0)


def hour_param(hour: dt.datetime) -> str:
    """The MDS ``iso-dayhour`` of a UTC hour: ``2026-11-26T07``."""
    return hour.astimezone(dt.UTC).strftime("%Y-%m-%dT%H")


def _headers(operator: Unit, accept: str) -> dict:
    headers = {"Accept": accept, "User-Agent": "govcenter-bikeshare-pull"}
    token = (setting("GOVCENTER_BIKESHARE_PULL_TOKENS") or {}).get(operator.code)
    if token:
        headers["Authorization"] = f"Bearer {token}"
    return headers


def _same_origin(url: str, base: str) -> bool:
    a, b = urlsplit(url), urlsplit(base)
    return (a.scheme, a.netloc) == (b.scheme, b.netloc)


def _pages(session, first_url: str, base: str, headers: dict, data_key: str):
    """Yield (status, records) per page from ``first_url`` on, following ``links.next``."""
    url, seen = first_url, set()
    while url:
        if url in seen or len(seen) >= MAX_PAGES:
            raise PullError(f"{url}: the next links loop")
        seen.add(url)
        response = fetch(session, url, headers=headers)
        if response.status_code in (202, 404):
            yield response.status_code, []
            return
        if response.status_code != 200:
            raise PullError(f"{url}: HTTP {response.status_code}")
        body = _json(response, url)
        records = body.get(data_key)
        if not isinstance(records, list):
            raise PullError(f"{url}: the body has no {data_key!r} list")
        yield 200, records
        links = body.get("links") or {}
        nxt = links.get("next") if isinstance(links, dict) else None
        if nxt:
            nxt = urljoin(url, nxt)
            if not _same_origin(nxt, base):
                raise PullError(f"{url}: links.next leaves the provider's host ({nxt})")
        url = nxt


def _base_url(operator: Unit) -> str:
    base = operator_profile(operator).provider_api_url
    if not base:
        raise PullError(f"operator {operator.code} has no MDS Provider endpoint (provider_api_url)")
    return base.rstrip("/") + "/"


def pull_provider(
    operator: Unit,
    kind: str,
    *,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
    session=None,
    stream_url: str | None = None,
) -> PullReport:
    """Pull ``kind`` from the operator's MDS Provider API and ingest it like a push.

    Hourly kinds (trips, events, telemetry) pull the UTC hours from ``since`` (default: the
    hour after the last one remembered, or ``GOVCENTER_BIKESHARE_PULL_FIRST_HOURS`` back for a
    first pull) up to ``until`` (default now), completed hours only — when resuming, at most
    ``GOVCENTER_BIKESHARE_PULL_MAX_HOURS`` of them; each finished hour is remembered (the
    remembered position only moves forward, so a backfill does not rewind it). A 202 stops
    the pull (``report.pending``). ``vehicles_status`` ignores the window. Raises
    :class:`PullError` (HTTP or body problems; hours finished before stay remembered) and
    ingest's ServiceError (stream unavailable).
    """
    if kind not in PROVIDER_KINDS:
        raise ValueError(f"unknown kind {kind!r}: use one of {', '.join(PROVIDER_KINDS)}")
    session = session or UrllibSession()
    base = _base_url(operator)
    path, param, data_key = PROVIDER_KINDS[kind]
    headers = _headers(operator, MDS_ACCEPT)
    report = PullReport(operator=operator.code, kind=kind)

    if param is None:  # vehicles/status: the current picture, split into events and telemetry
        for _status, records in _pages(session, urljoin(base, path), base, headers, data_key):
            report.pages += 1
            events = [r["last_event"] for r in records if isinstance(r, dict) and r.get("last_event")]
            telemetry = [
                r["last_telemetry"] for r in records if isinstance(r, dict) and r.get("last_telemetry")
            ]
            _ingest_batches(report, operator, "events", events, stream_url)
            _ingest_batches(report, operator, "telemetry", telemetry, stream_url)
        return report

    now_hour = _utc_hour(timezone.now())
    end = min(_utc_hour(until) if until else now_hour, now_hour)  # exclusive: hours ending by now
    if since is None:
        last = pull_state(operator, kind).get("last_hour")
        if last:
            start = dt.datetime.fromisoformat(last) + dt.timedelta(hours=1)
        else:
            start = end - dt.timedelta(hours=int(setting("GOVCENTER_BIKESHARE_PULL_FIRST_HOURS")))
    else:
        start = _utc_hour(since)
    # A resumed run catches up in steps; an explicit window (a backfill) is pulled whole.
    limit = int(setting("GOVCENTER_BIKESHARE_PULL_MAX_HOURS")) if since is None else None
    hour = start
    while hour < end and (limit is None or len(report.hours) < limit):
        label = hour_param(hour)
        first = urljoin(base, path) + "?" + urlencode({param: label})
        for status, records in _pages(session, first, base, headers, data_key):
            if status == 202:
                report.pending = label
                return report
            report.pages += 1
            _ingest_batches(report, operator, kind, records, stream_url)
        report.hours.append(label)
        _remember_hour(operator, kind, hour)
        hour += dt.timedelta(hours=1)
    return report


# ------------------------------------------------------------------------------------------
# GBFS
# ------------------------------------------------------------------------------------------


def _gbfs_time_ms(value) -> int | None:
    """GBFS time → Unix ms: 3.0 uses RFC 3339 strings, 2.x POSIX seconds."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return int(value * 1000)
    if isinstance(value, str):
        try:
            moment = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
        if timezone.is_naive(moment):
            return None
        return int(moment.timestamp() * 1000)
    return None


def gbfs_feed_urls(gbfs: dict) -> dict[str, str]:
    """Feed name → URL of a ``gbfs.json``: 3.0 ``data.feeds``; 2.x ``data.<language>.feeds``
    (the first language listed, preferring zh, then en)."""
    data = gbfs.get("data")
    if not isinstance(data, dict):
        raise PullError("gbfs.json has no data object")
    feeds = data.get("feeds")
    if feeds is None:
        languages = [k for k, v in data.items() if isinstance(v, dict) and "feeds" in v]
        if not languages:
            raise PullError("gbfs.json lists no feeds")
        pick = next(
            (lang for pref in ("zh", "en") for lang in languages if lang.lower().startswith(pref)),
            languages[0],
        )
        feeds = data[pick]["feeds"]
    if not isinstance(feeds, list):
        raise PullError("gbfs.json feeds is not a list")
    return {f["name"]: f["url"] for f in feeds if isinstance(f, dict) and f.get("name") and f.get("url")}


def gbfs_vehicles(status: dict) -> tuple[list[dict], int | None]:
    """The vehicle entries of a vehicle_status (3.0: ``data.vehicles``) or free_bike_status
    (2.x: ``data.bikes``) body, and the feed's ``last_updated`` in Unix ms."""
    data = status.get("data")
    if not isinstance(data, dict):
        raise PullError("the vehicle status feed has no data object")
    vehicles = data.get("vehicles", data.get("bikes"))
    if not isinstance(vehicles, list):
        raise PullError("the vehicle status feed has no vehicles/bikes list")
    return [v for v in vehicles if isinstance(v, dict)], _gbfs_time_ms(status.get("last_updated"))


def gbfs_telemetry(
    operator: Unit, vehicles: list[dict], last_updated_ms: int | None
) -> tuple[list[dict], int]:
    """MDS telemetry records for the GBFS vehicles matching a registered vehicle of ``operator``
    (by ``vehicle_id`` / 2.x ``bike_id``), and the number not matched."""
    ids = {str(v.get("vehicle_id") or v.get("bike_id") or "") for v in vehicles} - {""}
    registered = {
        vehicle_id: (str(device_id), str(provider_id))
        for vehicle_id, device_id, provider_id in Vehicle.objects.filter(
            operator=operator, vehicle_id__in=sorted(ids)
        ).values_list("vehicle_id", "device_id", "provider_id")
    }
    records, unmatched = [], 0
    for v in vehicles:
        match = registered.get(str(v.get("vehicle_id") or v.get("bike_id") or ""))
        if match is None:
            unmatched += 1
            continue
        device_id, provider_id = match
        ts = _gbfs_time_ms(v.get("last_reported")) or last_updated_ms
        record = {
            "device_id": device_id,
            "provider_id": provider_id,
            # Deterministic: an unchanged feed polled again yields the same record.
            "telemetry_id": str(uuid.uuid5(uuid.UUID(device_id), str(ts))),
            "timestamp": ts,
            "trip_ids": None,
            "journey_id": None,
            "location": {"lng": v.get("lon"), "lat": v.get("lat")},
        }
        fuel = v.get("current_fuel_percent")
        if isinstance(fuel, int | float) and not isinstance(fuel, bool) and 0 <= fuel <= 1:
            record["battery_percent"] = round(fuel * 100)
        records.append(record)
    return records, unmatched


def pull_gbfs(
    operator: Unit, gbfs_url: str | None = None, *, session=None, stream_url: str | None = None
) -> PullReport:
    """Read the operator's ``gbfs.json`` (default: its profile's ``gbfs_url``), then its vehicle
    status feed, and ingest the matched vehicles as telemetry (see the module docstring)."""
    gbfs_url = gbfs_url or operator_profile(operator).gbfs_url
    if not gbfs_url:
        raise PullError(f"operator {operator.code} has no GBFS URL (gbfs_url)")
    session = session or UrllibSession()
    headers = _headers(operator, "application/json")
    report = PullReport(operator=operator.code, kind=GBFS_STATE_KIND)
    response = fetch(session, gbfs_url, headers=headers)
    if response.status_code != 200:
        raise PullError(f"{gbfs_url}: HTTP {response.status_code}")
    feeds = gbfs_feed_urls(_json(response, gbfs_url))
    feed_url = feeds.get("vehicle_status") or feeds.get("free_bike_status")
    if not feed_url:
        raise PullError(f"{gbfs_url}: lists no vehicle_status (3.0) or free_bike_status (2.x) feed")
    feed_url = urljoin(gbfs_url, feed_url)
    response = fetch(session, feed_url, headers=headers)
    if response.status_code != 200:
        raise PullError(f"{feed_url}: HTTP {response.status_code}")
    report.pages = 1
    vehicles, last_updated = gbfs_vehicles(_json(response, feed_url))
    records, report.unmatched = gbfs_telemetry(operator, vehicles, last_updated)
    _ingest_batches(report, operator, "telemetry", records, stream_url)
    _state_update(operator, GBFS_STATE_KIND, last_run_at=timezone.now().isoformat())
    return report


def pullable_profiles():
    """The operator profiles with a Provider endpoint or a GBFS URL (what the periodic task pulls)."""
    from django.db.models import Q

    from .models import OperatorProfile

    return (
        OperatorProfile.objects.exclude(Q(provider_api_url="") & Q(gbfs_url=""))
        .select_related("operator")
        .order_by("operator__code")
    )
