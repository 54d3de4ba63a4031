"""UI of temporary occupations (临时占用) and planned space adjustments (规划车位调整).

Lists and details come from the scoped selectors (out of scope is 404); forms hand their
data to the services and show the services' refusals. Spaces are entered by their code
(``路段编码-泊位编号``), one per line, so a district with thousands of spaces needs no
giant select box.
"""

from __future__ import annotations

import re

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Q
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from govcenter.core.models import District
from govcenter.core.views.base import ScopedDetailView, ScopedListView

from ..models import ChangeSet, ChangeSetItem, Segment, Space, TemporaryOccupation
from ..selectors import adjustments as selectors
from ..services import changesets as changeset_services
from ..services import occupations as occupation_services
from .base import _ServiceFormView, add_service_errors

T = "parking/adjustments/"


def _styled(form: forms.Form) -> None:
    for field in form.fields.values():
        is_select = isinstance(field.widget, forms.Select)
        field.widget.attrs.setdefault("class", "form-select" if is_select else "form-control")


def resolve_space_codes(user, text: str, *, field: str = "spaces") -> list[Space]:
    """``SEGCODE-NUMBER`` codes (one per line or comma-separated) → spaces in the caller's scope."""
    codes = [c.strip() for c in re.split(r"[\s,，;；]+", text or "") if c.strip()]
    spaces, missing = [], []
    for code in codes:
        segment_code, sep, number = code.rpartition("-")
        space = (
            Space.objects.restrict(user).filter(segment__code=segment_code, number=number).first()
            if sep
            else None
        )
        (spaces if space else missing).append(space or code)
    if missing:
        raise ValidationError(
            {field: _("找不到泊位：%(codes)s") % {"codes": "、".join(missing)}}, code="unknown_space"
        )
    return spaces


# ------------------------------------------------------------------------------------------
# Temporary occupations
# ------------------------------------------------------------------------------------------


