"""备份 pages: the backups (size, checksum, state, retention) and the restore drills with their
table-by-table comparison; 立即备份 and 恢复演练 for whoever holds ``ops.run_backup`` (both
audited, the work queued to the task runner). Backups are the Center's, not a unit's: the
function permission is the gate (no data scope applies)."""

from __future__ import annotations

import django_filters
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_POST

from govcenter.core.filters import ALL
from govcenter.core.views.base import ScopedListView

from ..models import Backup, BackupKind, BackupState, RestoreDrill
from . import services

T = "ops/backups/"
VIEW = ("ops.view_backup",)


class BackupFilterSet(django_filters.FilterSet):
    kind = django_filters.ChoiceFilter(choices=BackupKind.choices, label=_("类型"), empty_label=ALL)
    state = django_filters.ChoiceFilter(choices=BackupState.choices, label=_("状态"), empty_label=ALL)

    class Meta:
        model = Backup
        fields = ["kind", "state"]


class BackupListView(ScopedListView):
    permission_required = VIEW
    filterset_class = BackupFilterSet
    template_name = T + "backup_list.html"
    paginate_by = 30
    unscoped_reason = "backups are the Center's system records, not a unit's or a district's data"

    def base_queryset(self):
        return Backup.objects.all()

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["drills"] = RestoreDrill.objects.select_related("backup")[:10]
        context["can_run"] = self.request.user.has_perm("ops.run_backup")
        context["kinds"] = [("all", _("全部")), *BackupKind.choices]
        return context


@login_required
def drill_detail(request, pk):
    if not request.user.has_perm("ops.view_backup"):
        raise PermissionDenied
    drill = get_object_or_404(RestoreDrill.objects.select_related("backup"), pk=pk)
    return render(request, T + "drill_detail.html", {"drill": drill})


@require_POST
@login_required
def backup_run(request):
    if not request.user.has_perm("ops.run_backup"):
        raise PermissionDenied
    kind = request.POST.get("kind", "all")
    try:
        services.backup_request(kind=kind, actor=request.user)
    except services.BackupError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, _("备份已提交，完成后出现在列表中。"))
    return HttpResponseRedirect(reverse("ops:backup_list"))


@require_POST
@login_required
def backup_drill(request, pk):
    if not request.user.has_perm("ops.run_backup"):
        raise PermissionDenied
    backup = get_object_or_404(Backup, pk=pk)
    try:
        services.drill_request(backup=backup, actor=request.user)
    except services.DrillError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, _("恢复演练已提交，结果出现在演练列表中。"))
    return HttpResponseRedirect(reverse("ops:backup_list"))
