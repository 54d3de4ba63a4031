"""监控 pages: the overview (targets with status and uptime 24 h / 7 d / 30 d, firing alerts,
maintenance windows, recent alert events), a target's page (latest results, its rules), and
the forms for targets, alert rules and maintenance windows. Rows come from the caller's data
scope (another unit's target is 404); every write goes through ``services`` (audited)."""

from __future__ import annotations

import datetime as dt
import json

from django import forms
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from govcenter.core.api.errors import ServiceError
from govcenter.core.models import Unit

from ..models import (
    AlertCondition,
    AlertEvent,
    AlertRule,
    AlertState,
    AlertStatus,
    MaintenanceWindow,
    MonitorTarget,
    ProbeKind,
    Severity,
)
from . import services

T = "ops/monitoring/"
VIEW, MANAGE = "ops.view_monitortarget", "ops.manage_monitoring"
PERIODS = (("24h", dt.timedelta(hours=24)), ("7d", dt.timedelta(days=7)), ("30d", dt.timedelta(days=30)))


def _need(request, perm: str) -> None:
    if not request.user.has_perm(perm):
        raise PermissionDenied


def _style(form: forms.Form) -> forms.Form:
    for field in form.fields.values():
        if isinstance(field, forms.BooleanField):
            continue
        css = "form-select" if isinstance(field, forms.ChoiceField | forms.ModelChoiceField) else "form-control"
        field.widget.attrs.setdefault("class", css)
    return form


def uptimes(target_ids: list[int], now: dt.datetime) -> dict[int, dict[str, float | None]]:
    out: dict[int, dict[str, float | None]] = {pk: {} for pk in target_ids}
    for key, span in PERIODS:
        counts = services.uptime(target_ids, now - span, now)
        for pk in target_ids:
            out[pk][key] = services.percent(*counts.get(pk, (0, 0)))
    return out


@login_required
def home(request):
    _need(request, VIEW)
    user, now = request.user, timezone.now()
    targets = list(MonitorTarget.objects.restrict(user).select_related("unit"))
    ids = [t.pk for t in targets]
    up = uptimes(ids, now)
    windows = MaintenanceWindow.objects.restrict(user).filter(ends_at__gt=now - dt.timedelta(days=7))
    in_window = services.Windows.load(now, now)
    rows = [{"target": t, "uptime": up[t.pk], "maintenance": in_window.at(t, now)[0]} for t in targets]
    context = {
        "rows": rows,
        "firing": AlertState.objects.filter(target_id__in=ids, status=AlertStatus.FIRING).select_related("rule", "target"),
        "windows": windows.prefetch_related("targets").select_related("unit"),
        "events": AlertEvent.objects.filter(target_id__in=ids).select_related("rule", "target")[:20],
        "rules": AlertRule.objects.restrict(user).select_related("target", "unit"),
        "can_manage": user.has_perm(MANAGE),
        "now": now,
    }
    return render(request, T + "home.html", context)


@login_required
def target_detail(request, pk):
    _need(request, VIEW)
    target = get_object_or_404(MonitorTarget.objects.restrict(request.user).select_related("unit"), pk=pk)
    context = {
        "target": target,
        "uptime": uptimes([target.pk], timezone.now())[target.pk],
        "results": target.results.all()[:60],
        "rules": AlertRule.objects.restrict(request.user).filter(target=target)
        | AlertRule.objects.restrict(request.user).filter(target__isnull=True, kind=target.kind, unit=target.unit),
        "states": target.alert_states.select_related("rule"),
        "can_manage": request.user.has_perm(MANAGE),
    }
    return render(request, T + "target_detail.html", context)


class TargetForm(forms.Form):
    name = forms.CharField(label=_("名称"), max_length=100)
    kind = forms.ChoiceField(label=_("类型"), choices=ProbeKind.choices)
    unit = forms.ModelChoiceField(label=_("运维单位"), queryset=Unit.objects.none())
    config = forms.CharField(label=_("配置（JSON）"), widget=forms.Textarea(attrs={"rows": 4}),
                             help_text=_('例如 {"url": "https://example.com/healthz"}、{"host": "10.0.0.5", "port": 5432}'))  # fmt: skip
    interval_s = forms.IntegerField(label=_("间隔（秒）"), min_value=5, max_value=86400, initial=60)
    timeout_s = forms.FloatField(label=_("超时（秒）"), min_value=0.1, max_value=60, initial=5)
    enabled = forms.BooleanField(label=_("启用"), required=False, initial=True)

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["unit"].queryset = Unit.objects.restrict(user).order_by("code")
        if user.unit_id:
            self.fields["unit"].initial = user.unit_id
        _style(self)

    def clean_config(self):
        try:
            value = json.loads(self.cleaned_data["config"])
        except ValueError as exc:
            raise forms.ValidationError(_("不是有效的 JSON。")) from exc
        if not isinstance(value, dict):
            raise forms.ValidationError(_("须为 JSON 对象。"))
        return value


def _service_error(form: forms.Form, exc: ServiceError) -> None:
    details = exc.details or {}
    if isinstance(details.get("config"), dict):
        details = {"config": [f"{k}: {'; '.join(v)}" for k, v in details["config"].items()]}
    form.add_error(None, str(exc.detail))
    for name, messages in details.items():
        if name in form.fields and isinstance(messages, list):
            form.add_error(name, "; ".join(str(m) for m in messages))


