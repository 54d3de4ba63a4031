"""The 道路停车 section of the navigation (items appear as their pages are built)."""

from django.utils.translation import gettext_lazy as _

from govcenter.core.navigation import NavItem, NavSection, register


def register_navigation() -> None:
    register(
        NavSection(
            key="parking",
            label=_("道路停车"),
            icon="car",
            order=20,
            items=(
                NavItem(_("停车收费标准"), "parking:tariff_list", "parking.view_tariffplan", icon="receipt"),
            ),
        )
    )
