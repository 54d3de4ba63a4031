"""UI of residential parking permits (居住停车认证): applications list, detail with review.

Rows come from the scoped selector (an out-of-scope permit is 404). Personal data is
masked; the detail page offers the audited reveal. Review actions post to
``permits/<pk>/<verb>/`` and show the service's refusal as a message. The counter entry form
first asks for the district, then offers only that district's segments.
"""

from __future__ import annotations

import datetime as dt

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404, render
from django.urls import path, reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods, require_POST

from govcenter.core.api.errors import ServiceError
from govcenter.core.models import District
from govcenter.core.views.base import ScopedDetailView, ScopedListView
from govcenter.core.views.reveal import no_store, reveal_context

from ..models import Segment
from ..models.permits import PermitFee, PermitStatus
from ..services import permits as services
from .adjustments import _styled

T = "parking/permits/"
REVEAL_FIELDS = ["applicant_name", "applicant_phone", "applicant_id_number", "plate", "address"]


class PermitListView(ScopedListView):
    permission_required = ("parking.view_residentialpermit",)
    filterset_class = services.PermitFilterSet
    template_name = T + "permit_list.html"

    def base_queryset(self):
        return services.permit_list(user=self.request.user)


class PermitDetailView(ScopedDetailView):
    permission_required = ("parking.view_residentialpermit",)
    template_name = T + "permit_detail.html"
    http_method_names = ["get", "post"]

    def base_queryset(self):
        return services.permit_list(user=self.request.user).select_related(
            "submitted_by", "reviewer", "renewal_of"
        )

    def post(self, request, *args, **kwargs):
        """The reveal form posts here; the page is rendered once with the clear values."""
        return self.get(request, *args, **kwargs)

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        user, permit = self.request.user, self.object
        may_review = user.has_perm("parking.review_residentialpermit")
        context["fees"] = permit.fees.all()
        context["segments"] = permit.segments.all()
        context["renewals"] = permit.renewals.all()
        context["can_review"] = may_review and permit.status == PermitStatus.SUBMITTED
        context["can_revoke"] = may_review and permit.status == PermitStatus.ACTIVE
        context["can_pay"] = user.has_perm("parking.change_residentialpermit")
        context["fee_due"] = PermitFee.Status.DUE
        url = self.request.path
        context.update(
            reveal_context(self.request, permit, fields=REVEAL_FIELDS, reveal_url=url, masked_url=url)
        )
        return context

    def render_to_response(self, context, **kwargs):
        return no_store(super().render_to_response(context, **kwargs))


def _approve(user, permit, post):
    fee = (post.get("monthly_fee_fen") or "").strip()
    if fee and not fee.isdigit():
        raise ServiceError(_("月费须为非负整数（分）。"), code="invalid")
    services.permit_approve(
        actor=user, permit=permit, comment=post.get("comment", ""), monthly_fee_fen=int(fee) if fee else None
    )


def _pay(user, permit, post):
    try:
        month = dt.date.fromisoformat(post.get("month", ""))
    except ValueError:
        raise ServiceError(_("月份格式不正确。"), code="invalid") from None
    services.permit_fee_mark_paid(actor=user, permit=permit, month=month)


PERMIT_ACTIONS = {
    "approve": ("parking.review_residentialpermit", _approve, gettext_lazy("已批准，已通知申请人。")),
    "reject": (
        "parking.review_residentialpermit",
        lambda user, permit, post: services.permit_reject(
            actor=user, permit=permit, comment=post.get("comment", "")
        ),
        gettext_lazy("已驳回。"),
    ),
    "revoke": (
        "parking.review_residentialpermit",
        lambda user, permit, post: services.permit_revoke(
            actor=user, permit=permit, comment=post.get("comment", "")
        ),
        gettext_lazy("已撤销。"),
    ),
    "pay": ("parking.change_residentialpermit", _pay, gettext_lazy("已登记缴费。")),
}


@login_required
@require_POST
def permit_action(request, pk, verb):
    if verb not in PERMIT_ACTIONS:
        raise PermissionDenied
    permission, call, done = PERMIT_ACTIONS[verb]
    if not request.user.has_perm(permission):
        raise PermissionDenied
    permit = get_object_or_404(services.permit_list(user=request.user), pk=pk)
    try:
        call(request.user, permit, request.POST)
    except ServiceError as exc:
        messages.error(request, str(exc.detail))
    else:
        messages.success(request, done)
    return HttpResponseRedirect(reverse("parking:permit_detail", args=[permit.pk]))


class PermitForm(forms.Form):
    """Counter entry (窗口录入); ``segments`` are the chosen district's active segments."""

    plate = forms.CharField(label=gettext_lazy("车牌号"), max_length=16)
    applicant_name = forms.CharField(label=gettext_lazy("申请人姓名"), max_length=50)
    applicant_phone = forms.CharField(label=gettext_lazy("联系电话"), max_length=20)
    applicant_id_number = forms.CharField(label=gettext_lazy("身份证号"), max_length=18)
    address = forms.CharField(label=gettext_lazy("居住地址"), max_length=200)
    address_proof_ref = forms.CharField(label=gettext_lazy("居住证明编号"), max_length=100)
    segments = forms.ModelMultipleChoiceField(label=gettext_lazy("认证路段"), queryset=Segment.objects.none())
    hours_start = forms.TimeField(label=gettext_lazy("认证时段开始"), initial="19:00")
    hours_end = forms.TimeField(label=gettext_lazy("认证时段结束"), initial="07:00")
    valid_from = forms.DateField(
        label=gettext_lazy("有效期起"), required=False, help_text=gettext_lazy("该月第一天起")
    )
    months = forms.IntegerField(label=gettext_lazy("认证月数"), min_value=1, initial=1)

    def __init__(self, *args, user, district, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["segments"].queryset = (
            Segment.objects.restrict(user)
            .filter(district=district, status=Segment.Status.ACTIVE)
            .order_by("code")
        )
        _styled(self)


@login_required
@require_http_methods(["GET", "POST"])
def permit_create(request):
    """Pick the district (GET ``?district=``), then enter the application."""
    if not request.user.has_perm("parking.add_residentialpermit"):
        raise PermissionDenied
    districts = District.objects.restrict(request.user).defer("geometry").order_by("sort_order", "code")
    district = None
    chosen = request.POST.get("district") or request.GET.get("district")
    if chosen and str(chosen).isdigit():
        district = get_object_or_404(districts, pk=chosen)
    form = None
    if district is not None:
        form = PermitForm(request.POST or None, user=request.user, district=district)
        if request.method == "POST" and form.is_valid():
            data = dict(form.cleaned_data)
            segments = data.pop("segments")
            try:
                permit = services.permit_apply(
                    actor=request.user, segment_ids=[s.pk for s in segments], **data
                )
            except ServiceError as exc:
                form.add_error(None, str(exc.detail))
                for field, errors in exc.details.items():
                    if field in form.fields and isinstance(errors, list):
                        form.add_error(field, [str(e) for e in errors])
            else:
                messages.success(request, _("申请已提交，待审核。"))
                return HttpResponseRedirect(permit.get_detail_url())
    return render(
        request, T + "permit_form.html", {"districts": districts, "district": district, "form": form}
    )


urlpatterns: list = [
    path("permits/", PermitListView.as_view(), name="permit_list"),
    path("permits/new/", permit_create, name="permit_create"),
    path("permits/<int:pk>/", PermitDetailView.as_view(), name="permit_detail"),
    path("permits/<int:pk>/<slug:verb>/", permit_action, name="permit_action"),
]
