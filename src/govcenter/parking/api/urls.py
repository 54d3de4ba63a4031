"""Parking API under /api/v1/parking/ (non-router endpoints; viewsets register on the core router)."""

from django.urls import include, path

from . import cds, citizens, payments
from .events import DeviceEventIngestView
from .imports import ExportView, ImportView, TemplateView
from .orders import register as _register_orders
from .router import router
from .tariff import QuoteView

app_name = "parking-api"

_register_orders(router)  # orders/, anomalies/ (api/orders.py)

urlpatterns: list = [
    path("quote", QuoteView.as_view(), name="quote"),
    path("imports/<str:kind>", ImportView.as_view(), name="import"),
    path("exports/<str:kind>.<str:fmt>", ExportView.as_view(), name="export"),
    path("templates/<str:kind>.<str:fmt>", TemplateView.as_view(), name="template"),
    path("device-events", DeviceEventIngestView.as_view(), name="device-events"),
    path("citizen/sms-code", citizens.CitizenSmsCodeView.as_view(), name="citizen-sms-code"),
    path("citizen/login", citizens.CitizenLoginView.as_view(), name="citizen-login"),
    path("citizen/logout", citizens.CitizenLogoutView.as_view(), name="citizen-logout"),
    path("citizen/plates", citizens.CitizenPlatesView.as_view(), name="citizen-plates"),
    path("citizen/plates/<str:plate>", citizens.CitizenPlateView.as_view(), name="citizen-plate"),
    path(
        "citizen/plates/<str:plate>/transfer",
        citizens.CitizenPlateTransferView.as_view(),
        name="citizen-plate-transfer",
    ),
    path("citizen/transfers", citizens.CitizenTransfersView.as_view(), name="citizen-transfers"),
    path(
        "citizen/transfers/<int:pk>/approve",
        citizens.CitizenTransferDecisionView.as_view(approve=True),
        name="citizen-transfer-approve",
    ),
    path(
        "citizen/transfers/<int:pk>/reject",
        citizens.CitizenTransferDecisionView.as_view(approve=False),
        name="citizen-transfer-reject",
    ),
    path("citizen/orders", payments.CitizenOrdersView.as_view(), name="citizen-orders"),
    path("citizen/payments", payments.CitizenPaymentsView.as_view(), name="citizen-payments"),
    path("citizen/payments/<str:out_trade_no>", payments.CitizenPaymentView.as_view(), name="citizen-payment"),
    path("public/arrears", payments.PublicArrearsView.as_view(), name="public-arrears"),
    path("public/payments", payments.PublicPaymentsView.as_view(), name="public-payments"),
    path("payments/notify", payments.PaymentNotifyView.as_view(), name="payment-notify"),
    path("sandbox/pay/<str:out_trade_no>", payments.SandboxPayView.as_view(), name="sandbox-pay"),
    path("cds/curbs/zones", cds.CdsZonesView.as_view(), name="cds-zones"),
    path("cds/curbs/zones/<str:curb_zone_id>", cds.CdsZoneView.as_view(), name="cds-zone"),
    path("cds/curbs/spaces", cds.CdsSpacesView.as_view(), name="cds-spaces"),
    path("cds/curbs/spaces/<str:curb_space_id>", cds.CdsSpaceView.as_view(), name="cds-space"),
    path("cds/events", cds.CdsEventsView.as_view(), name="cds-events"),
    # Each area's own endpoints (the module's urlpatterns).
    path("", include("govcenter.parking.api.refunds")),
    path("", include("govcenter.parking.api.receipts")),
    path("", include("govcenter.parking.api.arrears")),
    path("", include("govcenter.parking.api.complaints")),
    path("", include("govcenter.parking.api.permits")),
    path("", include("govcenter.parking.api.stats")),
    path("", include("govcenter.parking.api.stats_orders")),
    path("", include("govcenter.parking.api.stats2")),
    path("", include("govcenter.parking.api.rejections")),
    path("", include("govcenter.parking.api.stats_compare")),
    path("", include("govcenter.parking.reports.api")),
    path("", include(router.urls)),
]
urlpatterns += [path("", include("govcenter.parking.api.stats_query"))]  # statistic 10 (query builder)
