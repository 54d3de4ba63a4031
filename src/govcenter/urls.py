"""Root URLconf: UI shell, admin, API v1 with its schema, health and metrics."""

from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("", include("govcenter.core.urls")),
    path("i18n/", include("django.conf.urls.i18n")),
    path("admin/", admin.site.urls),
    path("api/v1/parking/", include("govcenter.parking.api.urls")),
    path("parking/", include("govcenter.parking.urls")),
    path("api/v1/bikeshare/", include("govcenter.bikeshare.api.urls")),
    path("bikeshare/", include("govcenter.bikeshare.urls")),
    path("api/v1/congestion/", include("govcenter.congestion.api.urls")),
    path("congestion/public/", include("govcenter.congestion.urls_public")),
    path("congestion/", include("govcenter.congestion.urls")),
    path("api/v1/ops/", include("govcenter.ops.api.urls")),
    path("ops/", include("govcenter.ops.urls")),
    path("api/", include("govcenter.core.api.urls")),
    path("", include("govcenter.core.ops_urls")),
]

handler400 = "govcenter.core.views.errors.bad_request"
handler403 = "govcenter.core.views.errors.permission_denied"
handler404 = "govcenter.core.views.errors.page_not_found"
handler500 = "govcenter.core.views.errors.server_error"
