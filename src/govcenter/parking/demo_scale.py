"""A Beijing-scale parking demo (``govcenter parking demo --spaces 90000 --days N``).

What it builds, vectorised with numpy and written in bulk (binary ``COPY`` on PostgreSQL
through :func:`govcenter.parking.services.events._copy`, ``bulk_create`` elsewhere), in one
transaction:

* **Network.** The 17 units (16 districts + the Economic-Technological Development Area)
  get about one road per ``SPACES_PER_ROAD`` spaces, shared by a radial density around
  Tiananmen (every unit gets at least one road). A road is a straight east–west or
  north–south line of spaces 6 m apart, cut into segments of at most ``SEGMENT_MAX``
  spaces on alternating sides, with one high-position camera per segment and a
  geomagnetic sensor on every other space; every road, segment and space has its version 1
  and every device its binding period 1 from ``VERSION_LEAD`` before the window. Every space lies inside its district's real
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
* **Residential permits** (居住认证, :func:`_permits`): on ``PERMIT_SPACE_SHARE`` of the
  spaces of the residential segments (``PERMIT_SEGMENT_SHARE`` of the 二/三类 ones) — about
  2,000–3,000 at 90,000 spaces — active, pending, expired and rejected, with their monthly
  fees. A holder's plate parks overnight on the home space; those stays are billed as the
  services bill an order (``Biller.bill``: the part in the permit's hours on its segment on
  its valid dates is a 0-fen permit line, the rest priced per part).
* **Complaints** on ``COMPLAINT_SHARE`` of the finished orders, through
  ``services.complaints.complaint_create`` (numbering, routing, deadline, audit).
* **Device events** only for the stays that start on the window's last ``event_days``
  days (default 1; decision: events are the bulkiest rows and the ingest bench covers
  their write path; the orders of the earlier days carry no start/end event).

Memory: the network's rows are built in Python lists before they are written; the orders
and what hangs off them are generated, priced and written one day at a time (only "when is
each space free again" is carried to the next day), so the peak is about one day's rows
(1.3 GB measured for 90,000 spaces × 1 day before the per-day split) and does not grow
with ``--days``. The foreign keys are checked at commit
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
from collections import Counter
from dataclasses import dataclass
from types import SimpleNamespace

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
from .models.base import RoadVersion
from .models.devices import DeviceBinding, DeviceOfflinePeriod
from .models.orders import OrderCorrection
from .payments.sandbox import NAME as SANDBOX
from .plates import PROVINCES
from .profile import (  # the generators' one profile (lake/synthetic.py reads it too)
    BDA_CENTRE,
    BDA_RADIUS_KM,
    BDA_SHARE,
    CLASS_TURNOVER,
    DURATION_MAX_MIN,
    DURATION_MEDIAN_MIN,
    DURATION_SIGMA,
    HOURLY,
    LARGE_SHARE,
    NIGHT_SHARE,
    RADIAL_KM,
    SEGMENT_GAP_M,
    SEGMENT_MAX,
    SIDE_OFFSET_M,
    SPACE_STEP_M,
    SPACES_PER_ROAD,
)
from .services.base import road_snapshot, segment_snapshot, space_snapshot
from .services.events import EVENT_ROW_FIELDS, _copy, _postgresql
from .services.orders import Biller
from .tariff import SHANGHAI

MARK = "BJS"
CENTRE = (116.3975, 39.9087)  # Tiananmen, GCJ-02
CLASS_1_KM, CLASS_2_KM = 6.5, 14.0
NEW_ENERGY_SHARE, OTHER_PROVINCE_SHARE = 0.12, 0.12
ORDERS_PER_PLATE = 2.5  # distinct plates ≈ orders / this (frequent parkers recur)
PAID_SHARE = 0.82
COMPLAINT_SHARE = 0.0005  # complaints and appeals per order
PLATE_POOL_DAYS = 3  # distinct plates ≈ orders of this many days / ORDERS_PER_PLATE (bounded memory)
PERMIT_SEGMENT_SHARE = 0.3  # residential segments among the 二/三类 ones
PERMIT_SPACE_SHARE = 0.2  # their spaces that are a permit holder's home space
PERMIT_STATUS = (("active", 0.72), ("submitted", 0.1), ("expired", 0.12), ("rejected", 0.06))
PERMIT_FEE_UNPAID_SHARE = 0.04  # monthly permit fees of begun months still due
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
                "version": [1] * n_roads,
                "created_at": [now] * n_roads,
                "updated_at": [now] * n_roads,
            },
            progress,
            "roads",
        )
    }
    _write(
        RoadVersion,
        {
            "road_id": road_ids,
            "version": [1] * n_roads,
            "valid_from": [valid_from] * n_roads,
            "valid_to": [None] * n_roads,
            "snapshot": [
                road_snapshot(
                    Road(
                        code=road_codes[k],
                        name=road_names[k],
                        district_id=districts[u].pk,
                        managing_unit_id=units[u].pk,
                        status=Road.Status.ACTIVE.value,
                    )
                )
                for k, u in enumerate(road_unit.tolist())
            ],
        },
        progress,
        "road-vers",
    )

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
    # Every device bound since the versions' start: binding period 1, open.
    bound_segment = segment_ids.tolist() + segment_ids[space_segment[sensor_mask]].tolist()
    bound_space = [None] * n_segments + space_ids[sensor_mask].tolist()
    seg_code_of = seg_codes + [seg_codes[seg_of[j]] for j in sensor_space.tolist()]
    number_of = [None] * n_segments + [numbers[j] for j in sensor_space.tolist()]
    _write(
        DeviceBinding,
        {
            "device_id": device_ids,
            "version": [1] * total,
            "valid_from": [valid_from] * total,
            "valid_to": [None] * total,
            "segment_id": bound_segment,
            "space_id": bound_space,
            "snapshot": [
                {"segment_id": g, "segment_code": c, "space_id": p, "space_number": m}
                for g, c, p, m in zip(bound_segment, seg_code_of, bound_space, number_of, strict=True)
            ],
        },
        progress,
        "bindings",
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


def _stays_day(rng, lam: np.ndarray, day_start: int, now_s: int, free_at: np.ndarray):
    """One day's stays, vectorised: (space index, start s, end s or -1 when still running,
    overnight flag). Stays of one space never overlap: a stay may not start before
    ``free_at`` (the end of the space's last stay of an earlier day, + 1 min; updated here),
    and within the day a stay ends a minute before the next one starts."""
    counts = rng.poisson(lam)
    space = np.repeat(np.arange(len(lam)), counts)
    n = len(space)
    night = rng.random(n) < NIGHT_SHARE
    hour = np.where(night, rng.integers(18, 23, n), rng.choice(24, n, p=HOURLY / HOURLY.sum()))
    start = day_start + hour * 3600 + rng.integers(0, 60, n) * 60
    minutes = np.where(
        night,
        rng.integers(8 * 60, 13 * 60, n),
        np.clip(
            np.rint(rng.lognormal(math.log(DURATION_MEDIAN_MIN), DURATION_SIGMA, n)), 3, DURATION_MAX_MIN
        ),
    ).astype(np.int64)
    end = start + minutes * 60
    keep = start >= free_at[space]  # yesterday's overnight stay is still there
    space, start, end, night = space[keep], start[keep], end[keep], night[keep]
    order = np.lexsort((start, space))
    space, start, end, night = space[order], start[order], end[order], night[order]
    same = np.r_[space[1:] == space[:-1], False]
    next_start = np.r_[start[1:], 0]
    end = np.where(same, np.minimum(end, next_start - 60), end)
    keep = (end - start >= 120) & (start < now_s - 60)
    space, start, end, night = space[keep], start[keep], end[keep], night[keep]
    end = np.where(end > now_s, -1, end)  # still parked: an open order (the last stay of its space)
    last = np.r_[space[1:] != space[:-1], True] if len(space) else np.zeros(0, dtype=bool)
    free_at[space[last]] = np.where(end[last] < 0, np.iinfo(np.int64).max, end[last] + 60)
    return space, start, end, night


def _price(biller: Biller, area_class: int, vehicle: str, start, end):
    """(plan id, amount, lines) of one stay: the plan in force at its start, priced by the
    services' Biller (one quote per distinct plan, vehicle, start and end)."""
    plan = biller.plan_for(area_class, start)
    if plan is None:
        return None
    return (plan.pk, *biller._priced(plan, vehicle, start, end))


def _price_as_order(biller: Biller, area_class: int, **order_fields):
    """A stay of a permit holder: billed exactly as the services bill an order (``Biller.bill``:
    the parts inside an active permit's hours on its segment are 0-fen permit lines, the rest
    priced per part); (plan id, amount, lines) or None when no plan covers its start."""
    order = Order(state=OrderState.CLOSED, **order_fields)
    if not biller.bill(order, area_class=area_class, at=order.ended_at):
        return None
    return order.tariff_plan_id, order.amount_due_fen, order.quote_lines


# ------------------------------------------------------------------------------------------
# Residential permits (居住认证)
# ------------------------------------------------------------------------------------------

_SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈"
)
_GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超兰霞平刚桂英华建国玉文斌宇浩凯秀辉鹏飞婷雪琳晨"
_ESTATES = "和平里 安贞里 团结湖 劲松 方庄 天通苑 回龙观 望京 双井 马甸 牛街 白纸坊 鲁谷 清河 西三旗 北苑 新街口 甘家口 左家庄 潘家园".split()
_ID_WEIGHTS = np.array([7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2])


