"""Fiscal e-receipts (电子收费票据) of paid parking orders: issue, void (红冲), verify.

Receipts are issued lazily, when the citizen asks (``POST citizen/receipts``), not from the
payment callback: the payment path stays as it is, a citizen who never wants a receipt never
consumes a number, and one request can merge several paid orders into one receipt.

``receipt_issue``: the citizen's own paid orders (plates bound to the account), one receipt
per order or, with ``merge``, one receipt for all of them — only when they all belong to one
district (one numbering series per district and year). Orders are locked in id order, the
series row is locked while its number is taken, so numbers are gapless and unique even under
concurrent issuers. Asking again for exactly the orders of an issued receipt returns that
receipt (idempotent); an order already on another issued receipt is refused (409), and
``ReceiptItem``'s partial unique index refuses it in the database too.

``receipt_void``: staff (``parking.void_receipt``, in scope) void a receipt with a reason;
its orders are free for a new receipt. Audited.

``receipt_verify``: checks the SM2 signature of the stored canonical content with a trusted
key, that the signed content agrees with the receipt's own columns and items, optionally
that a presented signature/content is the stored one, and that the receipt was not voided.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass, field

import django_filters
from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from govcenter.core import audit, crypto
from govcenter.core.api.errors import ServiceError
from govcenter.core.masking import mask_plate
from govcenter.core.models import District, Unit

from ..models import Citizen, Order, OrderState, PaymentIntent, PaymentStatus
from ..models.receipts import Receipt, ReceiptItem, ReceiptSeries, ReceiptStatus
from ..plates import PlateError, validate_plate
from .payments import MAX_ORDERS, citizen_orders

CONTENT_VERSION = 1

# -- money in words ------------------------------------------------------------------------------

_DIGITS = "零壹贰叁肆伍陆柒捌玖"
_SECTIONS = ("", "万", "亿", "万亿")


def _group_words(group: int) -> str:
    """1–9999 in capital numerals, zeros inside collapsed to one 零, none at the end."""
    text, zero = "", False
    for power, unit in ((1000, "仟"), (100, "佰"), (10, "拾"), (1, "")):
        digit = group // power % 10
        if digit == 0:
            zero = bool(text)
        else:
            text += ("零" if zero else "") + _DIGITS[digit] + unit
            zero = False
    return text


def rmb_capital(fen: int) -> str:
    """An amount in fen as Chinese capital numerals (大写金额), as fiscal receipts print it.

    ``0`` → 零元整, ``100`` → 壹元整, ``1050`` → 壹拾元伍角, ``100005`` → 壹仟元零伍分,
    ``123456789`` → 壹佰贰拾叁万肆仟伍佰陆拾柒元捌角玖分.
    """
    fen = int(fen)
    if fen < 0:
        raise ValueError("amount must not be negative")
    yuan, jiao, cents = fen // 100, fen // 10 % 10, fen % 10
    if yuan >= 10**16:
        raise ValueError("amount too large")
    groups = []
    rest = yuan
    while rest:
        groups.append(rest % 10000)
        rest //= 10000
    text, gap = "", False
    for index in reversed(range(len(groups))):
        group = groups[index]
        if group == 0:
            gap = bool(text)
            continue
        if text and (gap or group < 1000):
            text += "零"
        text += _group_words(group) + _SECTIONS[index]
        gap = False
    if not fen:
        return "零元整"
    if yuan:
        text += "元"
    if jiao:
        text += _DIGITS[jiao] + "角"
    if cents:
        text += ("零" if yuan and not jiao else "") + _DIGITS[cents] + "分"
    elif not jiao:
        text += "整"
    return text


def format_yuan(fen: int) -> str:
    """``12345`` → ``¥123.45``."""
    return f"¥{fen // 100:,}.{fen % 100:02d}"


# -- canonical content and the key ---------------------------------------------------------------


def canonical_bytes(content: dict) -> bytes:
    """The bytes that are signed: sorted keys, no spaces, UTF-8 (not ASCII-escaped)."""
    return json.dumps(content, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode("utf-8")


def key_id(public_pem: str) -> str:
    """A short fingerprint of an SM2 public key: the first 16 hex digits of SM3(PEM)."""
    return crypto.sm3_hex(public_pem.strip().encode("ascii"))[:16]


def _iso(value) -> str:
    return timezone.localtime(value).isoformat(timespec="seconds") if value else ""


# -- reads ---------------------------------------------------------------------------------------


def receipt_list(*, user) -> QuerySet[Receipt]:
    """Receipts in the caller's data scope, newest first."""
    return (
        Receipt.objects.restrict(user).select_related("district", "payee_unit").order_by("-issued_at", "-id")
    )


