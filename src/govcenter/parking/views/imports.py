"""UI of the bulk import/export: one page per kind (roads, segments, spaces, devices).

The page offers the template and the caller's export (both through the API URLs), and an
upload form. An upload is always validated first (a dry run); when every row passes, the
file is kept under ``var/parking-imports/`` with a random token in the session and a
"confirm" button imports exactly that file. Row errors are listed with row and column.
"""

from __future__ import annotations

import secrets
from pathlib import Path

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from ..services import imports as services

T = "parking/imports/"
KIND_LABELS = {
    "roads": gettext_lazy("道路"),
    "segments": gettext_lazy("路段"),
    "spaces": gettext_lazy("泊位"),
    "devices": gettext_lazy("设备"),
}
SESSION_KEY = "parking_import_pending"


class ImportUploadForm(forms.Form):
    file = forms.FileField(
        label=gettext_lazy("数据文件"),
        help_text=gettext_lazy("Excel（.xlsx）或 CSV（UTF-8）文件，按模板填写。"),
        widget=forms.ClearableFileInput(attrs={"class": "form-control", "accept": ".xlsx,.csv"}),
    )


def _pending_dir() -> Path:
    path = Path(settings.GOVCENTER_VAR_DIR) / "parking-imports"
    path.mkdir(parents=True, exist_ok=True)
    return path


def _perm(user, kind: str, verb: str) -> bool:
    return user.has_perm(f"parking.{verb}_{services.MODEL_OF_KIND[kind]}")


@login_required
def import_index(request):
    kinds = [
        {"kind": k, "label": KIND_LABELS[k], "columns": services.columns(k)}
        for k in services.KINDS
        if _perm(request.user, k, "view")
    ]
    if not kinds:
        raise PermissionDenied
    return render(request, T + "index.html", {"kinds": kinds})


@login_required
def import_page(request, kind: str):
    if kind not in services.KINDS:
        raise Http404
    if not _perm(request.user, kind, "view"):
        raise PermissionDenied
    can_import = _perm(request.user, kind, "add") and _perm(request.user, kind, "change")
    context = {
        "kind": kind,
        "label": KIND_LABELS[kind],
        "columns": services.columns(kind),
        "can_import": can_import,
        "max_rows": services.max_rows(),
        "max_mb": services.max_bytes() / 1024 / 1024,
        "form": ImportUploadForm(),
    }
    if request.method != "POST":
        return render(request, T + "page.html", context)
    if not can_import:
        raise PermissionDenied

    if request.POST.get("confirm"):
        pending = request.session.get(SESSION_KEY) or {}
        token = request.POST.get("token", "")
        if not token or pending.get("token") != token or pending.get("kind") != kind:
            messages.error(request, _("待导入的文件已失效，请重新上传。"))
            return redirect("parking:import_page", kind=kind)
        path = _pending_dir() / f"{token}.bin"
        data = path.read_bytes() if path.exists() else b""
        path.unlink(missing_ok=True)
        del request.session[SESSION_KEY]
        return _run(request, context, kind, data=data, filename=pending.get("filename", ""), dry_run=False)

    form = ImportUploadForm(request.POST, request.FILES)
    context["form"] = form
    if not form.is_valid():
        return render(request, T + "page.html", context, status=400)
    upload = form.cleaned_data["file"]
    return _run(request, context, kind, upload=upload, filename=upload.name or "", dry_run=True)


def _run(request, context, kind, *, data: bytes = b"", upload=None, filename: str, dry_run: bool):
    """Import the confirmed file's ``data``, or check the new ``upload`` (a dry run)."""
    try:
        if upload is not None:
            result = services.import_upload(actor=request.user, kind=kind, upload=upload, dry_run=dry_run)
        else:
            result = services.import_file(
                actor=request.user, kind=kind, data=data, filename=filename, dry_run=dry_run
            )
    except services.ImportFileError as exc:
        context["file_error"] = " ".join(exc.messages)
        return render(request, T + "page.html", context, status=400)
    context["result"] = result.as_dict()
    if not result.ok:
        return render(request, T + "page.html", context, status=400)
    if dry_run:
        if upload is not None:  # within the size limit: kept for the confirmation
            upload.seek(0)
            data = upload.read()
        token = secrets.token_urlsafe(24)
        (_pending_dir() / f"{token}.bin").write_bytes(data)
        request.session[SESSION_KEY] = {"token": token, "kind": kind, "filename": filename}
        context["token"] = token
        return render(request, T + "page.html", context)
    messages.success(
        request,
        _("导入完成：新增 %(c)d 行，更新 %(u)d 行，未变 %(n)d 行。")
        % {"c": result.created, "u": result.updated, "n": result.unchanged},
    )
    return redirect("parking:import_page", kind=kind)
