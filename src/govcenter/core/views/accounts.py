"""Login (password, then the SMS code when required), logout, password change, lockouts.

Between the password and the code the session holds only a pending marker (user id,
time, the user's session auth hash); ``request.user`` stays anonymous, so every
``login_required`` page still redirects to the login page. ``django.contrib.auth.login``
runs only after the code passed.
"""

from __future__ import annotations

import time

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login, logout, update_session_auth_hash
from django.contrib.auth.decorators import login_required, permission_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render, resolve_url
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_http_methods, require_POST

from .. import audit, security
from ..auth import requires_second_factor
from ..masking import mask_phone
from ..middleware import client_ip
from ..models import LoginAttempt, User
from ..sms import SmsRateLimited, sms_code_send, sms_code_verify

PENDING_KEY = "govcenter_pending_login"
SMS_PURPOSE = "staff_login"
# The password step stays valid this long; the code itself expires sooner.
PENDING_TTL_SECONDS = 600
GENERIC_FAILURE = gettext_lazy("用户名或密码错误，或账号已被暂时锁定，请稍后再试。")


class LoginForm(forms.Form):
    username = forms.CharField(
        label=gettext_lazy("用户名"),
        max_length=150,
        widget=forms.TextInput(
            attrs={"autofocus": True, "autocomplete": "username", "class": "form-control"}
        ),
    )
    password = forms.CharField(
        label=gettext_lazy("密码"),
        strip=False,
        max_length=256,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password", "class": "form-control"}),
    )


class CodeForm(forms.Form):
    code = forms.RegexField(
        label=gettext_lazy("短信验证码"),
        regex=r"^\s*\d{6}\s*$",
        error_messages={"invalid": gettext_lazy("请输入 6 位数字验证码。")},
        widget=forms.TextInput(
            attrs={
                "autofocus": True,
                "autocomplete": "one-time-code",
                "inputmode": "numeric",
                "maxlength": 6,
                "class": "form-control",
            }
        ),
    )


