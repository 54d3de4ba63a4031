"""Parking UI under /parking/."""

app_name = "parking"

urlpatterns: list = []
