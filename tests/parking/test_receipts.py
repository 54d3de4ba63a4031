"""E-receipts: issue (per order, merged), numbering, the one-receipt-per-order rule, void (红冲),
verify and tamper detection, the citizen and public API with their 4xx shapes, the PDF with
the embedded Chinese font, the staff API and pages in scope."""

from __future__ import annotations

import base64
import hashlib
import os
import re
import subprocess
from pathlib import Path
from urllib.parse import quote

import pytest
from django.core.cache import cache
from django.db import IntegrityError, transaction
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from govcenter.core import crypto
from govcenter.core.models import AuditEntry
from govcenter.parking.models import Order, OrderState
from govcenter.parking.models.receipts import Receipt, ReceiptItem, ReceiptSeries
from govcenter.parking.receipts_pdf import FONT_PATH
from govcenter.parking.services import receipts as services
from tests.factories import UserFactory
from tests.helpers.scope import assert_requires_login, assert_scoped
from tests.parking.events_helpers import network
from tests.parking.test_payments import citizen_client, stay

pytestmark = pytest.mark.django_db
API = "/api/v1/parking"
PLATE = "京A12345"


@pytest.fixture(autouse=True)
def _clear_throttles():
    cache.clear()


def pay(order: Order) -> Order:
    """Settle a billed order as the payment callback does (the order's own transition)."""
    order.pay(amount_fen=order.amount_paid_fen + order.payable_fen)
    order.save()
    return order


@pytest.fixture
def net(org):
    n = network(org)
    n.o1 = pay(stay(n.sensor, PLATE, 10))
    n.o2 = pay(stay(n.sensor, PLATE, 8))
    n.o3 = pay(stay(n.sensor, PLATE, 6))
    n.unpaid = stay(n.sensor, PLATE, 4)
    n.xc = pay(stay(n.xc_sensor, PLATE, 10))
    n.foreign = pay(stay(n.sensor, "京B54321", 2))
    return n


@pytest.fixture
def alice(net):
    return citizen_client("13911110001", PLATE)


def issue(client, order_ids, merge=False):
    return client.post(f"{API}/citizen/receipts", {"order_ids": order_ids, "merge": merge}, format="json")


def verify_url(number: str) -> str:
    return f"{API}/receipts/{quote(number)}/verify"


def assert_error(response, status: int, code: str) -> dict:
    assert response.status_code == status, (response.status_code, response.content[:300])
    body = response.json()
    assert set(body) == {"code", "message", "details"} and body["code"] == code, body
    return body


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


# -- money in words ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fen", "words"),
    [
        (0, "零元整"),
        (1, "壹分"),
        (10, "壹角"),
        (15, "壹角伍分"),
        (100, "壹元整"),
        (1050, "壹拾元伍角"),
        (1001, "壹拾元零壹分"),
        (100005, "壹仟元零伍分"),
        (101000, "壹仟零壹拾元整"),
        (123456789, "壹佰贰拾叁万肆仟伍佰陆拾柒元捌角玖分"),
        (100010000, "壹佰万零壹佰元整"),
        (10000000000, "壹亿元整"),
        (10000010000, "壹亿零壹佰元整"),
        (10001000000, "壹亿零壹万元整"),
        (20000000, "贰拾万元整"),
    ],
)
def test_rmb_capital(fen, words):
    assert services.rmb_capital(fen) == words


def test_rmb_capital_refuses_negative_and_format_yuan():
    with pytest.raises(ValueError):
        services.rmb_capital(-1)
    assert services.format_yuan(0) == "¥0.00"
    assert services.format_yuan(123456) == "¥1,234.56"


# -- issue ---------------------------------------------------------------------------------------


