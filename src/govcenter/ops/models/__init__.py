"""The ops models, one module per part of the O&M contract; import from ``govcenter.ops.models``."""

from .incidents import (
    OPEN_STATES,
    DayKind,
    GuardPeriod,
    Incident,
    IncidentPause,
    IncidentSource,
    IncidentState,
    Severity,
    SlaPolicy,
)
from .monitoring import (
    AlertCondition,
    AlertEvent,
    AlertEventKind,
    AlertRule,
    AlertState,
    AlertStatus,
    MaintenanceWindow,
    MonitorTarget,
    ProbeHourly,
    ProbeKind,
    ProbeResult,
)

__all__ = [
    "DayKind",
    "GuardPeriod",
    "Incident",
    "IncidentPause",
    "IncidentSource",
    "IncidentState",
    "OPEN_STATES",
    "Severity",
    "SlaPolicy",
    # monitoring
    "AlertCondition",
    "AlertEvent",
    "AlertEventKind",
    "AlertRule",
    "AlertState",
    "AlertStatus",
    "MaintenanceWindow",
    "MonitorTarget",
    "ProbeHourly",
    "ProbeKind",
    "ProbeResult",
]
