"""Tariff plan pages: the list of versions, one plan with its semantics in words and worked
examples, and publishing a new version.

Reading needs ``parking.view_tariffplan``, publishing ``parking.add_tariffplan`` (others
signed in get 403, anonymous callers the login page). Plans are citywide configuration, so
there is no data scope. Publishing goes through ``tariff_plan_publish``, which audits.
"""

from __future__ import annotations

import datetime as dt

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods

from govcenter.core.api.errors import ServiceError

from ..models import AreaClass, TariffPlan
from ..selectors.tariffs import NoTariffPlanError, current_plans, plan_for, quote_with_plan, tariff_plan_list
from ..services.tariffs import tariff_plan_publish
from ..tariff import SHANGHAI

VIEW = "parking.view_tariffplan"
ADD = "parking.add_tariffplan"

# Worked examples on the detail page: (label, start h:m, length in minutes).
EXAMPLES = (
    (gettext_lazy("白天 1 小时 30 分"), (8, 0), 90),
    (gettext_lazy("白天 10 分钟"), (10, 0), 10),
    (gettext_lazy("跨 21:00：20:00–23:00"), (20, 0), 180),
    (gettext_lazy("过夜：22:00–次日 08:01"), (22, 0), 601),
    (gettext_lazy("连续 26 小时"), (8, 0), 26 * 60),
)


def yuan(fen: int) -> str:
    """Integer fen as ``¥12.50`` (``-¥1.00`` for a negative cap line)."""
    sign = "-" if fen < 0 else ""
    fen = abs(fen)
    return f"{sign}¥{fen // 100}.{fen % 100:02d}"


def _hhmm(value) -> str:
    return value.strftime("%H:%M") if hasattr(value, "strftime") else str(value)[:5]


@login_required
@permission_required(VIEW, raise_exception=True)
def tariff_list(request):
    """Every version of every area class, the one in force now marked."""
    now = timezone.now()
    in_force = {plan.pk for plan in current_plans(now).values() if plan is not None}
    groups = []
    plans = list(tariff_plan_list())
    for value, label in AreaClass.choices:
        rows = [p for p in plans if p.area_class == value]
        groups.append(
            {
                "area_class": value,
                "label": label,
                "rows": [
                    {
                        "plan": p,
                        "in_force": p.pk in in_force,
                        "scheduled": p.status == TariffPlan.Status.ACTIVE and p.valid_from > now,
                        "first": yuan(p.day_first_unit_fen),
                        "later": yuan(p.day_later_unit_fen),
                        "night": yuan(p.night_unit_fen),
                    }
                    for p in rows
                ],
            }
        )
    context = {"groups": groups, "can_add": request.user.has_perm(ADD)}
    return render(request, "parking/tariff/list.html", context)


def _examples(plan: TariffPlan) -> list[dict]:
    # A working Tuesday, so holiday rules do not change the worked examples.
    day = dt.date(2025, 3, 4)
    rows = []
    for label, (hour, minute), minutes in EXAMPLES:
        start = dt.datetime.combine(day, dt.time(hour, minute), tzinfo=SHANGHAI)
        end = start + dt.timedelta(minutes=minutes)
        small = quote_with_plan(plan, vehicle="small", start=start, end=end)
        large = quote_with_plan(plan, vehicle="large", start=start, end=end)
        rows.append(
            {
                "label": label,
                "start": start,
                "end": end,
                "small": yuan(small.amount_fen),
                "large": yuan(large.amount_fen),
                "lines": [
                    {
                        **line.as_dict(),
                        "start": line.start,
                        "end": line.end,
                        "unit": yuan(line.unit_fen),
                        "amount": yuan(line.amount_fen),
                    }
                    for line in small.lines
                ],
            }
        )
    return rows


@login_required
@permission_required(VIEW, raise_exception=True)
def tariff_detail(request, pk: int):
    """One plan version: its numbers, its rules in words, worked examples, its neighbours."""
    plan = get_object_or_404(TariffPlan.objects.select_related("created_by"), pk=pk)
    multipliers = plan.vehicle_multipliers or {}
    context = {
        "plan": plan,
        "day_start": _hhmm(plan.day_start),
        "day_end": _hhmm(plan.day_end),
        "first_minutes": plan.first_period_units * plan.day_unit_minutes,
        "first": yuan(plan.day_first_unit_fen),
        "later": yuan(plan.day_later_unit_fen),
        "night": yuan(plan.night_unit_fen),
        "night_hours": f"{plan.night_unit_minutes / 60:g}",
        "cap": yuan(plan.daily_cap_fen) if plan.daily_cap_fen is not None else None,
        "small_pct": multipliers.get("small", 100),
        "large_pct": multipliers.get("large", 100),
        "large_factor": f"{multipliers.get('large', 100) / 100:g}",
        "examples": _examples(plan),
        "versions": TariffPlan.objects.filter(code=plan.code).order_by("-version"),
        "can_add": request.user.has_perm(ADD),
    }
    return render(request, "parking/tariff/detail.html", context)


