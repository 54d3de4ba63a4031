from .base import Road, Segment, SegmentVersion, Space, SpaceVersion  # noqa: E402
from .devices import Device, DeviceKind, DeviceOfflinePeriod  # noqa: E402
from .tariff import AreaClass, TariffPlan, VehicleClass

__all__ = [
    "AreaClass",
    "Device",
    "DeviceKind",
    "DeviceOfflinePeriod",
    "Road",
    "Segment",
    "SegmentVersion",
    "Space",
    "SpaceVersion",
    "TariffPlan",
    "VehicleClass",
]
