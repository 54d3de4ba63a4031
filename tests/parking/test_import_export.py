"""Bulk import/export: all row errors listed with rows and columns, all-or-nothing, dry run,
CSV and xlsx, export → import round trip, export scope, size limit, templates."""

from __future__ import annotations

import io

import pytest
from django.test import Client, override_settings
from openpyxl import load_workbook

from govcenter.core.models import AuditEntry
from govcenter.parking.models import Device, Road, Space
from govcenter.parking.services import imports as services
from tests.helpers.scope import assert_scoped
from tests.parking.factories import (
    DONGCHENG_POINT,
    XICHENG_POINT,
    DeviceFactory,
    RoadFactory,
    SegmentFactory,
    SpaceFactory,
)

pytestmark = pytest.mark.django_db
API = "/api/v1/parking"
LON, LAT = DONGCHENG_POINT


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def data(org):
    dc_seg = SegmentFactory(
        road=RoadFactory(district=org.dongcheng, managing_unit=org.unit_dc), code="DC-IMP"
    )
    xc_seg = SegmentFactory(road=RoadFactory(district=org.xicheng, managing_unit=org.unit_xc), code="XC-IMP")
    dc_space = SpaceFactory(segment=dc_seg, number="DC901")
    xc_space = SpaceFactory(segment=xc_seg, number="XC902")
    return dc_seg, xc_seg, dc_space, xc_space


def csv_bytes(lines: list[str]) -> bytes:
    return ("\ufeff" + "\r\n".join(lines) + "\r\n").encode()


HEADER = "路段编码,泊位编号,经度（GCJ-02）,纬度（GCJ-02）,泊位类型"


def good_rows(n=3, start=1):
    return [f"DC-IMP,N{i:03d},{LON + 0.00001 * i:.6f},{LAT},普通泊位" for i in range(start, start + n)]


def upload(client, kind, content: bytes, name: str, dry_run=False):
    url = f"{API}/imports/{kind}" + ("?dry_run=1" if dry_run else "")
    return client.post(url, {"file": io.BytesIO(content) if False else _named(content, name)})


def _named(content, name):
    f = io.BytesIO(content)
    f.name = name
    return f


def test_three_bad_rows_are_all_listed_and_nothing_is_written(org, data):
    lines = [
        HEADER,
        *good_rows(2),
        "DC-IMP,,116.41,39.91,普通泊位",  # row 4: number missing
        "DC-IMP,B2,abc,39.91,普通泊位",  # row 5: lon not a number
        *good_rows(1, start=10),
        "DC-IMP,B3,116.41,39.91,飞机位",  # row 7: unknown type
        f"DC-IMP,B4,{XICHENG_POINT[0]},{XICHENG_POINT[1]},普通泊位",  # row 8: outside 东城
    ]
    client = client_for(org.manager_dc)
    before = (Space.objects.count(), AuditEntry.objects.count())
    response = upload(client, "spaces", csv_bytes(lines), "spaces.csv")
    assert response.status_code == 400, response.content
    body = response.json()
    assert body["code"] == "import_invalid" and set(body) == {"code", "message", "details"}
    errors = body["details"]["errors"]
    assert [(e["row"], e["column"]) for e in errors] == [
        (4, "number"),
        (5, "lon"),
        (7, "space_type"),
        (8, "lon"),
    ]
    assert "东城区" in errors[3]["message"]
    assert body["details"]["ok"] is False and body["details"]["rows"] == 7
    assert (Space.objects.count(), AuditEntry.objects.count()) == before


def test_good_csv_applies_in_bulk(org, data):
    response = upload(client_for(org.manager_dc), "spaces", csv_bytes([HEADER, *good_rows(3)]), "s.csv")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body == {
        "ok": True,
        "kind": "spaces",
        "dry_run": False,
        "rows": 3,
        "created": 3,
        "updated": 0,
        "unchanged": 0,
        "errors": [],
    }
    assert Space.objects.filter(segment__code="DC-IMP", number__startswith="N").count() == 3
    assert AuditEntry.objects.filter(action="parking.space.bulk_create").count() == 1


def test_dry_run_writes_nothing(org, data):
    client = client_for(org.manager_dc)
    before = (Space.objects.count(), AuditEntry.objects.count())
    response = upload(client, "spaces", csv_bytes([HEADER, *good_rows(3)]), "s.csv", dry_run=True)
    assert response.status_code == 200 and response.json()["created"] == 3 and response.json()["dry_run"]
    assert (Space.objects.count(), AuditEntry.objects.count()) == before


