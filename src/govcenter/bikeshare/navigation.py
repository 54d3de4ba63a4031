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
            ),
        )
    )
