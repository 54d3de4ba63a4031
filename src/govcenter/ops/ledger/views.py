"""Keeping the ledger from its page (for holders of the ledger permissions — the Center's
leaders): a new contract with its three milestones, a quality assessment, a late delivery, a
milestone's condition-met and paid dates. Every write goes through ``ledger.services``
(validation, derived amounts and grades, audit); the ledger page then shows the penalties."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from govcenter.core.api.errors import ServiceError
from govcenter.core.models import Unit
from govcenter.core.models.org import UnitKind

from ..models import Contract, PaymentMilestone
from . import services as ledger

FORM = "ops/records/form.html"


def _fen(yuan: Decimal) -> int:
    return int((yuan * 100).quantize(Decimal("1"), rounding=ROUND_HALF_UP))


class ContractForm(forms.Form):
    number = forms.CharField(label=_("合同编号"), max_length=40)
    name = forms.CharField(label=_("合同名称"), max_length=200)
    contractor = forms.ModelChoiceField(label=_("运维单位"), queryset=Unit.objects.none())
    price = forms.DecimalField(label=_("合同价（元）"), min_value=Decimal("0.01"), max_digits=14, decimal_places=2)
    service_start = forms.DateField(label=_("服务期开始"), widget=forms.DateInput(attrs={"type": "date"}))
    service_end = forms.DateField(label=_("服务期结束"), widget=forms.DateInput(attrs={"type": "date"}))
    condition_1 = forms.CharField(label=_("首付款（50%）条件"), max_length=500)
    due_1 = forms.DateField(label=_("首付款应付日期"), widget=forms.DateInput(attrs={"type": "date"}))
    condition_2 = forms.CharField(label=_("进度款（40%）条件"), max_length=500)
    due_2 = forms.DateField(label=_("进度款应付日期"), widget=forms.DateInput(attrs={"type": "date"}))
    condition_3 = forms.CharField(label=_("尾款（10%）条件"), max_length=500)
    due_3 = forms.DateField(label=_("尾款应付日期"), widget=forms.DateInput(attrs={"type": "date"}))

    def __init__(self, *args, user=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["contractor"].queryset = Unit.objects.restrict(user).filter(kind=UnitKind.CONTRACTOR).order_by("code")


class AssessmentForm(forms.Form):
    period_start = forms.DateField(label=_("考核期开始"), widget=forms.DateInput(attrs={"type": "date"}))
    period_end = forms.DateField(label=_("考核期结束"), widget=forms.DateInput(attrs={"type": "date"}))
    score = forms.IntegerField(label=_("得分"), min_value=0, max_value=100)
    assessed_on = forms.DateField(label=_("考核日期"), widget=forms.DateInput(attrs={"type": "date"}))
    note = forms.CharField(label=_("说明"), required=False, widget=forms.Textarea(attrs={"rows": 3}))


class LateServiceForm(forms.Form):
    deliverable = forms.CharField(label=_("交付内容"), max_length=200)
    due_date = forms.DateField(label=_("应交付日期"), widget=forms.DateInput(attrs={"type": "date"}))
    delivered_on = forms.DateField(label=_("实际交付日期"), required=False, widget=forms.DateInput(attrs={"type": "date"}),
                                   help_text=_("尚未交付则留空：迟延天数算到查看日"))  # fmt: skip
    note = forms.CharField(label=_("说明"), required=False, widget=forms.Textarea(attrs={"rows": 3}))


class MilestoneForm(forms.Form):
    condition_met_on = forms.DateField(label=_("条件满足日期"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    paid_on = forms.DateField(label=_("支付日期"), required=False, widget=forms.DateInput(attrs={"type": "date"}))


def _styled(form: forms.Form) -> forms.Form:
    for field in form.fields.values():
        css = "form-select" if isinstance(field, forms.ChoiceField) else "form-control"
        field.widget.attrs.setdefault("class", css)
    return form


def _page(request, form, title: str, status: int | None = None):
    back = reverse("ops:ledger")
    return render(request, FORM, {"form": form, "title": title, "back": back},
                  status=status or (400 if form.errors else 200))  # fmt: skip


def _apply(form: forms.Form, exc: ServiceError) -> None:
    for name, problems in (exc.details or {}).items():
        target = name if name in form.fields else None
        for problem in problems if isinstance(problems, list) else [problems]:
            form.add_error(target, str(problem))
    if not exc.details:
        form.add_error(None, str(exc))


def _need(request, permission: str) -> None:
    if not request.user.has_perm(permission):
        raise PermissionDenied


@login_required
def contract_new(request):
    _need(request, "ops.add_contract")
    form = _styled(ContractForm(request.POST or None, user=request.user))
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        milestones = [{"condition": data[f"condition_{i}"], "due_date": data[f"due_{i}"]} for i in (1, 2, 3)]
        try:
            contract = ledger.contract_create(actor=request.user, number=data["number"], name=data["name"],
                                              contractor=data["contractor"], price_fen=_fen(data["price"]),
                                              service_start=data["service_start"], service_end=data["service_end"],
                                              milestones=milestones)  # fmt: skip
        except ServiceError as exc:
            _apply(form, exc)
            return _page(request, form, _("新建运维合同"), status=exc.status_code)
        messages.success(request, _("合同已登记。"))
        return HttpResponseRedirect(reverse("ops:ledger") + f"#contract-{contract.number}")
    return _page(request, form, _("新建运维合同"))


RECORDS = {
    "assessment": (AssessmentForm, "ops.add_qualityassessment", _("登记质量考核")),
    "late": (LateServiceForm, "ops.add_lateservice", _("登记迟延交付")),
}


@login_required
def contract_record(request, pk: int, what: str):
    if what not in RECORDS:
        raise PermissionDenied
    form_class, permission, title = RECORDS[what]
    _need(request, permission)
    contract = get_object_or_404(Contract.objects.restrict(request.user), pk=pk)
    form = _styled(form_class(request.POST or None))
    title = f"{title} · {contract.number}"
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            if what == "assessment":
                ledger.assessment_record(actor=request.user, contract=contract, **data)
            else:
                ledger.late_service_record(actor=request.user, contract=contract, **data)
        except ServiceError as exc:
            _apply(form, exc)
            return _page(request, form, title, status=exc.status_code)
        messages.success(request, _("已登记。"))
        return HttpResponseRedirect(reverse("ops:ledger") + f"#contract-{contract.number}")
    return _page(request, form, title)


@login_required
def milestone_record(request, pk: int):
    _need(request, "ops.change_paymentmilestone")
    milestone = get_object_or_404(
        PaymentMilestone.objects.select_related("contract").filter(contract__in=Contract.objects.restrict(request.user)),
        pk=pk,
    )
    initial = {"condition_met_on": milestone.condition_met_on, "paid_on": milestone.paid_on}
    form = _styled(MilestoneForm(request.POST or None, initial=initial))
    title = _("付款节点 %(seq)s · %(number)s") % {"seq": milestone.seq, "number": milestone.contract.number}
    if request.method == "POST" and form.is_valid():
        try:
            ledger.milestone_update(actor=request.user, milestone=milestone, **form.cleaned_data)
        except ServiceError as exc:
            _apply(form, exc)
            return _page(request, form, title, status=exc.status_code)
        messages.success(request, _("已登记。"))
        return HttpResponseRedirect(reverse("ops:ledger") + f"#contract-{milestone.contract.number}")
    return _page(request, form, title)

