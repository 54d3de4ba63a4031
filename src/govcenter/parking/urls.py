"""Parking UI under /parking/."""

from django.urls import include, path

from .views import adjustments, imports, orders, tariff
from .views import base as basedata

app_name = "parking"

urlpatterns: list = [
    # Orders, anomalies, device status (views/orders.py).
    path("orders/", orders.OrderListView.as_view(), name="order_list"),
    path("orders/<int:pk>/", orders.OrderDetailView.as_view(), name="order_detail"),
    path("anomalies/", orders.AnomalyListView.as_view(), name="anomaly_list"),
    path("device-status/", orders.device_status, name="device_status"),
    path("device-status/<int:district>/", orders.device_status, name="device_status_district"),
    path("tariffs/", tariff.tariff_list, name="tariff_list"),
    path("tariffs/<int:pk>/", tariff.tariff_detail, name="tariff_detail"),
    path("tariffs/publish/", tariff.tariff_publish, name="tariff_publish"),
    # Base data (views/base.py): roads, segments, spaces, devices, district map.
    path("roads/", basedata.RoadListView.as_view(), name="road_list"),
    path("roads/new/", basedata.RoadCreateView.as_view(), name="road_create"),
    path("roads/<int:pk>/", basedata.RoadDetailView.as_view(), name="road_detail"),
    path("roads/<int:pk>/edit/", basedata.RoadUpdateView.as_view(), name="road_edit"),
    path("segments/", basedata.SegmentListView.as_view(), name="segment_list"),
    path("segments/new/", basedata.SegmentCreateView.as_view(), name="segment_create"),
    path("segments/<int:pk>/", basedata.SegmentDetailView.as_view(), name="segment_detail"),
    path("segments/<int:pk>/edit/", basedata.SegmentUpdateView.as_view(), name="segment_edit"),
    path("segments/<int:pk>/retire/", basedata.segment_retire, name="segment_retire"),
    path("spaces/", basedata.SpaceListView.as_view(), name="space_list"),
    path("spaces/new/", basedata.SpaceCreateView.as_view(), name="space_create"),
    path("spaces/<int:pk>/", basedata.SpaceDetailView.as_view(), name="space_detail"),
    path("spaces/<int:pk>/edit/", basedata.SpaceUpdateView.as_view(), name="space_edit"),
    path("spaces/<int:pk>/retire/", basedata.space_retire, name="space_retire"),
    path("devices/", basedata.DeviceListView.as_view(), name="device_list"),
    path("devices/new/", basedata.DeviceCreateView.as_view(), name="device_create"),
    path("devices/<int:pk>/", basedata.DeviceDetailView.as_view(), name="device_detail"),
    path("devices/<int:pk>/edit/", basedata.DeviceUpdateView.as_view(), name="device_edit"),
    path("devices/<int:pk>/bind/", basedata.DeviceBindView.as_view(), name="device_bind"),
    path("devices/<int:pk>/retire/", basedata.device_retire, name="device_retire"),
    path("devices/<int:pk>/credential/", basedata.device_credential, name="device_credential"),
    path("map/", basedata.base_map, name="base_map"),
    path("map/points.geojson", basedata.base_map_points, name="base_map_points"),
    # Temporary occupations, change sets (views/adjustments.py) and bulk import/export (views/imports.py).
    path("occupations/", adjustments.OccupationListView.as_view(), name="occupation_list"),
    path("occupations/new/", adjustments.OccupationCreateView.as_view(), name="occupation_create"),
    path("occupations/<int:pk>/", adjustments.OccupationDetailView.as_view(), name="occupation_detail"),
    path("occupations/<int:pk>/cancel/", adjustments.occupation_cancel, name="occupation_cancel"),
    path("occupations/<int:pk>/end/", adjustments.occupation_end, name="occupation_end"),
    path("changesets/", adjustments.ChangeSetListView.as_view(), name="changeset_list"),
    path("changesets/new/", adjustments.ChangeSetCreateView.as_view(), name="changeset_create"),
    path("changesets/<int:pk>/", adjustments.ChangeSetDetailView.as_view(), name="changeset_detail"),
    path("changesets/<int:pk>/items/", adjustments.changeset_item_add, name="changeset_item_add"),
    path("changesets/<int:pk>/<slug:verb>/", adjustments.changeset_action, name="changeset_action"),
    path("imports/", imports.import_index, name="import_index"),
    path("imports/<slug:kind>/", imports.import_page, name="import_page"),
    # Each area's own pages (the module's urlpatterns).
    path("", include("govcenter.parking.views.payments")),
    path("", include("govcenter.parking.views.receipts")),
    path("", include("govcenter.parking.views.arrears")),
    path("", include("govcenter.parking.views.complaints")),
    path("", include("govcenter.parking.views.permits")),
    path("", include("govcenter.parking.views.stats")),
    path("", include("govcenter.parking.stats2.views")),
    path("", include("govcenter.parking.stats2.lakepage")),
    path("", include("govcenter.parking.stats2.compare")),
    path("", include("govcenter.parking.stats2.events")),
    path("", include("govcenter.parking.stats2.district")),
    path("", include("govcenter.parking.stats2.builder_views")),
    path("", include("govcenter.parking.reports.views")),
    path("", include("govcenter.parking.stats2.pages")),
    path("", include("govcenter.parking.views.rejections")),
]
