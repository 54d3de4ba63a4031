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
        # Duty roster, escalation chain, guard plans, response plans (govcenter.ops.duty).
        from .duty import admin as _duty_admin  # noqa: F401  (shifts and escalation chains in the admin)
        from .duty import tasks as _duty_tasks  # noqa: F401  (the escalation walk, every minute)
        from .duty.demo import load_small_demo as duty_small_demo
        from .duty.navigation import register_duty_navigation
        from .duty.seed import duty_seed

        seeding.register("ops_duty", duty_seed)
        seeding.register_demo("ops_duty", duty_small_demo)
        contribute_permissions("om_engineer", ["ops.view_dutyassignment", "ops.request_duty_swap", "ops.view_dutyswap",
                                               "ops.view_escalationevent", "ops.view_guardplan", "ops.add_guardplan",
                                               "ops.change_guardplan", "ops.view_responseplan", "ops.view_drillrecord",
                                               "ops.add_drillrecord"])  # fmt: skip
        contribute_permissions("center_leader", ["ops.view_dutyassignment", "ops.manage_duty", "ops.view_dutyswap",
                                                 "ops.approve_duty_swap", "ops.view_escalationevent",
                                                 "ops.view_guardplan", "ops.approve_guard_plan",
                                                 "ops.view_responseplan", "ops.view_drillrecord"])  # fmt: skip
        contribute_permissions("secadmin", ["ops.view_responseplan", "ops.manage_response_plan",
                                            "ops.approve_response_plan", "ops.view_drillrecord"])  # fmt: skip
        register_duty_navigation()
