"""Account security services: password changes, login lockout, idle-account disabling.

Every limit is a setting (GOVCENTER_PASSWORD_*, GOVCENTER_LOCKOUT_*,
GOVCENTER_ACCOUNT_IDLE_DISABLE_DAYS). ``LoginAttempt`` rows are the only source of the
lockout state: an account or a source IP is locked while its latest run of
``THRESHOLD`` password failures inside ``WINDOW`` ended less than ``COOLOFF`` ago.
Attempts refused *because* of a lockout are audited but not stored as attempts (the
password was never checked), so the cool-off runs from the last real failure.
"""

from __future__ import annotations

import contextlib
import enum
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth.hashers import check_password, make_password
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from huey import crontab
from huey.contrib.djhuey import db_periodic_task

from . import audit, context
from .models import LoginAttempt, PasswordHistory, User
from .passwords import validate_password


@contextlib.contextmanager
def as_actor(user) -> Iterator[None]:
    """Audit entries inside the block name ``user`` (request id and IP are kept)."""
    ctx = context.current()
    if user is None or ctx.user_id == getattr(user, "pk", None):
        yield
        return
    token = context.set_context(context.context_for_user(user, base=ctx))
    try:
        yield
    finally:
        context.reset_context(token)


def normalise_username(username: str) -> str:
    """The key LoginAttempt rows use: stripped, lower-cased, bounded."""
    return (username or "").strip().lower()[:150]


# --------------------------------------------------------------------------------------------
# Passwords
# --------------------------------------------------------------------------------------------


@transaction.atomic
def user_set_password(
    *, user: User, raw_password: str, actor: User | None, must_change: bool = False
) -> User:
    """Validate and store a new password for ``user``; audited, never logging the password.

    The previous hash goes to PasswordHistory (only the last GOVCENTER_PASSWORD_HISTORY
    are kept), ``password_changed_at`` restarts the expiry clock, and
    ``must_change_password`` is cleared — or set, when an administrator hands out a
    temporary password (``must_change=True``). Raises ValidationError on a policy breach.
    """
    locked = User.objects.select_for_update().get(pk=user.pk)
    validate_password(raw_password, locked)
    previous = locked.password
    if previous and not previous.startswith("!"):  # "!…" is Django's unusable password
        PasswordHistory.objects.create(user=locked, password=previous)
        keep = list(
            PasswordHistory.objects.filter(user=locked).values_list("pk", flat=True)[
                : settings.GOVCENTER_PASSWORD_HISTORY
            ]
        )
        PasswordHistory.objects.filter(user=locked).exclude(pk__in=keep).delete()
    locked.set_password(raw_password)
    locked.must_change_password = must_change
    locked.full_clean(exclude=["password"])
    locked.save(update_fields=["password", "password_changed_at", "must_change_password"])
    with as_actor(actor):
        audit.record(
            action="password_change",
            obj=locked,
            changes={
                "after": {
                    "password_changed_at": locked.password_changed_at,
                    "must_change_password": must_change,
                },
                "by_self": actor is not None and actor.pk == locked.pk,
            },
        )
    # Keep the caller's instance in step (views pass it to update_session_auth_hash).
    user.password = locked.password
    user.password_changed_at = locked.password_changed_at
    user.must_change_password = locked.must_change_password
    return user


# --------------------------------------------------------------------------------------------
# Lockout
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LockState:
    locked: bool
    until: datetime | None = None
    scope: str = ""  # "account" or "ip"


def _window() -> timedelta:
    return timedelta(minutes=settings.GOVCENTER_LOCKOUT_WINDOW_MINUTES)


def _cooloff() -> timedelta:
    return timedelta(minutes=settings.GOVCENTER_LOCKOUT_COOLOFF_MINUTES)


def _locked_until(failures_desc: list[datetime], now: datetime) -> datetime | None:
    """End of the lock implied by failure times (newest first), or None."""
    threshold, window, cooloff = settings.GOVCENTER_LOCKOUT_THRESHOLD, _window(), _cooloff()
    if threshold <= 0:
        return None
    for i, newest in enumerate(failures_desc):
        if now - newest >= cooloff:
            break
        j = i + threshold - 1
        if j < len(failures_desc) and newest - failures_desc[j] < window:
            return newest + cooloff
    return None


def _failure_times(qs, since: datetime, now: datetime) -> list[datetime]:
    return list(
        qs.filter(
            success=False, stage=LoginAttempt.Stage.PASSWORD, created_at__gte=since, created_at__lte=now
        )
        .order_by("-created_at")
        .values_list("created_at", flat=True)[:1000]
    )


