"""Password policy validators (AUTH_PASSWORD_VALIDATORS)."""

from __future__ import annotations

import string

from django.conf import settings
from django.contrib.auth import password_validation
from django.contrib.auth.hashers import check_password
from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

CLASSES = (
    ("lower", set(string.ascii_lowercase)),
    ("upper", set(string.ascii_uppercase)),
    ("digit", set(string.digits)),
)


# Factory, vendor and "first login" passwords that scanners try first; compared
# case-insensitively. Each one passes the length and class rules, which is why it is listed.
DEFAULT_PASSWORDS = frozenset(
    p.lower()
    for p in (
        "Admin@123",
        "Admin@1234",
        "Admin@12345",
        "Admin123!",
        "admin123",
        "12345678",
        "123456789",
        "P@ssw0rd",
        "P@ssword1",
        "Passw0rd",
        "Passw0rd!",
        "Password1",
        "Password@1",
        "Password123",
        "Abc@1234",
        "Abc@123456",
        "Abcd@1234",
        "Aa123456",
        "Aa123456!",
        "Qwer1234",
        "Qwer@1234",
        "1qaz@WSX",
        "1qaz!QAZ",
        "1qaz2wsx#EDC",
        "Welcome1",
        "Welcome@1",
        "Test@123",
        "Test@1234",
        "Root@123",
        "Root@1234",
        "Huawei@123",
        "Huawei12#$",
        "Changeme1",
        "Changeme@123",
        "Sysadmin@123",
        "Gov@12345",
    )
)


def character_classes(password: str) -> int:
    """How many of the 4 classes (lower, upper, digit, other) the password uses."""
    used = {name for name, chars in CLASSES if any(c in chars for c in password)}
    if any(not (c.isascii() and c.isalnum()) for c in password):
        used.add("other")
    return len(used)


class CharacterClassValidator:
    """At least N (default 3) of: lower-case, upper-case, digits, other characters."""

    def __init__(self, min_classes: int | None = None):
        self.min_classes = min_classes

    @property
    def required(self) -> int:
        return self.min_classes or settings.GOVCENTER_PASSWORD_MIN_CLASSES

    def validate(self, password, user=None):
        if character_classes(password) < self.required:
            raise ValidationError(
                _("密码须包含大写字母、小写字母、数字、其他字符中的至少 %(n)d 类。") % {"n": self.required},
                code="password_too_simple",
            )

    def get_help_text(self):
        return _("至少包含大写字母、小写字母、数字、其他字符中的 %(n)d 类。") % {"n": self.required}


class PasswordHistoryValidator:
    """The last N passwords (default 5, the current one included) cannot be reused."""

    def __init__(self, history: int | None = None):
        self.history = history

    @property
    def depth(self) -> int:
        return self.history or settings.GOVCENTER_PASSWORD_HISTORY

    def validate(self, password, user=None):
        if user is None or user.pk is None:
            return
        previous = [user.password] if user.password else []
        previous += list(user.password_history.values_list("password", flat=True)[: self.depth])
        for encoded in previous[: self.depth]:
            if encoded and check_password(password, encoded):
                raise ValidationError(
                    ngettext(
                        "不能使用最近 %(n)d 次用过的密码。",
                        "不能使用最近 %(n)d 次用过的密码。",
                        self.depth,
                    )
                    % {"n": self.depth},
                    code="password_reused",
                )

    def get_help_text(self):
        return _("不能与最近 %(n)d 次使用的密码相同。") % {"n": self.depth}


class DefaultPasswordValidator:
    """No empty password, no well-known default, not the username or phone number."""

    def validate(self, password, user=None):
        if not password or not password.strip():
            raise ValidationError(_("密码不能为空。"), code="password_empty")
        folded = password.strip().lower()
        if folded in DEFAULT_PASSWORDS:
            raise ValidationError(_("不能使用默认密码或常见弱口令。"), code="password_default")
        for attr in ("username", "phone"):
            value = (getattr(user, attr, "") or "").strip().lower() if user is not None else ""
            if value and folded == value:
                raise ValidationError(_("密码不能与用户名或手机号相同。"), code="password_is_username")

    def get_help_text(self):
        return _("不能为空，不能是默认密码，不能与用户名相同。")


def validate_password(password: str, user=None) -> None:
    """The whole policy: the configured validators plus the default-password rule.

    The default-password rule always runs, so removing it from AUTH_PASSWORD_VALIDATORS
    cannot re-enable "Admin@123". Raises ValidationError listing every broken rule.
    """
    errors = []
    try:
        password_validation.validate_password(password, user)
    except ValidationError as exc:
        errors.extend(exc.error_list)
    configured = {type(v) for v in password_validation.get_default_password_validators()}
    if DefaultPasswordValidator not in configured:
        try:
            DefaultPasswordValidator().validate(password, user)
        except ValidationError as exc:
            errors.extend(exc.error_list)
    if errors:
        raise ValidationError(errors)