def _id_numbers(rng, region_codes: list[str]) -> list[str]:
    """Resident ID numbers (GB 11643) with a valid check digit, born 1955–2002."""
    n = len(region_codes)
    born = np.datetime64("1955-01-01") + rng.integers(0, 48 * 365, n).astype("timedelta64[D]")
    seq = rng.integers(0, 1000, n)
    out = []
    for k in range(n):
        body = f"{region_codes[k]}{str(born[k]).replace('-', '')}{seq[k]:03d}"
        total = int(np.dot(_ID_WEIGHTS, [int(c) for c in body]))
        out.append(body + "10X98765432"[total % 11])
    return out


@dataclass
class _Permits:
    home_plate: dict[int, str]  # space index → the plate of the permit holder living there
    counts: dict


def _permits(rng, net: _Network, districts, *, now, progress) -> _Permits:
    """Residential permits on a share of the spaces of residential segments in 二/三类 areas.

    ``PERMIT_SEGMENT_SHARE`` of the 二/三类 segments are residential; ``PERMIT_SPACE_SHARE``
    of their spaces are a permit holder's home space (a few thousand citywide at 90,000
    spaces). Status mix ``PERMIT_STATUS``: active (approved, valid through the end of a
    later month), submitted (pending review), expired (ended last month, so the permit book
    still covers stays billed late) and rejected. Hours 19:00–07:00; one fee row per month
    of an approved permit, paid for the months begun (a few still due). The permit's plate
    parks on its home space overnight (see :func:`_orders_day`).
    """
    from .models.permits import PermitFee, PermitStatus, ResidentialPermit
    from .services.permits import NIGHT_END, NIGHT_START, default_monthly_fee, period_end

    residential = (net.segment_class >= 2) & (rng.random(len(net.segment_ids)) < PERMIT_SEGMENT_SHARE)
    homes = np.flatnonzero(
        residential[net.space_segment] & (rng.random(len(net.space_ids)) < PERMIT_SPACE_SHARE)
    )
    n = len(homes)
    statuses = [s for s, _p in PERMIT_STATUS]
    status = rng.choice(statuses, n, p=[p for _s, p in PERMIT_STATUS]).tolist()
    plates = make_plates(rng, n)
    today = timezone.localdate(now, SHANGHAI)
    this_month = today.replace(day=1)
    max_months = settings.GOVCENTER_PARKING_PERMIT_MAX_MONTHS
    month_choices = [m for m in (3, 6, 12) if m <= max_months] or [max_months]
    months = rng.choice(month_choices, n).tolist()
    back = rng.random(n)
    seg = net.space_segment[homes]
    fee_by_class = {c: default_monthly_fee([SimpleNamespace(area_class=c)]) for c in (1, 2, 3)}
    permit_ids = _reserve_ids(ResidentialPermit, n)
    cols: dict[str, list] = {
        name: []
        for name in ("valid_from", "valid_to", "submitted_at", "reviewed_at", "review_comment", "updated_at")
    }
    for k in range(n):
        m = months[k]
        if status[k] == PermitStatus.EXPIRED:  # ended with last month
            valid_to = this_month - dt.timedelta(days=1)
            valid_from = _month_start(valid_to.replace(day=1), 1 - m)
        elif status[k] == PermitStatus.ACTIVE:  # began up to m-1 months ago, valid to a later month-end
            valid_from = _month_start(this_month, -int(back[k] * m))
            valid_to = period_end(valid_from, m)
        else:  # submitted or rejected: applied for from this month
            valid_from = this_month
            valid_to = period_end(valid_from, m)
        applied = dt.datetime.combine(valid_from, dt.time(9), SHANGHAI) - dt.timedelta(
            days=int(3 + 10 * back[k])
        )
        if status[k] == PermitStatus.SUBMITTED:
            applied = now - dt.timedelta(hours=float(1 + 96 * back[k]))
        reviewed = None if status[k] == PermitStatus.SUBMITTED else min(applied + dt.timedelta(days=2), now)
        cols["valid_from"].append(valid_from)
        cols["valid_to"].append(valid_to)
        cols["submitted_at"].append(min(applied, now))
        cols["reviewed_at"].append(reviewed)
        cols["review_comment"].append("居住证明与车辆信息不符" if status[k] == PermitStatus.REJECTED else "")
        cols["updated_at"].append(reviewed or min(applied, now))
    unit_of = net.segment_district[seg].tolist()
    region = [expected_boundary(districts[u].code) for u in unit_of]
    surname = rng.choice(list(_SURNAMES), n)
    given = rng.choice(list(_GIVEN), (n, 2))
    two = rng.random(n) < 0.6
    estate = rng.choice(_ESTATES, n)
    building = rng.integers(1, 30, (n, 3))
    counts = {
        "permits": _write(
            ResidentialPermit,
            {
                "id": permit_ids,
                "district_id": [districts[u].pk for u in unit_of],
                "citizen_id": [None] * n,
                "applicant_name": [
                    surname[k] + given[k, 0] + (given[k, 1] if two[k] else "") for k in range(n)
                ],
                "applicant_phone": [
                    f"1{p}{d:08d}"
                    for p, d in zip(
                        rng.choice(["39", "58", "86", "37", "50"], n).tolist(),
                        rng.integers(0, 10**8, n).tolist(),
                        strict=True,
                    )
                ],
                "applicant_id_number": _id_numbers(rng, region),
                "plate": plates,
                "address": [
                    f"{districts[u].name_zh}{estate[k]}小区{building[k, 0]}号楼{building[k, 1]}单元{building[k, 2]}01室"
                    for k, u in enumerate(unit_of)
                ],
                "address_proof_ref": [f"{MARK}-RP-{pid}" for pid in permit_ids],
                "hours_start": [NIGHT_START] * n,
                "hours_end": [NIGHT_END] * n,
                "monthly_fee_fen": [fee_by_class[int(c)] for c in net.segment_class[seg].tolist()],
                "months": months,
                "status": status,
                "renewal_of_id": [None] * n,
                "submitted_by_id": [None] * n,
                "reviewer_id": [None] * n,
                "revoked_at": [None] * n,
                "reminder_sent_at": [None] * n,
                **cols,
            },
            progress,
            "permits",
        )
    }
    _write(
        ResidentialPermit.segments.through,
        {"residentialpermit_id": permit_ids, "segment_id": net.segment_ids[seg].tolist()},
        Progress(enabled=False),
        "permit-seg",
    )
    fee: dict[str, list] = {"permit_id": [], "month": [], "amount_fen": [], "status": [], "paid_at": [],
                            "paid_by": [], "created_at": []}  # fmt: skip
    unpaid = rng.random(sum(months))
    j = 0
    for k in range(n):
        if status[k] not in (PermitStatus.ACTIVE, PermitStatus.EXPIRED):
            continue
        for i in range(months[k]):
            month = _month_start(cols["valid_from"][k], i)
            begun = month <= today
            paid = begun and unpaid[j] > PERMIT_FEE_UNPAID_SHARE
            j += 1
            at = min(dt.datetime.combine(month, dt.time(10), SHANGHAI) + dt.timedelta(days=2), now)
            fee["permit_id"].append(permit_ids[k])
            fee["month"].append(month)
            fee["amount_fen"].append(fee_by_class[int(net.segment_class[seg[k]])])
            fee["status"].append(PermitFee.Status.PAID.value if paid else PermitFee.Status.DUE.value)
            fee["paid_at"].append(at if paid else None)
            fee["paid_by"].append("窗口缴费" if paid else "")
            fee["created_at"].append(cols["reviewed_at"][k])
    counts["permit_fees"] = _write(PermitFee, fee, Progress(enabled=False), "permit-fees")
    for name in statuses:
        counts[f"permits_{name}"] = status.count(name)
    home_plate = {int(homes[k]): plates[k] for k in range(n)}
    return _Permits(home_plate=home_plate, counts=counts)


