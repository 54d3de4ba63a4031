"""The one v1 router every app registers its viewsets on."""

from rest_framework.routers import DefaultRouter

router = DefaultRouter()
