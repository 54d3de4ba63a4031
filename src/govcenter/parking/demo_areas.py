"""The small demo of the parking areas beyond the network (package-private to ``demo.py``).

``load_demo_areas()`` gives a newcomer who runs ``make run`` a few plausible records in
every built parking module: citizens with bound plates, finished stays of the last two days
and an old device backlog (sensor events through ``events_ingest``, billed by the tariff
engine), payments through the
sandbox cashier, receipts (one merged), complaints in each state (one fee adjustment, one
appeal), customer-service tickets, residential permits (submitted, active, rejected) and,
when those services are installed, a refund, a reconciliation run, an arrears sweep and the
daily statistics.

Everything goes through the services, so rows are consistent and audited; the staff steps
act as the demo accounts of ``govcenter demo`` (``dongcheng``, ``xicheng``, ``datastaff``),
so the areas are skipped until those exist. Each area is one small function guarded by its
own demo rows (idempotent: a second call creates nothing) and varies only with a fixed seed.
"""

from __future__ import annotations

import datetime as dt
import logging
import random
import uuid
from contextlib import contextmanager
from dataclasses import dataclass, field

from django.db import transaction
from django.utils import timezone

from govcenter.core import audit, context
from govcenter.core.api.errors import ServiceError
from govcenter.core.models import District, User

from .models import Citizen, Device, Order, OrderState, PaymentIntent, PlateBinding

log = logging.getLogger(__name__)

SEED = 20261126
EVENT_NAMESPACE = uuid.UUID("6c1f6a52-6b1e-4f55-9c55-0d3a1d2d0d01")  # uuid5 names of demo events
STAFF = ("dongcheng", "xicheng", "datastaff")

# phone, plates: the demo citizens of the 北京交通 App (13910000xxx is the demo range).
CITIZENS = (
    ("13910000001", ("京A5D201", "京A5D202")),  # pays in one payment; one merged receipt
    ("13910000002", ("京B7K315",)),  # pays one by one; an appeal
    ("13910000003", ("京C2M408",)),  # does not pay; a complaint with a fee adjustment
    ("13910000004", ("京N3P556",)),  # residential permit (active)
    ("13910000005", ("京E6Q771",)),  # residential permits (submitted, rejected)
)
# plate, district ("dc"/"xc"), days ago, start hour, hours: every stay on its own sensor.
# 京F8R902 and 京H4S113 belong to no account (unpaid, no SMS contact).
STAYS = (
    ("京A5D201", "dc", 2, 9, 2.0),
    ("京A5D201", "dc", 1, 10, 1.5),
    ("京A5D201", "xc", 1, 14, 1.0),
    ("京A5D202", "dc", 1, 15, 3.0),
    ("京B7K315", "dc", 2, 13, 1.0),
    ("京B7K315", "xc", 1, 9, 2.0),
    ("京C2M408", "dc", 2, 10, 2.0),
    ("京C2M408", "dc", 1, 16, 1.0),
    ("京N3P556", "xc", 2, 11, 1.0),
    ("京E6Q771", "xc", 1, 17, 1.0),
    ("京F8R902", "dc", 2, 8, 2.0),
    ("京H4S113", "xc", 2, 12, 1.0),
)
# An old device backlog (same columns): unpaid stays old enough for the arrears sweep — one
# in its back-payment window, one past it (a penalty case).
BACKLOG = (
    ("京F8R902", "dc", 80, 9, 2.0),
    ("京H4S113", "xc", 50, 10, 3.0),
    ("京C2M408", "dc", 40, 18, 1.0),
)
RECENT_DAYS = 3  # the stays of STAYS are within the last RECENT_DAYS days
DISTRICT_CODES = {"dc": "110101", "xc": "110102"}
SENSORS = {"dc": "GM-DC-R", "xc": "GM-XC-R"}  # serial prefixes of the demo network's sensors


