"""资产 and 漏洞整改 pages. Rows come from the caller's data scope (another unit's asset is
404); every write goes through the services (audited)."""

from __future__ import annotations

import datetime as dt

import django_filters
from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db.models import Q
from django.http import Http404, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_POST

from govcenter.core import workflow
from govcenter.core.api.errors import ServiceError
from govcenter.core.filters import ALL, yes_no_filter
from govcenter.core.models import Unit
from govcenter.core.views.base import ScopedListView

from ..models import (
    Asset,
    AssetClass,
    AssetStatus,
    BaselineItem,
    CheckResult,
    PlanRisk,
    PlanStatus,
    RelationKind,
    RemediationPlan,
    StepOutcome,
    Vulnerability,
    VulnSeverity,
    VulnState,
)
from . import baseline, expiry, remediation_report, services, vulns

T = "ops/cmdb/"


def _style(form: forms.Form) -> forms.Form:
    for field in form.fields.values():
        if isinstance(field, forms.BooleanField):
            continue
        field.widget.attrs.setdefault("class", "form-select" if isinstance(field, forms.ChoiceField) else "form-control")
    return form


def _expiry_horizon() -> dt.date:
    return timezone.localdate() + dt.timedelta(days=max(expiry.thresholds_days()))


class AssetFilterSet(django_filters.FilterSet):
    asset_class = django_filters.ChoiceFilter(choices=AssetClass.choices, label=_("类别"), empty_label=ALL)
    status = django_filters.ChoiceFilter(choices=AssetStatus.choices, label=_("状态"), empty_label=ALL)
    expiring = yes_no_filter(_("即将到期"), method="filter_expiring")
    q = django_filters.CharFilter(method="filter_q", label=_("编号、名称、地址"))

    class Meta:
        model = Asset
        fields = ["asset_class", "status"]

    def filter_expiring(self, queryset, name, value):
        if value is None:
            return queryset
        horizon = _expiry_horizon()
        soon = Q(licence_expires_on__lte=horizon) | Q(cert_expires_on__lte=horizon)
        return queryset.filter(soon).exclude(status=AssetStatus.RETIRED) if value else queryset.exclude(soon)

    def filter_q(self, queryset, name, value):
        value = (value or "").strip()
        if not value:
            return queryset
        return queryset.filter(Q(code__icontains=value) | Q(name__icontains=value) | Q(hostname__icontains=value)
                               | Q(ip__startswith=value))  # fmt: skip


class AssetListView(ScopedListView):
    permission_required = ("ops.view_asset",)
    filterset_class = AssetFilterSet
    template_name = T + "asset_list.html"

    def base_queryset(self):
        return Asset.objects.select_related("unit")

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        soon = {(e.asset.pk, e.kind): e for e in expiry.expiring(Asset.objects.restrict(self.request.user))}
        context["rows"] = [(a, soon.get((a.pk, "licence")), soon.get((a.pk, "cert"))) for a in context["object_list"]]
        context["expiring"] = list(soon.values())[:20]
        context["can_add"] = self.request.user.has_perm("ops.add_asset")
        return context