def citizen_receipts(*, citizen: Citizen) -> QuerySet[Receipt]:
    """The receipts issued to ``citizen`` (issued and voided), newest first."""
    return (
        Receipt.objects.filter(citizen=citizen)
        .select_related("district", "payee_unit")
        .prefetch_related("items")
        .order_by("-issued_at", "-id")
    )


def _districts(request):
    return District.objects.none() if request is None else District.objects.restrict(request.user)


class ReceiptFilterSet(django_filters.FilterSet):
    """Filters of the staff receipt list (UI and API); districts offered from the caller's scope."""

    district = django_filters.ModelChoiceFilter(label=_("所属区"), queryset=_districts, empty_label=_("全部"))
    status = django_filters.ChoiceFilter(
        label=_("状态"), choices=ReceiptStatus.choices, empty_label=_("全部")
    )
    number = django_filters.CharFilter(label=_("票据号码"), field_name="number", lookup_expr="icontains")
    issued_from = django_filters.DateFilter(
        label=_("开票日期自"), field_name="issued_at", lookup_expr="date__gte"
    )
    issued_to = django_filters.DateFilter(
        label=_("开票日期至"), field_name="issued_at", lookup_expr="date__lte"
    )

    class Meta:
        model = Receipt
        fields = ["district", "status", "number", "issued_from", "issued_to"]


# -- issue ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Issued:
    receipts: list[Receipt]
    created: bool


def _payee(orders: list[Order]) -> Unit:
    """The unit that collected the money: the orders' managing unit when they share one,
    otherwise the district's parking unit."""
    units = {o.managing_unit_id for o in orders}
    if len(units) == 1:
        return orders[0].managing_unit
    district_unit = (
        Unit.objects.filter(district_id=orders[0].district_id, kind="district_unit").order_by("pk").first()
    )
    return district_unit or orders[0].managing_unit


def _series_locked(district: District, year: int) -> ReceiptSeries:
    prefix = f"{settings.GOVCENTER_PARKING_RECEIPT_PREFIX}{district.code}-{year}-"
    series, _created = ReceiptSeries.objects.get_or_create(
        district=district, year=year, defaults={"prefix": prefix}
    )
    return ReceiptSeries.objects.select_for_update().get(pk=series.pk)


def _content(
    *, number: str, series: ReceiptSeries, orders: list[Order], payee: Unit, issued_at, kid: str
) -> dict:
    district = orders[0].district
    total = sum(o.amount_paid_fen for o in orders)
    return {
        "version": CONTENT_VERSION,
        "type": "parking_fee",
        "number": number,
        "series": series.prefix,
        "district": {"code": district.code, "name": district.name_zh},
        "payee": {"code": payee.code, "name": payee.name_zh},
        "payer": {"plates": sorted({mask_plate(o.plate) for o in orders if o.plate})},
        "items": [
            {
                "order_id": o.pk,
                "segment": {"code": o.segment.code, "name": o.segment.name},
                "space": o.space.number,
                "started_at": _iso(o.started_at),
                "ended_at": _iso(o.ended_at),
                "amount_fen": o.amount_paid_fen,
            }
            for o in orders
        ],
        "total_fen": total,
        "total_capital": rmb_capital(total),
        "currency": "CNY",
        "issued_at": _iso(issued_at),
        "key_id": kid,
    }


