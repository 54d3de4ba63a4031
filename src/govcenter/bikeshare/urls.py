"""Bike-share UI under /bikeshare/ (each area's module contributes its urlpatterns)."""

from django.urls import include, path

app_name = "bikeshare"

urlpatterns: list = [
    # Scan verification by field inspectors (views/scanchecks.py).
    path("", include("govcenter.bikeshare.views.scanchecks")),
    # The overview of the live picture (views/overview.py).
    path("", include("govcenter.bikeshare.views.overview")),
]
