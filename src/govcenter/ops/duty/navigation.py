"""The duty pages in the 运维管理 section."""

from django.utils.translation import gettext_lazy as _

from govcenter.core.navigation import NavItem, add_items


def register_duty_navigation() -> None:
    add_items(
        "ops",
        NavItem(_("值班表"), "ops:duty_roster", "ops.view_dutyassignment", icon="calendar"),
        NavItem(_("保障方案"), "ops:duty_guard_list", "ops.view_guardplan", icon="shield"),
        NavItem(_("应急预案"), "ops:duty_plan_list", "ops.view_responseplan", icon="file-certificate"),
    )