def _month_start(first: dt.date, months: int) -> dt.date:
    """The first day of the month ``months`` after (negative: before) the month of ``first``."""
    from .services.permits import period_end

    return period_end(first, months) + dt.timedelta(days=1)


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
    permits: _Permits,
) -> dict:
    """The window's orders day by day: each day's stays are generated, priced and written
    before the next day's, so memory does not grow with ``days`` (the plate pool is sized by
    ``PLATE_POOL_DAYS``; per space only when it is free again is carried over)."""
    now_s = int(now.timestamp())
    space_class = net.segment_class[net.space_segment]
    weight = np.vectorize(CLASS_TURNOVER.get)(space_class).astype(float)
    lam = per_day * weight / weight.mean()
    plates = make_plates(rng, max(20, int(lam.sum() * min(days, PLATE_POOL_DAYS) / ORDERS_PER_PLATE)))
    home_plates = list(permits.home_plate.values())
    home = np.full(len(lam), -1, dtype=np.int64)
    home[list(permits.home_plate)] = np.arange(len(home_plates))
    free_at = np.zeros(len(lam), dtype=np.int64)
    counts: Counter = Counter()
    for d in range(days):
        day_start = window_start + d * 86_400
        if day_start >= now_s:
            break
        counts.update(
            _orders_day(
                rng,
                net,
                districts,
                stays=_stays_day(rng, lam, day_start, now_s, free_at),
                plates=plates,
                home=home,
                home_plates=home_plates,
                with_events=d >= days - event_days,
                now=now,
                progress=lambda step, k, n, d=d: progress(f"day {d + 1}/{days}", k, n),
            )
        )
    return dict(counts)