@dataclass
class Demo:
    rng: random.Random
    staff: dict[str, User]
    districts: dict[str, District]
    citizens: dict[str, Citizen] = field(default_factory=dict)  # by phone

    def citizen_of(self, plate: str) -> Citizen:
        for phone, plates in CITIZENS:
            if plate in plates:
                return self.citizens[phone]
        raise KeyError(plate)

    def orders(self, plate: str, state: str | None = None) -> list[Order]:
        """The plate's recent demo stays (not the backlog), oldest first."""
        since = timezone.now() - dt.timedelta(days=RECENT_DAYS)
        qs = Order.objects.filter(plate=plate, started_at__gte=since).order_by("started_at")
        return list(qs if state is None else qs.filter(state=state))


@contextmanager
def _as(user):
    """Audit the block as ``user`` (a demo account), as if they had used the UI."""
    with context.acting_as(user, channel="cli"):
        yield


# -- citizens ------------------------------------------------------------------------------------


def demo_citizens(demo: Demo) -> dict[str, int]:
    """The demo citizens (the account a first App login creates) and their bound plates."""
    from .services.citizens import plate_bind

    created = {"citizens": 0, "plates": 0}
    for phone, plates in CITIZENS:
        citizen, new = Citizen.objects.get_or_create(phone=phone)
        if new:
            audit.record(action="citizen.create", obj=citizen, reason="demo")
            created["citizens"] += 1
        demo.citizens[phone] = citizen
        for plate in plates:
            if not PlateBinding.objects.filter(citizen=citizen, plate=plate, status="active").exists():
                plate_bind(citizen=citizen, plate=plate)
                created["plates"] += 1
    return created


# -- stays (device events → billed orders) -------------------------------------------------------


def _sensors(key: str) -> list[Device]:
    return list(
        Device.objects.filter(kind="geomagnetic", serial__startswith=SENSORS[key])
        .exclude(status=Device.Status.RETIRED)
        .order_by("serial")
    )


def _ingest_stays(
    demo: Demo,
    rows,
    sensors: dict[str, list[Device]],
    used: dict[str, int],
    tag: str,
    max_age: dt.timedelta | None = None,
) -> int:
    from .services.events import events_ingest

    today = timezone.localdate()
    created = 0
    for index, (plate, key, days_ago, hour, hours) in enumerate(rows):
        device = sensors[key][used[key] % len(sensors[key])]
        used[key] += 1
        day = today - dt.timedelta(days=days_ago)
        start = timezone.make_aware(dt.datetime.combine(day, dt.time(hour, demo.rng.randrange(0, 50))))
        end = start + dt.timedelta(hours=hours, minutes=demo.rng.randrange(0, 9))
        events = [
            {
                "event_id": str(uuid.uuid5(EVENT_NAMESPACE, f"{tag}-{index}-start")),
                "event_type": "park_start",
                "event_time": start.isoformat(),
                "vehicle_license_plate": plate,
                "vehicle_license_plate_confidence": demo.rng.randrange(90, 100),
            },
            {
                "event_id": str(uuid.uuid5(EVENT_NAMESPACE, f"{tag}-{index}-end")),
                "event_type": "park_end",
                "event_time": end.isoformat(),
            },
        ]
        results = events_ingest(device=device, events=events, max_age=max_age)
        created += int(any(r.order_id for r in results))
    return created


def demo_orders(demo: Demo) -> dict[str, int]:
    """Finished stays taken in as the sensors' events and billed: an old backlog, then the
    stays of the last two days; every stay on its own sensor, so none overlap."""
    plates = {row[0] for row in (*STAYS, *BACKLOG)}
    if Order.objects.filter(plate__in=plates).exists():
        return {"orders": 0}
    sensors = {key: _sensors(key) for key in SENSORS}
    used = dict.fromkeys(sensors, 0)
    oldest = max(row[2] for row in BACKLOG) + 1
    # The event age limit protects the live ingest from stale devices; the demo replays a known
    # backlog through the same service as a trusted in-process caller (``max_age``).
    created = _ingest_stays(demo, BACKLOG, sensors, used, "backlog", max_age=dt.timedelta(days=oldest))
    created += _ingest_stays(demo, STAYS, sensors, used, "stay")
    return {"orders": created}


