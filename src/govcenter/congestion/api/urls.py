"""``/api/v1/congestion/``: one viewset per kind of case (built from its declaration), and
the public form."""

from django.urls import include, path
from rest_framework.routers import SimpleRouter

from .. import kinds
from .cases import case_viewset
from .suggestions import PublicSuggestionView

router = SimpleRouter()
for kind in kinds.all_kinds():
    router.register(kind.code, case_viewset(kind), basename=f"congestion-{kind.code}")

urlpatterns = [
    path("public/suggestions", PublicSuggestionView.as_view(), name="congestion-public-suggestion"),
    path("", include(router.urls)),
]