def _issue_one(*, citizen: Citizen | None, orders: list[Order]) -> Receipt:
    issued_at = timezone.now().replace(microsecond=0)
    district = orders[0].district
    series = _series_locked(district, timezone.localtime(issued_at).year)
    sequence = series.next_number
    series.next_number = sequence + 1
    series.save(update_fields=["next_number"])
    number = f"{series.prefix}{sequence:08d}"
    payee = _payee(orders)
    private_pem, public_pem = crypto.system_keypair()
    kid = key_id(public_pem)
    content = _content(number=number, series=series, orders=orders, payee=payee, issued_at=issued_at, kid=kid)
    data = canonical_bytes(content)
    receipt = Receipt.objects.create(
        number=number,
        series=series,
        sequence=sequence,
        district=district,
        payee_unit=payee,
        citizen=citizen,
        payer_plate="、".join(content["payer"]["plates"])[:200],
        total_fen=content["total_fen"],
        issued_at=issued_at,
        content=content,
        content_sm3=crypto.sm3_hex(data),
        signature=base64.b64encode(crypto.sm2_sign(private_pem, data)).decode("ascii"),
        key_id=kid,
        public_key=public_pem.strip(),
    )
    ReceiptItem.objects.bulk_create(
        [ReceiptItem(receipt=receipt, order=o, amount_fen=o.amount_paid_fen) for o in orders]
    )
    audit.record(
        action="parking.receipt.issue",
        obj=receipt,
        changes={"orders": [o.pk for o in orders], "total_fen": receipt.total_fen, "key_id": kid},
    )
    return receipt


def _same_receipt(order_ids: set[int]) -> Receipt | None:
    """The issued receipt whose orders are exactly ``order_ids``, if any."""
    live = ReceiptItem.objects.filter(order_id__in=order_ids, live=True)
    receipt_ids = set(live.values_list("receipt_id", flat=True))
    if len(receipt_ids) != 1:
        return None
    receipt = Receipt.objects.get(pk=receipt_ids.pop())
    if set(receipt.items.values_list("order_id", flat=True)) != order_ids:
        return None
    return receipt


def receipt_issue(*, citizen: Citizen, order_ids: list[int], merge: bool = False) -> Issued:
    """Issue receipts for the citizen's paid ``order_ids`` (one each, or one merged).

    Errors (:class:`ServiceError`): unknown or foreign orders 404 ``order_not_found``; an order
    not paid 400 ``order_not_paid``; an order paid 0 fen 400 ``nothing_paid``; a merge across
    districts 400 ``districts_differ``; an order on another issued receipt 409
    ``order_has_receipt``. Asking again for the same orders returns the same receipts.
    """
    order_ids = list(dict.fromkeys(int(pk) for pk in order_ids))
    if not order_ids or len(order_ids) > MAX_ORDERS:
        raise ServiceError(
            f"须选择 1–{MAX_ORDERS} 笔订单", code="invalid", details={"order_ids": [f"1–{MAX_ORDERS} 笔"]}
        )
    return _issue_guarded(citizen_orders(citizen=citizen), citizen, order_ids, merge)


def _issue_guarded(
    allowed: QuerySet[Order], citizen: Citizen | None, order_ids: list[int], merge: bool
) -> Issued:
    try:
        with transaction.atomic():
            return _issue(allowed, citizen, order_ids, merge)
    except IntegrityError:
        # The partial unique index caught what the locks should have: report it as a refusal.
        raise ServiceError("订单已开具票据", code="order_has_receipt", status=409) from None


def _paid_by_plate(*, out_trade_no: str, plate: str) -> PaymentIntent:
    """The paid pay-by-plate (临时代缴) payment ``out_trade_no`` of ``plate``; 404 otherwise."""
    try:
        plate = validate_plate(str(plate))
    except PlateError as exc:
        raise ServiceError(str(exc), code="invalid_plate", details={"plate": [str(exc)]}) from None
    intent = PaymentIntent.objects.filter(
        out_trade_no=str(out_trade_no)[:32],
        citizen__isnull=True,
        plate=plate,
        status=PaymentStatus.PAID,
    ).first()
    if intent is None:
        raise ServiceError("未找到该车牌已支付的代缴支付单", code="payment_not_found", status=404)
    return intent