def test_issue_one_receipt_signed_numbered_and_audited(net, alice):
    citizen, client = alice
    response = issue(client, [net.o1.pk])
    assert response.status_code == 201, response.json()
    [body] = response.json()
    year = timezone.localtime().year
    assert body["number"] == f"京停110101-{year}-00000001"
    assert body["status"] == "issued" and body["total_fen"] == net.o1.amount_paid_fen > 0
    assert body["payer_plate"] == "京A·***45" and "12345" not in str(body)
    assert body["items"] == [{"order_id": net.o1.pk, "amount_fen": net.o1.amount_paid_fen}]

    receipt = Receipt.objects.get(number=body["number"])
    assert receipt.citizen == citizen and receipt.district == net.o1.district
    assert receipt.payee_unit == net.o1.managing_unit
    content = receipt.content
    assert content["number"] == receipt.number and content["total_fen"] == receipt.total_fen
    assert content["district"] == {"code": "110101", "name": "东城区"}
    assert content["items"][0]["segment"]["code"] == net.dc_seg.code
    assert content["total_capital"] == services.rmb_capital(receipt.total_fen)
    _private, public = crypto.system_keypair()
    data = services.canonical_bytes(content)
    assert crypto.sm2_verify(public, data, base64.b64decode(receipt.signature))
    assert receipt.content_sm3 == crypto.sm3_hex(data) and receipt.key_id == services.key_id(public)
    assert ReceiptSeries.objects.get(district=net.o1.district, year=year).next_number == 2
    assert AuditEntry.objects.filter(action="parking.receipt.issue", object_id=str(receipt.pk)).count() == 1


def test_one_receipt_per_order_numbers_follow_and_repeats_return_the_same(net, alice):
    _, client = alice
    response = issue(client, [net.o1.pk, net.o2.pk])
    assert response.status_code == 201
    numbers = [r["number"] for r in response.json()]
    assert [n[-8:] for n in numbers] == ["00000001", "00000002"]
    again = issue(client, [net.o2.pk, net.o1.pk])
    assert again.status_code == 200 and sorted(r["number"] for r in again.json()) == sorted(numbers)
    assert Receipt.objects.count() == 2


def test_merged_receipt_and_an_order_is_on_one_issued_receipt_only(net, alice):
    _, client = alice
    response = issue(client, [net.o1.pk, net.o2.pk], merge=True)
    assert response.status_code == 201
    [body] = response.json()
    assert body["total_fen"] == net.o1.amount_paid_fen + net.o2.amount_paid_fen
    assert sorted(i["order_id"] for i in body["items"]) == sorted([net.o1.pk, net.o2.pk])
    assert issue(client, [net.o1.pk, net.o2.pk], merge=True).status_code == 200  # the same receipt
    body = assert_error(issue(client, [net.o1.pk]), 409, "order_has_receipt")
    assert body["details"] == {"order_ids": [net.o1.pk]}
    assert_error(issue(client, [net.o1.pk, net.o2.pk, net.o3.pk], merge=True), 409, "order_has_receipt")
    assert Receipt.objects.count() == 1


def test_a_refused_request_consumes_no_number(net, alice):
    """All-or-nothing: the first order's receipt is rolled back with its number."""
    _, client = alice
    assert issue(client, [net.o2.pk, net.o3.pk], merge=True).status_code == 201  # 00000001
    assert_error(issue(client, [net.o1.pk, net.o2.pk], merge=False), 409, "order_has_receipt")
    assert Receipt.objects.count() == 1
    [body] = issue(client, [net.o1.pk]).json()
    assert body["number"].endswith("-00000002")


def test_issue_refusals_have_the_error_shape(net, alice):
    _, client = alice
    body = assert_error(issue(client, [net.o1.pk, net.xc.pk], merge=True), 400, "districts_differ")
    assert body["details"] == {"districts": ["110101", "110102"]}
    body = assert_error(issue(client, [net.o1.pk, net.unpaid.pk]), 400, "order_not_paid")
    assert body["details"] == {str(net.unpaid.pk): "billed"}
    body = assert_error(issue(client, [net.foreign.pk]), 404, "order_not_found")
    assert body["details"] == {"order_ids": [net.foreign.pk]}
    assert_error(issue(client, [999999]), 404, "order_not_found")
    assert_error(issue(client, []), 400, "invalid")
    assert_error(client.post(f"{API}/citizen/receipts", {"order_ids": "x"}, format="json"), 400, "invalid")
    assert_error(issue(APIClient(), [net.o1.pk]), 401, "not_authenticated")
    assert Receipt.objects.count() == 0
    # Separately, each is fine; different districts make two series.
    response = issue(client, [net.o1.pk, net.xc.pk])
    assert response.status_code == 201
    year = timezone.localtime().year
    assert {r["number"] for r in response.json()} == {
        f"京停110101-{year}-00000001",
        f"京停110102-{year}-00000001",
    }


