from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CongestionConfig(AppConfig):
    name = "govcenter.congestion"
    label = "congestion"
    verbose_name = _("缓堵项目管理")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from govcenter.core import search, seeding
        from govcenter.core.masking import register_personal_fields

        from . import kinds, roles
        from .api import library, proposals, suggestions, supervision, tia, works
        from .demo import load_small_demo
        from .navigation import register_navigation
        from .services import library as library_services
        from .services import proposals as proposal_services
        from .services import suggestions as suggestion_services
        from .services import supervision as supervision_services
        from .services import tia as tia_services
        from .services import works as work_services

        roles.contribute()
        # Each kind of case, in the order of the contract's subsystems, with the function giving
        # its search document and whether that function already reads the attachments' text.
        searchable = (
            (suggestions.KIND, suggestion_services.suggestion_document, False),
            (proposals.KIND, proposal_services.proposal_document, False),
            (library.POLICY, library_services.policy_document, True),
            (library.RESEARCH, library_services.project_document, True),
            (works.KIND, work_services.project_document, False),
            (works.INFRA_KIND, work_services.project_document, False),
            (supervision.KIND, supervision_services.task_document, False),
            (tia.KIND, tia_services.tia_document, False),
            (library.PUBLICITY, library_services.publicity_document, True),
        )
        for kind, document, reads_files in searchable:
            kinds.register(kind)
            search.register(
                f"congestion.{kind.model._meta.model_name}", kind.model, document=document, label=kind.label,
                attachments=not reads_files, permission=kind.view_permission,
            )  # fmt: skip
        register_personal_fields(
            "congestion.suggestion", {"proposer_name": "name", "proposer_phone": "phone"}
        )
        register_personal_fields(
            "congestion.researchproject", {"investigator_name": "name", "investigator_phone": "phone"}
        )
        register_personal_fields("congestion.proposalproposer", {"name": "name"})
        register_navigation()
        seeding.register_demo("congestion", load_small_demo)  # `govcenter demo` (make run)
