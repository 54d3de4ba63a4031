"""Password policy validators (AUTH_PASSWORD_VALIDATORS)."""

from __future__ import annotations

import string

from django.conf import settings
from django.contrib.auth.hashers import check_password
from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

CLASSES = (
    ("lower", set(string.ascii_lowercase)),
    ("upper", set(string.ascii_uppercase)),
    ("digit", set(string.digits)),
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