class TemporaryOccupationForm(forms.Form):
    segment = forms.ModelChoiceField(
        label=gettext_lazy("路段（整段占用）"), queryset=Segment.objects.none(), required=False
    )
    space_codes = forms.CharField(
        label=gettext_lazy("泊位（不整段占用时）"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=gettext_lazy("每行一个，格式：路段编码-泊位编号。"),
    )
    reason = forms.ChoiceField(label=gettext_lazy("占用原因"), choices=TemporaryOccupation.Reason.choices)
    reason_text = forms.CharField(label=gettext_lazy("原因说明"), max_length=200, required=False)
    starts_at = forms.DateTimeField(
        label=gettext_lazy("计划开始"), widget=forms.DateTimeInput(attrs={"type": "datetime-local"})
    )
    ends_at = forms.DateTimeField(
        label=gettext_lazy("计划结束"), widget=forms.DateTimeInput(attrs={"type": "datetime-local"})
    )

    def __init__(self, *args, user=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user
        self.fields["segment"].queryset = (
            Segment.objects.restrict(user).exclude(status=Segment.Status.RETIRED).order_by("code")
        )
        _styled(self)


class OccupationListView(ScopedListView):
    permission_required = ("parking.view_temporaryoccupation",)
    template_name = T + "occupation_list.html"

    def base_queryset(self):
        qs = selectors.occupation_list(user=self.request.user).order_by("-starts_at", "-pk")
        status = self.request.GET.get("status", "")
        return qs.filter(status=status) if status in TemporaryOccupation.Status.values else qs

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["statuses"] = TemporaryOccupation.Status.choices
        context["status"] = self.request.GET.get("status", "")
        return context


class OccupationDetailView(ScopedDetailView):
    permission_required = ("parking.view_temporaryoccupation",)
    template_name = T + "occupation_detail.html"

    def base_queryset(self):
        return selectors.occupation_list(user=self.request.user)

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["spaces"] = self.object.spaces.select_related("segment").order_by("segment__code", "number")[
            :500
        ]
        return context


class OccupationCreateView(_ServiceFormView):
    permission_required = ("parking.add_temporaryoccupation",)
    form_class = TemporaryOccupationForm
    title = gettext_lazy("登记临时占用")
    list_url_name = "parking:occupation_list"

    def get_initial(self):
        segment = self.request.GET.get("segment", "")
        return {"segment": segment} if segment.isdigit() else {}

    def success_url_for(self, obj):
        return reverse("parking:occupation_detail", args=[obj.pk])

    def perform(self, form):
        data = dict(form.cleaned_data)
        codes = data.pop("space_codes")
        spaces = resolve_space_codes(self.request.user, codes, field="space_codes") if codes else []
        if not data.get("segment"):
            data.pop("segment", None)
        return occupation_services.occupation_create(actor=self.request.user, spaces=spaces, **data)


def _occupation_action(request, pk, service, done):
    occ = get_object_or_404(selectors.occupation_list(user=request.user), pk=pk)
    try:
        service(actor=request.user, occupation=occ, reason=request.POST.get("reason", "")[:200])
    except ValidationError as exc:
        for message in exc.messages:
            messages.error(request, message)
    else:
        messages.success(request, done)
    return redirect("parking:occupation_detail", pk=occ.pk)


@require_POST
@login_required
@permission_required("parking.change_temporaryoccupation", raise_exception=True)
def occupation_cancel(request, pk):
    return _occupation_action(request, pk, occupation_services.occupation_cancel, _("已取消。"))


@require_POST
@login_required
@permission_required("parking.change_temporaryoccupation", raise_exception=True)
def occupation_end(request, pk):
    return _occupation_action(
        request, pk, occupation_services.occupation_end, _("已结束，泊位和设备已恢复。")
    )


# ------------------------------------------------------------------------------------------
# Change sets
# ------------------------------------------------------------------------------------------


class ChangeSetForm(forms.Form):
    district = forms.ModelChoiceField(label=gettext_lazy("所属区"), queryset=District.objects.none())
    title = forms.CharField(label=gettext_lazy("标题"), max_length=100)
    description = forms.CharField(
        label=gettext_lazy("说明"), required=False, widget=forms.Textarea(attrs={"rows": 3})
    )

    def __init__(self, *args, user=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["district"].queryset = District.objects.restrict(user).defer("geometry").order_by("sort_order", "code")
        _styled(self)


class ChangeSetItemForm(forms.Form):
    op = forms.ChoiceField(label=gettext_lazy("操作"), choices=ChangeSetItem.Op.choices)
    segment = forms.ModelChoiceField(
        label=gettext_lazy("路段（新增时）"), queryset=Segment.objects.none(), required=False
    )
    space_code = forms.CharField(
        label=gettext_lazy("泊位（调整、撤销时）"),
        required=False,
        help_text=gettext_lazy("格式：路段编码-泊位编号。"),
    )
    number = forms.CharField(label=gettext_lazy("泊位编号（新增或新编号）"), max_length=20, required=False)
    lon = forms.FloatField(
        label=gettext_lazy("经度（GCJ-02）"), required=False, min_value=-180, max_value=180
    )
    lat = forms.FloatField(label=gettext_lazy("纬度（GCJ-02）"), required=False, min_value=-90, max_value=90)
    space_type = forms.ChoiceField(
        label=gettext_lazy("泊位类型"), choices=[("", "—"), *Space.Type.choices], required=False
    )
    note = forms.CharField(label=gettext_lazy("备注"), max_length=200, required=False)

    def __init__(self, *args, change_set=None, user=None, **kwargs):
        super().__init__(*args, **kwargs)
        segments = Segment.objects.restrict(user).exclude(status=Segment.Status.RETIRED)
        if change_set is not None:
            segments = segments.filter(district=change_set.district_id)
        self.fields["segment"].queryset = segments.order_by("code")
        _styled(self)


class ChangeSetListView(ScopedListView):
    permission_required = ("parking.view_changeset",)
    template_name = T + "changeset_list.html"

    def base_queryset(self):
        qs = selectors.changeset_list(user=self.request.user).order_by("-created_at", "-pk")
        status = self.request.GET.get("status", "")
        q = self.request.GET.get("q", "").strip()
        if status in ChangeSet.Status.values:
            qs = qs.filter(status=status)
        if q:
            qs = qs.filter(Q(title__icontains=q) | Q(description__icontains=q))
        return qs

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["statuses"] = ChangeSet.Status.choices
        context["status"] = self.request.GET.get("status", "")
        context["q"] = self.request.GET.get("q", "")
        return context


class ChangeSetDetailView(ScopedDetailView):
    permission_required = ("parking.view_changeset",)
    template_name = T + "changeset_detail.html"

    def base_queryset(self):
        return selectors.changeset_list(user=self.request.user)

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        user = self.request.user
        cs = self.object
        context["items"] = selectors.changeset_items(user=user, change_set=cs)
        context["item_form"] = kwargs.get("item_form") or ChangeSetItemForm(change_set=cs, user=user)
        context["can_edit"] = user.has_perm("parking.change_changeset") and cs.status in ("draft", "rejected")
        context["can_review"] = (
            user.has_perm("parking.review_changeset") and cs.status == "submitted" and cs.author_id != user.pk
        )
        context["can_apply"] = user.has_perm("parking.review_changeset") and cs.status == "approved"
        context["can_revert"] = user.has_perm("parking.review_changeset") and cs.status == "applied"
        return context


class ChangeSetCreateView(_ServiceFormView):
    permission_required = ("parking.add_changeset",)
    form_class = ChangeSetForm
    title = gettext_lazy("新建车位调整方案")
    list_url_name = "parking:changeset_list"

    def success_url_for(self, obj):
        return reverse("parking:changeset_detail", args=[obj.pk])

    def perform(self, form):
        return changeset_services.changeset_create(actor=self.request.user, **form.cleaned_data)


@require_POST
@login_required
@permission_required("parking.change_changeset", raise_exception=True)
def changeset_item_add(request, pk):
    cs = get_object_or_404(selectors.changeset_list(user=request.user), pk=pk)
    form = ChangeSetItemForm(request.POST, change_set=cs, user=request.user)
    if form.is_valid():
        data = {k: v for k, v in form.cleaned_data.items() if v not in (None, "")}
        code = data.pop("space_code", "")
        try:
            if code:
                data["space"] = resolve_space_codes(request.user, code, field="space_code")[0]
            changeset_services.changeset_item_add(actor=request.user, change_set=cs, **data)
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, _("已添加调整项。"))
            return redirect("parking:changeset_detail", pk=cs.pk)
    view = ChangeSetDetailView()
    view.setup(request, pk=pk)
    view.object = cs
    return view.render_to_response(view.get_context_data(object=cs, item_form=form), status=400)


CHANGESET_ACTIONS = {
    # verb: (permission, call, success message)
    "submit": (
        "parking.change_changeset",
        lambda u, cs, p: changeset_services.changeset_submit(actor=u, change_set=cs),
    ),
    "approve": (
        "parking.review_changeset",
        lambda u, cs, p: changeset_services.changeset_review(
            actor=u, change_set=cs, approve=True, comment=p.get("comment", "")[:500]
        ),
    ),
    "reject": (
        "parking.review_changeset",
        lambda u, cs, p: changeset_services.changeset_review(
            actor=u, change_set=cs, approve=False, comment=p.get("comment", "")[:500]
        ),
    ),
    "apply": (
        "parking.review_changeset",
        lambda u, cs, p: changeset_services.changeset_apply(actor=u, change_set=cs),
    ),
    "revert": (
        "parking.review_changeset",
        lambda u, cs, p: changeset_services.changeset_revert(
            actor=u, change_set=cs, reason=p.get("comment", "")[:200]
        ),
    ),
    "remove_item": (
        "parking.change_changeset",
        lambda u, cs, p: changeset_services.changeset_item_remove(
            actor=u, item=get_object_or_404(ChangeSetItem, change_set=cs, pk=p.get("item") or 0)
        ),
    ),
}
ACTION_DONE = {
    "submit": gettext_lazy("已提交审核。"),
    "approve": gettext_lazy("已批准。"),
    "reject": gettext_lazy("已驳回。"),
    "apply": gettext_lazy("已实施。"),
    "revert": gettext_lazy("已撤回。"),
    "remove_item": gettext_lazy("已删除调整项。"),
}


@require_POST
@login_required
def changeset_action(request, pk, verb):
    if verb not in CHANGESET_ACTIONS:
        raise PermissionDenied
    permission, call = CHANGESET_ACTIONS[verb]
    if not request.user.has_perm(permission):
        raise PermissionDenied
    cs = get_object_or_404(selectors.changeset_list(user=request.user), pk=pk)
    try:
        call(request.user, cs, request.POST)
    except ValidationError as exc:
        for message in exc.messages:
            messages.error(request, message)
    else:
        messages.success(request, ACTION_DONE[verb])
    return HttpResponseRedirect(reverse("parking:changeset_detail", args=[cs.pk]))