def test_a_zero_fen_order_needs_no_receipt(net, alice):
    _, client = alice
    order = Order.objects.get(pk=net.o3.pk)
    Order.objects.filter(pk=order.pk).update(amount_paid_fen=0)
    assert_error(issue(client, [order.pk]), 400, "nothing_paid")


def test_the_database_refuses_a_second_live_item_for_an_order(net, alice):
    _, client = alice
    [body] = issue(client, [net.o1.pk]).json()
    receipt = Receipt.objects.get(number=body["number"])
    with pytest.raises(IntegrityError), transaction.atomic():
        ReceiptItem.objects.create(receipt=Receipt.objects.get(pk=receipt.pk), order=net.o2, amount_fen=1)
        ReceiptItem.objects.create(
            receipt=_copy_receipt(receipt, sequence=99), order_id=net.o1.pk, amount_fen=1
        )


def _copy_receipt(receipt: Receipt, *, sequence: int) -> Receipt:
    receipt.pk = None
    receipt.sequence = sequence
    receipt.number = f"{receipt.number}-copy"
    receipt.save(force_insert=True)
    return receipt


def test_paid_through_the_sandbox_then_receipt(net, alice, settings):
    """End to end: a billed order paid at the sandbox cashier gets a receipt."""
    settings.GOVCENTER_PARKING_PAYMENT_SANDBOX = True
    _, client = alice
    created = client.post(
        f"{API}/citizen/payments",
        {"order_ids": [net.unpaid.pk]},
        format="json",
        HTTP_IDEMPOTENCY_KEY="rcpt-key-01",
    ).json()
    assert_error(issue(client, [net.unpaid.pk]), 400, "order_not_paid")
    assert APIClient().post(created["pay_url"]).json()["notify_status"] == 200
    response = issue(client, [net.unpaid.pk])
    assert response.status_code == 201 and response.json()[0]["total_fen"] == created["total_fen"]


def test_pay_by_plate_payer_gets_a_merged_receipt_and_its_pdf(net, settings):
    """临时代缴: no account — the payment number plus the plate bring the receipt and its PDF."""
    settings.GOVCENTER_PARKING_PAYMENT_SANDBOX = True
    anon = APIClient()
    other = stay(net.sensor, PLATE, 2)
    created = anon.post(
        f"{API}/public/payments",
        {"plate": PLATE, "order_ids": [net.unpaid.pk, other.pk]},
        format="json",
        HTTP_IDEMPOTENCY_KEY="anon-rcpt-0001",
    ).json()
    url = f"{API}/public/payments/{created['out_trade_no']}/receipts"
    assert_error(anon.post(url, {"plate": PLATE}, format="json"), 404, "payment_not_found")  # not paid yet
    assert anon.post(created["pay_url"]).json()["notify_status"] == 200
    assert_error(anon.post(url, {"plate": "京B54321"}, format="json"), 404, "payment_not_found")
    assert_error(anon.post(url, {"plate": "not a plate"}, format="json"), 400, "invalid_plate")
    response = anon.post(url, {"plate": PLATE}, format="json")
    assert response.status_code == 201, response.json()
    [receipt] = response.json()
    assert receipt["total_fen"] == created["total_fen"] and receipt["payer_plate"] == "京A·***45"
    stored = Receipt.objects.get(number=receipt["number"])
    assert stored.citizen is None
    assert set(stored.items.values_list("order_id", flat=True)) == {net.unpaid.pk, other.pk}
    assert services.receipt_verify(number=stored.number).valid
    again = anon.post(url, {"plate": PLATE}, format="json")  # asking again: the same receipt
    assert again.status_code == 200 and again.json()[0]["number"] == receipt["number"]
    pdf_url = f"{url}/{quote(receipt['number'])}/pdf"
    pdf = anon.get(pdf_url, {"plate": PLATE})
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF-")
    assert_error(anon.get(pdf_url, {"plate": "京B54321"}), 404, "payment_not_found")
    assert_error(anon.get(pdf_url), 400, "invalid")


# -- citizen reads and the PDF -------------------------------------------------------------------


