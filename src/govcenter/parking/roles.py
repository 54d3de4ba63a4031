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

# Payments, refunds, reconciliation (services/refunds.py, services/reconciliation.py): districts
# see their payments and ask for refunds; Center data staff also ask, approve (never their own),
# reconcile and resolve differences; leaders read.
PAYMENT_VIEW = ("parking.view_paymentintent", "parking.view_paymentnotification", "parking.view_refund")
RECONCILIATION_VIEW = ("parking.view_reconciliationrun", "parking.view_reconciliationdifference")
for _role, _perms in {
    "district_manager": (*PAYMENT_VIEW, "parking.request_refund"),
    "data_staff": (
        *PAYMENT_VIEW,
        *RECONCILIATION_VIEW,
        "parking.request_refund",
        "parking.approve_refund",
        "parking.run_reconciliation",
        "parking.resolve_reconciliation",
    ),
    "center_leader": (*PAYMENT_VIEW, *RECONCILIATION_VIEW),
}.items():
    CONTRIBUTIONS[_role] = (*CONTRIBUTIONS[_role], *_perms)


# E-receipts (services/receipts.py): districts and Center data staff read receipts and void
# (红冲) them with a reason; leaders read.
RECEIPT_VIEW = ("parking.view_receipt",)
for _role, _perms in {
    "district_manager": (*RECEIPT_VIEW, "parking.void_receipt"),
    "data_staff": (*RECEIPT_VIEW, "parking.void_receipt"),
    "center_leader": RECEIPT_VIEW,
}.items():
    CONTRIBUTIONS[_role] = (*CONTRIBUTIONS[_role], *_perms)

# Complaints/appeals, fee adjustments, customer-service tickets (services/complaints.py,
# services/tickets.py): districts handle the complaints routed to them and adjust fees of their
# orders, and read the tickets referred to them; Center data staff (customer service) run the
# tickets, register, re-route and handle complaints everywhere; leaders read.
COMPLAINT_VIEW = ("parking.view_complaint", "parking.view_complaintaction", "parking.view_feeadjustment")
COMPLAINT_HANDLE = ("parking.add_complaint", "parking.change_complaint", "parking.add_feeadjustment")
TICKET_VIEW = ("parking.view_serviceticket", "parking.view_ticketreply")
TICKET_EDIT = ("parking.add_serviceticket", "parking.change_serviceticket")
for _role, _perms in {
    "district_manager": (*COMPLAINT_VIEW, *COMPLAINT_HANDLE, *TICKET_VIEW),
    "data_staff": (*COMPLAINT_VIEW, *COMPLAINT_HANDLE, "parking.route_complaint", *TICKET_VIEW, *TICKET_EDIT),
    "center_leader": (*COMPLAINT_VIEW, *TICKET_VIEW),
}.items():
    CONTRIBUTIONS[_role] = (*CONTRIBUTIONS[_role], *_perms)

# Residential permits (居住停车认证, services/permits.py): districts enter, review (four eyes:
# never the one who entered it) and revoke them and record fees; the Center reads them.
PERMIT_VIEW = ("parking.view_residentialpermit", "parking.view_permitfee")
PERMIT_EDIT = ("parking.add_residentialpermit", "parking.change_residentialpermit", "parking.review_residentialpermit")
for _role, _perms in {
    "district_manager": (*PERMIT_VIEW, *PERMIT_EDIT),
    "data_staff": PERMIT_VIEW,
    "center_leader": PERMIT_VIEW,
}.items():
    CONTRIBUTIONS[_role] = (*CONTRIBUTIONS[_role], *_perms)

# Statistics (services/stats.py, the dashboard and the CDS Metrics API): read-only, scoped.
STATS_VIEW = ("parking.view_dailydistrictstat", "parking.view_dailysegmentstat")
for _role, _perms in {
    "district_manager": STATS_VIEW,
    "data_staff": STATS_VIEW,
    "center_leader": STATS_VIEW,
}.items():
    CONTRIBUTIONS[_role] = (*CONTRIBUTIONS[_role], *_perms)


# Arrears and penalty cases (services/arrears.py): districts see their arrears, reminders and
# cases and close / mark appealed; the Center's data staff and leaders read them.
ARREARS_VIEW = ("parking.view_arrearsrecord", "parking.view_reminderlog", "parking.view_penaltycase")
for _role, _perms in {
    "district_manager": (*ARREARS_VIEW, "parking.manage_penaltycase"),
    "data_staff": ARREARS_VIEW,
    "center_leader": ARREARS_VIEW,
}.items():
    CONTRIBUTIONS[_role] = (*CONTRIBUTIONS[_role], *_perms)

# Rejection counters (services/rejections.py): city-wide and unscoped, and their sources name
# citizens (``citizen:<id>``), addresses (``ip:<address>``) and staff (``import:<username>``):
# Center data staff and leaders only — never the district-scoped, external device integrator.
for _role in ("data_staff", "center_leader"):
    CONTRIBUTIONS[_role] = (*CONTRIBUTIONS[_role], "parking.view_ingestrejection")


# Weekly and monthly reports (reports/services.py): districts see and generate their own
# district's version; the Center's data staff and leaders also the city's.
REPORTS = ("parking.view_parkingreport", "parking.add_parkingreport")
for _role, _perms in {
    "district_manager": REPORTS,
    "data_staff": (*REPORTS, "parking.view_city_parkingreport"),
    "center_leader": (*REPORTS, "parking.view_city_parkingreport"),
}.items():
    CONTRIBUTIONS[_role] = (*CONTRIBUTIONS[_role], *_perms)


def contribute() -> None:
    for role_code, permissions in CONTRIBUTIONS.items():
        contribute_permissions(role_code, permissions)


# Custom events of the comparison statistic (stats2/events.py): districts keep their own
# district's events, the Center's data staff every event (city-wide ones too); leaders read.
STATEVENT_VIEW = ("parking.view_statevent",)
STATEVENT_EDIT = ("parking.add_statevent", "parking.change_statevent", "parking.delete_statevent")
for _role, _perms in {
    "district_manager": (*STATEVENT_VIEW, *STATEVENT_EDIT),
    "data_staff": (*STATEVENT_VIEW, *STATEVENT_EDIT),
    "center_leader": STATEVENT_VIEW,
}.items():
    CONTRIBUTIONS[_role] = (*CONTRIBUTIONS[_role], *_perms)
# The query builder (statistic 10, stats2/builder.py): whoever runs statistics may save areas
# and queries, share them, schedule exports (each run under the reader's own scope).
QUERY_SAVE = tuple(
    f"parking.{a}_{m}" for m in ("statarea", "savedquery", "scheduledexport") for a in ("view", "add", "change", "delete")
) + ("parking.view_queryexport", "parking.add_queryexport")
for _role in ("district_manager", "data_staff", "center_leader"):
    CONTRIBUTIONS[_role] = (*CONTRIBUTIONS[_role], *QUERY_SAVE)
