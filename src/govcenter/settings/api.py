"""REST API conventions: DRF + drf-spectacular, one error body for every 4xx/5xx."""

from __future__ import annotations

from .env import env_int

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "govcenter.core.api.authentication.TokenAuthentication",
        "govcenter.core.api.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PAGINATION_CLASS": "govcenter.core.api.pagination.Pagination",
    "PAGE_SIZE": env_int("GOVCENTER_API_PAGE_SIZE", 50),
    "DEFAULT_FILTER_BACKENDS": [
        "django_filters.rest_framework.DjangoFilterBackend",
        "rest_framework.filters.OrderingFilter",
    ],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "govcenter.core.api.errors.exception_handler",
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}

SPECTACULAR_SETTINGS = {
    "TITLE": "govcenter API",
    "DESCRIPTION": "Beijing Transport Comprehensive Governance Center — REST API v1",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "SCHEMA_PATH_PREFIX": r"/api/v[0-9]+",
    # One name for a choice set that several serializers use under different field names.
    "ENUM_NAME_OVERRIDES": {
        "VehicleClassEnum": "govcenter.parking.models.tariff.VehicleClass",
        "AssetStatusEnum": "govcenter.ops.models.cmdb.AssetStatus",
        "VulnSeverityEnum": "govcenter.ops.models.cmdb.VulnSeverity",
        "VulnStateEnum": "govcenter.ops.models.cmdb.VulnState",
        "WorkOrderKindEnum": "govcenter.bikeshare.models.workorders.WorkOrderKind",
        "WorkOrderStatusEnum": "govcenter.bikeshare.models.workorders.WorkOrderStatus",
        "SuggestionStateEnum": "govcenter.congestion.models.suggestions.SuggestionState",
        "OrderStateEnum": "govcenter.parking.models.orders.OrderState",
        "ProposalStateEnum": "govcenter.congestion.models.proposals.ProposalState",
        "ProposalReplyKindEnum": "govcenter.congestion.models.proposals.ReplyKind",
        "PaymentIntentStatusEnum": "govcenter.parking.models.payments.PaymentStatus",
        "WorkCategoryEnum": "govcenter.congestion.models.works.WorkCategory",
        "RiskKindEnum": "govcenter.congestion.models.works.RiskKind",
        "RiskLevelEnum": "govcenter.congestion.models.works.RiskLevel",
        "PolicyCategoryEnum": "govcenter.congestion.models.library.PolicyCategory",
        "ExpenseCategoryEnum": "govcenter.congestion.models.library.ExpenseCategory",
        "PublicityTypeEnum": "govcenter.congestion.models.library.PublicityType",
        "DeliverableTypeEnum": "govcenter.congestion.models.library.DeliverableType",
        "MidtermConclusionEnum": "govcenter.congestion.models.library.MidtermConclusion",
        "AcceptanceConclusionEnum": "govcenter.congestion.models.library.AcceptanceConclusion",
        "IncidentSourceEnum": "govcenter.ops.models.IncidentSource",
        "WorkOrderSourceEnum": "govcenter.bikeshare.models.workorders.WorkOrderSource",
        "IncidentStateEnum": "govcenter.ops.models.IncidentState",
        "ChangeResultEnum": "govcenter.ops.models.ChangeResult",
        "BackupKindEnum": "govcenter.ops.models.backups.BackupKind",
        "BackupEngineEnum": "govcenter.ops.models.backups.BackupEngine",
        "BackupStateEnum": "govcenter.ops.models.backups.BackupState",
        "DrillResultEnum": "govcenter.ops.models.backups.DrillResult",
        "ScanResultEnum": "govcenter.bikeshare.models.scanchecks.ScanResult",  # was ResultEnum until DrillResult
        "StatAreaKindEnum": "govcenter.parking.models.stats_query.StatArea.Kind",
        "ParkingReportKindEnum": "govcenter.parking.models.reports.ParkingReportKind",
    },
}

# Largest request body Django reads (bytes). Operators push up to 10,000 telemetry records
# (about 3 MB) per MDS Agency request, over Django's 2.5 MB default; uploads of files are
# limited separately by each form.
DATA_UPLOAD_MAX_MEMORY_SIZE = env_int("GOVCENTER_MAX_REQUEST_BYTES", 8 * 1024 * 1024)
