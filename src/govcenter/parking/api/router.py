"""The parking API's own router (mounted by parking/api/urls.py at /api/v1/parking/)."""

from rest_framework.routers import DefaultRouter

router = DefaultRouter()
router.include_root_view = False  # /api/v1/parking/ itself is not a resource

from .base import register as _register_base  # noqa: E402

_register_base(router)

from .adjustments import register as _register_adjustments  # noqa: E402

_register_adjustments(router)
