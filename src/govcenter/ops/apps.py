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
        self._ready_cmdb(seeding, contribute_permissions)

    def _ready_cmdb(self, seeding, contribute_permissions) -> None:
        from .cmdb import tasks  # noqa: F401  (the daily expiry-alert task)
        from .cmdb.baseline import seed_baselines
        from .cmdb.demo import load_small_demo as cmdb_small_demo
        from .cmdb.navigation import register_cmdb_navigation
        from .cmdb.services import seed_inventory

        seeding.register("ops_cmdb_inventory", seed_inventory)
        seeding.register("ops_cmdb_baselines", seed_baselines)
        seeding.register_demo("ops_cmdb", cmdb_small_demo)
        register_cmdb_navigation()
        view = ["ops.view_asset", "ops.view_assetrelation", "ops.view_vulnerability", "ops.view_remediationplan",
                "ops.view_baselinecheck"]  # fmt: skip
        # Engineers keep the register, import scans, plan and carry out the remediation; the
        # security administrator approves and verifies; the Center's leaders view and may approve.
        contribute_permissions("om_engineer", [*view, "ops.add_asset", "ops.change_asset", "ops.import_scan",
                                               "ops.plan_remediation", "ops.execute_remediation", "ops.check_baseline"])  # fmt: skip
        contribute_permissions("secadmin", [*view, "ops.approve_remediation", "ops.verify_remediation"])
        contribute_permissions("center_leader", [*view, "ops.approve_remediation"])
        # Monitoring (7×24): engineers view and manage targets, rules and windows; leaders view.
        from .monitoring.demo import load_small_demo as load_monitoring_demo
        from .monitoring.metrics import register_collector

        seeding.register_demo("ops_monitoring", load_monitoring_demo)  # eight targets on this machine

        contribute_permissions("om_engineer", ["ops.view_monitortarget", "ops.manage_monitoring"])
        contribute_permissions("center_leader", ["ops.view_monitortarget"])
        register_collector()  # govcenter_probe_* gauges on /metrics
        from .monitoring import tasks as _monitoring_tasks  # noqa: F401  (the tick and the daily prune)
        self._ready_records(contribute_permissions)

    def _ready_records(self, contribute_permissions) -> None:
        """Work records, training, the contract ledger and the reports (ops/records, ops/ledger, ops/reports)."""
        from govcenter.core import seeding

        from .navigation import register_records_navigation
        from .records import admin as _records_admin  # noqa: F401  (the ledger's admin pages)
        from .records.demo import load_small_demo
        from .reports import tasks as _report_tasks  # noqa: F401  (registers the scheduled reports)

        contribute_permissions("om_engineer", [
            "ops.view_worklog", "ops.add_worklog", "ops.change_worklog",
            "ops.view_changerecord", "ops.add_changerecord", "ops.change_changerecord",
            "ops.view_trainingsession", "ops.add_trainingsession", "ops.change_trainingsession",
        ])  # fmt: skip
        contribute_permissions("center_leader", [
            "ops.view_worklog", "ops.view_changerecord", "ops.approve_changerecord", "ops.view_trainingsession",
            "ops.view_contract", "ops.view_report", "ops.add_report",
            # the Center keeps the contract ledger: contracts, assessments, late deliveries, payments
            "ops.add_contract", "ops.add_qualityassessment", "ops.add_lateservice", "ops.change_paymentmilestone",
        ])  # fmt: skip
        register_records_navigation()
        seeding.register_demo("ops_records", load_small_demo)
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
        # Backups: O&M engineers make backups and run restore drills; leaders and auditors look.
        from .backups import tasks as _backup_tasks  # noqa: F401  (Huey periodic tasks)
        from .backups.demo import load_small_demo as load_backups_demo
        from .backups.navigation import register_backup_navigation

        register_backup_navigation()
        seeding.register_demo("ops_backups", load_backups_demo)  # one real backup + drill of a small demo DB

        contribute_permissions("om_engineer", ["ops.view_backup", "ops.view_restoredrill", "ops.run_backup"])
        contribute_permissions("center_leader", ["ops.view_backup", "ops.view_restoredrill"])
