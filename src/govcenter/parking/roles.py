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

CONTRIBUTIONS: dict[str, tuple[str, ...]] = {
    "district_manager": (*BASE_VIEW, *BASE_EDIT, *TARIFF_VIEW),
    "data_staff": (*BASE_VIEW, *TARIFF_VIEW, *TARIFF_EDIT),
    "center_leader": (*BASE_VIEW, *TARIFF_VIEW),
    "parking_patrol": (*DEVICE_VIEW, *TARIFF_VIEW),
    "device_integrator": DEVICE_VIEW,
}


def contribute() -> None:
    for role_code, permissions in CONTRIBUTIONS.items():
        contribute_permissions(role_code, permissions)
