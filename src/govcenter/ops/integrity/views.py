"""网页防篡改 page: the current baseline, the last checks with their findings and restore status;
a button to re-baseline (security administrator: a release step, audited) and one to run a
check now (O&M engineer too). Every write goes through ``integrity.services``."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_POST

from govcenter.core.api.errors import ServiceError

from . import services

KIND_LABELS = {"modified": gettext_lazy("被修改"), "missing": gettext_lazy("被删除"), "added": gettext_lazy("新增文件"),
               "manifest": gettext_lazy("基线签名无效")}  # fmt: skip


@require_GET
@login_required
def integrity_page(request):
    if not request.user.has_perm("ops.view_integritybaseline"):
        raise PermissionDenied
    overview = services.integrity_overview()
    return render(request, "ops/integrity/page.html", {
        **overview,
        "roots": services.watched_roots(),
        "kind_labels": {k: str(v) for k, v in KIND_LABELS.items()},
        "can_manage": request.user.has_perm("ops.manage_integrity"),
        "can_check": request.user.has_perm("ops.run_integrity_check"),
    })  # fmt: skip


@require_POST
@login_required
def integrity_baseline(request):
    if not request.user.has_perm("ops.manage_integrity"):
        raise PermissionDenied
    try:
        baseline = services.baseline_create(actor=request.user)
    except ServiceError as exc:
        messages.error(request, str(exc.detail))
    else:
        messages.success(request, _("已建立新基线：%(n)s 个文件。") % {"n": baseline.file_count})
    return HttpResponseRedirect(reverse("ops:integrity"))


@require_POST
@login_required
def integrity_run_check(request):
    if not request.user.has_perm("ops.run_integrity_check"):
        raise PermissionDenied
    try:
        check = services.integrity_check(restore=True, trigger="web")
    except ServiceError as exc:
        messages.error(request, str(exc.detail))
    else:
        if check.status == "ok":
            messages.success(request, _("检查完成：%(n)s 个文件均与基线一致。") % {"n": check.files_checked})
        else:
            messages.error(request, _("检查发现 %(n)s 处不一致，已处理并告警。") % {"n": len(check.mismatches)})
    return HttpResponseRedirect(reverse("ops:integrity"))