# -- payments (sandbox cashier) ------------------------------------------------------------------


def _pay(citizen: Citizen, orders: list[Order], key: str) -> PaymentIntent | None:
    """Create the payment and pay it at the sandbox cashier (the provider's signed callback)."""
    from .payments.sandbox import sandbox_pay
    from .services.payments import payment_create, payment_notify

    payable = [
        o.pk for o in orders if o.state in (OrderState.BILLED, OrderState.ARREARS) and o.payable_fen > 0
    ]
    if not payable:
        return None
    intent = payment_create(citizen=citizen, order_ids=payable, idempotency_key=key).intent
    headers, body = sandbox_pay(intent.out_trade_no)
    payment_notify(headers=headers, body=body)
    return intent


def demo_payments(demo: Demo) -> dict[str, int]:
    """Citizens 1, 2 and 4 pay their stays: one payment of four orders, then one per order."""
    from .payments.port import get_provider

    if (
        get_provider().name != "sandbox"
        or PaymentIntent.objects.filter(idempotency_key__startswith="demo-").exists()
    ):
        return {"payments": 0}
    payer1, payer2, payer4 = (demo.citizens[CITIZENS[i][0]] for i in (0, 1, 3))
    intents = [_pay(payer1, demo.orders("京A5D201") + demo.orders("京A5D202"), "demo-pay-0001")]
    intents += [
        _pay(payer2, [order], f"demo-pay-01{i:02d}") for i, order in enumerate(demo.orders("京B7K315"))
    ]
    intents.append(_pay(payer4, demo.orders("京N3P556"), "demo-pay-0401"))
    return {"payments": sum(1 for intent in intents if intent is not None)}


# -- receipts ------------------------------------------------------------------------------------


def demo_receipts(demo: Demo) -> dict[str, int]:
    """Citizen 1 merges the 东城 stays into one receipt and takes one for 西城; citizen 2 one."""
    from .models.receipts import Receipt
    from .services.receipts import receipt_issue

    payer1, payer2 = demo.citizens[CITIZENS[0][0]], demo.citizens[CITIZENS[1][0]]
    if Receipt.objects.filter(citizen__in=[payer1, payer2]).exists():
        return {"receipts": 0}
    paid1 = [o for o in demo.orders("京A5D201") + demo.orders("京A5D202") if o.state == OrderState.PAID]
    dc = [o.pk for o in paid1 if o.district_id == demo.districts["dc"].pk and o.amount_paid_fen > 0]
    xc = [o.pk for o in paid1 if o.district_id == demo.districts["xc"].pk and o.amount_paid_fen > 0]
    paid2 = [o.pk for o in demo.orders("京B7K315", OrderState.PAID) if o.amount_paid_fen > 0][:1]
    created = 0
    for citizen, ids, merge in ((payer1, dc, True), (payer1, xc, False), (payer2, paid2, False)):
        if ids:
            created += len(receipt_issue(citizen=citizen, order_ids=ids, merge=merge).receipts)
    return {"receipts": created}


# -- complaints, fee adjustment, appeal ----------------------------------------------------------