def receipt_issue_for_payment(*, out_trade_no: str, plate: str, merge: bool = True) -> Issued:
    """Receipts for a payment made without login (临时代缴): whoever holds the payment number
    and the plate may have its orders' receipts (merged by default). No payer account is
    recorded; the same errors as :func:`receipt_issue`."""
    intent = _paid_by_plate(out_trade_no=out_trade_no, plate=plate)
    allowed = Order.objects.filter(payment_items__intent=intent)
    order_ids = list(intent.items.order_by("order_id").values_list("order_id", flat=True))
    return _issue_guarded(allowed, None, order_ids, merge)


def payment_receipts(*, out_trade_no: str, plate: str) -> QuerySet[Receipt]:
    """The issued receipts of a pay-by-plate payment's orders (for their PDF)."""
    intent = _paid_by_plate(out_trade_no=out_trade_no, plate=plate)
    return Receipt.objects.filter(
        status=ReceiptStatus.ISSUED, items__order__payment_items__intent=intent
    ).distinct()


def _issue(allowed: QuerySet[Order], citizen: Citizen | None, order_ids: list[int], merge: bool) -> Issued:
    own = allowed.filter(pk__in=order_ids).values_list("pk", flat=True)
    orders = list(
        Order.objects.select_for_update()
        .filter(pk__in=list(own))
        .select_related("district", "segment", "space", "managing_unit")
        .order_by("pk")
    )
    missing = sorted(set(order_ids) - {o.pk for o in orders})
    if missing:
        raise ServiceError("订单不存在", code="order_not_found", status=404, details={"order_ids": missing})
    unpaid = {str(o.pk): o.state for o in orders if o.state != OrderState.PAID}
    if unpaid:
        raise ServiceError("只有已支付的订单可以开具票据", code="order_not_paid", details=unpaid)
    free = sorted(o.pk for o in orders if o.amount_paid_fen <= 0)
    if free:
        raise ServiceError("免费订单无需开具票据", code="nothing_paid", details={"order_ids": free})
    if merge and len({o.district_id for o in orders}) > 1:
        raise ServiceError(
            "合并开票的订单须属于同一区",
            code="districts_differ",
            details={"districts": sorted({o.district.code for o in orders})},
        )
    groups = [orders] if merge else [[o] for o in orders]
    receipts, created = [], False
    for group in groups:
        existing = _same_receipt({o.pk for o in group})
        if existing is not None:
            receipts.append(existing)
            continue
        taken = sorted(
            ReceiptItem.objects.filter(order__in=group, live=True).values_list("order_id", flat=True)
        )
        if taken:
            raise ServiceError(
                "订单已开具票据（如需重开，请先红冲原票据）",
                code="order_has_receipt",
                status=409,
                details={"order_ids": taken},
            )
        receipts.append(_issue_one(citizen=citizen, orders=group))
        created = True
    return Issued(receipts, created)


# -- void ----------------------------------------------------------------------------------------


