"""Function permissions the bike-share app adds to the kernel's built-in roles.

Core never imports bikeshare, so the app contributes its permissions through
``core.roles.contribute_permissions`` from ``BikeshareConfig.ready()``; the next
``ensure_builtin_roles()`` (``govcenter seed``) writes them to the roles. Data scope (which
operator's or district's vehicles) comes from each role's scope, not from these lists.
"""

from __future__ import annotations

from govcenter.core.roles import contribute_permissions

VEHICLE_VIEW = ("bikeshare.view_vehicle",)
SCAN_VIEW = ("bikeshare.view_scancheck",)  # 扫码核查 records and statistics, through the role's scope
FENCE_VIEW = ("bikeshare.view_fence",)
FENCE_EDIT = ("bikeshare.add_fence", "bikeshare.change_fence")  # import / revise and retire
QUOTA_VIEW = ("bikeshare.view_fleetquota",)
QUOTA_SET = ("bikeshare.add_fleetquota",)  # 总量调控: the Center sets fleet quotas

CONTRIBUTIONS: dict[str, tuple[str, ...]] = {
    # The Center's data staff run the platform: registry, operator credentials, refusals.
    "data_staff": (
        *VEHICLE_VIEW,
        "bikeshare.view_operatorcredential",
        "bikeshare.add_operatorcredential",
        "bikeshare.view_operatorrejection",
        *SCAN_VIEW,
        *FENCE_VIEW,
        *FENCE_EDIT,
        *QUOTA_VIEW,
        *QUOTA_SET,
    ),
    # The data-quality page (api/quality.py) needs view_operatorrejection; operators see their own.
    "center_leader": (*VEHICLE_VIEW, "bikeshare.view_operatorrejection", *SCAN_VIEW, *FENCE_VIEW, *QUOTA_VIEW),
    # district units draw and maintain their district's fences (电子围栏)
    "district_manager": (*VEHICLE_VIEW, *SCAN_VIEW, *FENCE_VIEW, *FENCE_EDIT, *QUOTA_VIEW),
    "field_inspector": (*VEHICLE_VIEW, "bikeshare.add_scancheck", *SCAN_VIEW, *FENCE_VIEW),  # 扫码核查
    "operator_staff": (*VEHICLE_VIEW, "bikeshare.view_operatorrejection", *SCAN_VIEW, *QUOTA_VIEW),
}


def contribute() -> None:
    for role_code, permissions in CONTRIBUTIONS.items():
        contribute_permissions(role_code, permissions)
