"""A small, idempotent parking demo network for ``make run``: roads, segments, spaces and
devices in 东城 and 西城, every position inside the real district boundary (GCJ-02).

``load_small_demo()`` creates what is missing and changes nothing that exists (a second
call returns zeros). It runs as the system through the services, so every row has its
first version and its audit entry. The districts must exist (``govcenter seed``); a
district without a 区停车管理单位 gets one.

Once the network is there, ``demo_areas.load_demo_areas()`` adds a few records of every
other built parking module (citizens, stays, payments, receipts, complaints, tickets,
permits, …) through their services; its counts are merged into the result.
"""

from __future__ import annotations

from django.db import transaction

from govcenter.core import context
from govcenter.core.districts import get_index
from govcenter.core.models import District, Unit, UnitKind

from .demo_areas import load_demo_areas
from .models import Device, Road, Segment, Space
from .services import base as services
from .services import devices as device_services

# code, road, segment name, area class, side, start (lon, lat GCJ-02), direction (dlon, dlat), spaces
NETWORK = {
    "110101": (
        (
            "DC-R001",
            "王府井大街",
            "王府井大街（金鱼胡同—灯市口）",
            1,
            "west",
            (116.4108, 39.9140),
            (0.0, 0.00006),
            12,
        ),
        (
            "DC-R002",
            "东四北大街",
            "东四北大街（东四—钱粮胡同）",
            1,
            "east",
            (116.4172, 39.9250),
            (0.0, 0.00006),
            10,
        ),
        ("DC-R003", "安定门外大街", "安定门外大街辅路", 2, "east", (116.4085, 39.9530), (0.0, 0.00006), 8),
    ),
    "110102": (
        (
            "XC-R001",
            "西单北大街",
            "西单北大街（西单—灵境胡同）",
            1,
            "east",
            (116.3740, 39.9100),
            (0.0, 0.00006),
            12,
        ),
        (
            "XC-R002",
            "德胜门内大街",
            "德胜门内大街（德胜门—新街口）",
            1,
            "west",
            (116.3770, 39.9420),
            (0.0, -0.00006),
            10,
        ),
        ("XC-R003", "广安门内大街", "广安门内大街辅路", 2, "north", (116.3560, 39.8910), (0.00008, 0.0), 8),
    ),
}
SENSOR_EVERY = 2  # every other space gets a geomagnetic sensor


def _unit(district: District) -> Unit:
    unit = Unit.objects.filter(district=district, kind=UnitKind.DISTRICT_UNIT, is_active=True).first()
    if unit is not None:
        return unit
    from govcenter.core.services import unit_create

    return unit_create(
        actor=None,
        code=f"PK-{district.code}",
        name_zh=f"{district.name_zh}停车管理单位",
        kind=UnitKind.DISTRICT_UNIT,
        district=district,
    )


def _points(start, step, n):
    return [(round(start[0] + step[0] * i, 6), round(start[1] + step[1] * i, 6)) for i in range(n)]


@transaction.atomic
def load_small_demo() -> dict[str, int]:
    """Create the demo network and area records that are missing; returns what was created."""
    created = _load_network()
    _load_stat_area()  # not counted: the counts are the network's and the areas'
    with context.acting_as(None, channel="cli"):
        for name, count in load_demo_areas().items():
            created[name] = created.get(name, 0) + count
    return created


# A saved area of the query builder (statistic 10): 夜京城 night-economy streets, 簋街 to 三里屯 (GCJ-02).
NIGHT_AREA = (
    "夜京城·三里屯/簋街",
    {
        "type": "Polygon",
        "coordinates": [[[116.415, 39.928], [116.462, 39.928], [116.462, 39.945], [116.415, 39.945], [116.415, 39.928]]],
    },
)


def _load_stat_area() -> int:
    """The shared demo 夜京城 area (idempotent)."""
    from .models.stats_query import StatArea

    name, polygon = NIGHT_AREA
    if StatArea.objects.filter(name=name, owner=None).exists():
        return 0
    StatArea.objects.create(name=name, kind=StatArea.Kind.NIGHT, polygon=polygon, shared=True)
    return 1


def _load_network() -> dict[str, int]:
    created = {"roads": 0, "segments": 0, "spaces": 0, "devices": 0}
    index = get_index()
    with context.acting_as(None, channel="cli"):
        for district_code, rows in NETWORK.items():
            district = District.objects.filter(code=district_code).first()
            if district is None:
                continue
            unit = _unit(district)
            for road_code, road_name, seg_name, area_class, side, start, step, n in rows:
                points = _points(start, step, n)
                lons, lats = [p[0] for p in points], [p[1] for p in points]
                # The table above is data: prove it still lies in the district before writing.
                assert set(index.lookup_codes(lons, lats).tolist()) == {district_code}, road_code
                road = Road.objects.filter(district=district, code=road_code).first()
                if road is None:
                    road = services.road_create(
                        actor=None, district=district, code=road_code, name=road_name, managing_unit=unit
                    )
                    created["roads"] += 1
                seg_code = f"{road_code}-S01"
                segment = Segment.objects.filter(code=seg_code).first()
                if segment is None:
                    segment = services.segment_create(
                        actor=None,
                        road=road,
                        code=seg_code,
                        name=seg_name,
                        area_class=area_class,
                        side=side,
                        geometry={"type": "LineString", "coordinates": [list(points[0]), list(points[-1])]},
                        length_cm=600 * n,
                    )
                    created["segments"] += 1
                existing = set(Space.objects.filter(segment=segment).values_list("number", flat=True))
                rows_new = [
                    {"number": f"{i + 1:03d}", "lon": lon, "lat": lat}
                    for i, (lon, lat) in enumerate(points)
                    if f"{i + 1:03d}" not in existing
                ]
                if rows_new:
                    services.space_create_bulk(actor=None, segment=segment, rows=rows_new, reason="demo")
                    created["spaces"] += len(rows_new)
                devices = []
                for space in Space.objects.filter(segment=segment).order_by("number")[::SENSOR_EVERY]:
                    serial = f"GM-{seg_code}-{space.number}"
                    if not Device.objects.filter(serial=serial).exists():
                        devices.append(
                            {"kind": "geomagnetic", "serial": serial, "space": space, "firmware": "2.1.0"}
                        )
                camera = f"HV-{seg_code}"
                if not Device.objects.filter(serial=camera).exists():
                    devices.append(
                        {"kind": "high_video", "serial": camera, "segment": segment, "firmware": "5.0.3"}
                    )
                if devices:
                    device_services.device_register_bulk(actor=None, rows=devices, reason="demo")
                    created["devices"] += len(devices)
    return created