@login_required
def target_form(request, pk=None):
    _need(request, MANAGE)
    target = get_object_or_404(MonitorTarget.objects.restrict(request.user), pk=pk) if pk else None
    initial = {}
    if target is not None:
        initial = {"name": target.name, "kind": target.kind, "unit": target.unit_id, "interval_s": target.interval_s,
                   "timeout_s": target.timeout_s, "enabled": target.enabled,
                   "config": json.dumps(target.config, ensure_ascii=False)}  # fmt: skip
    form = TargetForm(request.POST or None, user=request.user, initial=initial)
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            try:
                target = services.target_save(actor=request.user, target=target, **form.cleaned_data)
            except ServiceError as exc:
                _service_error(form, exc)
                status = exc.status_code
            else:
                return HttpResponseRedirect(reverse("ops:monitoring_target", args=[target.pk]))
    title = _("编辑监控对象") if target else _("新建监控对象")
    return render(request, T + "form.html", {"form": form, "title": title}, status=status)


class RuleForm(forms.Form):
    name = forms.CharField(label=_("名称"), max_length=100)
    unit = forms.ModelChoiceField(label=_("运维单位"), queryset=Unit.objects.none())
    target = forms.ModelChoiceField(label=_("监控对象"), queryset=MonitorTarget.objects.none(), required=False,
                                    help_text=_("与“对象类型”二选一"))  # fmt: skip
    kind = forms.ChoiceField(label=_("对象类型"), choices=[("", "—"), *ProbeKind.choices], required=False,
                             help_text=_("适用于本单位该类型的全部对象"))  # fmt: skip
    condition = forms.ChoiceField(label=_("条件"), choices=AlertCondition.choices)
    threshold = forms.FloatField(label=_("阈值"), required=False,
                                 help_text=_("磁盘剩余 %、证书剩余天数、数据延迟秒数"))  # fmt: skip
    severity = forms.ChoiceField(label=_("级别"), choices=Severity.choices, initial="S3")
    fire_after = forms.IntegerField(label=_("连续异常次数后告警"), min_value=1, max_value=1000, initial=3)
    resolve_after = forms.IntegerField(label=_("连续正常次数后恢复"), min_value=1, max_value=1000, initial=2)
    holdoff_s = forms.IntegerField(label=_("恢复后抑制再告警（秒）"), min_value=0, max_value=7 * 86400, initial=600)
    enabled = forms.BooleanField(label=_("启用"), required=False, initial=True)

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["unit"].queryset = Unit.objects.restrict(user).order_by("code")
        self.fields["target"].queryset = MonitorTarget.objects.restrict(user)
        if user.unit_id:
            self.fields["unit"].initial = user.unit_id
        _style(self)


@login_required
def rule_form(request, pk=None):
    _need(request, MANAGE)
    rule = get_object_or_404(AlertRule.objects.restrict(request.user), pk=pk) if pk else None
    initial = {}
    if rule is not None:
        initial = {f: getattr(rule, f) for f in ("name", "kind", "condition", "threshold", "severity", "fire_after",
                                                  "resolve_after", "holdoff_s", "enabled")}  # fmt: skip
        initial.update(unit=rule.unit_id, target=rule.target_id)
    form = RuleForm(request.POST or None, user=request.user, initial=initial)
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            try:
                services.rule_save(actor=request.user, rule=rule, **form.cleaned_data)
            except ServiceError as exc:
                _service_error(form, exc)
                status = exc.status_code
            else:
                return HttpResponseRedirect(reverse("ops:monitoring_home"))
    title = _("编辑告警规则") if rule else _("新建告警规则")
    return render(request, T + "form.html", {"form": form, "title": title}, status=status)


class WindowForm(forms.Form):
    name = forms.CharField(label=_("名称"), max_length=100)
    unit = forms.ModelChoiceField(label=_("运维单位"), queryset=Unit.objects.none())
    targets = forms.ModelMultipleChoiceField(label=_("监控对象"), queryset=MonitorTarget.objects.none(), required=False,
                                             help_text=_("不选为本单位全部对象"))  # fmt: skip
    starts_at = forms.DateTimeField(label=_("开始"), widget=forms.DateTimeInput(attrs={"type": "datetime-local"}))
    ends_at = forms.DateTimeField(label=_("结束"), widget=forms.DateTimeInput(attrs={"type": "datetime-local"}))
    with_collection = forms.BooleanField(label=_("期间继续采集"), required=False, initial=True,
                                         help_text=_("不勾选则维护期间不执行探测"))  # fmt: skip
    note = forms.CharField(label=_("说明"), required=False, widget=forms.Textarea(attrs={"rows": 2}))

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["unit"].queryset = Unit.objects.restrict(user).order_by("code")
        self.fields["targets"].queryset = MonitorTarget.objects.restrict(user)
        if user.unit_id:
            self.fields["unit"].initial = user.unit_id
        _style(self)


@login_required
def window_new(request):
    _need(request, MANAGE)
    form = WindowForm(request.POST or None, user=request.user)
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            try:
                services.window_create(actor=request.user, **form.cleaned_data)
            except ServiceError as exc:
                _service_error(form, exc)
                status = exc.status_code
            else:
                return HttpResponseRedirect(reverse("ops:monitoring_home"))
    return render(request, T + "form.html", {"form": form, "title": _("新建维护窗口")}, status=status)
