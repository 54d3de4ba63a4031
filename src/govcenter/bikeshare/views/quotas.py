"""Fleet quota page (总量调控) at /bikeshare/quotas/.

* The quotas in force per operator × district with their usage: registered vehicles and
  bikes in the live picture (``selectors.quotas.quota_usage``), over-quota rows highlighted;
* the bikes of the live picture per operator and district (vehicle distribution against the
  quotas, issue item 5), through the caller's scope (``selectors.scope.live_scope``);
* the history of every quota ever set (``FleetQuota`` through ``restrict``);
* with ``bikeshare.add_fleetquota``, a form setting a quota through
  :func:`~govcenter.bikeshare.services.quotas.quota_set` (audited; the open quota of the
  same operator and district is closed). The same scope checks as the API: the operator
  and district in scope, a city-wide quota only for a city-wide scope.

Needs ``bikeshare.view_fleetquota``.
"""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.shortcuts import redirect, render
from django.urls import path
from django.utils.translation import gettext as _g
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_http_methods

from govcenter.core.api.errors import ServiceError
from govcenter.core.models import District, Unit, UnitKind
from govcenter.core.scope import scope_for

from ..models import FleetQuota
from ..selectors.analyses import distribution
from ..services.quotas import MAX_QUOTA, quota_set

T = "bikeshare/quotas/"
VIEW = "bikeshare.view_fleetquota"
ADD = "bikeshare.add_fleetquota"
HISTORY_PAGE = 50


class QuotaForm(forms.Form):
    operator = forms.ModelChoiceField(label=_("运营企业"), queryset=Unit.objects.none())
    district = forms.ModelChoiceField(
        label=_("行政区"), queryset=District.objects.none(), required=False, to_field_name="code",
        empty_label=_("全市"),
    )  # fmt: skip
    quota = forms.IntegerField(label=_("投放总量上限"), min_value=0, max_value=MAX_QUOTA)
    reason = forms.CharField(label=_("调整原因"), max_length=500, required=False)
    valid_from = forms.DateTimeField(
        label=_("生效时间"), required=False, help_text=_("留空为立即生效；北京时间。"),
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
    )  # fmt: skip

    def __init__(self, *args, user=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user
        self.fields["operator"].queryset = (
            Unit.objects.restrict(user).filter(kind=UnitKind.OPERATOR, is_active=True).order_by("code")
        )
        self.fields["district"].queryset = District.objects.restrict(user).order_by("sort_order", "code")
        for name, field in self.fields.items():
            field.widget.attrs["class"] = (
                "form-select" if name in ("operator", "district") else "form-control"
            )

    def clean(self):
        data = super().clean()
        if not data.get("district") and "district" not in self.errors and not scope_for(self.user).all:
            raise forms.ValidationError(_g("设置全市总量需要全市数据范围。"))
        return data


@login_required
@permission_required(VIEW, raise_exception=True)
@require_http_methods(["GET", "POST"])
def quotas_page(request):
    can_set = request.user.has_perm(ADD)
    form = None
    status = 200
    if request.method == "POST":
        if not can_set:
            raise PermissionDenied
        form = QuotaForm(request.POST, user=request.user)
        if form.is_valid():
            data = form.cleaned_data
            try:
                quota = quota_set(
                    request.user,
                    operator=data["operator"],
                    district=data["district"],
                    quota=data["quota"],
                    reason=data["reason"],
                    valid_from=data["valid_from"],
                )
            except ServiceError as exc:
                form.add_error(None, str(exc.detail))
            else:
                messages.success(
                    request,
                    _g("已设置 %(operator)s 在%(district)s的投放总量：%(n)d 辆。")
                    % {"operator": quota.operator.name_zh,
                       "district": quota.district.name_zh if quota.district_id else _g("全市"), "n": quota.quota},
                )  # fmt: skip
                return redirect("bikeshare:quotas")
        status = 400
    elif can_set:
        form = QuotaForm(user=request.user)
    usage = distribution(request.user)
    operators = dict(Unit.objects.filter(kind=UnitKind.OPERATOR).values_list("code", "name_zh"))
    districts = dict(District.objects.values_list("code", "name_zh"))
    live_rows = [
        {**r, "operator_name": operators.get(r["operator"], r["operator"]),
         "district_name": districts.get(r["district"]) or _g("区外")}
        for r in usage["live"]
    ]  # fmt: skip
    history = (
        FleetQuota.objects.restrict(request.user)
        .select_related("operator", "district", "set_by")
        .order_by("operator__code", "district__code", "-valid_from", "-pk")
    )
    context = {
        "usage": usage["quotas"],
        "over": sum(1 for q in usage["quotas"] if q["excess"] > 0),
        "live_rows": live_rows,
        "live_total": sum(r["live"] for r in live_rows),
        "live_error": usage["live_error"],
        "history": Paginator(history, HISTORY_PAGE).get_page(request.GET.get("page")),
        "form": form,
    }
    response = render(request, T + "quotas.html", context, status=status)
    response["Cache-Control"] = "no-store"
    return response


urlpatterns: list = [
    path("quotas/", quotas_page, name="quotas"),
]
