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
WORKORDER_VIEW = ("bikeshare.view_workorder",)  # 派单, through the role's scope
WORKORDER_ISSUE = ("bikeshare.add_workorder",)  # the Center issues (manual / generate from violations)
WORKORDER_VERIFY = ("bikeshare.change_workorder",)  # the Center closes / reopens / cancels
WORKORDER_RESPOND = ("bikeshare.respond_workorder",)  # the operator responds with evidence
ASSESSMENT_VIEW = (  # 考核: published results of the caller's scope (operators: their own)
    "bikeshare.view_monthlyassessment",
    "bikeshare.view_quarterlygrade",
    "bikeshare.view_indicatorset",
)
ASSESSMENT_RUN = (  # compute / publish months, indicator sets, quarter grades, adopt (+ add_fleetquota), complaints
    "bikeshare.add_monthlyassessment",
    "bikeshare.change_monthlyassessment",
    "bikeshare.add_indicatorset",
    "bikeshare.change_indicatorset",
    "bikeshare.add_quarterlygrade",
    "bikeshare.change_quarterlygrade",
    "bikeshare.add_complainttally",
    "bikeshare.view_complainttally",
)
REPORT_VIEW = ("bikeshare.view_monthlyreport",)  # 月度监管报告: list and download (audited)
REPORT_MAKE = ("bikeshare.add_monthlyreport",)  # generate a month's Word + Excel (needs the full scope)

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
        *WORKORDER_VIEW,
        *WORKORDER_ISSUE,
        *WORKORDER_VERIFY,
        *ASSESSMENT_VIEW,
        *ASSESSMENT_RUN,
        *REPORT_VIEW,
        *REPORT_MAKE,
    ),
    # The data-quality page (api/quality.py) needs view_operatorrejection; operators see their own.
    "center_leader": (
        *VEHICLE_VIEW,
        "bikeshare.view_operatorrejection",
        *SCAN_VIEW,
        *FENCE_VIEW,
        *QUOTA_VIEW,
        *WORKORDER_VIEW,
        *ASSESSMENT_VIEW,
        *REPORT_VIEW,
        *REPORT_MAKE,
    ),
    # district units draw and maintain their district's fences (电子围栏)
    "district_manager": (*VEHICLE_VIEW, *SCAN_VIEW, *FENCE_VIEW, *FENCE_EDIT, *QUOTA_VIEW, *WORKORDER_VIEW),
    "field_inspector": (*VEHICLE_VIEW, "bikeshare.add_scancheck", *SCAN_VIEW, *FENCE_VIEW),  # 扫码核查
    "operator_staff": (
        *VEHICLE_VIEW,
        "bikeshare.view_operatorrejection",
        *SCAN_VIEW,
        *QUOTA_VIEW,
        *WORKORDER_VIEW,
        *WORKORDER_RESPOND,
        *ASSESSMENT_VIEW,
    ),
}


def contribute() -> None:
    for role_code, permissions in CONTRIBUTIONS.items():
        contribute_permissions(role_code, permissions)
