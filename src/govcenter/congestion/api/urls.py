"""``/api/v1/congestion/``: one viewset per kind of case (built from its declaration), the
statistics the dashboards read, and the public endpoints (the suggestion form, published news)."""

from django.urls import include, path
from rest_framework.routers import SimpleRouter

from .. import kinds
from .cases import case_viewset
from .library import PublicPublicityDetail, PublicPublicityList
from .statistics import StatisticsView
from .suggestions import PublicSuggestionView
from .supervision import urlpatterns as supervision_urlpatterns
from .works import ProjectStatisticsView

router = SimpleRouter()
for kind in kinds.all_kinds():
    router.register(kind.code, case_viewset(kind), basename=f"congestion-{kind.code}")

urlpatterns = [
    path("public/suggestions", PublicSuggestionView.as_view(), name="congestion-public-suggestion"),
    path("public/publicity/", PublicPublicityList.as_view(), name="congestion-public-publicity"),
    path("public/publicity/<int:pk>/", PublicPublicityDetail.as_view(), name="congestion-public-publicity-detail"),
    path("projects/statistics", ProjectStatisticsView.as_view(), name="congestion-project-statistics"),
    path("statistics", StatisticsView.as_view(), name="congestion-statistics"),
    *supervision_urlpatterns,  # supervision-plans/ (+ {id}/import/), supervision-stats/
    path("", include(router.urls)),
]
