"""The 互联网租赁自行车 section of the navigation (items appear as their pages are built)."""

from django.utils.translation import gettext_lazy as _

from govcenter.core.navigation import NavItem, NavSection, register


def register_navigation() -> None:
    register(
        NavSection(
            key="bikeshare",
            label=_("互联网租赁自行车"),
            icon="bike",
            order=30,
            items=(
                NavItem(
                    _("扫码核查"), "bikeshare:scan", "bikeshare.add_scancheck", icon="device-mobile-message"
                ),
                NavItem(_("核查统计"), "bikeshare:scan_stats", "bikeshare.view_scancheck", icon="chart-bar"),
                NavItem(_("运行总览"), "bikeshare:overview", "bikeshare.view_vehicle", icon="map"),
                NavItem(
                    _("月度报告"),
                    "bikeshare:reports",
                    "bikeshare.view_monthlyreport",
                    icon="file-certificate",
                ),
                NavItem(
                    _("运行分析"), "bikeshare:analyses_rides", "bikeshare.view_vehicle", icon="chart-bar"
                ),
                NavItem(_("电子围栏"), "bikeshare:fences", "bikeshare.view_fence", icon="map-pin"),
                NavItem(_("总量调控"), "bikeshare:quotas", "bikeshare.view_fleetquota", icon="list-details"),
                NavItem(
                    _("派单管理"), "bikeshare:workorders", "bikeshare.view_workorder", icon="clipboard-list"
                ),
                NavItem(
                    _("企业考核"), "bikeshare:assessment", "bikeshare.view_monthlyassessment", icon="award"
                ),
            ),
        )
    )
