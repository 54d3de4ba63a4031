"""The one v1 router every app registers its viewsets on."""

from rest_framework.routers import DefaultRouter

router = DefaultRouter()

from .org import register as _register_org  # noqa: E402  (the kernel's own viewsets: units, users, roles, districts)

_register_org(router)
