from .accounts import ApiToken, LoginAttempt, PasswordHistory, Role, User
from .audit import AuditCheckpoint, AuditEntry
from .calendar import CalendarDay
from .cases import Attachment, Comment, Notification
from .org import District, Unit, UnitKind
from .search import SearchDocument
from .sms import SmsCategory, SmsCode, SmsMessage, SmsTemplate
from .workflow import TransitionLog

__all__ = [
    "ApiToken",
    "Attachment",
    "AuditCheckpoint",
    "AuditEntry",
    "CalendarDay",
    "Comment",
    "District",
    "LoginAttempt",
    "Notification",
    "PasswordHistory",
    "Role",
    "SearchDocument",
    "SmsCategory",
    "SmsCode",
    "SmsMessage",
    "SmsTemplate",
    "TransitionLog",
    "Unit",
    "UnitKind",
    "User",
]
