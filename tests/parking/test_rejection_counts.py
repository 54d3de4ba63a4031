"""Every rejection is counted per source (issue 3, "Bad input"): Excel/CSV imports (the counter
survives the import's rollback), the citizen app, payment notifications — beside device
ingest — and staff read the counters by kind of source through the API."""

from __future__ import annotations

import pytest
from django.core.cache import cache
from django.db import connection
from rest_framework.test import APIClient

from govcenter.parking.models import IngestRejection, PaymentIntent, Space
from govcenter.parking.services import imports as import_services
from tests.factories import RoleFactory, UserFactory
from tests.parking.events_helpers import network
from tests.parking.test_citizens import _code_for
from tests.parking.test_import_export import HEADER, client_for, csv_bytes, good_rows, upload
from tests.parking.test_payments import PLATE, citizen_client, create, notify, signed, stay

pytestmark = pytest.mark.django_db
API = "/api/v1/parking"


def counts(prefix: str = "") -> dict[tuple[str, str], int]:
    rows = IngestRejection.objects.filter(source__startswith=prefix)
    return {(r.source, r.reason): r.count for r in rows}


@pytest.fixture(autouse=True)
def _clear_throttles(settings):
    cache.clear()
    settings.GOVCENTER_PARKING_PAYMENT_SANDBOX = True


@pytest.fixture
def segment(org):
    from tests.parking.factories import RoadFactory, SegmentFactory

    return SegmentFactory(road=RoadFactory(district=org.dongcheng, managing_unit=org.unit_dc), code="DC-IMP")


BAD_ROWS = [HEADER, *good_rows(2), "DC-IMP,,116.41,39.91,普通泊位"]  # row 4: number missing


# -- imports -----------------------------------------------------------------------------------


def test_refused_imports_are_counted_per_user_with_their_error_code(org, segment):
    client = client_for(org.manager_dc)
    assert upload(client, "spaces", csv_bytes(BAD_ROWS), "bad.csv").json()["code"] == "import_invalid"
    assert upload(client, "spaces", csv_bytes(BAD_ROWS), "bad.csv", dry_run=True).status_code == 400
    assert upload(client, "spaces", b"", "empty.csv").json()["code"] == "empty_file"
    assert client.post(f"{API}/imports/spaces", {}).json()["code"] == "file_required"
    assert not Space.objects.filter(number__startswith="N").exists()
    assert counts("import:") == {
        ("import:t_mgr_dc", "import_invalid"): 2,
        ("import:t_mgr_dc", "empty_file"): 1,
        ("import:t_mgr_dc", "file_required"): 1,
    }
    # A good import is no rejection.
    assert upload(client, "spaces", csv_bytes([HEADER, *good_rows(2)]), "good.csv").status_code == 200
    assert sum(counts("import:").values()) == 4


@pytest.mark.django_db(transaction=True)
def test_a_rolled_back_import_still_counts_its_rejection(org, segment):
    """No test transaction around it: the import's own transaction really rolls back, and the
    counter, written after it, is committed."""
    assert not connection.in_atomic_block
    result = import_services.import_file(actor=org.manager_dc, kind="spaces", data=csv_bytes(BAD_ROWS))
    assert not result.ok and result.errors[0]["row"] == 4
    # Rows 2 and 3 were valid and written inside the import's transaction: rolled back.
    assert not Space.objects.filter(segment=segment).exists()
    assert counts("import:") == {("import:t_mgr_dc", "import_invalid"): 1}
    with pytest.raises(import_services.ImportFileError):
        import_services.import_file(
            actor=org.manager_dc, kind="spaces", data=b"PK\x03\x04garbage", filename="x.xlsx"
        )
    assert counts("import:")[("import:t_mgr_dc", "bad_file")] == 1


# -- citizens ------------------------------------------------------------------------------------


@pytest.fixture
def net(org):
    n = network(org)
    n.o1 = stay(n.sensor, PLATE, 10)
    return n


