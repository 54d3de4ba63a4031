"""Function permissions the congestion app adds to the kernel's built-in roles (through
``core.roles.contribute_permissions`` from ``CongestionConfig.ready()``; ``govcenter seed`` writes
them). Handling units (治堵单位人员, own-unit scope) see and answer what is assigned to them; the
Center's staff with a city-wide scope register, assign, rate, close and merge; leaders read."""

from __future__ import annotations

from govcenter.core.roles import contribute_permissions

SUGGESTION_VIEW = ("congestion.view_suggestion",)
CONTRIBUTIONS: dict[str, tuple[str, ...]] = {
    "congestion_staff": (*SUGGESTION_VIEW, "congestion.reply_suggestion"),
    "data_staff": (
        *SUGGESTION_VIEW,
        "congestion.add_suggestion",
        "congestion.assign_suggestion",
        "congestion.change_suggestion",
    ),
    "center_leader": SUGGESTION_VIEW,
}


def contribute() -> None:
    for role_code, permissions in CONTRIBUTIONS.items():
        contribute_permissions(role_code, permissions)