class TariffPlanForm(forms.Form):
    """A new version: prices in fen, times, units; every field starts from the version in force."""

    area_class = forms.TypedChoiceField(label=gettext_lazy("地区类别"), choices=AreaClass.choices, coerce=int)
    name = forms.CharField(label=gettext_lazy("名称"), max_length=80)
    valid_from = forms.DateTimeField(
        label=gettext_lazy("生效时间"),
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        help_text=gettext_lazy("北京时间；须晚于当前时间"),
    )
    day_start = forms.TimeField(
        label=gettext_lazy("白天开始"), widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M")
    )
    day_end = forms.TimeField(
        label=gettext_lazy("白天结束"), widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M")
    )
    day_unit_minutes = forms.IntegerField(
        label=gettext_lazy("白天计费单元（分钟）"), min_value=1, max_value=240
    )
    first_period_units = forms.IntegerField(label=gettext_lazy("首时段单元数"), min_value=0, max_value=96)
    day_first_unit_fen = forms.IntegerField(
        label=gettext_lazy("首小时单价（分/单元）"), min_value=0, max_value=1_000_000
    )
    day_later_unit_fen = forms.IntegerField(
        label=gettext_lazy("首小时后单价（分/单元）"), min_value=0, max_value=1_000_000
    )
    night_unit_minutes = forms.IntegerField(
        label=gettext_lazy("夜间计费单元（分钟）"), min_value=1, max_value=720
    )
    night_unit_fen = forms.IntegerField(
        label=gettext_lazy("夜间单价（分/单元）"), min_value=0, max_value=1_000_000
    )
    grace_minutes = forms.IntegerField(label=gettext_lazy("免费时长（分钟）"), min_value=0, max_value=240)
    daily_cap_fen = forms.IntegerField(label=gettext_lazy("每日封顶（分）"), min_value=0, required=False)
    holiday_rule = forms.ChoiceField(label=gettext_lazy("节假日规则"), choices=TariffPlan.HolidayRule.choices)
    small_pct = forms.IntegerField(label=gettext_lazy("小型车系数（%）"), min_value=1, max_value=1000)
    large_pct = forms.IntegerField(label=gettext_lazy("大型车系数（%）"), min_value=1, max_value=1000)
    notes = forms.CharField(
        label=gettext_lazy("说明"), required=False, widget=forms.Textarea(attrs={"rows": 2})
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            css = "form-select" if isinstance(field.widget, forms.Select) else "form-control"
            field.widget.attrs.setdefault("class", css)

    def clean_valid_from(self):
        value = self.cleaned_data["valid_from"]
        if timezone.is_naive(value):
            value = value.replace(tzinfo=SHANGHAI)
        return value


def _form_errors(form: TariffPlanForm, exc: ServiceError) -> None:
    """The service's refusal on the form, in the UI's language, on the field it names."""
    readable = {
        "valid_from_past": _("生效时间不能早于当前时间。"),
        "overlap": _("该地区类别已有在此时间或之后生效的版本，时间不能重叠。"),
    }
    if exc.error_code in readable:
        form.add_error("valid_from", readable[exc.error_code])
        return
    for field, errors in (exc.details or {}).items():
        for error in errors if isinstance(errors, list) else [errors]:
            form.add_error(field if field in form.fields else None, str(error))
    if not exc.details:
        form.add_error(None, _("收费标准未能发布：%(reason)s") % {"reason": exc.detail})


def _initial_from(plan: TariffPlan | None, area_class: int) -> dict:
    tomorrow = (timezone.now().astimezone(SHANGHAI) + dt.timedelta(days=1)).replace(
        hour=0, minute=0, second=0, microsecond=0
    )
    initial = {"area_class": area_class, "valid_from": tomorrow}
    if plan is None:
        initial.update(
            day_start=dt.time(7),
            day_end=dt.time(21),
            day_unit_minutes=15,
            first_period_units=4,
            night_unit_minutes=120,
            grace_minutes=0,
            holiday_rule=TariffPlan.HolidayRule.SAME,
            small_pct=100,
            large_pct=200,
        )
        return initial
    multipliers = plan.vehicle_multipliers or {}
    initial.update(
        name=plan.name,
        day_start=plan.day_start,
        day_end=plan.day_end,
        day_unit_minutes=plan.day_unit_minutes,
        first_period_units=plan.first_period_units,
        day_first_unit_fen=plan.day_first_unit_fen,
        day_later_unit_fen=plan.day_later_unit_fen,
        night_unit_minutes=plan.night_unit_minutes,
        night_unit_fen=plan.night_unit_fen,
        grace_minutes=plan.grace_minutes,
        daily_cap_fen=plan.daily_cap_fen,
        holiday_rule=plan.holiday_rule,
        small_pct=multipliers.get("small", 100),
        large_pct=multipliers.get("large", 200),
        notes=plan.notes,
    )
    return initial


@login_required
@permission_required(ADD, raise_exception=True)
@require_http_methods(["GET", "POST"])
def tariff_publish(request):
    """Publish a new version of an area class's plan (``?area_class=N`` pre-fills from the
    version in force)."""
    if request.method == "GET":
        try:
            area_class = int(request.GET.get("area_class", "1"))
        except ValueError:
            area_class = 1
        if area_class not in AreaClass.values:
            area_class = 1
        try:
            current = plan_for(area_class, timezone.now())
        except NoTariffPlanError:
            current = None
        form = TariffPlanForm(initial=_initial_from(current, area_class))
    else:
        form = TariffPlanForm(request.POST)
        if form.is_valid():
            data = dict(form.cleaned_data)
            multipliers = {"small": data.pop("small_pct"), "large": data.pop("large_pct")}
            try:
                plan = tariff_plan_publish(
                    actor=request.user,
                    area_class=data.pop("area_class"),
                    valid_from=data.pop("valid_from"),
                    vehicle_multipliers=multipliers,
                    **data,
                )
            except ServiceError as exc:
                _form_errors(form, exc)
            else:
                messages.success(
                    request,
                    _("已发布 %(name)s 第 %(version)s 版，%(date)s 起生效")
                    % {
                        "name": plan.name,
                        "version": plan.version,
                        "date": plan.valid_from.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M"),
                    },
                )
                return redirect("parking:tariff_detail", pk=plan.pk)
    return render(request, "parking/tariff/form.html", {"form": form})