def test_citizen_refusals_are_counted_per_account_or_ip(net):
    citizen, client = citizen_client("13911110001", PLATE)
    source = f"citizen:{citizen.pk}"
    assert client.post(f"{API}/citizen/plates", {"plate": "京I12345"}, format="json").status_code == 400
    assert create(client, [net.o1.pk]).status_code == 201
    # The same order again under another key: refused (the order is in a live payment).
    assert create(client, [net.o1.pk], key="key-00000002").json()["code"] == "order_in_payment"
    assert create(client, [net.o1.pk], key="short").json()["code"] == "idempotency_key_required"
    assert client.post(f"{API}/citizen/payments", {"order_ids": []}, format="json").status_code == 400
    assert counts("citizen:") == {
        (source, "invalid_plate"): 1,
        (source, "order_in_payment"): 1,
        (source, "idempotency_key_required"): 1,
        (source, "invalid_request"): 1,
    }
    # Not logged in: counted by the caller's address.
    anon = APIClient()
    assert anon.post(f"{API}/citizen/sms-code", {"phone": "13911113333"}, format="json").status_code == 202
    wrong = "000000" if _code_for("13911113333") != "000000" else "111111"
    response = anon.post(f"{API}/citizen/login", {"phone": "13911113333", "code": wrong}, format="json")
    assert response.json()["code"] == "invalid_code"
    assert anon.get(f"{API}/public/arrears", {"plate": "nonsense"}).status_code == 400
    assert APIClient(HTTP_AUTHORIZATION="Bearer ct_forged").get(f"{API}/citizen/plates").status_code == 401
    assert counts("ip:") == {
        ("ip:127.0.0.1", "invalid_code"): 1,
        ("ip:127.0.0.1", "invalid_plate"): 1,
        ("ip:127.0.0.1", "bad_token"): 1,
    }


# -- payment notifications --------------------------------------------------------------------------


def test_tampered_wrong_amount_and_replayed_notifications_are_counted_per_provider(net):
    _citizen, client = citizen_client("13911110001", PLATE)
    intent = PaymentIntent.objects.get(out_trade_no=create(client, [net.o1.pk]).json()["out_trade_no"])
    headers, body = signed(intent)
    tampered = body.replace(b'"amount_fen": ', b'"amount_fen": 1')
    assert notify(headers, tampered).json()["code"] == "bad_signature"
    assert notify({}, body).json()["code"] == "signature_missing"
    assert notify(*signed(intent, amount_fen=1)).json()["code"] == "amount_mismatch"
    assert notify(*signed(intent, out_trade_no="PK-NOPE")).json()["code"] == "unknown_trade"
    assert notify(*signed(intent)).status_code == 200  # taken: not a rejection
    assert notify(*signed(intent)).status_code == 200  # replayed: acknowledged, changes nothing, counted
    assert counts("provider:") == {
        ("provider:sandbox", "bad_signature"): 1,
        ("provider:sandbox", "signature_missing"): 1,
        ("provider:sandbox", "amount_mismatch"): 1,
        ("provider:sandbox", "unknown_trade"): 1,
        ("provider:sandbox", "replayed_notification"): 1,
    }


# -- staff view -------------------------------------------------------------------------------------


def test_staff_read_the_counters_filtered_by_kind(org, net, segment):
    from govcenter.parking.services.events import events_ingest
    from tests.parking.events_helpers import ago, ev

    events_ingest(device=net.sensor, events=[ev("park_start", ago(minutes=5), vehicle_license_plate="bad")])
    upload(client_for(org.manager_dc), "spaces", csv_bytes(BAD_ROWS), "bad.csv")
    citizen, client = citizen_client("13911110001", PLATE)
    client.post(f"{API}/citizen/plates", {"plate": "京I12345"}, format="json")
    assert {r.split(":")[0] for r, _ in counts()} == {"device", "import", "citizen"}

    role = RoleFactory(code="t-rejections", scope_kind="all", perms=["parking.view_ingestrejection"])
    staff = APIClient()
    staff.force_authenticate(UserFactory(username="t_ops", unit=org.center, role_set=[role]))
    body = staff.get(f"{API}/rejections/", {"kind": "import"}).json()
    assert [(r["source"], r["kind"], r["reason"], r["count"]) for r in body["results"]] == [
        ("import:t_mgr_dc", "import", "import_invalid", 1)
    ]
    rows = staff.get(f"{API}/rejections/", {"kind": "citizen"}).json()["results"]
    assert [(r["source"], r["reason"]) for r in rows] == [(f"citizen:{citizen.pk}", "invalid_plate")]
    assert [r["kind"] for r in staff.get(f"{API}/rejections/", {"kind": "device"}).json()["results"]] == [
        "device"
    ]
    summary = staff.get(f"{API}/rejections/summary/").json()
    assert summary == [
        {"kind": "citizen", "count": 1},
        {"kind": "device", "count": 1},
        {"kind": "import", "count": 1},
    ]
    bad = staff.get(f"{API}/rejections/", {"kind": "nonsense"})
    assert bad.status_code == 400 and bad.json()["code"] == "invalid_kind"
    # Without the permission: refused; anonymous: 401.
    other = APIClient()
    other.force_authenticate(org.manager_dc)
    assert other.get(f"{API}/rejections/").status_code == 403
    assert APIClient().get(f"{API}/rejections/").status_code in (401, 403)