def test_duplicate_in_file_and_existing_code_in_other_district(org, data):
    lines = [HEADER, *good_rows(1), good_rows(1)[0], "XC-IMP,X1,116.37,39.90,普通泊位"]
    response = upload(client_for(org.manager_dc), "spaces", csv_bytes(lines), "s.csv")
    errors = response.json()["details"]["errors"]
    assert [(e["row"], e["column"]) for e in errors] == [(3, "number"), (4, "segment")]  # XC-IMP not in scope


def test_xlsx_template_then_import(org, data):
    client = client_for(org.manager_dc)
    response = client.get(f"{API}/templates/spaces.xlsx")
    assert response.status_code == 200 and response["Content-Type"].startswith("application/vnd.openxml")
    book = load_workbook(io.BytesIO(response.content))
    sheet = book.worksheets[0]
    assert [c.value for c in sheet[1]][:2] == ["路段编码", "泊位编号"]
    assert [c.value for c in sheet[2]][:2] == ["segment", "number"] and sheet.row_dimensions[2].hidden
    assert sheet.data_validations.dataValidation  # drop-downs for the enums
    assert book.worksheets[1].cell(row=2, column=2).value == "001"  # the example row
    sheet.append(["DC-IMP", "X001", LON, LAT, "大型车泊位", 800, 300, "启用"])
    sheet.append(["DC-IMP", "X002", LON + 0.0001, LAT, "", None, None, ""])
    buffer = io.BytesIO()
    book.save(buffer)
    response = upload(client, "spaces", buffer.getvalue(), "filled.xlsx")
    assert response.status_code == 200, response.content
    space = Space.objects.get(number="X001")
    assert (space.space_type, space.length_cm, space.width_cm) == ("large", 800, 300)
    assert Space.objects.get(number="X002").space_type == "standard"


@pytest.mark.parametrize("fmt", ["xlsx", "csv"])
@pytest.mark.parametrize("kind", ["roads", "segments", "spaces", "devices"])
def test_export_reimport_round_trip_is_a_no_op(org, data, kind, fmt):
    DeviceFactory(space=data[2], serial="DC-GM-IMP")
    DeviceFactory(kind="high_video", segment=data[0], serial="DC-CAM-IMP")
    client = client_for(org.manager_dc)
    exported = client.get(f"{API}/exports/{kind}.{fmt}")
    assert exported.status_code == 200
    if fmt == "csv":
        assert exported.content.startswith("\ufeff".encode())
    before = AuditEntry.objects.count()
    response = upload(client, kind, exported.content, f"export.{fmt}")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["rows"] >= 1 and body["created"] == body["updated"] == 0 and body["unchanged"] == body["rows"]
    assert AuditEntry.objects.count() == before


def test_an_edited_export_updates_only_what_changed(org, data):
    client = client_for(org.manager_dc)
    text = client.get(f"{API}/exports/spaces.csv").content.decode("utf-8-sig")
    edited = text.replace("普通泊位", "新能源泊位", 1)
    response = upload(client, "spaces", edited.encode("utf-8-sig"), "e.csv")
    assert response.json()["updated"] == 1, response.content
    assert Space.objects.get(number="DC901").space_type == "new_energy"


@pytest.mark.parametrize("kind,marker", [("spaces", "DC901"), ("roads", None), ("devices", "DC-GM-X")])
def test_export_contains_only_in_scope_rows(org, data, kind, marker):
    DeviceFactory(space=data[2], serial="DC-GM-X")
    DeviceFactory(space=data[3], serial="XC-GM-X")
    client = client_for(org.manager_dc)
    for fmt in ("csv", "xlsx"):
        response = client.get(f"{API}/exports/{kind}.{fmt}")
        text = (
            response.content.decode("utf-8-sig")
            if fmt == "csv"
            else "\n".join(
                str(v)
                for row in load_workbook(io.BytesIO(response.content))
                .worksheets[0]
                .iter_rows(values_only=True)
                for v in row
            )
        )
        assert "XC902" not in text and "XC-GM-X" not in text and "XC-IMP" not in text and "110102" not in text
        if marker:
            assert marker in text
        else:
            assert "110101" in text


@override_settings(GOVCENTER_PARKING_IMPORT_MAX_BYTES=200)
def test_oversize_file_is_refused(org, data):
    response = upload(client_for(org.manager_dc), "spaces", csv_bytes([HEADER, *good_rows(10)]), "big.csv")
    assert response.status_code == 413
    assert response.json()["code"] == "file_too_large"
    assert not Space.objects.filter(number__startswith="N").exists()


@override_settings(GOVCENTER_PARKING_IMPORT_MAX_ROWS=2)
def test_too_many_rows_is_refused():
    with pytest.raises(services.ImportFileError, match="上限 2 行"):
        services.read_table("spaces", csv_bytes([HEADER, *good_rows(3)]))


