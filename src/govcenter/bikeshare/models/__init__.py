"""Bike-share models, one module per area."""

from .fences import Fence, FenceKindChoices, FenceVersion
from .ingest import OperatorProfile
from .quotas import FleetQuota
from .registry import OperatorCredential, OperatorRejection, Vehicle, VehicleState
from .scanchecks import PROBLEMS, ScanCheck, ScanResult

__all__ = [
    "PROBLEMS",
    "Fence",
    "FenceKindChoices",
    "FenceVersion",
    "FleetQuota",
    "OperatorCredential",
    "OperatorProfile",
    "OperatorRejection",
    "ScanCheck",
    "ScanResult",
    "Vehicle",
    "VehicleState",
]

# Areas that export their models through ``__all__`` of their own module.
from .assessment import *  # noqa: E402, F403
from .reports import *  # noqa: E402, F403
from .workorders import *  # noqa: E402, F403