def _orders_day(
    rng, net: _Network, districts, *, stays, plates, home, home_plates, with_events, now, progress
):
    """One day's orders with their payments, arrears records, complaints and device events.

    A permit holder parks overnight on their home space: the overnight stays there carry the
    permit's plate, and are billed as the services bill an order (:func:`_price_as_order`).
    """
    space, start_s, end_s, night = stays
    quiet = Progress(enabled=False)
    n = len(space)
    order_ids = np.array(_reserve_ids(Order, n), dtype=np.int64)
    seg = net.space_segment[space]
    plate_idx = np.floor(len(plates) * rng.random(n) ** 1.6).astype(np.int64)
    order_plates = [plates[k] for k in plate_idx.tolist()]
    resident = np.flatnonzero(night & (home[space] >= 0))
    for k, h in zip(resident.tolist(), home[space[resident]].tolist(), strict=True):
        order_plates[k] = home_plates[h]
    by_permit = set(resident.tolist())
    vehicle = np.where(rng.random(n) < LARGE_SHARE, "large", "small").tolist()
    confidence = np.round(rng.uniform(0.86, 0.995, n), 3).tolist()
    starts = _times(start_s)
    ends = [None if e < 0 else _EPOCH + dt.timedelta(seconds=int(e)) for e in end_s.tolist()]
    classes = net.segment_class[seg].tolist()
    space_ids, segment_ids = net.space_ids[space].tolist(), net.segment_ids[seg].tolist()

    biller = Biller()  # one a day: its quote cache does not outlive the day
    closures = getattr(biller, "closures", None)
    if closures is not None and by_permit:  # the permit stays' spaces in one go, not one by one
        closures.load(space_ids[k] for k in by_permit)
    due_after = dt.timedelta(days=settings.GOVCENTER_PARKING_ARREARS_DUE_DAYS)
    state, plan_ids, due, paid, lines, billed_at, updated = [], [], [], [], [], [], []
    paid_roll = rng.random(n)
    pay_delay = np.clip(rng.lognormal(math.log(8), 1.0, n), 1, 24 * 60) * 60
    payments = []  # (order index, paid_at)
    for k in range(n):
        end = ends[k]
        if end is None:
            priced = None
        elif k in by_permit:
            priced = _price_as_order(
                biller,
                classes[k],
                space_id=space_ids[k],
                segment_id=segment_ids[k],
                plate=order_plates[k],
                vehicle_class=vehicle[k],
                started_at=starts[k],
                ended_at=end,
            )
        else:
            priced = _price(biller, classes[k], vehicle[k], starts[k], end)
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
    with_events = list(range(n)) if with_events else []
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
            "segment_id": segment_ids,
            "space_id": space_ids,
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
        quiet,
        "orders",
    )
    counts["events"] = _write(DeviceEvent, ev, quiet, "events")

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
        quiet,
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
        quiet,
        "pay-items",
    )
    for name in (OrderState.PAID, OrderState.BILLED, OrderState.ARREARS, OrderState.OPEN):
        counts[f"orders_{name.value}"] = state.count(name.value)
    counts["arrears_records"] = _arrears_records(
        order_ids, state, due, ends, order_plates, net, seg, districts
    )
    counts["complaints"] = _complaints(rng, order_ids, state, ends, now, Progress(enabled=False))
    counts["orders_by_permit"] = sum(
        1 for k in by_permit if any(line.get("period") == "permit" for line in lines[k])
    )
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
            "updated_at": [timezone.now()] * len(rows),
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