def test_citizen_lists_and_reads_only_own_receipts(net, alice):
    _, client = alice
    [mine] = issue(client, [net.o1.pk]).json()
    _, bob = citizen_client("13911110002", "京B54321")
    [his] = issue(bob, [net.foreign.pk]).json()
    listed = client.get(f"{API}/citizen/receipts").json()
    assert [r["number"] for r in listed["results"]] == [mine["number"]] and listed["count"] == 1
    assert client.get(f"{API}/citizen/receipts/{quote(mine['number'])}").json()["number"] == mine["number"]
    assert_error(client.get(f"{API}/citizen/receipts/{quote(his['number'])}"), 404, "not_found")
    assert_error(client.get(f"{API}/citizen/receipts/{quote(his['number'])}/pdf"), 404, "not_found")
    assert_error(APIClient().get(f"{API}/citizen/receipts"), 401, "not_authenticated")


def test_pdf_embeds_the_chinese_font_and_shows_the_number(net, alice):
    _, client = alice
    [body] = issue(client, [net.o1.pk, net.o2.pk], merge=True).json()
    response = client.get(f"{API}/citizen/receipts/{quote(body['number'])}/pdf")
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    pdf = response.content
    assert pdf.startswith(b"%PDF-") and pdf.rstrip().endswith(b"%%EOF")
    assert b"/FontFile2" in pdf, "the TrueType font is not embedded"
    assert re.search(rb"/BaseFont /[A-Z]{6}\+WenQuanYiMicroHei", pdf), "not the vendored font (subset)"
    # The number is in the document information (UTF-16BE, as PDF text strings with CJK are).
    encoded = body["number"].encode("utf-16-be").hex().upper().encode()
    assert encoded in pdf.upper() or body["number"].encode() in pdf
    assert 5_000 < len(pdf) < 400_000  # the font is subset again per document


def test_vendored_font_covers_what_receipts_print():
    from fontTools.ttLib import TTFont

    cmap = TTFont(FONT_PATH).getBestCmap()
    text = "·北京市道路停车电子收费票据号码开票时间所属区收款单位交款人车牌合计大写壹贰叁肆伍陆柒捌玖拾佰仟万亿元角分整零（）：¥、0123456789ABCXYZ京津冀"
    assert not [c for c in text if ord(c) not in cmap]
    assert FONT_PATH.stat().st_size < 3 * 1024 * 1024
    assert (FONT_PATH.parent / "LICENSE").read_text().count("Apache License") >= 1
    assert "sha256" in (FONT_PATH.parent / "PROVENANCE.md").read_text()


# -- verify --------------------------------------------------------------------------------------


@pytest.fixture
def receipt(net, alice):
    _, client = alice
    [body] = issue(client, [net.o1.pk]).json()
    return Receipt.objects.get(number=body["number"])


def test_verify_a_good_receipt_anonymously_with_masked_data_only(receipt):
    response = APIClient().get(verify_url(receipt.number))
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["valid"] is True and body["reason"] == "ok" and body["status"] == "issued"
    assert body["content"]["number"] == receipt.number
    assert "12345" not in response.content.decode() and "13911110001" not in response.content.decode()
    with_sig = APIClient().get(verify_url(receipt.number), {"signature": receipt.signature}).json()
    assert with_sig["valid"] is True
    presented = APIClient().post(
        verify_url(receipt.number),
        {"signature": receipt.signature, "content": receipt.content},
        format="json",
    )
    assert presented.json()["valid"] is True


def test_tampered_content_in_the_database_is_detected(receipt):
    content = dict(receipt.content, total_fen=1)
    Receipt.objects.filter(pk=receipt.pk).update(content=content)
    body = APIClient().get(verify_url(receipt.number)).json()
    assert body["valid"] is False and body["reason"] == "bad_signature"


def test_tampered_columns_are_detected(receipt):
    Receipt.objects.filter(pk=receipt.pk).update(total_fen=receipt.total_fen + 100)
    assert services.receipt_verify(number=receipt.number).reason == "content_mismatch"
    Receipt.objects.filter(pk=receipt.pk).update(total_fen=receipt.total_fen)
    ReceiptItem.objects.filter(receipt=receipt).update(amount_fen=1)
    assert services.receipt_verify(number=receipt.number).reason == "content_mismatch"


