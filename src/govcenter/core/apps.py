from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CoreConfig(AppConfig):
    name = "govcenter.core"
    label = "core"
    verbose_name = _("平台")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from . import (
            notifications,  # noqa: F401  (its SMS templates join the registry)
            signals,  # noqa: F401  (login/logout audit receivers)
            tasks,  # noqa: F401  (periodic jobs register with Huey)
        )
        from .navigation import register_core

        register_core()
