"""Function permissions the parking app adds to the kernel's built-in roles.

Core never imports parking, so parking contributes its permissions through
``core.roles.contribute_permissions`` from ``ParkingConfig.ready()``; the next
``ensure_builtin_roles()`` (``govcenter seed``) writes them to the roles.
"""

from __future__ import annotations

from govcenter.core.roles import contribute_permissions

BASE_MODELS = ("road", "segment", "space", "device")
HISTORY_MODELS = ("segmentversion", "spaceversion", "deviceofflineperiod")

BASE_VIEW = tuple(f"parking.view_{m}" for m in (*BASE_MODELS, *HISTORY_MODELS))
BASE_EDIT = tuple(f"parking.{a}_{m}" for m in BASE_MODELS for a in ("add", "change"))
DEVICE_VIEW = (
    "parking.view_segment",
    "parking.view_space",
    "parking.view_device",
    "parking.view_deviceofflineperiod",
)

TARIFF_VIEW = ("parking.view_tariffplan",)
# The Center (数据科) publishes new tariff versions; districts only read them.
TARIFF_EDIT = ("parking.add_tariffplan",)

# Temporary occupations and change sets (规划车位调整): districts plan them; the Center reviews,
# applies and reverts change sets (the reviewer is never the author).
ADJUST_VIEW = ("parking.view_temporaryoccupation", "parking.view_changeset")
ADJUST_EDIT = tuple(f"parking.{a}_{m}" for m in ("temporaryoccupation", "changeset") for a in ("add", "change"))
ADJUST_REVIEW = ("parking.review_changeset",)

CONTRIBUTIONS: dict[str, tuple[str, ...]] = {
    "district_manager": (*BASE_VIEW, *BASE_EDIT, *TARIFF_VIEW, *ADJUST_VIEW, *ADJUST_EDIT),
    "data_staff": (*BASE_VIEW, *TARIFF_VIEW, *TARIFF_EDIT, *ADJUST_VIEW, *ADJUST_REVIEW),
    "center_leader": (*BASE_VIEW, *TARIFF_VIEW, *ADJUST_VIEW),
    "parking_patrol": (*DEVICE_VIEW, *TARIFF_VIEW),
    "device_integrator": DEVICE_VIEW,
}

# Orders, anomalies and device events (services/events.py, services/orders.py): districts
# view and correct their orders; the patrol views and corrects (PDA); integrators read events.
ORDER_VIEW = ("parking.view_order", "parking.view_ordercorrection", "parking.view_parkinganomaly")
ORDER_EDIT = ("parking.change_order", "parking.correct_order", "parking.change_parkinganomaly")
EVENT_VIEW = ("parking.view_deviceevent",)
for _role, _perms in {
    "district_manager": (*ORDER_VIEW, *ORDER_EDIT, *EVENT_VIEW),
    "data_staff": (*ORDER_VIEW, *EVENT_VIEW),
    "center_leader": ORDER_VIEW,
    "parking_patrol": (*ORDER_VIEW, "parking.correct_order"),
    "device_integrator": EVENT_VIEW,
}.items():
    CONTRIBUTIONS[_role] = (*CONTRIBUTIONS[_role], *_perms)


def contribute() -> None:
    for role_code, permissions in CONTRIBUTIONS.items():
        contribute_permissions(role_code, permissions)
