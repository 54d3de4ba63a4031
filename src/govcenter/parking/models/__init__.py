# Registered with the app here; import their names from their own modules.
from . import arrears, complaints, permits, receipts, refunds, stats  # noqa: E402, F401, I001
from . import reports  # noqa: E402, F401  (statistics 8/9: ParkingReport)
from .adjustments import ChangeSet, ChangeSetItem, TemporaryOccupation  # noqa: E402, F401
from .base import Road, RoadVersion, Segment, SegmentVersion, Space, SpaceVersion  # noqa: E402
from .citizens import Citizen, CitizenToken, PlateBinding, PlateTransfer  # noqa: E402, F401
from .devices import Device, DeviceBinding, DeviceKind, DeviceOfflinePeriod  # noqa: E402
from .events import DeviceEvent, IngestRejection, ParkingAnomaly  # noqa: E402, F401
from .orders import Order, OrderCorrection, OrderState  # noqa: E402, F401
from .payments import PaymentIntent, PaymentItem, PaymentNotification, PaymentStatus, SandboxTrade  # noqa: E402, F401
from .tariff import AreaClass, TariffPlan, VehicleClass

__all__ = [
    "AreaClass",
    "Device",
    "DeviceBinding",
    "DeviceKind",
    "DeviceOfflinePeriod",
    "Road",
    "RoadVersion",
    "Segment",
    "SegmentVersion",
    "Space",
    "SpaceVersion",
    "TariffPlan",
    "VehicleClass",
]
from . import (
    statevents,  # noqa: E402, F401  (StatEvent: parking/stats2/events.py)
    stats_query,  # noqa: E402, F401  statistic 10 (query builder)
)