def test_a_receipt_re_signed_with_another_key_is_refused(receipt):
    private, public = crypto.sm2_generate_keypair()
    content = dict(receipt.content, total_fen=1, key_id=services.key_id(public))
    Receipt.objects.filter(pk=receipt.pk).update(
        content=content,
        total_fen=1,
        key_id=services.key_id(public),
        public_key=public,
        signature=base64.b64encode(crypto.sm2_sign(private, services.canonical_bytes(content))).decode(),
    )
    result = services.receipt_verify(number=receipt.number)
    assert result.valid is False and result.reason == "untrusted_key"


def test_presented_signature_or_content_that_differ(receipt, net, alice):
    _, client = alice
    [other] = issue(client, [net.o2.pk]).json()
    body = APIClient().get(verify_url(receipt.number), {"signature": other["signature"]}).json()
    assert body["valid"] is False and body["reason"] == "signature_differs"
    forged = dict(receipt.content, total_fen=1)
    body = APIClient().post(verify_url(receipt.number), {"content": forged}, format="json").json()
    assert body["valid"] is False and body["reason"] == "content_differs"
    body = APIClient().get(verify_url(receipt.number), {"signature": "not base64!"}).json()
    assert body["reason"] == "signature_differs"


def test_verify_errors_and_throttle(receipt, settings):
    assert_error(APIClient().get(verify_url("京停110101-2000-00000001")), 404, "receipt_not_found")
    assert_error(
        APIClient().post(verify_url(receipt.number), {"content": [1]}, format="json"), 400, "invalid"
    )
    settings.GOVCENTER_PARKING_RECEIPT_VERIFY_RATE = "2/min"
    cache.clear()
    client = APIClient()
    assert client.get(verify_url(receipt.number)).status_code == 200
    assert client.get(verify_url(receipt.number)).status_code == 200
    assert_error(client.get(verify_url(receipt.number)), 429, "throttled")


# -- void (红冲) ----------------------------------------------------------------------------------


def test_staff_void_frees_the_order_and_verify_reports_it(org, receipt, net, alice):
    _, citizen = alice
    api = client_for(org.manager_dc)
    url = f"{API}/receipts/{receipt.pk}/void/"
    assert_error(api.post(url, {}, content_type="application/json"), 400, "invalid")
    assert_error(
        client_for(org.manager_xc).post(url, {"reason": "x"}, content_type="application/json"),
        404,
        "not_found",
    )
    assert_error(
        client_for(org.leader).post(url, {"reason": "x"}, content_type="application/json"),
        403,
        "permission_denied",
    )
    response = api.post(url, {"reason": "交款人信息有误"}, content_type="application/json")
    assert response.status_code == 200, response.json()
    assert response.json()["status"] == "voided" and response.json()["void_reason"] == "交款人信息有误"
    assert_error(api.post(url, {"reason": "again"}, content_type="application/json"), 409, "receipt_voided")
    entry = AuditEntry.objects.get(action="parking.receipt.void", object_id=str(receipt.pk))
    assert entry.reason == "交款人信息有误" and entry.username == org.manager_dc.username
    assert not ReceiptItem.objects.filter(receipt=receipt, live=True).exists()

    body = APIClient().get(verify_url(receipt.number)).json()
    assert body["valid"] is False and body["reason"] == "voided" and body["status"] == "voided"
    [again] = issue(citizen, [net.o1.pk]).json()
    assert again["number"] != receipt.number and again["number"].endswith("-00000002")
    voided_pdf = citizen.get(f"{API}/citizen/receipts/{quote(receipt.number)}/pdf")
    assert voided_pdf.status_code == 200 and voided_pdf.content.startswith(b"%PDF")


def test_void_service_needs_a_reason_and_scope(org, receipt):
    from govcenter.core.api.errors import ServiceError

    with pytest.raises(ServiceError) as exc:
        services.receipt_void(actor=org.manager_dc, receipt=receipt, reason="  ")
    assert exc.value.error_code == "reason_required"
    with pytest.raises(ServiceError) as exc:
        services.receipt_void(actor=org.manager_xc, receipt=receipt, reason="越权")
    assert exc.value.status_code == 404
    receipt.refresh_from_db()
    assert receipt.status == "issued"


