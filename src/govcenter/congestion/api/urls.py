"""``/api/v1/congestion/``: the subsystems' APIs."""

from django.urls import include, path
from rest_framework.routers import SimpleRouter

from .suggestions import PublicSuggestionView, SuggestionViewSet

router = SimpleRouter()
router.register("suggestions", SuggestionViewSet, basename="congestion-suggestion")

urlpatterns = [
    path("public/suggestions", PublicSuggestionView.as_view(), name="congestion-public-suggestion"),
    path("", include(router.urls)),
]
