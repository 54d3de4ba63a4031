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
        # Backups: O&M engineers make backups and run restore drills; leaders and auditors look.
        from .backups import tasks as _backup_tasks  # noqa: F401  (Huey periodic tasks)
        from .backups.demo import load_small_demo as load_backups_demo
        from .backups.navigation import register_backup_navigation

        register_backup_navigation()
        seeding.register_demo("ops_backups", load_backups_demo)  # one real backup + drill of a small demo DB

        contribute_permissions("om_engineer", ["ops.view_backup", "ops.view_restoredrill", "ops.run_backup"])
        contribute_permissions("center_leader", ["ops.view_backup", "ops.view_restoredrill"])
        contribute_permissions("auditor", ["ops.view_backup", "ops.view_restoredrill"])
