"""Parking API under /api/v1/parking/ (non-router endpoints; viewsets register on the core router)."""

app_name = "parking-api"

urlpatterns: list = []