def receipt_void(*, actor, receipt: Receipt, reason: str) -> Receipt:
    """Void (红冲) an issued receipt in the actor's scope, with a reason; audited.

    Errors: out of scope 404 ``not_found``; no reason 400 ``reason_required``; already voided
    409 ``receipt_voided``.
    """
    reason = (reason or "").strip()
    if not reason:
        raise ServiceError("须填写红冲原因", code="reason_required", details={"reason": ["必填"]})
    with transaction.atomic():
        locked = Receipt.objects.restrict(actor).select_for_update().filter(pk=receipt.pk).first()
        if locked is None:
            raise ServiceError("票据不存在", code="not_found", status=404)
        if locked.status != ReceiptStatus.ISSUED:
            raise ServiceError("票据已红冲", code="receipt_voided", status=409)
        before = audit.snapshot(locked, ["status", "void_reason"])
        locked.status = ReceiptStatus.VOIDED
        locked.void_reason = reason[:200]
        locked.voided_at = timezone.now()
        locked.voided_by = actor if getattr(actor, "pk", None) else None
        locked.voided_by_username = getattr(actor, "username", "") or ""
        locked.save(
            update_fields=[
                "status",
                "void_reason",
                "voided_at",
                "voided_by",
                "voided_by_username",
                "updated_at",
            ]
        )
        locked.items.update(live=False)
        audit.record(
            action="parking.receipt.void",
            obj=locked,
            changes=audit.diff(before, audit.snapshot(locked, ["status", "void_reason"])),
            reason=reason[:200],
        )
    return locked


# -- verify --------------------------------------------------------------------------------------


@dataclass
class Verification:
    valid: bool
    reason: str
    number: str
    status: str = ""
    content: dict = field(default_factory=dict)


REASONS = {
    "ok": _("票据真实有效"),
    "voided": _("票据已红冲作废"),
    "untrusted_key": _("签名密钥不受信任"),
    "bad_signature": _("签名验证失败，票面内容可能被篡改"),
    "content_mismatch": _("票面内容与开票记录不一致"),
    "signature_differs": _("所示签名与开票记录不一致"),
    "content_differs": _("所示票面内容与开票记录不一致"),
}


def _decode_signature(text: str) -> bytes | None:
    try:
        # A "+" sent unencoded in a query string arrives as a space.
        return base64.b64decode((text or "").strip().replace(" ", "+"), validate=True)
    except (binascii.Error, ValueError):
        return None


def _record_problem(receipt: Receipt) -> str:
    """Why the stored record itself is not authentic, or ``""``."""
    public_pem = receipt.public_key.strip()
    if public_pem not in audit.trusted_public_keys() or key_id(public_pem) != receipt.key_id:
        return "untrusted_key"
    signature = _decode_signature(receipt.signature)
    content = receipt.content if isinstance(receipt.content, dict) else {}
    if signature is None or not crypto.sm2_verify(public_pem, canonical_bytes(content), signature):
        return "bad_signature"
    items = sorted((i.order_id, i.amount_fen) for i in receipt.items.all())
    signed_items = sorted((i.get("order_id"), i.get("amount_fen")) for i in content.get("items", []))
    if (
        content.get("number") != receipt.number
        or content.get("total_fen") != receipt.total_fen
        or content.get("issued_at") != _iso(receipt.issued_at)
        or content.get("district", {}).get("code") != receipt.district.code
        or content.get("key_id") != receipt.key_id
        or items != signed_items
    ):
        return "content_mismatch"
    return ""


def receipt_verify(*, number: str, signature: str = "", content: dict | None = None) -> Verification:
    """Verify receipt ``number`` (see the module docstring). Unknown number: 404 ``receipt_not_found``.

    ``signature`` (Base64) and ``content`` are what a holder presents (printed on the PDF);
    when given, they must be the stored ones.
    """
    receipt = (
        Receipt.objects.filter(number=(number or "").strip())
        .select_related("district")
        .prefetch_related("items")
        .first()
    )
    if receipt is None:
        raise ServiceError("票据不存在", code="receipt_not_found", status=404)
    reason = _record_problem(receipt)
    if not reason and signature:
        if _decode_signature(signature) != _decode_signature(receipt.signature):
            reason = "signature_differs"
    if not reason and content is not None and canonical_bytes(content) != canonical_bytes(receipt.content):
        reason = "content_differs"
    if not reason and receipt.status != ReceiptStatus.ISSUED:
        reason = "voided"
    return Verification(
        valid=not reason,
        reason=reason or "ok",
        number=receipt.number,
        status=receipt.status,
        content=receipt.content if isinstance(receipt.content, dict) else {},
    )
