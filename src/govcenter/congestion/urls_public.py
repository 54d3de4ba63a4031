"""``/congestion/public/``: the citizens' pages (no login): 宣传 and the suggestion form."""

from django.urls import path

from . import views_public

app_name = "congestion_public"

urlpatterns = [
    path("", views_public.publicity_list, name="publicity_list"),
    path("suggest/", views_public.suggest, name="suggest"),
    path("districts.geojson", views_public.districts, name="districts"),
    path("<int:pk>/", views_public.publicity_detail, name="publicity_detail"),
    path("<int:pk>/files/<int:attachment_id>", views_public.publicity_file, name="publicity_file"),
]
