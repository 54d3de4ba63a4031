"""The ops models, one module per part of the O&M contract; import from ``govcenter.ops.models``."""

from .backups import Backup, BackupEngine, BackupKind, BackupState, DrillResult, RestoreDrill
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

__all__ = [
    "Backup",
    "BackupEngine",
    "BackupKind",
    "BackupState",
    "DrillResult",
    "RestoreDrill",
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
