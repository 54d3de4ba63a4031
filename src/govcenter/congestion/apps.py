from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CongestionConfig(AppConfig):
    name = "govcenter.congestion"
    label = "congestion"
    verbose_name = _("缓堵项目管理")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from govcenter.core import search
        from govcenter.core.masking import register_personal_fields

        from . import kinds, roles
        from .api.suggestions import KIND as SUGGESTIONS
        from .models import Suggestion
        from .services.suggestions import suggestion_document

        roles.contribute()
        kinds.register(SUGGESTIONS)
        from .navigation import register_navigation

        register_navigation()
        from govcenter.core import seeding

        from .demo import load_small_demo

        seeding.register_demo("congestion", load_small_demo)  # `govcenter demo` (make run)
        register_personal_fields(
            "congestion.suggestion", {"proposer_name": "name", "proposer_phone": "phone"}
        )
        search.register(
            "congestion.suggestion",
            Suggestion,
            document=suggestion_document,
            label=_("意见建议"),
            attachments=True,
            permission="congestion.view_suggestion",
        )
