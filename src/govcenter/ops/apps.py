from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class OpsConfig(AppConfig):
    name = "govcenter.ops"
    label = "ops"
    verbose_name = _("运维管理")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from govcenter.core import seeding
        from govcenter.core.roles import contribute_permissions

        from .demo import load_small_demo
        from .navigation import register_navigation
        from .services import sla_policies_seed

        seeding.register("ops_sla_policies", sla_policies_seed)  # `govcenter seed`
        seeding.register_demo("ops", load_small_demo)  # `govcenter demo` (make run)
        # O&M engineers open and handle incidents of their unit; the Center's leaders review them.
        contribute_permissions("om_engineer", ["ops.view_incident", "ops.add_incident", "ops.handle_incident"])
        contribute_permissions("center_leader", ["ops.view_incident", "ops.review_incident"])
        register_navigation()
        # Web anti-tamper and the central log audit (govcenter.ops.integrity, .logaudit): the
        # security administrator manages the baseline, O&M engineers may run a check; the auditor
        # and the security administrator search the logs; O&M hosts ship theirs (token).
        from .integrity import tasks as _integrity_tasks  # noqa: F401  (periodic task)
        from .integrity.demo import load_small_demo as integrity_small_demo
        from .logaudit import checks as _logaudit_checks  # noqa: F401  (system check)
        from .logaudit import tasks as _logaudit_tasks  # noqa: F401  (periodic task)

        contribute_permissions("secadmin", ["ops.view_integritybaseline", "ops.manage_integrity",
                                            "ops.run_integrity_check", "ops.view_logrecord", "ops.export_logrecord"])
        contribute_permissions("om_engineer", ["ops.view_integritybaseline", "ops.run_integrity_check",
                                               "ops.ingest_logrecord"])
        contribute_permissions("auditor", ["ops.view_logrecord", "ops.export_logrecord"])
        seeding.register_demo("ops_integrity", integrity_small_demo)  # a baseline and one check (~1 s)