def lockout_status(*, username: str, ip: str | None, now: datetime | None = None) -> LockState:
    """Whether a login for ``username`` from ``ip`` must be refused before any password check.

    Account: password failures since its last successful attempt. IP: every password
    failure from that address (a success from the IP does not reset it, or an attacker
    could interleave their own account's logins).
    """
    now = now or timezone.now()
    since = now - _window() - _cooloff()
    key = normalise_username(username)
    if key:
        last_ok = (
            LoginAttempt.objects.filter(
                username=key, success=True, created_at__gte=since, created_at__lte=now
            )
            .order_by("-created_at")
            .values_list("created_at", flat=True)
            .first()
        )
        until = _locked_until(
            _failure_times(LoginAttempt.objects.filter(username=key), max(since, last_ok or since), now), now
        )
        if until:
            return LockState(True, until, "account")
    if ip:
        until = _locked_until(_failure_times(LoginAttempt.objects.filter(ip=ip), since, now), now)
        if until:
            return LockState(True, until, "ip")
    return LockState(False)


def login_attempt_record(*, username: str, ip: str | None, stage: str, success: bool) -> LoginAttempt:
    """Store one attempt (the lockout counts password-stage failures)."""
    return LoginAttempt.objects.create(
        username=normalise_username(username), ip=ip, stage=stage, success=success
    )


@transaction.atomic
def account_unlock(*, username: str = "", ip: str | None = None, actor: User | None, reason: str = "") -> int:
    """Lift a lockout now by discarding the counted failures of an account and/or an IP.

    Returns how many failure rows were discarded; audited as "unlock" (also when there was
    nothing to discard, so the administrator's action is on record).
    """
    key = normalise_username(username)
    if not key and not ip:
        raise ValueError("account_unlock needs a username or an IP address")
    since = timezone.now() - _window() - _cooloff()
    cond = Q()
    if key:
        cond |= Q(username=key)
    if ip:
        cond |= Q(ip=ip)
    removed, _ = LoginAttempt.objects.filter(cond, success=False, created_at__gte=since).delete()
    user = _find_user(key)
    with as_actor(actor):
        audit.record(
            action="unlock",
            obj=user,
            object_type="" if user else "core.user",
            object_repr="" if user else (key or ip or ""),
            changes={"username": key, "ip": ip, "failures_discarded": removed},
            reason=reason,
        )
    return removed


def locked_out(now: datetime | None = None) -> list[dict]:
    """Accounts and IPs locked right now (for the security administrator's page)."""
    now = now or timezone.now()
    since = now - _window() - _cooloff()
    rows = LoginAttempt.objects.filter(
        success=False, stage=LoginAttempt.Stage.PASSWORD, created_at__gte=since
    )
    result = []
    for key in sorted(set(rows.values_list("username", flat=True))):
        state = lockout_status(username=key, ip=None, now=now)
        if state.locked:
            result.append({"scope": "account", "key": key, "until": state.until})
    for ip in sorted({ip for ip in rows.values_list("ip", flat=True) if ip}):
        until = _locked_until(_failure_times(LoginAttempt.objects.filter(ip=ip), since, now), now)
        if until:
            result.append({"scope": "ip", "key": ip, "until": until})
    return result


# --------------------------------------------------------------------------------------------
# Password login (the first step; the web views add the SMS second factor)
# --------------------------------------------------------------------------------------------


class LoginStatus(enum.StrEnum):
    OK = "ok"
    INVALID = "invalid"  # unknown user or wrong password
    LOCKED = "locked"  # refused before the password was checked
    INACTIVE = "inactive"  # right password, account disabled
    IDLE_DISABLED = "idle_disabled"  # right password, account disabled just now for idleness


@dataclass(frozen=True)
class LoginOutcome:
    status: LoginStatus
    user: User | None = None
    lock: LockState | None = None


# Hash of a random password: checking against it costs what a real check costs, so
# response time does not tell whether the account exists.
_DUMMY_HASH: list[str] = []


def _dummy_check(raw_password: str) -> None:
    if not _DUMMY_HASH:
        _DUMMY_HASH.append(make_password(secrets.token_urlsafe(16)))
    check_password(raw_password, _DUMMY_HASH[0])


def _find_user(key: str) -> User | None:
    """Case-insensitive lookup by username (usernames are unique without regard to case)."""
    if not key:
        return None
    try:
        return User.objects.get_by_natural_key(key)
    except User.DoesNotExist:
        return None


def _audit_failure(*, key: str, user: User | None, reason: str, extra: dict | None = None) -> None:
    audit.record(
        action="login_failed",
        obj=user,
        object_type="" if user else "core.user",
        object_repr="" if user else key,
        changes={"username": key, "reason": reason, **(extra or {})},
        success=False,
    )


