from .accounts import ApiToken, LoginAttempt, PasswordHistory, Role, User
from .audit import AuditCheckpoint, AuditEntry
from .calendar import CalendarDay
from .org import District, Unit, UnitKind
from .sms import SmsCategory, SmsCode, SmsMessage, SmsTemplate
from .workflow import TransitionLog

__all__ = [
    "ApiToken",
    "AuditCheckpoint",
    "AuditEntry",
    "CalendarDay",
    "District",
    "LoginAttempt",
    "PasswordHistory",
    "Role",
    "SmsCategory",
    "SmsCode",
    "SmsMessage",
    "SmsTemplate",
    "TransitionLog",
    "Unit",
    "UnitKind",
    "User",
]