def _delete_permits(mark: str) -> int:
    """The demo's residential permits (``address_proof_ref`` starts with the mark), their fees
    and segment links; SMS logs or renewals of other modules pointing at them make the
    deferred foreign-key check refuse."""
    from .models.permits import PermitFee, ResidentialPermit

    alias = connection.alias
    permits = ResidentialPermit.objects.filter(address_proof_ref__startswith=mark)
    PermitFee.objects.filter(permit__in=permits)._raw_delete(alias)
    ResidentialPermit.segments.through.objects.filter(residentialpermit__in=permits)._raw_delete(alias)
    return permits._raw_delete(alias)


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
        DeviceBinding.objects.filter(device__serial__startswith=mark)._raw_delete(connection.alias)
        counts["devices"] = Device.objects.filter(serial__startswith=mark)._raw_delete(connection.alias)
        counts["permits"] = _delete_permits(mark)
        SpaceVersion.objects.filter(space__segment__code__startswith=mark)._raw_delete(connection.alias)
        counts["spaces"] = Space.objects.filter(segment__code__startswith=mark)._raw_delete(connection.alias)
        SegmentVersion.objects.filter(segment__code__startswith=mark)._raw_delete(connection.alias)
        counts["segments"] = Segment.objects.filter(code__startswith=mark)._raw_delete(connection.alias)
        RoadVersion.objects.filter(road__code__startswith=mark)._raw_delete(connection.alias)
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
        permits = _permits(rng, net, districts, now=now, progress=progress)
        counts.update(permits.counts)
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
                permits=permits,
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
        from .models.permits import PermitFee, ResidentialPermit

        tables = [m._meta.db_table for m in (Road, RoadVersion, Segment, Space, SpaceVersion, Device, DeviceBinding,
                                             Order, DeviceEvent, PaymentIntent, PaymentItem, ResidentialPermit,
                                             PermitFee)]  # fmt: skip
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE " + ", ".join(connection.ops.quote_name(t) for t in tables))
        progress("analyzed", 1, 1)
    counts["seconds"] = round(time.perf_counter() - started, 1)
    return counts
