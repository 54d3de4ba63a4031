"""The CMDB's entries in the 运维管理 section."""

from django.utils.translation import gettext_lazy as _

from govcenter.core.navigation import NavItem, add_items


def register_cmdb_navigation() -> None:
    add_items(
        "ops",
        NavItem(_("资产"), "ops:asset_list", "ops.view_asset", icon="server"),
        NavItem(_("漏洞整改"), "ops:vuln_list", "ops.view_vulnerability", icon="shield"),
    )
