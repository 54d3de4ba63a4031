"""Factories of the parking base data (owned by the base-data helper; others may append).

They create through the services (actor None = the system), so every segment and space
has its first version, exactly as in production.
"""

from __future__ import annotations

import factory

from govcenter.parking.models import Device, Road, Segment, Space
from govcenter.parking.services import base as services
from govcenter.parking.services import devices as device_services
from tests.factories import DistrictFactory, UnitFactory

# Points inside the real boundaries (GCJ-02): Wangfujing (东城) and Xidan (西城).
DONGCHENG_POINT = (116.4105, 39.9137)
XICHENG_POINT = (116.3737, 39.9087)
POINTS = {"110101": DONGCHENG_POINT, "110102": XICHENG_POINT}


def point_for(district, offset: int = 0) -> tuple[float, float]:
    lon, lat = POINTS.get(district.code, DONGCHENG_POINT)
    return round(lon + 0.00005 * offset, 6), lat


def district_unit_for(district):
    from govcenter.core.models import Unit

    unit = Unit.objects.filter(district=district, kind="district_unit").first()
    return unit or UnitFactory(
        kind="district_unit", district=district, name_zh=f"{district.name_zh}停车管理单位"
    )


class RoadFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Road

    district = factory.SubFactory(DistrictFactory, code="110101", name_zh="东城区", name_en="Dongcheng")
    code = factory.Sequence(lambda n: f"R{n:04d}")
    name = factory.Sequence(lambda n: f"测试路{n}")

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        district = kwargs["district"]
        kwargs.setdefault("managing_unit", district_unit_for(district))
        return services.road_create(actor=None, **kwargs)


class SegmentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Segment

    road = factory.SubFactory(RoadFactory)
    code = factory.Sequence(lambda n: f"SEG{n:05d}")
    name = factory.Sequence(lambda n: f"测试路段{n}")
    area_class = 1

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        if "geometry" not in kwargs:
            lon, lat = point_for(kwargs["road"].district)
            kwargs["geometry"] = {"type": "LineString", "coordinates": [[lon, lat], [lon + 0.001, lat]]}
        return services.segment_create(actor=None, **kwargs)


class SpaceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Space

    segment = factory.SubFactory(SegmentFactory)
    number = factory.Sequence(lambda n: f"{n:03d}")

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        if "lon" not in kwargs:
            kwargs["lon"], kwargs["lat"] = point_for(
                kwargs["segment"].district, int(kwargs["number"][-2:] or 0) % 20
            )
        return services.space_create(actor=None, **kwargs)


class DeviceFactory(factory.django.DjangoModelFactory):
    """A geomagnetic sensor on a new space unless ``kind``/``segment`` say otherwise."""

    class Meta:
        model = Device

    kind = "geomagnetic"
    serial = factory.Sequence(lambda n: f"SN{n:08d}")

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        if kwargs["kind"] == "geomagnetic" and "space" not in kwargs and "district" not in kwargs:
            kwargs["space"] = SpaceFactory()
        if kwargs["kind"] != "geomagnetic" and "segment" not in kwargs and "district" not in kwargs:
            kwargs["segment"] = SegmentFactory()
        return device_services.device_register(actor=None, **kwargs)
