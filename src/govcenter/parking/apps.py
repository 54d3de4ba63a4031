from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ParkingConfig(AppConfig):
    name = "govcenter.parking"
    label = "parking"
    verbose_name = _("道路停车")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from . import navigation

        navigation.register_navigation()
