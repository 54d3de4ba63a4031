"""API root: /api/v1/… resources, /api/schema/ (OpenAPI 3), /api/docs/ (Swagger UI)."""

from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView

from .docs import SwaggerView
from .notifications import urlpatterns as notification_urls
from .router import router

urlpatterns = [
    path("v1/", include(notification_urls)),
    path("v1/", include(router.urls)),
    path("schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("docs/", SwaggerView.as_view(url_name="api-schema"), name="api-docs"),
]