# -- staff API and pages -------------------------------------------------------------------------


@pytest.fixture
def two_districts(net, alice):
    _, client = alice
    dc, xc = issue(client, [net.o1.pk, net.xc.pk]).json()
    return Receipt.objects.get(number=dc["number"]), Receipt.objects.get(number=xc["number"])


def test_staff_api_is_scoped(org, two_districts):
    dc, xc = two_districts
    assert_scoped(
        client=client_for(org.manager_dc),
        list_url=f"{API}/receipts/",
        detail_url_for=lambda r: f"{API}/receipts/{r.pk}/",
        visible=[dc],
        hidden=[xc],
        expected_count=1,
        search_param="number",
        search_term_for=lambda r: r.number,
    )
    assert_requires_login(Client(), f"{API}/receipts/")
    assert client_for(UserFactory(unit=org.office)).get(f"{API}/receipts/").status_code == 403
    leader = client_for(org.leader).get(f"{API}/receipts/?status=issued").json()
    assert leader["count"] == 2


def test_staff_pages_are_scoped_with_verify_and_void(org, two_districts):
    dc, xc = two_districts
    assert_scoped(
        client=client_for(org.manager_dc),
        list_url="/parking/receipts/",
        detail_url_for=lambda r: f"/parking/receipts/{r.pk}/",
        visible=[dc],
        hidden=[xc],
        expected_count=1,
        search_param="number",
        search_term_for=lambda r: r.number,
    )
    assert_requires_login(Client(), "/parking/receipts/")
    client = client_for(org.manager_dc)
    page = client.get(f"/parking/receipts/{dc.pk}/").content.decode()
    assert (
        'data-verify="ok"' in page and "京A12345" not in page and f"/parking/receipts/{dc.pk}/void/" in page
    )
    assert client.get(f"/parking/receipts/{xc.pk}/pdf/").status_code == 404
    pdf = client.get(f"/parking/receipts/{dc.pk}/pdf/")
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    assert client.post(f"/parking/receipts/{xc.pk}/void/", {"reason": "x"}).status_code == 404
    response = client.post(f"/parking/receipts/{dc.pk}/void/", {"reason": "重开"})
    assert response.status_code == 302
    dc.refresh_from_db()
    assert dc.status == "voided"
    page = client.get(f"/parking/receipts/{dc.pk}/").content.decode()
    assert 'data-verify="voided"' in page and "/void/" not in page
    filtered = client.get("/parking/receipts/?status=voided").content.decode()
    assert 'data-total-count="1"' in filtered
    filtered = client.get("/parking/receipts/?status=issued").content.decode()
    assert 'data-total-count="0"' in filtered
    assert client_for(org.leader).post(f"/parking/receipts/{xc.pk}/void/", {"reason": "x"}).status_code == 403


def test_nav_item_shows_for_receipt_readers(org):
    page = client_for(org.manager_dc).get("/parking/receipts/").content.decode()
    assert 'href="/parking/receipts/"' in page
    assert client_for(UserFactory(unit=org.office)).get("/parking/receipts/").status_code == 403


def test_order_state_unchanged_by_receipts(receipt, net):
    assert Order.objects.get(pk=net.o1.pk).state == OrderState.PAID


DEB = Path(os.environ.get("WQY_MICROHEI_DEB", "/tmp/fonts-wqy-microhei_0.2.0-beta-3.1_all.deb"))


@pytest.mark.skipif(
    not DEB.is_file(), reason=f"the fonts-wqy-microhei package is not at {DEB} (WQY_MICROHEI_DEB)"
)
def test_bin_subset_font_reproduces_the_vendored_font(tmp_path):
    out = tmp_path / "font.ttf"
    script = Path(__file__).resolve().parents[2] / "bin" / "subset-font"
    subprocess.run(
        [str(script), str(DEB)],
        env={**os.environ, "SUBSET_FONT_OUT": str(out)},
        check=True,
        capture_output=True,
    )
    assert hashlib.sha256(out.read_bytes()).hexdigest() == hashlib.sha256(FONT_PATH.read_bytes()).hexdigest()