class AssetForm(forms.Form):
    code = forms.CharField(label=_("资产编号"), max_length=40)
    name = forms.CharField(label=_("名称"), max_length=200)
    asset_class = forms.ChoiceField(label=_("类别"), choices=AssetClass.choices)
    unit = forms.ModelChoiceField(label=_("运维单位"), queryset=Unit.objects.none())
    status = forms.ChoiceField(label=_("状态"), choices=AssetStatus.choices)
    product = forms.CharField(label=_("产品型号"), max_length=200, required=False)
    version = forms.CharField(label=_("版本"), max_length=60, required=False)
    vendor = forms.CharField(label=_("厂商"), max_length=200, required=False)
    serial = forms.CharField(label=_("序列号"), max_length=100, required=False)
    location = forms.CharField(label=_("位置（机房）"), max_length=200, required=False)
    ip = forms.GenericIPAddressField(label=_("IP 地址"), required=False)
    hostname = forms.CharField(label=_("主机名"), max_length=100, required=False)
    licence_expires_on = forms.DateField(label=_("许可到期日"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    cert_expires_on = forms.DateField(label=_("证书到期日"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    notes = forms.CharField(label=_("备注"), required=False, widget=forms.Textarea(attrs={"rows": 3}))

    def __init__(self, *args, user, editing=False, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["unit"].queryset = Unit.objects.restrict(user).order_by("code")
        if editing:
            self.fields["code"].disabled = True
        _style(self)


@login_required
def asset_edit(request, pk=None):
    asset = None
    if pk is not None:
        if not request.user.has_perm("ops.change_asset"):
            raise PermissionDenied
        asset = get_object_or_404(Asset.objects.restrict(request.user), pk=pk)
    elif not request.user.has_perm("ops.add_asset"):
        raise PermissionDenied
    initial = {name: getattr(asset, name) for name in AssetForm.base_fields if name != "unit"} if asset else {}
    if asset:
        initial["unit"] = asset.unit_id
    elif request.user.unit_id:
        initial["unit"] = request.user.unit_id
    form = AssetForm(request.POST or None, user=request.user, editing=asset is not None, initial=initial)
    if request.method == "POST" and form.is_valid():
        data = dict(form.cleaned_data)
        code = data.pop("code")
        try:
            if asset is None:
                asset = services.asset_create(actor=request.user, code=code, **data)
            else:
                asset = services.asset_update(actor=request.user, asset=asset, **data)
        except ServiceError as exc:
            form.add_error(None, str(exc.detail))
        else:
            return HttpResponseRedirect(reverse("ops:asset_detail", args=[asset.pk]))
    return render(request, T + "asset_form.html", {"form": form, "asset": asset}, status=400 if form.errors else 200)


class RelationForm(forms.Form):
    kind = forms.ChoiceField(label=_("关系"), choices=RelationKind.choices)
    target = forms.CharField(label=_("目标资产编号"), max_length=40)


class CheckForm(forms.Form):
    item = forms.ModelChoiceField(label=_("检查项"), queryset=BaselineItem.objects.none())
    result = forms.ChoiceField(label=_("结果"), choices=CheckResult.choices)
    evidence = forms.CharField(label=_("证据"), required=False, widget=forms.Textarea(attrs={"rows": 2}))


def _asset(request, pk) -> Asset:
    if not request.user.has_perm("ops.view_asset"):
        raise PermissionDenied
    return get_object_or_404(Asset.objects.restrict(request.user).select_related("unit"), pk=pk)


@login_required
def asset_detail(request, pk, relation_form=None, check_form=None, status=200):
    asset = _asset(request, pk)
    user = request.user
    items = baseline.checklist(asset) if baseline.baseline_of(asset) else []
    check_form = check_form or CheckForm()
    check_form.fields["item"].queryset = BaselineItem.objects.filter(baseline=baseline.baseline_of(asset))
    context = {
        "asset": asset,
        "outgoing": asset.relations_out.select_related("target"),
        "incoming": asset.relations_in.select_related("source"),
        "checklist": items,
        "compliance": baseline.compliance([asset])["servers"][0] if items else None,
        "vulns": Vulnerability.objects.restrict(user).filter(asset=asset) if user.has_perm("ops.view_vulnerability") else [],
        "expiries": [e for e in expiry.expiring(Asset.objects.filter(pk=asset.pk))],
        "can_edit": user.has_perm("ops.change_asset"),
        "relation_form": _style(relation_form or RelationForm()) if user.has_perm("ops.change_asset") else None,
        "check_form": _style(check_form) if items and user.has_perm("ops.check_baseline") else None,
    }
    return render(request, T + "asset_detail.html", context, status=status)


@login_required
@require_POST
def asset_relate(request, pk):
    asset = _asset(request, pk)
    if not request.user.has_perm("ops.change_asset"):
        raise PermissionDenied
    form = RelationForm(request.POST)
    if not form.is_valid():
        return asset_detail(request, pk, relation_form=form, status=400)
    target = Asset.objects.restrict(request.user).filter(code=form.cleaned_data["target"].strip().upper()).first()
    if target is None:
        form.add_error("target", _("没有该编号的资产。"))
        return asset_detail(request, pk, relation_form=form, status=400)
    try:
        services.relation_add(actor=request.user, source=asset, kind=form.cleaned_data["kind"], target=target)
    except ServiceError as exc:
        form.add_error(None, str(exc.detail))
        return asset_detail(request, pk, relation_form=form, status=400)
    messages.success(request, _("已添加关系。"))
    return HttpResponseRedirect(reverse("ops:asset_detail", args=[pk]))


@login_required
@require_POST
def asset_check(request, pk):
    asset = _asset(request, pk)
    form = CheckForm(request.POST)
    form.fields["item"].queryset = BaselineItem.objects.filter(baseline=baseline.baseline_of(asset))
    if not form.is_valid():
        return asset_detail(request, pk, check_form=form, status=400)
    try:
        baseline.record_check(actor=request.user, asset=asset, item=form.cleaned_data["item"],
                              result=form.cleaned_data["result"], evidence=form.cleaned_data["evidence"])  # fmt: skip
    except ServiceError as exc:
        form.add_error(None, str(exc.detail))
        return asset_detail(request, pk, check_form=form, status=400)
    messages.success(request, _("已登记检查结果。"))
    return HttpResponseRedirect(reverse("ops:asset_detail", args=[pk]))


# --------------------------------------------------------------------------------------------
# Vulnerabilities
# --------------------------------------------------------------------------------------------


class VulnFilterSet(django_filters.FilterSet):
    state = django_filters.ChoiceFilter(choices=VulnState.choices, label=_("状态"), empty_label=ALL)
    severity = django_filters.ChoiceFilter(choices=VulnSeverity.choices, label=_("风险等级"), empty_label=ALL)

    class Meta:
        model = Vulnerability
        fields = ["state", "severity"]


class ImportForm(forms.Form):
    scanner = forms.ChoiceField(label=_("格式"), choices=[("nessus", "Nessus CSV"), ("generic", _("通用 CSV"))])
    file = forms.FileField(label=_("扫描结果文件（CSV）"))


class VulnListView(ScopedListView):
    permission_required = ("ops.view_vulnerability",)
    filterset_class = VulnFilterSet
    template_name = T + "vuln_list.html"

    def base_queryset(self):
        return Vulnerability.objects.select_related("asset", "plan")

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        user = self.request.user
        context["import_form"] = self.kwargs.get("import_form") or (_style(ImportForm()) if user.has_perm("ops.import_scan") else None)
        context["import_errors"] = self.kwargs.get("import_errors")
        context["can_plan"] = user.has_perm("ops.plan_remediation")
        context["plans"] = RemediationPlan.objects.restrict(user).select_related("unit")[:30]
        return context


@login_required
@require_POST
def vuln_import(request):
    if not request.user.has_perm("ops.import_scan"):
        raise PermissionDenied
    form = _style(ImportForm(request.POST, request.FILES))
    errors = None
    if form.is_valid():
        upload = form.cleaned_data["file"]
        if upload.size > 20 * 1024 * 1024:
            form.add_error("file", _("文件过大（上限 20 MB）。"))
        else:
            try:
                counts = vulns.import_scan(actor=request.user, data=upload.read(), scanner=form.cleaned_data["scanner"],
                                           filename=upload.name)  # fmt: skip
            except ServiceError as exc:
                form.add_error(None, str(exc.detail))
                errors = sorted(((int(n), msgs) for n, msgs in (exc.details.get("lines") or {}).items()))
            else:
                messages.success(request, _("已导入：新增 %(created)d，已有 %(unchanged)d，重新打开 %(reopened)d，信息级 %(informational)d。") % counts)
                return HttpResponseRedirect(reverse("ops:vuln_list"))
    view = VulnListView.as_view()
    request.method = "GET"
    response = view(request, import_form=form, import_errors=errors)
    response.render()
    response.status_code = 400
    return response


class PlanForm(forms.Form):
    title = forms.CharField(label=_("标题"), max_length=200)
    window_start = forms.DateTimeField(label=_("计划窗口开始"), widget=forms.DateTimeInput(attrs={"type": "datetime-local"}))
    window_end = forms.DateTimeField(label=_("计划窗口结束"), widget=forms.DateTimeInput(attrs={"type": "datetime-local"}))
    risk = forms.ChoiceField(label=_("实施风险"), choices=PlanRisk.choices)
    risk_note = forms.CharField(label=_("风险说明"), required=False, widget=forms.Textarea(attrs={"rows": 2}))
    steps = forms.CharField(label=_("加固步骤与回退步骤"), widget=forms.Textarea(attrs={"rows": 6}),
                            help_text=_("每行一个步骤：加固步骤 || 回退步骤"))  # fmt: skip


@login_required
def plan_new(request):
    if not request.user.has_perm("ops.plan_remediation"):
        raise PermissionDenied
    ids = [int(i) for i in request.GET.getlist("v") + request.POST.getlist("v") if str(i).isdigit()]
    chosen = list(Vulnerability.objects.restrict(request.user).filter(pk__in=ids).select_related("asset"))
    form = _style(PlanForm(request.POST or None))
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        steps = [tuple((line.split("||", 1) + [""])[:2]) for line in d["steps"].splitlines() if line.strip()]
        try:
            plan = vulns.plan_create(actor=request.user, vulnerabilities=chosen, title=d["title"],
                                     window_start=d["window_start"], window_end=d["window_end"], risk=d["risk"],
                                     risk_note=d["risk_note"], steps=steps)  # fmt: skip
        except ServiceError as exc:
            form.add_error(None, f"{exc.detail} {exc.details}")
        else:
            return HttpResponseRedirect(reverse("ops:plan_detail", args=[plan.pk]))
    return render(request, T + "plan_form.html", {"form": form, "chosen": chosen}, status=400 if form.errors else 200)


STEP_LABELS = {"revise": _("修改整改步骤"), "approve": _("审批通过"), "reject": _("驳回"), "execute": _("登记实施结果"), "verify": _("登记验证结果"),
               "close": _("关闭")}  # fmt: skip


def _plan(request, pk) -> RemediationPlan:
    if not request.user.has_perm("ops.view_remediationplan"):
        raise PermissionDenied
    return get_object_or_404(RemediationPlan.objects.restrict(request.user).select_related("unit", "planned_by"), pk=pk)


def _plan_actions(plan: RemediationPlan, user) -> list[str]:
    actions = []
    if plan.status in (PlanStatus.SUBMITTED, PlanStatus.FAILED) and user.has_perm("ops.plan_remediation"):
        actions.append("revise")
    if plan.status in (PlanStatus.SUBMITTED, PlanStatus.FAILED) and user.has_perm("ops.approve_remediation") \
            and plan.planned_by_id != user.pk:  # fmt: skip
        actions += ["approve", "reject"]
    if plan.status == PlanStatus.APPROVED and user.has_perm("ops.execute_remediation"):
        actions.append("execute")
    if plan.status == PlanStatus.EXECUTED and user.has_perm("ops.verify_remediation"):
        actions.append("verify")
    if plan.status == PlanStatus.VERIFIED and user.has_perm("ops.verify_remediation"):
        actions.append("close")
    return actions


@login_required
def plan_detail(request, pk, status=200):
    plan = _plan(request, pk)
    findings = list(Vulnerability.objects.filter(plan=plan).select_related("asset"))
    context = {
        "plan": plan,
        "findings": findings,
        "steps": plan.steps.all(),
        "executions": plan.executions.select_related("executed_by"),
        "verifications": plan.verifications.select_related("verified_by"),
        "actions": [(a, STEP_LABELS[a]) for a in _plan_actions(plan, request.user)],
        "outcomes": StepOutcome.choices,
        "history": [(v, workflow.history(v)) for v in findings],
        "steps_text": "\n".join(f"{s.action} || {s.rollback}" for s in plan.steps.all()),
    }
    return render(request, T + "plan_detail.html", context, status=status)


def _when(text: str):
    try:
        value = dt.datetime.fromisoformat((text or "").strip())
    except ValueError:
        return None
    return timezone.make_aware(value) if timezone.is_naive(value) else value


@login_required
@require_POST
def plan_step(request, pk, step):
    plan = _plan(request, pk)
    if step not in STEP_LABELS:
        raise Http404
    user, post = request.user, request.POST
    comment = post.get("comment", "")
    try:
        if step == "revise":
            steps = [tuple((line.split("||", 1) + [""])[:2]) for line in post.get("steps", "").splitlines() if line.strip()]
            vulns.plan_revise(actor=user, plan=plan, steps=steps)
        elif step == "approve":
            vulns.plan_approve(actor=user, plan=plan, comment=comment)
        elif step == "reject":
            vulns.plan_reject(actor=user, plan=plan, comment=comment)
        elif step == "execute":
            start, end = _when(post.get("started_at")), _when(post.get("finished_at"))
            if start is None or end is None:
                raise ServiceError(str(_("请填写开始和结束时间。")), code="invalid")
            outcomes = [{"order": s.order, "outcome": post.get(f"outcome_{s.order}"), "output": post.get(f"output_{s.order}", "")}
                        for s in plan.steps.all()]  # fmt: skip
            vulns.plan_execute(actor=user, plan=plan, outcomes=outcomes, started_at=start, finished_at=end, summary=comment)
        elif step == "verify":
            vulns.plan_verify(actor=user, plan=plan, passed=post.get("passed") == "yes", result=comment,
                              method=post.get("method") or "复扫")  # fmt: skip
        else:
            vulns.plan_close(actor=user, plan=plan)
    except ServiceError as exc:
        messages.error(request, f"{exc.detail}")
    else:
        messages.success(request, STEP_LABELS[step])
    return HttpResponseRedirect(reverse("ops:plan_detail", args=[pk]))


@login_required
def plan_report(request, pk, fmt):
    plan = _plan(request, pk)
    if fmt == "docx":
        body = remediation_report.render_docx(plan)
        kind = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
    elif fmt == "pdf":
        body, kind = remediation_report.render_pdf(plan), "application/pdf"
    else:
        raise Http404
    response = HttpResponse(body, content_type=kind)
    response["Content-Disposition"] = f'attachment; filename="{plan.number}.{fmt}"'
    return response
