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
            ),
        )
    )
