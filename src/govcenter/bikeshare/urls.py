"""Bike-share UI under /bikeshare/ (each area's module contributes its urlpatterns)."""

from django.urls import include, path

app_name = "bikeshare"

urlpatterns: list = [
    # Scan verification by field inspectors (views/scanchecks.py).
    path("", include("govcenter.bikeshare.views.scanchecks")),
    # The overview of the live picture (views/overview.py).
    path("", include("govcenter.bikeshare.views.overview")),
    # Analyses, fences and quotas pages (views/analyses.py, views/fences.py, views/quotas.py).
    path("", include("govcenter.bikeshare.views.analyses")),
    path("", include("govcenter.bikeshare.views.fences")),
    path("", include("govcenter.bikeshare.views.quotas")),
    # Work orders to operators (views/workorders.py).
    path("", include("govcenter.bikeshare.views.workorders")),
    # Assessment of operators (views/assessment.py).
    path("", include("govcenter.bikeshare.views.assessment")),
    # The monthly supervision report (views/reports.py).
    path("", include("govcenter.bikeshare.views.reports")),
]