# The page's URL line goes into parking/urls.py (/tmp/shared-lines/parking-rejections.md); until
# then this module is the URLconf of the page test: the project's, with the page added.
def _urlpatterns():
    from django.urls import include, path

    import govcenter.parking.urls as parking_urls
    import govcenter.urls as root
    from govcenter.parking.views import rejections as rejection_views

    parking = [*parking_urls.urlpatterns, *rejection_views.urlpatterns]
    return [
        *(p for p in root.urlpatterns if str(p.pattern) != "parking/"),
        path("parking/", include((parking, "parking"))),
    ]


urlpatterns = _urlpatterns()


@pytest.mark.urls(__name__)
def test_staff_page_lists_the_counters_by_kind(org, segment):
    from django.urls import reverse

    upload(client_for(org.manager_dc), "spaces", csv_bytes(BAD_ROWS), "bad.csv")
    IngestRejection.objects.create(source="provider:sandbox", reason="bad_signature", count=3)
    role = RoleFactory(code="t-rejections-ui", scope_kind="all", perms=["parking.view_ingestrejection"])
    staff = client_for(UserFactory(username="t_ops_ui", unit=org.center, role_set=[role]))
    url = reverse("parking:rejection_list")
    html = staff.get(url).content.decode()
    assert 'data-source="import:t_mgr_dc"' in html and 'data-source="provider:sandbox"' in html
    html = staff.get(url, {"kind": "provider"}).content.decode()
    assert 'data-source="provider:sandbox"' in html and "import:t_mgr_dc" not in html
    assert "bad_signature" in html and ">3<" in html
    assert client_for(org.manager_dc).get(url).status_code == 403


@pytest.mark.urls(__name__)
def test_device_integrators_do_not_read_the_city_wide_counters(org, net, segment):
    """The counters are unscoped and name citizens, addresses and staff: the district-scoped,
    external device integrator role does not get them; the Center's roles do."""
    upload(client_for(org.manager_dc), "spaces", csv_bytes(BAD_ROWS), "bad.csv")
    citizen, client = citizen_client("13911110001", PLATE)
    client.post(f"{API}/citizen/plates", {"plate": "京I12345"}, format="json")
    integrator = UserFactory(
        username="t_integrator", unit=org.unit_dc, role_set=[org.roles["device_integrator"]]
    )
    assert integrator.has_perm("parking.view_deviceevent")
    assert not integrator.has_perm("parking.view_ingestrejection")
    api = APIClient()
    api.force_authenticate(integrator)
    assert api.get(f"{API}/rejections/").status_code == 403
    assert api.get(f"{API}/rejections/summary/").status_code == 403
    from django.urls import reverse

    assert client_for(integrator).get(reverse("parking:rejection_list")).status_code == 403
    assert org.leader.has_perm("parking.view_ingestrejection")
    staff = APIClient()
    staff.force_authenticate(org.leader)
    sources = {r["source"] for r in staff.get(f"{API}/rejections/").json()["results"]}
    assert {"import:t_mgr_dc", f"citizen:{citizen.pk}"} <= sources


def test_a_missing_or_oversize_upload_is_refused_and_counted_by_the_service(org, segment, settings):
    """One service call refuses (before reading) and counts an upload missing or over the limit;
    the API and the page only translate its refusal."""
    from django.core.files.uploadedfile import SimpleUploadedFile
    from django.urls import reverse

    settings.GOVCENTER_PARKING_IMPORT_MAX_BYTES = 200
    with pytest.raises(import_services.ImportFileError) as missing:
        import_services.import_upload(actor=org.manager_dc, kind="spaces", upload=None)
    assert missing.value.code == "file_required"
    big = SimpleUploadedFile("big.csv", csv_bytes([HEADER, *good_rows(10)]))
    with pytest.raises(import_services.ImportFileError) as too_large:
        import_services.import_upload(actor=org.manager_dc, kind="spaces", upload=big)
    assert too_large.value.code == "file_too_large" and big.tell() == 0  # never read
    assert counts("import:") == {
        ("import:t_mgr_dc", "file_required"): 1,
        ("import:t_mgr_dc", "file_too_large"): 1,
    }
    response = upload(client_for(org.manager_dc), "spaces", big.open().read(), "big.csv")
    assert response.status_code == 413 and response.json()["details"] == {
        "limit_bytes": 200,
        "size_bytes": big.size,
    }
    assert counts("import:")[("import:t_mgr_dc", "file_too_large")] == 2
    page = client_for(org.manager_dc).post(
        reverse("parking:import_page", kwargs={"kind": "spaces"}),
        {"file": SimpleUploadedFile("big.csv", big.open().read())},
    )
    assert page.status_code == 400
    assert counts("import:")[("import:t_mgr_dc", "file_too_large")] == 3
    assert not Space.objects.filter(segment=segment).exists()