class PasswordChangeForm(forms.Form):
    old_password = forms.CharField(
        label=gettext_lazy("当前密码"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password", "class": "form-control"}),
    )
    new_password1 = forms.CharField(
        label=gettext_lazy("新密码"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password", "class": "form-control"}),
    )
    new_password2 = forms.CharField(
        label=gettext_lazy("确认新密码"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password", "class": "form-control"}),
    )

    def __init__(self, user, *args, **kwargs):
        self.user = user
        super().__init__(*args, **kwargs)

    def clean_old_password(self):
        value = self.cleaned_data["old_password"]
        if not self.user.check_password(value):
            raise ValidationError(_("当前密码不正确。"), code="password_incorrect")
        return value

    def clean(self):
        cleaned = super().clean()
        one, two = cleaned.get("new_password1"), cleaned.get("new_password2")
        if one and two and one != two:
            self.add_error("new_password2", _("两次输入的新密码不一致。"))
        return cleaned


def _next_url(request: HttpRequest, candidate: str | None) -> str:
    if candidate and url_has_allowed_host_and_scheme(
        candidate, {request.get_host()}, require_https=request.is_secure()
    ):
        return candidate
    return resolve_url(settings.LOGIN_REDIRECT_URL)


def _pending_user(request: HttpRequest) -> tuple[User | None, dict]:
    """The user of a still-valid pending marker, or None (and the marker is dropped)."""
    pending = request.session.get(PENDING_KEY)
    if not isinstance(pending, dict):
        return None, {}
    user = User.objects.filter(pk=pending.get("uid"), is_active=True).first()
    fresh = time.time() - float(pending.get("at", 0)) < PENDING_TTL_SECONDS
    # A password change (or reset) since step one invalidates the marker.
    if user is None or not fresh or pending.get("auth_hash") != user.get_session_auth_hash():
        request.session.pop(PENDING_KEY, None)
        return None, {}
    return user, pending


def _complete_login(request: HttpRequest, user: User, *, second_factor: bool) -> None:
    request.govcenter_second_factor = second_factor
    login(request, user, backend=settings.AUTHENTICATION_BACKENDS[0])


def _send_code(request: HttpRequest, user: User) -> None:
    """Send a code, telling the user when the limits refuse (a previous code stays live)."""
    try:
        sms_code_send(phone=user.phone, purpose=SMS_PURPOSE)
        messages.info(request, _("验证码已发送至 %(phone)s。") % {"phone": mask_phone(user.phone)})
    except SmsRateLimited as exc:
        if exc.reason == "daily":
            messages.warning(
                request, _("今日验证码发送次数已达上限，请 %(s)d 秒后再试。") % {"s": exc.retry_after_seconds}
            )
        else:
            messages.warning(
                request, _("验证码已发送，请在 %(s)d 秒后再重新获取。") % {"s": exc.retry_after_seconds}
            )


@sensitive_post_parameters("password")
@csrf_protect
@never_cache
@require_http_methods(["GET", "POST"])
def login_view(request: HttpRequest) -> HttpResponse:
    next_url = request.POST.get("next") or request.GET.get("next") or ""
    if request.user.is_authenticated:
        return redirect(_next_url(request, next_url))
    form = LoginForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        ip = client_ip(request)
        outcome = security.login_check_password(
            username=form.cleaned_data["username"], password=form.cleaned_data["password"], ip=ip
        )
        if outcome.status in (security.LoginStatus.INACTIVE, security.LoginStatus.IDLE_DISABLED):
            form.add_error(None, _("账号已停用，请联系系统管理员。"))
        elif outcome.status != security.LoginStatus.OK:
            form.add_error(None, GENERIC_FAILURE)
        else:
            user = outcome.user
            if not requires_second_factor(user):
                request.session.cycle_key()
                _complete_login(request, user, second_factor=False)
                return redirect(_next_url(request, next_url))
            if not user.phone:
                audit.record(
                    action="login_failed",
                    obj=user,
                    changes={"username": user.username.lower(), "reason": "no_phone"},
                    success=False,
                )
                form.add_error(None, _("您的账号须通过短信验证码登录，但未登记手机号，请联系系统管理员。"))
            else:
                # New session key before anything is stored for this login (fixation).
                request.session.cycle_key()
                request.session[PENDING_KEY] = {
                    "uid": user.pk,
                    "at": time.time(),
                    "auth_hash": user.get_session_auth_hash(),
                    "next": _next_url(request, next_url),
                }
                _send_code(request, user)
                return redirect("core:login_verify")
    return render(request, "core/accounts/login.html", {"form": form, "next": next_url})


@csrf_protect
@never_cache
@require_http_methods(["GET", "POST"])
def login_verify(request: HttpRequest) -> HttpResponse:
    user, pending = _pending_user(request)
    if user is None:
        messages.warning(request, _("请先输入用户名和密码。"))
        return redirect("core:login")
    form = CodeForm()
    if request.method == "POST" and "resend" in request.POST:
        _send_code(request, user)
        return redirect("core:login_verify")
    if request.method == "POST":
        form = CodeForm(request.POST)
        ip = client_ip(request)
        if security.lockout_status(username=user.username, ip=ip).locked:
            request.session.pop(PENDING_KEY, None)
            messages.error(request, GENERIC_FAILURE)
            return redirect("core:login")
        if form.is_valid():
            if sms_code_verify(phone=user.phone, purpose=SMS_PURPOSE, code=form.cleaned_data["code"]):
                security.login_attempt_record(
                    username=user.username, ip=ip, stage=LoginAttempt.Stage.SMS, success=True
                )
                next_url = pending.get("next") or ""
                request.session.pop(PENDING_KEY, None)
                _complete_login(request, user, second_factor=True)
                return redirect(_next_url(request, next_url))
            security.login_attempt_record(
                username=user.username, ip=ip, stage=LoginAttempt.Stage.SMS, success=False
            )
            audit.record(
                action="login_failed",
                obj=user,
                changes={"username": user.username.lower(), "reason": "bad_code"},
                success=False,
            )
            form.add_error("code", _("验证码错误或已失效，请重新输入或重新获取。"))
    return render(
        request, "core/accounts/login_verify.html", {"form": form, "masked_phone": mask_phone(user.phone)}
    )


@require_POST
def logout_view(request: HttpRequest) -> HttpResponse:
    """Ends the session (flushed: a new key, no data); the logout is audited by a signal."""
    logout(request)
    messages.info(request, _("您已安全退出。"))
    return redirect(settings.LOGOUT_REDIRECT_URL)


@sensitive_post_parameters("old_password", "new_password1", "new_password2")
@login_required
@require_http_methods(["GET", "POST"])
def password_change(request: HttpRequest) -> HttpResponse:
    """Reachable with an expired password (PasswordExpiryMiddleware lets /accounts/ through)."""
    form = PasswordChangeForm(request.user, request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            security.user_set_password(
                user=request.user, raw_password=form.cleaned_data["new_password1"], actor=request.user
            )
        except ValidationError as exc:
            for message in exc.messages:
                form.add_error("new_password1", message)
        else:
            update_session_auth_hash(request, request.user)
            messages.success(request, _("密码已修改。"))
            return redirect(settings.LOGIN_REDIRECT_URL)
    from ..middleware import password_expired

    return render(
        request,
        "core/accounts/password_change.html",
        {"form": form, "expired": password_expired(request.user), "help_texts": _help_texts()},
    )


def _help_texts() -> list[str]:
    from django.contrib.auth.password_validation import password_validators_help_texts

    from ..passwords import DefaultPasswordValidator

    return [*password_validators_help_texts(), str(DefaultPasswordValidator().get_help_text())]


class UnlockForm(forms.Form):
    scope = forms.ChoiceField(choices=[("account", gettext_lazy("账号")), ("ip", gettext_lazy("来源IP"))])
    key = forms.CharField(max_length=150)
    reason = forms.CharField(
        label=gettext_lazy("理由"), max_length=200, widget=forms.TextInput(attrs={"class": "form-control"})
    )

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("scope") == "ip":
            try:
                forms.GenericIPAddressField().clean(cleaned.get("key"))
            except ValidationError:
                self.add_error("key", _("IP 地址格式不正确。"))
        return cleaned


@login_required
@permission_required("core.manage_security", raise_exception=True)
@require_http_methods(["GET", "POST"])
def account_lockouts(request: HttpRequest) -> HttpResponse:
    """Locked accounts and IPs right now; a security administrator can lift a lock."""
    form = UnlockForm(request.POST or None)
    if request.method == "POST":
        if form.is_valid():
            data = form.cleaned_data
            security.account_unlock(
                username=data["key"] if data["scope"] == "account" else "",
                ip=data["key"] if data["scope"] == "ip" else None,
                actor=request.user,
                reason=data["reason"],
            )
            messages.success(request, _("已解除锁定：%(key)s") % {"key": data["key"]})
            return redirect("core:account_lockouts")
        messages.error(request, _("解除锁定须填写理由。"))
    return render(request, "core/accounts/lockouts.html", {"locks": security.locked_out(), "form": form})


def admin_login_redirect(request: HttpRequest) -> HttpResponse:
    """The admin site signs in through our login (lockout and second factor included)."""
    url = reverse("core:login")
    next_url = request.GET.get("next")
    if next_url and url_has_allowed_host_and_scheme(next_url, {request.get_host()}):
        from urllib.parse import urlencode

        url = f"{url}?{urlencode({'next': next_url})}"
    return redirect(url)
