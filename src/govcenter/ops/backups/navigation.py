"""备份与恢复演练 in the 运维管理 section (appended, so other ops parts add theirs alike)."""

from django.utils.translation import gettext_lazy as _

from govcenter.core.navigation import NavItem, add_items


def register_backup_navigation() -> None:
    add_items("ops", NavItem(_("备份与恢复演练"), "ops:backup_list", "ops.view_backup", icon="file-certificate"))
