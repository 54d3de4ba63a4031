"""A Beijing-scale parking demo (``govcenter parking demo --spaces 90000 --days N``).

What it builds, vectorised with numpy and written in bulk (binary ``COPY`` on PostgreSQL
through :func:`govcenter.parking.services.events._copy`, ``bulk_create`` elsewhere), in one
transaction:

* **Network.** The 17 units (16 districts + the Economic-Technological Development Area)
  get about one road per ``SPACES_PER_ROAD`` spaces, shared by a radial density around
  Tiananmen (every unit gets at least one road). A road is a straight east–west or
  north–south line of spaces 6 m apart, cut into segments of at most ``SEGMENT_MAX``
  spaces on alternating sides, with one high-position camera per segment and a
  geomagnetic sensor on every other space. Every space lies inside its district's real
  boundary (GCJ-02, :mod:`govcenter.core.districts`); a road that crosses a boundary is
  moved towards the district's interior until it fits. The development area has no
  boundary file: its roads lie within ``BDA_RADIUS_KM`` of 亦庄 and inside 大兴区.
* **Area class** by the segment's distance from Tiananmen (:func:`area_class_for`):
  一类 within ``CLASS_1_KM`` (≈ the 3rd ring), 二类 within ``CLASS_2_KM`` (≈ the 5th ring),
  三类 beyond.
* **Orders.** About ``orders_per_space`` stays per space per day (Poisson; central spaces
  turn over more), start times from an hourly profile, log-normal durations (median
  ``DURATION_MEDIAN_MIN``), a share of overnight stays; stays of one space never overlap.
  Plates follow GA 36 (:mod:`govcenter.parking.plates`), some new-energy, some from other
  provinces, frequent parkers recurring. Every finished stay is priced by the tariff
  engine under the plan in force (the services' :class:`~.services.orders.Biller`, one
  quote per distinct stay): free stays are settled at once, ``PAID_SHARE`` of the others
  are paid through a :class:`PaymentIntent` (临时代缴 by plate, one order each, sandbox
  provider), the unpaid ones are ``billed``, and ``arrears`` with the
  :class:`ArrearsRecord` the arrears sweep writes when they left more than
  ``GOVCENTER_PARKING_ARREARS_DUE_DAYS`` ago (reminders and penalty cases are left to
  ``govcenter parking arrears-sweep``). A stay still running at load time is ``open``.
  No residential permits are generated, so no stay is permit-covered.
* **Complaints** on ``COMPLAINT_SHARE`` of the finished orders, through
  ``services.complaints.complaint_create`` (numbering, routing, deadline, audit).
* **Device events** only for the stays that start on the window's last ``event_days``
  days (default 1; decision: events are the bulkiest rows and the ingest bench covers
  their write path; the orders of the earlier days carry no start/end event).

Memory: the rows are built in Python lists before they are written (1.3 GB peak measured
for 90,000 spaces × 1 day; it grows with the orders). The foreign keys are checked at commit
(deferred), which is about a third of the time; the filled tables are ANALYZEd after.

Demo rows are recognised by ``MARK``: road, segment and device codes and payment trade
numbers start with it. A second load refuses (:class:`ScaleDemoExistsError`) unless
``replace=True``, which deletes the demo rows first — and only them (plus rows that merely
hang off them: payments, arrears records, reminders, penalty items, complaints and fee
adjustments of demo orders, anomalies and corrections of demo orders/events); rows of other
modules still pointing at demo data make it refuse with what is in the way.
One audit entry records each load or removal.
"""

from __future__ import annotations

import datetime as dt
import math
import sys
import time
import uuid
from dataclasses import dataclass

import numpy as np
from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import Max, Q
from django.utils import timezone

from govcenter.core import audit, context
from govcenter.core.districts import BDA_CODE, DISTRICTS, get_index
from govcenter.core.models import District

from .demo import _unit as district_unit
from .models import (
    Device,
    DeviceEvent,
    Order,
    OrderState,
    ParkingAnomaly,
    PaymentIntent,
    PaymentItem,
    Road,
    Segment,
    SegmentVersion,
    Space,
    SpaceVersion,
)
from .models.arrears import ArrearsRecord
from .models.devices import DeviceOfflinePeriod
from .models.orders import OrderCorrection
from .payments.sandbox import NAME as SANDBOX
from .plates import PROVINCES
from .services.base import segment_snapshot, space_snapshot
from .services.events import EVENT_ROW_FIELDS, _copy, _postgresql
from .services.orders import Biller
from .tariff import SHANGHAI

MARK = "BJS"
CENTRE = (116.3975, 39.9087)  # Tiananmen, GCJ-02
CLASS_1_KM, CLASS_2_KM = 6.5, 14.0
BDA_CENTRE, BDA_RADIUS_KM, BDA_SHARE = (116.5070, 39.7950), 4.0, 0.02
RADIAL_KM = 9.0  # mean distance of a road from the centre (exponential), before the minimum per unit
SPACES_PER_ROAD = 90
SEGMENT_MAX = 30
SPACE_STEP_M, SIDE_OFFSET_M, SEGMENT_GAP_M = 6.0, 4.0, 20.0
CLASS_TURNOVER = {1: 1.4, 2: 1.0, 3: 0.7}  # relative stays per space per day
HOURLY = np.array(
    [
        0.3,
        0.2,
        0.1,
        0.1,
        0.1,
        0.2,
        0.6,
        1.5,
        2.5,
        2.5,
        2.2,
        2.0,
        1.8,
        1.8,
        1.9,
        1.9,
        1.9,
        2.0,
        2.2,
        2.2,
        1.6,
        1.2,
        0.8,
        0.5,
    ]
)
DURATION_MEDIAN_MIN, DURATION_SIGMA, DURATION_MAX_MIN = 45.0, 0.85, 600
NIGHT_SHARE = 0.12  # overnight stays: arrive 18:00–23:00, stay 8–13 h
LARGE_SHARE, NEW_ENERGY_SHARE, OTHER_PROVINCE_SHARE = 0.03, 0.12, 0.12
ORDERS_PER_PLATE = 2.5  # distinct plates ≈ orders / this (frequent parkers recur)
PAID_SHARE = 0.82
COMPLAINT_SHARE = 0.0005  # complaints and appeals per order
VERSION_LEAD = dt.timedelta(days=30)  # versions valid from 30 days before the window
BATCH = 50_000
_KX = 111.32 * math.cos(math.radians(CENTRE[1]))  # km per degree of longitude here
_KY = 110.57  # km per degree of latitude
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_ROAD_WORDS = "安华 和平 光明 朝阳 建国 复兴 民族 东风 团结 育新 清河 西苑 长椿 枣林 花园 丽泽 金台 望京 双井 劲松 永定 长安 广安 新华 学院 知春 北苑 亦庄 龙潭 天通 回龙 马甸 方庄 牛街 白纸坊 万寿 玉泉 鲁谷 双桥 青年".split()
_ROAD_SUFFIXES = ("路", "大街", "北路", "南路", "东路", "西路", "街", "胡同")
_CITY_LETTERS = "ABCEFGHJKLMNPQ"  # 京 letters in use
_LETTERS = "ABCDEFGHJKLMNPQRSTUVWXYZ"
_SERIAL = "0123456789" + _LETTERS


