from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ParkingConfig(AppConfig):
    name = "govcenter.parking"
    label = "parking"
    verbose_name = _("道路停车")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from . import navigation, roles

        navigation.register_navigation()
        roles.contribute()
        from govcenter.core import seeding

        from .demo import load_small_demo
        from .services.tariffs import tariff_seed_beijing_standard

        seeding.register("tariffs", tariff_seed_beijing_standard)  # `govcenter seed` loads the standard
        seeding.register_demo("parking", load_small_demo)  # `govcenter demo` (make run)
