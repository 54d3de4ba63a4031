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
                NavItem(_("道路"), "parking:road_list", "parking.view_road", icon="list-details"),
                NavItem(_("路段"), "parking:segment_list", "parking.view_segment", icon="map-pin"),
                NavItem(_("泊位"), "parking:space_list", "parking.view_space", icon="car"),
                NavItem(_("设备"), "parking:device_list", "parking.view_device", icon="device-mobile-message"),
                NavItem(_("泊位地图"), "parking:base_map", "parking.view_segment", icon="map"),
                NavItem(_("停车订单"), "parking:order_list", "parking.view_order", icon="receipt"),
                NavItem(_("停车异常"), "parking:anomaly_list", "parking.view_parkinganomaly", icon="alert-circle"),
                NavItem(_("设备状态"), "parking:device_status", "parking.view_device", icon="activity"),
                NavItem(
                    _("接入拒收计数"), "parking:rejection_list", "parking.view_ingestrejection", icon="alert-circle"
                ),
                NavItem(
                    _("临时占用"),
                    "parking:occupation_list",
                    "parking.view_temporaryoccupation",
                    icon="alert-triangle",
                ),
                NavItem(
                    _("车位调整方案"),
                    "parking:changeset_list",
                    "parking.view_changeset",
                    icon="file-certificate",
                ),
                NavItem(_("批量导入导出"), "parking:import_index", "parking.view_space", icon="list-details"),
                NavItem(_("支付单"), "parking:payment_list", "parking.view_paymentintent", icon="list-details"),
                NavItem(_("退款"), "parking:refund_list", "parking.view_refund", icon="file-certificate"),
                NavItem(_("支付对账"), "parking:run_list", "parking.view_reconciliationrun", icon="chart-bar"),
                NavItem(_("电子票据"), "parking:receipt_list", "parking.view_receipt", icon="file-certificate"),
                NavItem(_("居住停车认证"), "parking:permit_list", "parking.view_residentialpermit", icon="home"),
                NavItem(_("欠费订单"), "parking:arrears_list", "parking.view_arrearsrecord", icon="alert-circle"),
                NavItem(_("催缴提醒记录"), "parking:reminder_list", "parking.view_reminderlog", icon="message"),
                NavItem(_("处罚案件"), "parking:penalty_list", "parking.view_penaltycase", icon="file-certificate"),
                NavItem(_("投诉申诉"), "parking:complaint_list", "parking.view_complaint", icon="message"),
                NavItem(_("客服工单"), "parking:ticket_list", "parking.view_serviceticket", icon="users"),
            ),
        )
    )
    register(
        NavSection(
            key="parking_stats",
            label=_("停车统计分析"),
            icon="chart-bar",
            order=21,
            items=(
                NavItem(_("统计看板"), "parking:stats_dashboard", "parking.view_dailydistrictstat", icon="chart-bar"),
                NavItem(_("订单情况统计"), "parking:stats_orders", "parking.view_dailydistrictstat", icon="chart-bar"),
                *_statistic_items(),
                NavItem(_("数据湖同步监控"), "parking:stats_lake", "parking.view_dailydistrictstat", icon="database"),
                NavItem(_("重大活动节假日数据统计"), "parking:stats_compare", "parking.view_dailydistrictstat", icon="chart-bar"),
                NavItem(_("各区数据专题统计"), "parking:stats_district_index", "parking.view_dailydistrictstat", icon="chart-bar"),
                NavItem(_("统计活动管理"), "parking:stats_events", "parking.view_statevent", icon="calendar"),
                NavItem(_("临时数据统计"), "parking:stats_query", "parking.view_dailydistrictstat", icon="chart-bar"),
                NavItem(_("周报与月报"), "parking:stats_reports", "parking.view_parkingreport", icon="file-text"),
            ),
        )
    )


def _statistic_items() -> tuple[NavItem, ...]:
    """One item per registered statistic (parking/stats2/catalog.py), in the contract's order."""
    from .stats2.catalog import STATISTICS

    return tuple(
        NavItem(stat.title, "parking:stats_statistic", stat.permission, icon="chart-bar", args=(stat.slug,))
        for stat in sorted(STATISTICS.values(), key=lambda s: (s.number, s.slug))
    )
