"""Bulk import/export API of the base data.

* ``POST /api/v1/parking/imports/{kind}`` (multipart, field ``file``; ``?dry_run=1`` only
  validates) → 200 ``{"ok": true, "rows": n, "created", "updated", "unchanged", "errors": []}``,
  or 400 ``{"code": "import_invalid", "message", "details": {"ok": false, "rows": n,
  "errors": [{"row", "column", "message"}, …]}}`` with nothing written. Needs
  ``parking.add_<model>`` and ``parking.change_<model>``.
* ``GET /api/v1/parking/exports/{kind}.xlsx|.csv``: the caller's scope, re-importable.
* ``GET /api/v1/parking/templates/{kind}.xlsx|.csv``: an empty template.
  Both need ``parking.view_<model>``.

``kind`` is one of roads, segments, spaces, devices.
"""

from __future__ import annotations

from django.http import HttpResponse
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import exceptions, permissions, serializers
from rest_framework.parsers import MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from govcenter.core.api.errors import ServiceError

from ..services import imports as services

KIND_PARAM = OpenApiParameter(
    "kind",
    OpenApiTypes.STR,
    OpenApiParameter.PATH,
    enum=list(services.KINDS),
    description="What to import/export",
)
FMT_PARAM = OpenApiParameter("fmt", OpenApiTypes.STR, OpenApiParameter.PATH, enum=["xlsx", "csv"])
CONTENT_TYPES = {"xlsx": services.XLSX_MIME, "csv": "text/csv; charset=utf-8"}


class _KindPermission(permissions.BasePermission):
    """View permission of the kind's model to read; add + change of it to import."""

    def has_permission(self, request, view) -> bool:
        user = request.user
        if not (user and user.is_authenticated):
            return False
        model = services.MODEL_OF_KIND.get(view.kwargs.get("kind", ""))
        if model is None:
            return True  # the view answers 404 for an unknown kind
        if request.method in permissions.SAFE_METHODS:
            return user.has_perm(f"parking.view_{model}")
        return user.has_perms([f"parking.add_{model}", f"parking.change_{model}"])


def _check_kind(kind: str, fmt: str = "csv") -> None:
    if kind not in services.KINDS or fmt not in CONTENT_TYPES:
        raise exceptions.NotFound()


class ImportRowErrorSerializer(serializers.Serializer):
    row = serializers.IntegerField()
    column = serializers.CharField()
    message = serializers.CharField()


class ImportResultSerializer(serializers.Serializer):
    ok = serializers.BooleanField()
    kind = serializers.CharField()
    dry_run = serializers.BooleanField()
    rows = serializers.IntegerField()
    created = serializers.IntegerField()
    updated = serializers.IntegerField()
    unchanged = serializers.IntegerField()
    errors = ImportRowErrorSerializer(many=True)


class ImportView(APIView):
    """Import a template-shaped .xlsx or .csv: every row valid or nothing written."""

    parser_classes = [MultiPartParser]
    permission_classes = [_KindPermission]

    @extend_schema(
        operation_id="parking_imports_create",
        parameters=[
            KIND_PARAM,
            OpenApiParameter(
                "dry_run", OpenApiTypes.BOOL, OpenApiParameter.QUERY, description="Only validate"
            ),
        ],
        request={
            "multipart/form-data": inline_serializer(
                "ImportUpload", fields={"file": serializers.FileField(help_text=".xlsx or .csv (UTF-8)")}
            )
        },
        responses={200: ImportResultSerializer},
    )
    def post(self, request, kind: str):
        _check_kind(kind)
        upload = request.FILES.get("file")
        dry_run = request.query_params.get("dry_run", "").lower() in ("1", "true", "yes")
        try:
            result = services.import_upload(actor=request.user, kind=kind, upload=upload, dry_run=dry_run)
        except services.ImportFileError as exc:
            code = getattr(exc, "code", None) or "bad_file"
            if code == "file_too_large":
                raise ServiceError(
                    " ".join(exc.messages),
                    code=code,
                    status=413,
                    details={"limit_bytes": services.max_bytes(), "size_bytes": upload.size},
                ) from exc
            raise ServiceError(" ".join(exc.messages), code=code) from exc
        body = result.as_dict()
        if not result.ok:
            raise ServiceError(
                f"{len(result.errors)} error(s) in {result.rows} row(s); nothing was imported.",
                code="import_invalid",
                details=body,
            )
        return Response(body)


def _file_response(content: bytes, kind: str, fmt: str, stem: str) -> HttpResponse:
    response = HttpResponse(content, content_type=CONTENT_TYPES[fmt])
    name = f"{stem}-{kind}-{timezone.localdate():%Y%m%d}.{fmt}"
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    response["Cache-Control"] = "no-store"
    return response


FILE_RESPONSES = {
    (200, services.XLSX_MIME): OpenApiTypes.BINARY,
    (200, "text/csv"): OpenApiTypes.STR,
}


class ExportView(APIView):
    """The caller's in-scope rows as .xlsx or .csv (same columns as the import template)."""

    permission_classes = [_KindPermission]

    @extend_schema(
        operation_id="parking_exports_retrieve", parameters=[KIND_PARAM, FMT_PARAM], responses=FILE_RESPONSES
    )
    def get(self, request, kind: str, fmt: str):
        _check_kind(kind, fmt)
        content = services.export_file(user=request.user, kind=kind, fmt=fmt)
        return _file_response(content, kind, fmt, "export")


class TemplateView(APIView):
    """An empty import template (.xlsx with drop-downs and an example sheet, or .csv)."""

    permission_classes = [_KindPermission]

    @extend_schema(
        operation_id="parking_templates_retrieve",
        parameters=[KIND_PARAM, FMT_PARAM],
        responses=FILE_RESPONSES,
    )
    def get(self, request, kind: str, fmt: str):
        _check_kind(kind, fmt)
        return _file_response(services.template_file(kind=kind, fmt=fmt), kind, fmt, "template")