def demo_complaints(demo: Demo) -> dict[str, int]:
    """One complaint or appeal in each state; a fee adjustment on citizen 3's unpaid stay."""
    from .models.complaints import Complaint
    from .services import complaints as svc

    phones = [phone for phone, _plates in CITIZENS]
    if Complaint.objects.filter(contact_phone__in=[*phones, "13910000099"]).exists():
        return {"complaints": 0, "fee_adjustments": 0}
    dc_staff, xc_staff = demo.staff["dongcheng"], demo.staff["xicheng"]
    created, adjustments = 0, 0
    unpaid = demo.orders("京C2M408", OrderState.BILLED)
    with _as(dc_staff):
        if unpaid:  # wrong times → accepted → fee lowered by half → replied (partly upheld)
            order = unpaid[-1]
            c = svc.complaint_create(
                actor=None,
                kind="complaint",
                channel="app",
                category="wrong_times",
                subject="驶离时间晚于实际",
                body="我实际只停了二十多分钟，计费却有一个多小时，请核实。",
                order=order,
                citizen=demo.citizen_of(order.plate),
            )
            c = svc.complaint_accept(actor=dc_staff, complaint=c, note="调取视频核查")
            svc.fee_adjust(
                order=order,
                amount_fen=-(order.amount_due_fen // 2),
                reason="视频核实驶离时间提前，减收一半",
                complaint=c,
                actor=dc_staff,
            )
            svc.complaint_reply(
                actor=dc_staff,
                complaint=c,
                text="经调取高位视频核实，车辆实际驶离时间早于记录，已减收一半费用。",
                outcome="partly_upheld",
            )
            created, adjustments = created + 1, adjustments + 1
        paid = demo.orders("京B7K315", OrderState.PAID)
        if paid:  # appeal → accepted → closed (not upheld) → rated by the citizen
            order = paid[0]
            c = svc.complaint_create(
                actor=None,
                kind="appeal",
                channel="app",
                category="not_parked",
                subject="申诉：该时段未在此停车",
                body="我当天下午在单位，没有在王府井停车。",
                order=order,
                citizen=demo.citizen_of(order.plate),
            )
            c = svc.complaint_accept(actor=dc_staff, complaint=c)
            c = svc.complaint_close(
                actor=dc_staff,
                complaint=c,
                text="经核查地磁与视频记录，车辆确在该泊位停放，维持原计费。",
                outcome="not_upheld",
            )
            svc.complaint_rate(complaint=c, satisfaction=4, comment="答复及时")
            created += 1
        c = svc.complaint_create(  # transferred outside parking
            actor=dc_staff,
            kind="complaint",
            channel="hotline",
            category="other",
            subject="东四北大街有车辆占用消防通道",
            body="来电反映东四北大街钱粮胡同口有车辆长期占用消防通道。",
            contact_phone="13910000099",
            district=demo.districts["dc"],
        )
        svc.complaint_transfer(actor=dc_staff, complaint=c, to="东城交通支队", note="属交通违法，转交管部门")
        created += 1
    with _as(xc_staff):
        waiting = demo.orders("京E6Q771")
        svc.complaint_create(  # received, waiting for acceptance
            actor=None,
            kind="complaint",
            channel="app",
            category="device_fault",
            subject="泊位地磁反应慢",
            body="驶离后地磁过了好几分钟才结束计费。",
            order=waiting[0] if waiting else None,
            citizen=demo.citizens[CITIZENS[4][0]],
            district=demo.districts["xc"],
        )
        c = svc.complaint_create(  # rejected: not a parking matter
            actor=xc_staff,
            kind="complaint",
            channel="mailbox",
            category="other",
            subject="建议增加公交线路",
            body="建议在广安门内大街增加一条公交线路。",
            contact_phone="13910000005",
            district=demo.districts["xc"],
        )
        svc.complaint_reject(actor=xc_staff, complaint=c, reason="不属于道路停车管理事项，请向公交集团反映。")
        created += 2
    return {"complaints": created, "fee_adjustments": adjustments}


# -- customer-service tickets --------------------------------------------------------------------


def demo_tickets(demo: Demo) -> dict[str, int]:
    """Hotline and App tickets: answered and rated, open, closed."""
    from .models.complaints import ServiceTicket
    from .services import tickets as svc

    if ServiceTicket.objects.filter(caller_phone__startswith="1391000").exists():
        return {"tickets": 0}
    staff = demo.staff["datastaff"]
    with _as(staff):
        t = svc.ticket_create(
            actor=staff,
            channel="hotline",
            category="payment",
            subject="如何在App补缴停车费",
            body="来电询问欠费如何补缴。",
            caller_phone="13910000003",
            plate="京C2M408",
            district=demo.districts["dc"],
        )
        svc.ticket_reply(actor=staff, ticket=t, text="已告知在北京交通App“停车缴费”中选择订单补缴。")
        svc.ticket_rate(actor=staff, ticket=t, satisfaction=5)
        t = svc.ticket_create(
            actor=staff,
            channel="app",
            category="receipt",
            subject="电子票据抬头能否修改",
            body="开具的电子票据需要单位抬头。",
            caller_phone="13910000001",
        )
        svc.ticket_reply(actor=staff, ticket=t, text="电子收费票据按缴费人开具，抬头暂不支持修改。")
        svc.ticket_rate(actor=staff, ticket=t, satisfaction=3)
        svc.ticket_close(actor=staff, ticket=t, note="已答复")
        svc.ticket_create(
            actor=staff,
            channel="mailbox",
            category="suggestion",
            subject="建议西单北大街增加泊位",
            body="周末西单北大街泊位紧张，建议增加。",
            caller_phone="13910000002",
            district=demo.districts["xc"],
        )
    return {"tickets": 3}


# -- residential permits -------------------------------------------------------------------------


def demo_permits(demo: Demo) -> dict[str, int]:
    """Citizens 4 and 5 apply in the App; 东城 approves one, 西城 rejects one, one waits."""
    from .models import Segment
    from .models.permits import ResidentialPermit
    from .services import permits as svc

    plates = ("京N3P556", "京E6Q771", "京A5D202")
    if ResidentialPermit.objects.filter(plate__in=plates).exists():
        return {"permits": 0}
    dc_segment = Segment.objects.filter(code="DC-R003-S01").first()
    xc_segment = Segment.objects.filter(code="XC-R003-S01").first()
    if dc_segment is None or xc_segment is None:
        return {"permits": 0}
    rows = (  # phone, plate, segment, name, id number, address
        (
            "13910000004",
            "京N3P556",
            dc_segment,
            "孙丽",
            "110101198503150028",
            "东城区安定门外大街12号院3-2-401",
        ),
        ("13910000005", "京E6Q771", xc_segment, "周强", "110102197911020031", "西城区广安门内大街甲8号2-301"),
        ("13910000001", "京A5D202", dc_segment, "王明", "110101199007070015", "东城区安定门外大街20号1-501"),
    )
    permits = []
    for phone, plate, segment, name, id_number, address in rows:
        permits.append(
            svc.permit_apply(
                citizen=demo.citizens[phone],
                plate=plate,
                segment_ids=[segment.pk],
                applicant_name=name,
                applicant_id_number=id_number,
                address=address,
                address_proof_ref=f"DEMO-PROOF-{plate[-4:]}",
                months=3,
            )
        )
    with _as(demo.staff["dongcheng"]):
        svc.permit_approve(actor=demo.staff["dongcheng"], permit=permits[0], comment="房产证明核验无误")
    with _as(demo.staff["xicheng"]):
        svc.permit_reject(actor=demo.staff["xicheng"], permit=permits[1], comment="居住地址不在申请路段周边")
    return {"permits": len(permits)}


# -- refunds and reconciliation ------------------------------------------------------------------


def demo_refunds(demo: Demo) -> dict[str, int]:
    """西城 asks for two refunds of citizens' payments; the Center approves one (paid back by
    the sandbox), the other waits for approval. Then yesterday is reconciled."""
    from .models.refunds import Refund
    from .services import reconciliation
    from .services import refunds as svc

    if Refund.objects.filter(intent__idempotency_key__startswith="demo-").exists():
        return {"refunds": 0, "reconciliation_runs": 0}
    xc = demo.districts["xc"]
    requester, approver = demo.staff["xicheng"], demo.staff["datastaff"]
    intents = PaymentIntent.objects.filter(
        idempotency_key__startswith="demo-", status="paid", items__order__district=xc
    ).distinct()
    created = 0
    with _as(requester):
        requested = []
        reasons = ("车主反映同一时段被重复计费，核实后退还多收部分", "地磁误报驶离时间，核实后退还多收部分")
        for intent, why in zip(intents.order_by("idempotency_key")[:2], reasons, strict=False):
            item = intent.items.select_related("order").filter(order__district=xc).first()
            requested.append(
                svc.refund_request(
                    actor=requester,
                    intent=intent,
                    amount_fen=min(item.amount_fen, 500),
                    reason_category="other",
                    reason=why,
                    order=item.order,
                )
            )
            created += 1
    if requested:
        with _as(approver):
            svc.refund_approve(actor=approver, refund=requested[-1], note="核实无误，同意退款")
    runs = 0
    with _as(approver):
        reconciliation.reconcile(date=timezone.localdate() - dt.timedelta(days=1), actor=approver)
        runs += 1
    return {"refunds": created, "reconciliation_runs": runs}


# -- arrears and penalties -----------------------------------------------------------------------


def demo_arrears(demo: Demo) -> dict[str, int]:
    """Today's arrears sweep: the backlog stays turn arrears; the oldest becomes a penalty case."""
    from .models.arrears import ArrearsRecord, PenaltyCase
    from .services.arrears import arrears_sweep

    backlog = [row[0] for row in BACKLOG]
    if ArrearsRecord.objects.filter(plate__in=backlog).exists():
        return {"arrears_orders": 0, "penalty_cases": 0}
    arrears_sweep()
    return {
        "arrears_orders": ArrearsRecord.objects.filter(plate__in=backlog).count(),
        "penalty_cases": PenaltyCase.objects.filter(plate__in=backlog).count(),
    }


# -- statistics ----------------------------------------------------------------------------------


def demo_stats(demo: Demo) -> dict[str, int]:
    """The daily statistics of the demo days, as the nightly job computes them."""
    from .models.stats import DailyDistrictStat
    from .services.stats import stats_compute

    latest = Order.objects.filter(plate__in={row[0] for row in STAYS}).order_by("-started_at").first()
    if latest is None:
        return {"stat_days": 0}
    # The demo days are those of the stays (the last two days of the first load, whenever rerun).
    last = timezone.localdate(latest.started_at)
    days = [last - dt.timedelta(days=n) for n in range(max(row[2] for row in STAYS) - 1, -1, -1)]
    districts = list(demo.districts.values())
    if DailyDistrictStat.objects.filter(date__in=days, district__in=districts).exists():
        return {"stat_days": 0}
    for day in days:
        stats_compute(date=day, districts=districts)
    return {"stat_days": len(days)}


# -- entry point ---------------------------------------------------------------------------------

AREAS = (
    demo_citizens,
    demo_orders,
    demo_payments,
    demo_receipts,
    demo_complaints,
    demo_tickets,
    demo_permits,
)
# Areas whose services may be absent or changing: each runs in a savepoint and is skipped
# (with a warning) when it cannot load, so the rest of the demo still loads.
OPTIONAL_AREAS = (demo_refunds, demo_arrears, demo_stats)


def _optional(area, demo: Demo) -> dict[str, int]:
    try:
        with transaction.atomic():
            return area(demo)
    except (ImportError, ServiceError, LookupError, TypeError, ValueError, AttributeError) as exc:
        log.warning("demo: %s skipped: %s", area.__name__, exc)
        return {}


def load_demo_areas() -> dict[str, int]:
    """Run each area's demo (see the module docstring); returns what was created."""
    staff = {u.username: u for u in User.objects.filter(username__in=STAFF, is_active=True)}
    districts = {key: District.objects.filter(code=code).first() for key, code in DISTRICT_CODES.items()}
    if set(staff) != set(STAFF) or None in districts.values():
        return {}  # `govcenter demo` creates the accounts first; a bare network demo has none
    demo = Demo(rng=random.Random(SEED), staff=staff, districts=districts)  # noqa: S311 (demo data)
    created: dict[str, int] = {}
    results = [area(demo) for area in AREAS] + [_optional(area, demo) for area in OPTIONAL_AREAS]
    for counts in results:
        for name, count in counts.items():
            created[name] = created.get(name, 0) + count
    return created
