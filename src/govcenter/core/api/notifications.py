"""``GET /api/v1/notifications/`` (the caller's own, newest first; ``?unread=1``) and
``POST /api/v1/notifications/read/`` (``{"ids": [...]}``, or ``{}`` for all): the in-app inbox."""

from __future__ import annotations

from django.urls import path
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.generics import ListAPIView
from rest_framework.response import Response
from rest_framework.views import APIView

from .. import notifications
from ..models import Notification


class NotificationSerializer(serializers.ModelSerializer):
    class Meta:
        model = Notification
        fields = ["id", "verb", "level", "title", "body", "url", "created_at", "read_at"]


class MarkReadSerializer(serializers.Serializer):
    ids = serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=2**63 - 1), required=False, max_length=1000
    )


class MarkedSerializer(serializers.Serializer):
    marked = serializers.IntegerField(help_text="notifications marked read now")
    unread = serializers.IntegerField(help_text="unread notifications left")


@extend_schema(
    parameters=[OpenApiParameter("unread", str, description="1: only unread ones")], tags=["core"]
)
class NotificationListView(ListAPIView):
    serializer_class = NotificationSerializer
    queryset = Notification.objects.none()  # the schema's model; requests read their own inbox

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Notification.objects.none()
        unread = self.request.query_params.get("unread") == "1"
        return notifications.inbox(self.request.user, unread_only=unread)


class NotificationReadView(APIView):
    @extend_schema(request=MarkReadSerializer, responses={200: MarkedSerializer}, tags=["core"])
    def post(self, request):
        data = MarkReadSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        ids = data.validated_data.get("ids")
        changed = notifications.mark_read(request.user, ids)
        return Response({"marked": changed, "unread": notifications.unread_count(request.user)})


urlpatterns = [
    path("notifications/", NotificationListView.as_view(), name="notification-list"),
    path("notifications/read/", NotificationReadView.as_view(), name="notification-read"),
]
