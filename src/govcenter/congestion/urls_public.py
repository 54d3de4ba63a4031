"""``/congestion/public/``: the citizens' pages of 宣传 (no login)."""

from django.urls import path

from . import views_public

app_name = "congestion_public"

urlpatterns = [
    path("", views_public.publicity_list, name="publicity_list"),
    path("<int:pk>/", views_public.publicity_detail, name="publicity_detail"),
    path("<int:pk>/files/<int:attachment_id>", views_public.publicity_file, name="publicity_file"),
]
