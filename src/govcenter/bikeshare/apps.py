from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class BikeshareConfig(AppConfig):
    name = "govcenter.bikeshare"
    label = "bikeshare"
    verbose_name = _("互联网租赁自行车")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from govcenter.core import freshness, seeding

        from . import roles
        from .demo_scale import load_small_demo
        from .live import newest_report
        from .navigation import register_navigation

        roles.contribute()
        register_navigation()
        freshness.register("bikeshare_ingest", newest_report)  # the O&M monitor's freshness probe
        from .services.assessment import load_demo_assessment, seed_default_indicator_set
        from .services.workorders import load_demo_workorders

        seeding.register(
            "bikeshare-assessment", seed_default_indicator_set
        )  # `govcenter seed`: indicator set v1
        seeding.register_demo("bikeshare", load_small_demo)  # `govcenter demo` (make run)
        seeding.register_demo("bikeshare-workorders", load_demo_workorders)  # orders in every status
        seeding.register_demo("bikeshare-assessment", load_demo_assessment)  # the demo month's scores (draft)
