from .accounts import ApiToken, LoginAttempt, PasswordHistory, Role, User
from .audit import AuditCheckpoint, AuditEntry
from .calendar import CalendarDay
from .org import District, Unit, UnitKind
from .sms import SmsCode, SmsMessage

__all__ = [
    "ApiToken",
    "AuditCheckpoint",
    "AuditEntry",
    "CalendarDay",
    "District",
    "LoginAttempt",
    "PasswordHistory",
    "Role",
    "SmsCode",
    "SmsMessage",
    "Unit",
    "UnitKind",
    "User",
]