def login_check_password(
    *, username: str, password: str, ip: str | None, now: datetime | None = None
) -> LoginOutcome:
    """Step one of a login: lockout first, then the password, then the account state.

    Every failure is stored (LoginAttempt) and audited; the failure that completes a run
    is audited once more as "locked". The slow password hash runs outside any write
    transaction so logins do not queue behind it on SQLite.
    """
    now = now or timezone.now()
    key = normalise_username(username)
    state = lockout_status(username=key, ip=ip, now=now)
    if state.locked:
        with transaction.atomic():
            _audit_failure(
                key=key,
                user=_find_user(key),
                reason="locked",
                extra={"locked_by": state.scope},
            )
        return LoginOutcome(LoginStatus.LOCKED, lock=state)

    user = _find_user(key)
    if user is None:
        _dummy_check(password or "")
        ok = False
    else:
        ok = bool(password) and user.check_password(password)

    if not ok or not user.is_active:
        reason = "bad_credentials" if not ok else "inactive"
        with transaction.atomic():
            login_attempt_record(username=key, ip=ip, stage=LoginAttempt.Stage.PASSWORD, success=False)
            _audit_failure(key=key, user=user, reason=reason)
            after = lockout_status(username=key, ip=ip, now=timezone.now())
            if after.locked:
                audit.record(
                    action="locked",
                    obj=user,
                    object_type="" if user else "core.user",
                    object_repr="" if user else key,
                    changes={"username": key, "ip": ip, "scope": after.scope, "until": after.until},
                    success=False,
                )
        return LoginOutcome(
            LoginStatus.INVALID if not ok else LoginStatus.INACTIVE, user=user if ok else None
        )

    if account_is_idle(user, now=now):
        with transaction.atomic():
            user_disable(user=user, reason=idle_reason(), actor=None)
            login_attempt_record(username=key, ip=ip, stage=LoginAttempt.Stage.PASSWORD, success=False)
            _audit_failure(key=key, user=user, reason="idle_disabled")
        return LoginOutcome(LoginStatus.IDLE_DISABLED, user=user)

    login_attempt_record(username=key, ip=ip, stage=LoginAttempt.Stage.PASSWORD, success=True)
    return LoginOutcome(LoginStatus.OK, user=user)


# --------------------------------------------------------------------------------------------
# Idle accounts
# --------------------------------------------------------------------------------------------


def idle_reason() -> str:
    return f"idle {settings.GOVCENTER_ACCOUNT_IDLE_DISABLE_DAYS} days"


def _idle_cutoff(now: datetime) -> datetime | None:
    days = settings.GOVCENTER_ACCOUNT_IDLE_DISABLE_DAYS
    return now - timedelta(days=days) if days > 0 else None


def account_is_idle(user: User, *, now: datetime | None = None) -> bool:
    """No login (or, never logged in, no account creation) within the idle limit."""
    cutoff = _idle_cutoff(now or timezone.now())
    if cutoff is None:
        return False
    last = user.last_login or user.date_joined
    return last is not None and last < cutoff


@transaction.atomic
def user_disable(*, user: User, reason: str, actor: User | None) -> User:
    """Deactivate an account (it can no longer log in); audited with the reason."""
    locked = User.objects.select_for_update().get(pk=user.pk)
    before = audit.snapshot(locked, ["is_active", "disabled_reason"])
    locked.is_active = False
    locked.disabled_reason = reason[:200]
    locked.save(update_fields=["is_active", "disabled_reason"])
    with as_actor(actor):
        audit.record(
            action="disable",
            obj=locked,
            changes=audit.diff(before, audit.snapshot(locked, ["is_active", "disabled_reason"])),
            reason=reason,
        )
    user.is_active, user.disabled_reason = locked.is_active, locked.disabled_reason
    return user


def accounts_disable_idle(*, now: datetime | None = None) -> list[int]:
    """Disable every active account idle longer than the limit; returns their ids."""
    cutoff = _idle_cutoff(now or timezone.now())
    if cutoff is None:
        return []
    idle = User.objects.filter(is_active=True).filter(
        Q(last_login__lt=cutoff) | Q(last_login__isnull=True, date_joined__lt=cutoff)
    )
    done = []
    for user in idle.iterator():
        user_disable(user=user, reason=idle_reason(), actor=None)
        done.append(user.pk)
    return done


@db_periodic_task(crontab(hour="3", minute="15"))
def disable_idle_accounts_daily() -> int:
    """Daily job: disable accounts idle beyond GOVCENTER_ACCOUNT_IDLE_DISABLE_DAYS."""
    with context.acting_as(None, channel="task"):
        return len(accounts_disable_idle())
