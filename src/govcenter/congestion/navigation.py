"""The 缓堵项目管理 section of the navigation: the dashboard, the warning board, the
comprehensive query, the subsystems' statistics, then one list per kind of case, in registration order."""

from django.utils.translation import gettext_lazy as _

from govcenter.core.navigation import NavItem, NavSection, register

from . import kinds


def register_navigation() -> None:
    any_view = kinds.all_kinds()[0].view_permission if kinds.all_kinds() else None
    register(
        NavSection(
            key="congestion",
            label=_("缓堵项目管理"),
            icon="building-community",
            order=40,
            items=(
                NavItem(_("缓堵工作看板"), "congestion:dashboard", any_view, icon="chart-bar"),
                NavItem(_("预警督办"), "congestion:board", any_view, icon="alert-triangle"),
                NavItem(_("综合查询"), "congestion:query", any_view, icon="map"),
                NavItem(_("统计分析"), "congestion:statistics", any_view, icon="chart-bar"),
                *(
                    NavItem(kind.label, f"congestion:{kind.code}", kind.view_permission, icon="list-details")
                    for kind in kinds.all_kinds()
                ),
            ),
        )
    )