class ScaleDemoError(Exception):
    """The scale demo cannot be loaded (missing reference data, rows of other modules in the way)."""


class ScaleDemoExistsError(ScaleDemoError):
    """A scale demo is loaded and ``replace`` was not asked for."""


class Progress:
    """Plain-text progress on a stream (stderr): ``\\r<step> 45% (40,500/90,000)``, a line per step."""

    def __init__(self, write=None, *, enabled: bool = True):
        self.write = write or sys.stderr.write
        self.enabled = enabled
        self._started = time.perf_counter()

    def __call__(self, step: str, done: int, total: int) -> None:
        if not self.enabled:
            return
        pct = 100 * done // total if total else 100
        end = "\n" if done >= total else ""
        elapsed = time.perf_counter() - self._started
        self.write(f"\r{step:<10} {pct:3d}% ({done:,}/{total:,}) {elapsed:6.1f} s{end}")


def distance_km(lon, lat) -> np.ndarray:
    """Distance from Tiananmen in km (equirectangular; exact enough within Beijing)."""
    lon, lat = np.asarray(lon, dtype=float), np.asarray(lat, dtype=float)
    return np.hypot((lon - CENTRE[0]) * _KX, (lat - CENTRE[1]) * _KY)


def area_class_for(distance) -> np.ndarray:
    """一类 (1) within CLASS_1_KM, 二类 (2) within CLASS_2_KM, 三类 (3) beyond."""
    d = np.asarray(distance, dtype=float)
    return np.where(d < CLASS_1_KM, 1, np.where(d < CLASS_2_KM, 2, 3))


def scale_demo_loaded() -> bool:
    return Road.objects.filter(code__startswith=f"{MARK}-").exists()


# ------------------------------------------------------------------------------------------
# Writing rows
# ------------------------------------------------------------------------------------------


def _reserve_ids(model, n: int) -> list[int]:
    """``n`` primary keys for rows written with explicit ids (the events need the order ids)."""
    if n == 0:
        return []
    meta = model._meta
    if _postgresql():
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)",
                [connection.ops.quote_name(meta.db_table), meta.pk.column, n],
            )
            return [row[0] for row in cursor.fetchall()]
    first = (model.objects.aggregate(m=Max("pk"))["m"] or 0) + 1  # SQLite: one writer at a time
    return list(range(first, first + n))


def _write(model, columns: dict[str, list], progress: Progress, step: str) -> int:
    """Insert the rows given column-wise (attnames → equal-length lists of Python values)."""
    names = list(columns)
    n = len(columns[names[0]]) if names else 0
    fields = [model._meta.get_field(name) for name in names]
    for start in range(0, n, BATCH):
        chunk = [columns[name][start : start + BATCH] for name in names]
        if _postgresql():
            _copy(model, fields, zip(*chunk, strict=True))
        else:
            attnames = [f.attname for f in fields]
            objs = [model(**dict(zip(attnames, row, strict=True))) for row in zip(*chunk, strict=True)]
            model.objects.bulk_create(objs, batch_size=500)
        progress(step, min(start + BATCH, n), n)
    if n == 0:
        progress(step, 0, 0)
    return n


def _times(epoch_seconds) -> list[dt.datetime]:
    return [_EPOCH + dt.timedelta(seconds=int(s)) for s in epoch_seconds]


# ------------------------------------------------------------------------------------------
# Network
# ------------------------------------------------------------------------------------------


@dataclass
class _Network:
    space_ids: np.ndarray
    space_segment: np.ndarray  # index into segments
    space_numbers: list[str]
    segment_ids: np.ndarray
    segment_district: np.ndarray  # index into the districts list
    segment_class: np.ndarray
    segment_unit_ids: np.ndarray
    segment_camera_ids: np.ndarray
    space_sensor_ids: np.ndarray  # 0: no sensor
    space_version_ids: np.ndarray
    counts: dict


def _largest_remainder(weights: np.ndarray, total: int, minimum: int) -> np.ndarray:
    """Integers ≥ minimum, proportional to weights, summing to total (total ≥ minimum × len)."""
    base = np.full(len(weights), minimum, dtype=np.int64)
    rest = total - base.sum()
    share = weights / weights.sum() * rest
    base += np.floor(share).astype(np.int64)
    left = int(total - base.sum())
    if left:
        base[np.argsort(-(share - np.floor(share)), kind="stable")[:left]] += 1
    return base


