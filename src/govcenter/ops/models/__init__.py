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
from .integrity import CheckStatus, IntegrityBaseline, IntegrityCheck, LogLevel, LogRecord

__all__ = [
    "CheckStatus",
    "IntegrityBaseline",
    "IntegrityCheck",
    "LogLevel",
    "LogRecord",
    "DayKind",
    "GuardPeriod",
    "Incident",
    "IncidentPause",
    "IncidentSource",
    "IncidentState",
    "OPEN_STATES",
    "Severity",
    "SlaPolicy",
]