@pytest.mark.parametrize(
    "content,code",
    [
        (b"", "empty_file"),
        (csv_bytes(["foo,bar"]), "unknown_columns"),
        (csv_bytes(["泊位编号"]), "missing_columns"),
        (b"PK\x03\x04garbage", "bad_file"),
    ],
)
def test_unreadable_files_are_clear_errors(org, data, content, code):
    response = upload(client_for(org.manager_dc), "spaces", content, "x.csv")
    assert response.status_code == 400 and response.json()["code"] == code, response.content


def test_roads_segments_devices_import(org, data):
    client = client_for(org.manager_dc)
    roads = csv_bytes(
        ["区划代码,道路编码,道路名称", "110101,RIMP1,导入路", "110102,RIMP2,别区路", "999999,RIMP3,无此区"]
    )
    body = upload(client, "roads", roads, "r.csv").json()
    assert [(e["row"], e["column"]) for e in body["details"]["errors"]] == [(3, "district"), (4, "district")]
    assert not Road.objects.filter(code__startswith="RIMP").exists()
    assert (
        upload(
            client, "roads", csv_bytes(["区划代码,道路编码,道路名称", "110101,RIMP1,导入路"]), "r.csv"
        ).status_code
        == 200
    )

    geometry = '"{""type"": ""LineString"", ""coordinates"": [[116.4105, 39.9137], [116.4115, 39.9137]]}"'
    segments = csv_bytes(
        [
            "区划代码,道路编码,路段编码,路段名称,地区类别,几何（GeoJSON，GCJ-02）",
            f"110101,RIMP1,SIMP1,导入路段,二类地区,{geometry}",
        ]
    )
    response = upload(client, "segments", segments, "s.csv")
    assert response.status_code == 200, response.content

    devices = csv_bytes(
        [
            "设备序列号,设备类型,路段编码,泊位编号",
            "GM-IMP-1,地磁传感器,DC-IMP,DC901",
            "CAM-IMP-1,高位视频,SIMP1,",
            "GM-IMP-2,地磁传感器,DC-IMP,NOPE",
        ]
    )
    body = upload(client, "devices", devices, "d.csv").json()
    assert [(e["row"], e["column"]) for e in body["details"]["errors"]] == [(4, "space_number")]
    assert (
        upload(
            client, "devices", csv_bytes(devices.decode("utf-8-sig").splitlines()[:3]), "d.csv"
        ).status_code
        == 200
    )
    assert Device.objects.get(serial="GM-IMP-1").space.number == "DC901"


def test_permissions_and_unknown_kind(org, data):
    assert (
        client_for(org.leader).post(f"{API}/imports/spaces", {"file": _named(b"x", "a.csv")}).status_code
        == 403
    )
    assert client_for(org.leader).get(f"{API}/exports/spaces.csv").status_code == 200
    assert client_for(org.manager_dc).get(f"{API}/exports/planes.csv").status_code == 404
    assert client_for(org.manager_dc).get(f"{API}/templates/spaces.pdf").status_code == 404


def test_ui_upload_validates_then_confirms(org, data):
    client = client_for(org.manager_dc)
    assert client.get("/parking/imports/").status_code == 200
    bad = client.post(
        "/parking/imports/spaces/", {"file": _named(csv_bytes([HEADER, "DC-IMP,,1,2,普通泊位"]), "a.csv")}
    )
    assert bad.status_code == 400 and 'id="import-errors"' in bad.content.decode()
    ok = client.post(
        "/parking/imports/spaces/", {"file": _named(csv_bytes([HEADER, *good_rows(2)]), "a.csv")}
    )
    assert (
        ok.status_code == 200 and not Space.objects.filter(number__startswith="N").exists()
    )  # validated only
    token = ok.context["token"]
    done = client.post("/parking/imports/spaces/", {"confirm": "1", "token": token})
    assert done.status_code == 302
    assert Space.objects.filter(number__startswith="N").count() == 2
    again = client.post("/parking/imports/spaces/", {"confirm": "1", "token": token})  # used up
    assert again.status_code == 302 and Space.objects.filter(number__startswith="N").count() == 2


def test_export_is_scoped_by_assert_scoped(org, data):
    _, _, dc_space, xc_space = data
    assert_scoped(
        client=client_for(org.manager_dc),
        list_url=f"{API}/spaces/",
        detail_url_for=lambda o: f"{API}/spaces/{o.pk}/",
        visible=[dc_space],
        hidden=[xc_space],
        export_url=f"{API}/exports/spaces.xlsx",
        export_marker_for=lambda o: o.number,
    )