def _plan_roads(rng, codes: list[str], n_spaces: int):
    """Anchors, directions and sizes of the roads: (road_unit, anchor_lon, anchor_lat, horizontal, sizes)."""
    index = get_index()
    admin = [c for c in codes if c != BDA_CODE]
    n_roads = min(max(len(codes), round(n_spaces / SPACES_PER_ROAD)), n_spaces // 2)
    m = 40 * n_roads + 4000
    r = rng.exponential(RADIAL_KM, m)
    theta = rng.uniform(0, 2 * math.pi, m)
    cand_lon = CENTRE[0] + r * np.cos(theta) / _KX
    cand_lat = CENTRE[1] + r * np.sin(theta) / _KY
    cand_code = index.lookup_codes(cand_lon, cand_lat)
    weights = np.array([max((cand_code == c).sum(), 1) for c in codes], dtype=float)
    if BDA_CODE in codes:
        weights[codes.index(BDA_CODE)] = BDA_SHARE * weights.sum() / (1 - BDA_SHARE)
    per_unit = _largest_remainder(weights, n_roads, 1)
    road_unit, lons, lats = [], [], []
    for k, code in enumerate(codes):
        need = int(per_unit[k])
        if code == BDA_CODE:
            got_lon, got_lat = _sample_disc(rng, index, need)
        else:
            mask = cand_code == code
            got_lon, got_lat = cand_lon[mask][:need], cand_lat[mask][:need]
            if len(got_lon) < need:  # a far district the radial density rarely reaches
                more_lon, more_lat = _sample_in(rng, index, admin.index(code), need - len(got_lon))
                got_lon, got_lat = np.concatenate([got_lon, more_lon]), np.concatenate([got_lat, more_lat])
        road_unit += [k] * need
        lons.append(got_lon)
        lats.append(got_lat)
    sizes = _largest_remainder(rng.lognormal(0.0, 0.4, n_roads), n_spaces, 2)
    horizontal = rng.random(n_roads) < 0.5
    return np.array(road_unit), np.concatenate(lons), np.concatenate(lats), horizontal, sizes


def _sample_in(rng, index, k: int, n: int):
    """``n`` uniform points inside district ``k`` of the index (rejection sampling in its bbox)."""
    x0, y0, x1, y1 = index.polygons[k].bounds
    out_lon, out_lat = np.empty(0), np.empty(0)
    while len(out_lon) < n:
        lon, lat = rng.uniform(x0, x1, 4 * n + 16), rng.uniform(y0, y1, 4 * n + 16)
        ok = index.lookup_codes(lon, lat) == index.codes[k]
        out_lon, out_lat = np.concatenate([out_lon, lon[ok]]), np.concatenate([out_lat, lat[ok]])
    return out_lon[:n], out_lat[:n]


def _sample_disc(rng, index, n: int):
    """``n`` points within BDA_RADIUS_KM of 亦庄 and inside 大兴区 (the area has no boundary file)."""
    out_lon, out_lat = np.empty(0), np.empty(0)
    while len(out_lon) < n:
        r = BDA_RADIUS_KM * np.sqrt(rng.random(4 * n + 16))
        theta = rng.uniform(0, 2 * math.pi, len(r))
        lon, lat = BDA_CENTRE[0] + r * np.cos(theta) / _KX, BDA_CENTRE[1] + r * np.sin(theta) / _KY
        ok = index.lookup_codes(lon, lat) == "110115"
        out_lon, out_lat = np.concatenate([out_lon, lon[ok]]), np.concatenate([out_lat, lat[ok]])
    return out_lon[:n], out_lat[:n]


def expected_boundary(code: str) -> str:
    """The boundary a unit's spaces must lie in: its own, 大兴区 for the development area."""
    return "110115" if code == BDA_CODE else code


def _place_spaces(rng, codes, road_unit, anchor_lon, anchor_lat, horizontal, sizes):
    """Space positions (and their road, segment-in-road); roads crossing a boundary move inwards."""
    index = get_index()
    admin_codes = index.codes.tolist()
    road_of = np.repeat(np.arange(len(sizes)), sizes)
    first = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    i = np.arange(len(road_of)) - first[road_of]  # position in the road
    n_seg = np.ceil(sizes / SEGMENT_MAX).astype(np.int64)
    per_seg = np.ceil(sizes / n_seg).astype(np.int64)
    seg_in_road = i // per_seg[road_of]
    along_m = (i - sizes[road_of] / 2) * SPACE_STEP_M + seg_in_road * SEGMENT_GAP_M
    side = np.where(seg_in_road % 2 == 0, 1.0, -1.0) * SIDE_OFFSET_M
    expected = np.array([expected_boundary(codes[u]) for u in road_unit])
    reps = {}
    for code in set(expected.tolist()):
        point = index.polygons[admin_codes.index(code)].representative_point()
        reps[code] = (point.x, point.y)
    rep_lon = np.array([reps[c][0] for c in expected])
    rep_lat = np.array([reps[c][1] for c in expected])
    is_bda = np.array([codes[u] == BDA_CODE for u in road_unit])
    rep_lon[is_bda], rep_lat[is_bda] = BDA_CENTRE
    anchor_lon, anchor_lat = anchor_lon.copy(), anchor_lat.copy()
    for _attempt in range(40):
        h = horizontal[road_of]
        east_m = np.where(h, along_m, side)
        north_m = np.where(h, side, along_m)
        lon = anchor_lon[road_of] + east_m / 1000 / _KX
        lat = anchor_lat[road_of] + north_m / 1000 / _KY
        bad_space = index.lookup_codes(lon, lat) != expected[road_of]
        bad = np.unique(road_of[bad_space])
        if len(bad) == 0:
            return lon, lat, road_of, seg_in_road
        # Halfway towards an interior point of the district (converges: roads are ≤ ~1.3 km).
        anchor_lon[bad] = (anchor_lon[bad] + rep_lon[bad]) / 2 + rng.normal(0, 0.0005, len(bad))
        anchor_lat[bad] = (anchor_lat[bad] + rep_lat[bad]) / 2 + rng.normal(0, 0.0005, len(bad))
        horizontal[bad] = rng.random(len(bad)) < 0.5
    raise ScaleDemoError("could not place every road inside its district")


def _build_network(rng, districts: list[District], n_spaces: int, now, valid_from, progress) -> _Network:
    codes = [d.code for d in districts]
    units = [district_unit(d) for d in districts]
    road_unit, a_lon, a_lat, horizontal, sizes = _plan_roads(rng, codes, n_spaces)
    lon, lat, road_of, seg_in_road = _place_spaces(rng, codes, road_unit, a_lon, a_lat, horizontal, sizes)
    n_roads = len(sizes)

    # Segments: (road, segment-in-road) pairs in space order.
    seg_key = road_of * 1000 + seg_in_road
    starts = np.flatnonzero(np.r_[True, seg_key[1:] != seg_key[:-1]])
    space_segment = np.cumsum(np.r_[True, seg_key[1:] != seg_key[:-1]]) - 1
    n_segments = len(starts)
    seg_road = road_of[starts]
    seg_no = seg_in_road[starts]
    seg_size = np.bincount(space_segment, minlength=n_segments)
    seg_lon = np.bincount(space_segment, weights=lon) / seg_size
    seg_lat = np.bincount(space_segment, weights=lat) / seg_size
    seg_class = area_class_for(distance_km(seg_lon, seg_lat))
    seg_unit_idx = road_unit[seg_road]
    space_number_idx = np.arange(len(lon)) - starts[space_segment]

    road_ids = _reserve_ids(Road, n_roads)
    words = rng.choice(len(_ROAD_WORDS), n_roads)
    suffixes = rng.choice(len(_ROAD_SUFFIXES), n_roads)
    road_codes = [f"{MARK}-{codes[u]}-R{k + 1:04d}" for k, u in enumerate(road_unit.tolist())]
    road_names = [
        f"{_ROAD_WORDS[w]}{_ROAD_SUFFIXES[s]}" for w, s in zip(words.tolist(), suffixes.tolist(), strict=True)
    ]
    counts = {
        "roads": _write(
            Road,
            {
                "id": road_ids,
                "district_id": [districts[u].pk for u in road_unit.tolist()],
                "managing_unit_id": [units[u].pk for u in road_unit.tolist()],
                "code": road_codes,
                "name": road_names,
                "status": [Road.Status.ACTIVE.value] * n_roads,
                "created_at": [now] * n_roads,
                "updated_at": [now] * n_roads,
            },
            progress,
            "roads",
        )
    }

    segment_ids = np.array(_reserve_ids(Segment, n_segments), dtype=np.int64)
    horizontal_seg = horizontal[seg_road]
    sides = [
        ("north" if h else "east") if n % 2 == 0 else ("south" if h else "west")
        for h, n in zip(horizontal_seg.tolist(), seg_no.tolist(), strict=True)
    ]
    seg_codes = [f"{road_codes[r]}-S{n + 1}" for r, n in zip(seg_road.tolist(), seg_no.tolist(), strict=True)]
    first_space, last_space = starts, starts + seg_size - 1
    geometry = [
        {
            "type": "LineString",
            "coordinates": [[round(lon[a], 6), round(lat[a], 6)], [round(lon[b], 6), round(lat[b], 6)]],
        }
        for a, b in zip(first_space.tolist(), last_space.tolist(), strict=True)
    ]
    seg_rows = {
        "id": segment_ids.tolist(),
        "road_id": [road_ids[r] for r in seg_road.tolist()],
        "district_id": [districts[u].pk for u in seg_unit_idx.tolist()],
        "managing_unit_id": [units[u].pk for u in seg_unit_idx.tolist()],
        "code": seg_codes,
        "name": [
            f"{road_names[r]}（{n + 1}段）" for r, n in zip(seg_road.tolist(), seg_no.tolist(), strict=True)
        ],
        "side": sides,
        "area_class": seg_class.tolist(),
        "tariff_code": [""] * n_segments,
        "geometry": geometry,
        "datum": ["GCJ-02"] * n_segments,
        "length_cm": (seg_size * int(SPACE_STEP_M * 100)).tolist(),
        "status": [Segment.Status.ACTIVE.value] * n_segments,
        "capacity": seg_size.tolist(),
        "curb_zone_id": [uuid.uuid4() for _ in range(n_segments)],
        "version": [1] * n_segments,
        "created_at": [now] * n_segments,
        "updated_at": [now] * n_segments,
    }
    counts["segments"] = _write(Segment, seg_rows, progress, "segments")
    segments = [Segment(**{k: seg_rows[k][j] for k in seg_rows}) for j in range(n_segments)]
    _write(
        SegmentVersion,
        {
            "segment_id": seg_rows["id"],
            "version": [1] * n_segments,
            "valid_from": [valid_from] * n_segments,
            "valid_to": [None] * n_segments,
            "snapshot": [segment_snapshot(segment) for segment in segments],
        },
        progress,
        "seg-vers",
    )

    n = len(lon)
    space_ids = np.array(_reserve_ids(Space, n), dtype=np.int64)
    space_district = [districts[u].pk for u in seg_unit_idx[space_segment].tolist()]
    numbers = [f"{k + 1:03d}" for k in space_number_idx.tolist()]
    lons, lats = np.round(lon, 6).tolist(), np.round(lat, 6).tolist()
    space_rows = {
        "id": space_ids.tolist(),
        "segment_id": segment_ids[space_segment].tolist(),
        "district_id": space_district,
        "number": numbers,
        "lon": lons,
        "lat": lats,
        "datum": ["GCJ-02"] * n,
        "space_type": [Space.Type.STANDARD.value] * n,
        "length_cm": [600] * n,
        "width_cm": [250] * n,
        "status": [Space.Status.ACTIVE.value] * n,
        "curb_space_id": [uuid.uuid4() for _ in range(n)],
        "version": [1] * n,
        "created_at": [now] * n,
        "updated_at": [now] * n,
    }
    counts["spaces"] = _write(Space, space_rows, progress, "spaces")
    version_ids = np.array(_reserve_ids(SpaceVersion, n), dtype=np.int64)
    seg_of = space_segment.tolist()
    _write(
        SpaceVersion,
        {
            "id": version_ids.tolist(),
            "space_id": space_ids.tolist(),
            "version": [1] * n,
            "valid_from": [valid_from] * n,
            "valid_to": [None] * n,
            "area_class": seg_class[space_segment].tolist(),
            "tariff_code": [""] * n,
            "status": [Space.Status.ACTIVE.value] * n,
            "snapshot": [
                space_snapshot(Space(**{k: space_rows[k][j] for k in space_rows}), segments[seg])
                for j, seg in enumerate(seg_of)
            ],
        },
        progress,
        "space-vers",
    )

    # Devices: a camera per segment, a geomagnetic sensor on every other space.
    sensor_mask = space_number_idx % 2 == 0
    n_sensors = int(sensor_mask.sum())
    device_ids = _reserve_ids(Device, n_segments + n_sensors)
    camera_ids = np.array(device_ids[:n_segments], dtype=np.int64)
    sensor_ids = np.zeros(n, dtype=np.int64)
    sensor_ids[sensor_mask] = device_ids[n_segments:]
    sensor_space = np.flatnonzero(sensor_mask)
    kinds = ["high_video"] * n_segments + ["geomagnetic"] * n_sensors
    unit_idx = np.concatenate([seg_unit_idx, seg_unit_idx[space_segment[sensor_mask]]]).tolist()
    total = n_segments + n_sensors
    counts["devices"] = _write(
        Device,
        {
            "id": device_ids,
            "kind": kinds,
            "serial": [f"{c}-HV" for c in seg_codes]
            + [f"{seg_codes[seg_of[j]]}-{numbers[j]}-GM" for j in sensor_space.tolist()],
            "vendor_id": [None] * total,
            "district_id": [districts[u].pk for u in unit_idx],
            "managing_unit_id": [units[u].pk for u in unit_idx],
            "segment_id": segment_ids.tolist() + segment_ids[space_segment[sensor_mask]].tolist(),
            "space_id": [None] * n_segments + space_ids[sensor_mask].tolist(),
            "status": [Device.Status.ONLINE.value] * total,
            "last_heartbeat_at": [now] * total,
            "battery_pct": [None] * n_segments + rng.integers(40, 101, n_sensors).tolist(),
            "firmware": ["5.0.3"] * n_segments + ["2.1.0"] * n_sensors,
            "token_prefix": [""] * total,
            "token_digest": [""] * total,
            "secret_enc": [None] * total,
            "credential_issued_at": [None] * total,
            "created_at": [now] * total,
            "updated_at": [now] * total,
        },
        progress,
        "devices",
    )
    return _Network(
        space_ids=space_ids,
        space_segment=space_segment,
        space_numbers=numbers,
        segment_ids=segment_ids,
        segment_district=seg_unit_idx,
        segment_class=seg_class,
        segment_unit_ids=np.array([units[u].pk for u in seg_unit_idx.tolist()], dtype=np.int64),
        segment_camera_ids=camera_ids,
        space_sensor_ids=sensor_ids,
        space_version_ids=version_ids,
        counts=counts,
    )


# ------------------------------------------------------------------------------------------
# Orders, payments, events
# ------------------------------------------------------------------------------------------


def make_plates(rng, n: int) -> list[str]:
    """``n`` distinct plates in valid GA 36 formats: mostly 京, some other provinces, some new-energy."""
    others = PROVINCES.replace("京", "")
    plates: set[str] = set()
    out: list[str] = []
    while len(out) < n:
        m = n - len(out)
        province = np.where(rng.random(m) < OTHER_PROVINCE_SHARE, rng.choice(list(others), m), "京")
        letter = np.where(province == "京", rng.choice(list(_CITY_LETTERS), m), rng.choice(list(_LETTERS), m))
        new_energy = rng.random(m) < NEW_ENERGY_SHARE
        digits = rng.integers(0, 10, (m, 5))
        serial_letter = rng.random((m, 5)) < 0.12
        letters = rng.choice(list(_LETTERS), (m, 5))
        for k in range(m):
            if new_energy[k]:
                body = (
                    "DF"[k % 2]
                    + _SERIAL[digits[k, 0] + (10 if serial_letter[k, 0] else 0)]
                    + "".join(map(str, digits[k, 1:]))
                )
            else:
                body = "".join(letters[k, j] if serial_letter[k, j] else str(digits[k, j]) for j in range(5))
            plate = f"{province[k]}{letter[k]}{body}"
            if plate not in plates:
                plates.add(plate)
                out.append(plate)
    return out


def _stays(rng, net: _Network, window_start: int, days: int, per_day: float, now_s: int):
    """Vectorised stays: (space index, start s, end s or -1 when still running), no overlap per space."""
    space_class = net.segment_class[net.space_segment]
    weight = np.vectorize(CLASS_TURNOVER.get)(space_class).astype(float)
    lam = per_day * days * weight / weight.mean()
    counts = rng.poisson(lam)
    space = np.repeat(np.arange(len(lam)), counts)
    n = len(space)
    day = rng.integers(0, days, n)
    night = rng.random(n) < NIGHT_SHARE
    hour = np.where(night, rng.integers(18, 23, n), rng.choice(24, n, p=HOURLY / HOURLY.sum()))
    start = window_start + day * 86_400 + hour * 3600 + rng.integers(0, 60, n) * 60
    minutes = np.where(
        night,
        rng.integers(8 * 60, 13 * 60, n),
        np.clip(
            np.rint(rng.lognormal(math.log(DURATION_MEDIAN_MIN), DURATION_SIGMA, n)), 3, DURATION_MAX_MIN
        ),
    ).astype(np.int64)
    end = start + minutes * 60
    order = np.lexsort((start, space))
    space, start, end = space[order], start[order], end[order]
    same = np.r_[space[1:] == space[:-1], False]
    next_start = np.r_[start[1:], 0]
    end = np.where(same, np.minimum(end, next_start - 60), end)
    keep = (end - start >= 120) & (start < now_s - 60)
    space, start, end = space[keep], start[keep], end[keep]
    end = np.where(end > now_s, -1, end)  # still parked: an open order (the last stay of its space)
    return space, start, end


def _price(biller: Biller, area_class: int, vehicle: str, start, end):
    """(plan id, amount, lines) of one stay: the plan in force at its start, priced by the
    services' Biller (one quote per distinct plan, vehicle, start and end)."""
    plan = biller.plan_for(area_class, start)
    if plan is None:
        return None
    return (plan.pk, *biller._priced(plan, vehicle, start, end))


def _orders(
    rng,
    net: _Network,
    districts,
    *,
    window_start: int,
    days: int,
    per_day: float,
    event_days: int,
    now,
    progress,
) -> dict:
    now_s = int(now.timestamp())
    space, start_s, end_s = _stays(rng, net, window_start, days, per_day, now_s)
    n = len(space)
    order_ids = np.array(_reserve_ids(Order, n), dtype=np.int64)
    seg = net.space_segment[space]
    plates = make_plates(rng, max(20, int(n / ORDERS_PER_PLATE)))
    plate_idx = np.floor(len(plates) * rng.random(n) ** 1.6).astype(np.int64)
    order_plates = [plates[k] for k in plate_idx.tolist()]
    vehicle = np.where(rng.random(n) < LARGE_SHARE, "large", "small").tolist()
    confidence = np.round(rng.uniform(0.86, 0.995, n), 3).tolist()
    starts = _times(start_s)
    ends = [None if e < 0 else _EPOCH + dt.timedelta(seconds=int(e)) for e in end_s.tolist()]
    classes = net.segment_class[seg].tolist()

    biller = Biller()
    due_after = dt.timedelta(days=settings.GOVCENTER_PARKING_ARREARS_DUE_DAYS)
    state, plan_ids, due, paid, lines, billed_at, updated = [], [], [], [], [], [], []
    paid_roll = rng.random(n)
    pay_delay = np.clip(rng.lognormal(math.log(8), 1.0, n), 1, 24 * 60) * 60
    payments = []  # (order index, paid_at)
    for k in range(n):
        end = ends[k]
        priced = None if end is None else _price(biller, classes[k], vehicle[k], starts[k], end)
        if priced is None:  # open, or no plan covers the start: not billed (never guessed)
            state.append(OrderState.OPEN.value if end is None else OrderState.CLOSED.value)
            plan_ids.append(None), due.append(0), paid.append(0), lines.append([])
            billed_at.append(None), updated.append(end or starts[k])
            continue
        plan_id, amount, priced_lines = priced
        plan_ids.append(plan_id), due.append(amount), lines.append(priced_lines), billed_at.append(end)
        paid_at = end + dt.timedelta(seconds=float(pay_delay[k]))
        if amount == 0:
            state.append(OrderState.PAID.value), paid.append(0), updated.append(end)
        elif paid_roll[k] < PAID_SHARE and paid_at < now:
            state.append(OrderState.PAID.value), paid.append(amount), updated.append(paid_at)
            payments.append((k, paid_at))
        else:
            overdue = end <= now - due_after  # what the arrears sweep turns to arrears
            state.append(OrderState.ARREARS.value if overdue else OrderState.BILLED.value)
            paid.append(0), updated.append(end + due_after if overdue else end)
        if k % 20_000 == 0:
            progress("pricing", k, n)
    progress("pricing", n, n)

    # Device events for the stays that start on the window's last ``event_days`` days.
    first_event_day = window_start + (days - event_days) * 86_400
    with_events = np.flatnonzero(start_s >= first_event_day).tolist() if event_days else []
    start_event = [None] * n
    end_event = [None] * n
    ev: dict[str, list] = {name: [] for name in EVENT_ROW_FIELDS}
    raw_ids = rng.bytes(32 * len(with_events))
    delays = rng.integers(1, 6, 2 * len(with_events)).tolist()
    for j, k in enumerate(with_events):
        s = int(space[k])
        g = int(seg[k])
        sensor = int(net.space_sensor_ids[s])
        device = sensor or int(net.segment_camera_ids[g])
        source, transport = ("in_ground", "mqtt") if sensor else ("camera", "http")
        for half, (etype, at) in enumerate((("park_start", starts[k]), ("park_end", ends[k]))):
            if at is None:
                continue
            event_id = uuid.UUID(bytes=raw_ids[32 * j + 16 * half : 32 * j + 16 * half + 16], version=4)
            (start_event if half == 0 else end_event)[k] = event_id
            ev["event_id"].append(event_id)
            ev["device_id"].append(device)
            ev["event_type"].append(etype)
            ev["data_source_type"].append(source)
            ev["event_time"].append(at)
            ev["received_at"].append(at + dt.timedelta(seconds=delays[2 * j + half]))
            ev["transport"].append(transport)
            ev["district_id"].append(districts[int(net.segment_district[g])].pk)
            ev["managing_unit_id"].append(int(net.segment_unit_ids[g]))
            ev["segment_id"].append(int(net.segment_ids[g]))
            ev["space_id"].append(int(net.space_ids[s]))
            ev["plate"].append(order_plates[k])
            ev["plate_confidence"].append(confidence[k])
            ev["vehicle_class"].append(vehicle[k])
            ev["payload"].append(
                {
                    "event_id": str(event_id),
                    "event_type": etype,
                    "event_time": at.astimezone(SHANGHAI).isoformat(),
                    "space_number": net.space_numbers[s],
                    "vehicle_license_plate": order_plates[k],
                }
            )
            ev["outcome"].append("accepted")
            ev["reason"].append("")
            ev["order_id"].append(int(order_ids[k]))

    counts = {}
    counts["orders"] = _write(
        Order,
        {
            "id": order_ids.tolist(),
            "district_id": [districts[u].pk for u in net.segment_district[seg].tolist()],
            "managing_unit_id": net.segment_unit_ids[seg].tolist(),
            "segment_id": net.segment_ids[seg].tolist(),
            "space_id": net.space_ids[space].tolist(),
            "space_version_id": net.space_version_ids[space].tolist(),
            "tariff_plan_id": plan_ids,
            "plate": order_plates,
            "plate_confidence": confidence,
            "vehicle_class": vehicle,
            "started_at": starts,
            "ended_at": ends,
            "state": state,
            "amount_due_fen": due,
            "amount_paid_fen": paid,
            "amount_adjustment_fen": [0] * n,
            "quote_lines": lines,
            "billed_at": billed_at,
            "start_event_id": start_event,
            "end_event_id": end_event,
            "created_at": starts,
            "updated_at": updated,
        },
        progress,
        "orders",
    )
    counts["events"] = _write(DeviceEvent, ev, progress, "events")

    m = len(payments)
    intent_ids = _reserve_ids(PaymentIntent, m)
    paid_ats = [at for _k, at in payments]
    counts["payments"] = _write(
        PaymentIntent,
        {
            "id": intent_ids,
            "out_trade_no": [f"{MARK}{i:016d}" for i in intent_ids],
            "citizen_id": [None] * m,
            "plate": [order_plates[k] for k, _at in payments],
            "provider": [SANDBOX] * m,
            "status": ["paid"] * m,
            "total_fen": [due[k] for k, _at in payments],
            "idempotency_key": [f"{MARK.lower()}-{order_ids[k]}" for k, _at in payments],
            "provider_trade_no": [f"{MARK}-SBX-{i}" for i in intent_ids],
            "provider_data": [{}] * m,
            "paid_at": paid_ats,
            "expires_at": [at + dt.timedelta(minutes=29) for at in paid_ats],
            "flagged": [False] * m,
            "flag_reason": [""] * m,
            "created_at": [at - dt.timedelta(minutes=1) for at in paid_ats],
            "updated_at": paid_ats,
        },
        progress,
        "payments",
    )
    _write(
        PaymentItem,
        {
            "intent_id": intent_ids,
            "order_id": [int(order_ids[k]) for k, _at in payments],
            "amount_fen": [due[k] for k, _at in payments],
            "live": [True] * m,
        },
        progress,
        "pay-items",
    )
    for name in (OrderState.PAID, OrderState.BILLED, OrderState.ARREARS, OrderState.OPEN):
        counts[f"orders_{name.value}"] = state.count(name.value)
    counts["arrears_records"] = _arrears_records(
        order_ids, state, due, ends, order_plates, net, seg, districts
    )
    counts["complaints"] = _complaints(rng, order_ids, state, ends, now, progress)
    return counts


def _arrears_records(order_ids, state, due, ends, plates, net: _Network, seg, districts) -> int:
    """An ArrearsRecord per order in arrears, as the arrears sweep (services/arrears.py) writes it."""
    due_after = dt.timedelta(days=settings.GOVCENTER_PARKING_ARREARS_DUE_DAYS)
    backpay = dt.timedelta(days=settings.GOVCENTER_PARKING_BACKPAY_DAYS)
    rows = [k for k, value in enumerate(state) if value == OrderState.ARREARS.value]
    return _write(
        ArrearsRecord,
        {
            "order_id": [int(order_ids[k]) for k in rows],
            "plate": [plates[k] for k in rows],
            "district_id": [districts[int(net.segment_district[seg[k]])].pk for k in rows],
            "managing_unit_id": [int(net.segment_unit_ids[seg[k]]) for k in rows],
            "amount_fen": [due[k] for k in rows],
            "left_at": [ends[k] for k in rows],
            "due_at": [ends[k] + due_after for k in rows],
            "window_ends_at": [ends[k] + due_after + backpay for k in rows],
            "outcome": [ArrearsRecord.Outcome.PENDING.value] * len(rows),
            "settled_at": [None] * len(rows),
            "decided_at": [None] * len(rows),
            "created_at": [ends[k] + due_after for k in rows],
        },
        Progress(enabled=False),
        "arrears",
    )


_COMPLAINTS = (  # (kind, category, subject, body): demo data, not UI text
    ("appeal", "wrong_plate", "车牌识别错误", "当天车辆未在该路段停放，请核查车牌识别。"),
    ("appeal", "wrong_times", "驶离时间不符", "实际驶离时间早于计费时间，请核实。"),
    ("complaint", "tariff_dispute", "收费金额疑问", "对夜间收费标准有疑问，请说明计费明细。"),
    ("complaint", "device_fault", "地磁设备故障", "车位地磁设备未及时结束计费。"),
)


def _complaints(rng, order_ids, state, ends, now, progress) -> int:
    """About COMPLAINT_SHARE of the finished orders get a complaint or appeal, through the
    complaints service (numbering, routing, working-day deadline, audit)."""
    from .services.complaints import complaint_create

    finished = [k for k, value in enumerate(state) if value != OrderState.OPEN.value]
    n = min(len(finished), int(rng.binomial(len(finished), COMPLAINT_SHARE)))
    picked = sorted(rng.choice(finished, n, replace=False).tolist()) if n else []
    orders = Order.objects.in_bulk([int(order_ids[k]) for k in picked])
    for j, k in enumerate(picked):
        kind, category, subject, body = _COMPLAINTS[int(rng.integers(len(_COMPLAINTS)))]
        received = min(ends[k] + dt.timedelta(hours=float(rng.uniform(1, 48))), now)
        complaint_create(
            actor=None,
            kind=kind,
            channel=("app", "hotline", "mailbox")[j % 3],
            category=category,
            subject=subject,
            body=body,
            order=orders[int(order_ids[k])],
            received_at=received,
        )
        progress("complaints", j + 1, n)
    return n


# ------------------------------------------------------------------------------------------
# Entry points
# ------------------------------------------------------------------------------------------


def _districts() -> list[District]:
    wanted = [d.code for d in DISTRICTS]
    rows = {d.code: d for d in District.objects.filter(code__in=wanted)}
    missing = [c for c in wanted if c not in rows]
    if missing:
        raise ScaleDemoError(f"districts missing ({', '.join(missing)}): run `govcenter seed` first")
    if any(rows[c].geometry is None for c in wanted if c != BDA_CODE):
        raise ScaleDemoError("district boundaries missing: run `govcenter seed` first")
    return [rows[c] for c in wanted]


def _demo_orders():
    return Order.objects.filter(segment__code__startswith=f"{MARK}-")


def _delete_dependents(orders) -> None:
    """Rows of other modules that hang off demo orders: arrears, penalty items, complaints."""
    from .models.arrears import ArrearsRecord, PenaltyCase, PenaltyCaseOrder, ReminderLog
    from .models.complaints import Complaint, ComplaintAction, FeeAdjustment

    alias = connection.alias
    cases = list(
        PenaltyCaseOrder.objects.filter(order__in=orders).values_list("case_id", flat=True).distinct()
    )
    PenaltyCaseOrder.objects.filter(case_id__in=cases)._raw_delete(alias)
    PenaltyCase.objects.filter(pk__in=cases)._raw_delete(alias)
    ReminderLog.objects.filter(order__in=orders)._raw_delete(alias)
    ArrearsRecord.objects.filter(order__in=orders)._raw_delete(alias)
    complaints = Complaint.objects.filter(order__in=orders)
    FeeAdjustment.objects.filter(Q(order__in=orders) | Q(complaint__in=complaints))._raw_delete(alias)
    ComplaintAction.objects.filter(complaint__in=complaints)._raw_delete(alias)
    complaints._raw_delete(alias)


def scale_demo_delete() -> dict[str, int]:
    """Delete the scale demo's rows (only those) in one transaction; returns counts."""
    mark = f"{MARK}-"
    orders = _demo_orders()
    events = DeviceEvent.objects.filter(
        Q(segment__code__startswith=mark) | Q(device__serial__startswith=mark)
    )
    counts = {}
    with transaction.atomic():
        _delete_dependents(orders)
        PaymentItem.objects.filter(order__in=orders)._raw_delete(connection.alias)
        counts["payments"] = PaymentIntent.objects.filter(out_trade_no__startswith=MARK)._raw_delete(
            connection.alias
        )
        ParkingAnomaly.objects.filter(Q(order__in=orders) | Q(event__in=events))._raw_delete(connection.alias)
        OrderCorrection.objects.filter(order__in=orders)._raw_delete(connection.alias)
        # Orders and events point at each other; the foreign keys are deferred (checked below).
        counts["events"] = events._raw_delete(connection.alias)
        counts["orders"] = orders._raw_delete(connection.alias)
        DeviceOfflinePeriod.objects.filter(device__serial__startswith=mark)._raw_delete(connection.alias)
        counts["devices"] = Device.objects.filter(serial__startswith=mark)._raw_delete(connection.alias)
        SpaceVersion.objects.filter(space__segment__code__startswith=mark)._raw_delete(connection.alias)
        counts["spaces"] = Space.objects.filter(segment__code__startswith=mark)._raw_delete(connection.alias)
        SegmentVersion.objects.filter(segment__code__startswith=mark)._raw_delete(connection.alias)
        counts["segments"] = Segment.objects.filter(code__startswith=mark)._raw_delete(connection.alias)
        counts["roads"] = Road.objects.filter(code__startswith=mark)._raw_delete(connection.alias)
        try:  # the foreign keys are deferred: check now, to say what is in the way
            connection.check_constraints()
        except IntegrityError as exc:
            raise ScaleDemoError(
                f"rows of other modules still reference the demo data, delete them first ({exc})"
            ) from None
        audit.record(
            action="parking.demo_scale.delete",
            object_type="parking.demo_scale",
            object_id=MARK,
            changes={"before": counts, "after": {}},
            reason="demo",
        )
    return counts


def load_scale_demo(
    *,
    spaces: int,
    days: int,
    seed: int = 0,
    start: dt.date | None = None,
    orders_per_space: float = 4.0,
    event_days: int = 1,
    replace: bool = False,
    progress: Progress | None = None,
) -> dict[str, int]:
    """Build the network and ``days`` days of orders from ``start`` (default: the ``days`` days
    before today, Asia/Shanghai); returns counts. See the module docstring."""
    progress = progress or Progress(enabled=False)
    now = timezone.now()
    today = timezone.localtime(now, SHANGHAI).date()
    start = start or today - dt.timedelta(days=days)
    if start > today:
        raise ScaleDemoError(f"--start {start}: the window must begin today or earlier")
    window_start = dt.datetime.combine(start, dt.time(), tzinfo=SHANGHAI)
    rng = np.random.default_rng(seed)
    started = time.perf_counter()
    with context.acting_as(None, channel="cli"), transaction.atomic():
        districts = _districts()
        if scale_demo_loaded():
            if not replace:
                raise ScaleDemoExistsError(
                    "a scale demo is already loaded: add --replace to delete and load it again"
                )
            scale_demo_delete()
        net = _build_network(rng, districts, spaces, now, window_start - VERSION_LEAD, progress)
        counts = dict(net.counts)
        counts.update(
            _orders(
                rng,
                net,
                districts,
                window_start=int(window_start.timestamp()),
                days=days,
                per_day=orders_per_space,
                event_days=min(event_days, days),
                now=now,
                progress=progress,
            )
        )
        audit.record(
            action="parking.demo_scale.load",
            object_type="parking.demo_scale",
            object_id=MARK,
            changes={
                "before": {},
                "after": {**counts, "seed": seed, "start": start.isoformat(), "days": days},
            },
            reason="demo",
        )
    progress("committed", 1, 1)  # the deferred foreign-key checks run at commit
    if _postgresql():  # fresh statistics, or the planner walks 1M orders for one plate
        tables = [m._meta.db_table for m in (Road, Segment, Space, SpaceVersion, Device, Order, DeviceEvent,
                                             PaymentIntent, PaymentItem)]  # fmt: skip
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE " + ", ".join(connection.ops.quote_name(t) for t in tables))
        progress("analyzed", 1, 1)
    counts["seconds"] = round(time.perf_counter() - started, 1)
    return counts
