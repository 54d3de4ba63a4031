"""The 运维管理 section of the navigation."""

from django.utils.translation import gettext_lazy as _

from govcenter.core.navigation import NavItem, NavSection, register


def register_navigation() -> None:
    register(
        NavSection(
            key="ops",
            label=_("运维管理"),
            icon="tools",
            order=50,
            items=(
                NavItem(_("故障"), "ops:incident_list", "ops.view_incident", icon="alert-triangle"),
                NavItem(_("监控"), "ops:monitoring_home", "ops.view_monitortarget", icon="chart-bar"),
                NavItem(_("网页防篡改"), "ops:integrity", "ops.view_integritybaseline", icon="shield"),
                NavItem(_("日志审计"), "ops:logs", "ops.view_logrecord", icon="list-details"),
            ),
        )
    )


def register_records_navigation() -> None:
    """Work records, changes, training, the ledger and the reports (appended to 运维管理)."""
    from govcenter.core.navigation import add_items

    add_items(
        "ops",
        NavItem(_("工作日志"), "ops:worklog_list", "ops.view_worklog", icon="list-details"),
        NavItem(_("变更与发布"), "ops:change_list", "ops.view_changerecord", icon="settings"),
        NavItem(_("培训"), "ops:training_list", "ops.view_trainingsession", icon="users"),
        NavItem(_("合同与违约金"), "ops:ledger", "ops.view_contract", icon="file-certificate"),
        NavItem(_("运维报告"), "ops:report_list", "ops.view_report", icon="chart-bar"),
    )
