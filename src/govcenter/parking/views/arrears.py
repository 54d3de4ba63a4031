"""UI of arrears (欠费订单), the reminder log (催缴提醒记录) and penalty cases (处罚案件).

Lists and details come from the scoped selectors (an object outside the caller's scope is
404); plates are masked everywhere; a case page offers the audited reveal of its plate and,
to holders of ``parking.manage_penaltycase``, closing (with a reason) and marking appealed.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import path, reverse
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_POST

from govcenter.core.api.errors import ServiceError
from govcenter.core.views.base import ScopedDetailView, ScopedListView
from govcenter.core.views.reveal import no_store, reveal_context

from ..selectors import arrears as selectors
from ..services import arrears as services

T = "parking/arrears/"


class ArrearsListView(ScopedListView):
    permission_required = ("parking.view_arrearsrecord",)
    filterset_class = selectors.ArrearsRecordFilterSet
    template_name = T + "arrears_list.html"

    def base_queryset(self):
        return selectors.arrears_list(user=self.request.user)


class ReminderListView(ScopedListView):
    permission_required = ("parking.view_reminderlog",)
    filterset_class = selectors.ReminderLogFilterSet
    template_name = T + "reminder_list.html"

    def base_queryset(self):
        return selectors.reminder_list(user=self.request.user)


class PenaltyListView(ScopedListView):
    permission_required = ("parking.view_penaltycase",)
    filterset_class = selectors.PenaltyCaseFilterSet
    template_name = T + "penalty_list.html"

    def base_queryset(self):
        return selectors.penalty_list(user=self.request.user)


class PenaltyDetailView(ScopedDetailView):
    permission_required = ("parking.view_penaltycase",)
    template_name = T + "penalty_detail.html"
    http_method_names = ["get", "post"]

    def base_queryset(self):
        return selectors.penalty_list(user=self.request.user).select_related("sms_message")

    def post(self, request, *args, **kwargs):
        """The reveal form posts here; the page is rendered once with the clear plate."""
        return self.get(request, *args, **kwargs)

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        url = self.request.path
        context["can_manage"] = self.request.user.has_perm("parking.manage_penaltycase")
        context.update(
            reveal_context(self.request, self.object, fields=["plate"], reveal_url=url, masked_url=url)
        )
        return context

    def render_to_response(self, context, **kwargs):
        return no_store(super().render_to_response(context, **kwargs))


ACTION_DONE = {"close": _("案件已结案。"), "appeal": _("案件已标记为申诉。")}


@require_POST
@login_required
def penalty_action(request, pk: int, verb: str):
    """Close (结案) or mark appealed (申诉) one case in the caller's scope."""
    if verb not in ACTION_DONE or not request.user.has_perm("parking.manage_penaltycase"):
        raise PermissionDenied
    case = get_object_or_404(selectors.penalty_list(user=request.user), pk=pk)
    try:
        if verb == "close":
            services.penalty_case_close(actor=request.user, case=case, reason=request.POST.get("reason", ""))
        else:
            services.penalty_case_appeal(
                actor=request.user,
                case=case,
                reference=request.POST.get("reference", ""),
                reason=request.POST.get("reason", ""),
            )
    except ServiceError as exc:
        messages.error(request, str(exc.detail))
    except ValidationError as exc:
        for message in exc.messages:
            messages.error(request, message)
    else:
        messages.success(request, ACTION_DONE[verb])
    return HttpResponseRedirect(reverse("parking:penalty_detail", args=[case.pk]))


urlpatterns: list = [
    path("arrears/", ArrearsListView.as_view(), name="arrears_list"),
    path("arrears/reminders/", ReminderListView.as_view(), name="reminder_list"),
    path("penalties/", PenaltyListView.as_view(), name="penalty_list"),
    path("penalties/<int:pk>/", PenaltyDetailView.as_view(), name="penalty_detail"),
    path("penalties/<int:pk>/<slug:verb>/", penalty_action, name="penalty_action"),
]
