"""The fence page (/bikeshare/fences/): list through the scope with filters, the chosen fence on
the map, the GeoJSON import form end to end (all or nothing, every problem listed), retiring,
and 200/403/302 for the demo roles."""

from __future__ import annotations

import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from govcenter.bikeshare.models import Fence, FenceVersion
from govcenter.bikeshare.services.fences import fences_import
from govcenter.core.audit import AuditEntry
from tests.factories import UserFactory

from . import test_fences as base
from .conftest import client_for
from .test_fences import XIDAN, YONGHEGONG, collection, feature, ring, to_wgs84

pytestmark = pytest.mark.django_db

URL = "/bikeshare/fences/"
fence_roles = base.fence_roles  # the fixture of test_fences.py


def upload(user, body, *, client=None, **fields):
    data = json.dumps(body, ensure_ascii=False).encode() if not isinstance(body, bytes) else body
    return (client or client_for(user)).post(
        URL, {"file": SimpleUploadedFile("fences.geojson", data, "application/geo+json"), **fields}
    )


def test_import_form_end_to_end(fence_roles):
    body = collection(
        feature(to_wgs84(ring(YONGHEGONG)), name="雍和宫停放区"),
        feature(to_wgs84(ring(XIDAN)), name="西单禁停区", kind="no_parking"),
    )
    client = client_for(fence_roles.fence_admin)
    response = upload(fence_roles.fence_admin, body, client=client, datum="WGS-84")
    assert response.status_code == 302 and response["Location"] == URL
    fences = {f.name: f for f in Fence.objects.select_related("district")}
    assert set(fences) == {"雍和宫停放区", "西单禁停区"}
    assert fences["雍和宫停放区"].source_datum == "WGS-84" and fences["西单禁停区"].kind == "no_parking"
    assert FenceVersion.objects.count() == 2
    assert AuditEntry.objects.filter(action="bikeshare.fence.import").count() == 1
    html = client.get(URL).content.decode()
    assert "已导入 2 个围栏" in html and "雍和宫停放区" in html


def test_import_form_refuses_a_bad_file_and_lists_every_problem(fence_roles):
    body = collection(feature(ring(YONGHEGONG), name="好围栏"), feature([[1, 2], [3, 4]], name="坏围栏"),
                      feature(ring(XIDAN), name="", kind="nope"))  # fmt: skip
    response = upload(fence_roles.fence_admin, body, datum="GCJ-02")
    html = response.content.decode()
    assert response.status_code == 400 and "data-import-error" in html and "未导入任何围栏" in html
    assert html.count("<li>第 ") >= 2  # the second and third features
    assert Fence.objects.count() == 0
    response = upload(fence_roles.fence_admin, b"not json", datum="GCJ-02")
    assert response.status_code == 400 and Fence.objects.count() == 0
    # A district's staff cannot import into another district.
    response = upload(fence_roles.fence_dc, collection(feature(ring(XIDAN))), datum="GCJ-02")
    assert response.status_code == 400 and Fence.objects.count() == 0


def test_list_filters_scope_map_and_retire(fence_roles):
    fences_import(None, collection(feature(ring(YONGHEGONG), name="东城停放"),
                                   feature(ring(XIDAN), name="西城禁停", kind="no_parking")), "GCJ-02")  # fmt: skip
    admin = client_for(fence_roles.fence_admin)
    html = admin.get(URL).content.decode()
    assert "东城停放" in html and "西城禁停" in html
    html = admin.get(URL, {"kind": "no_parking"}).content.decode()
    assert "东城停放" not in html and "西城禁停" in html
    html = admin.get(URL, {"district": "110101"}).content.decode()
    assert "东城停放" in html and "西城禁停" not in html
    dc = client_for(fence_roles.fence_dc).get(URL).content.decode()
    assert "东城停放" in dc and "西城禁停" not in dc  # scope by district
    xc = Fence.objects.get(name="西城禁停")
    html = admin.get(URL, {"fence": xc.pk}).content.decode()
    assert f'data-fence="{xc.pk}"' in html and "bikeshare-fence-data" in html and '"Polygon"' in html
    html = client_for(fence_roles.fence_dc).get(URL, {"fence": xc.pk}).content.decode()
    assert "bikeshare-fence-map" not in html  # out of scope: not shown
    assert client_for(fence_roles.fence_dc).post(f"{URL}{xc.pk}/retire/").status_code == 404
    response = admin.post(f"{URL}{xc.pk}/retire/", {"reason": "测试"})
    assert response.status_code == 302
    xc.refresh_from_db()
    assert xc.retired_at is not None
    assert 'data-state="retired"' in admin.get(URL).content.decode()


def test_pages_for_each_demo_role(fence_roles):
    roles = fence_roles.roles
    expected = {"data_staff": 200, "center_leader": 200, "district_manager": 200, "field_inspector": 200,
                "operator_staff": 403}  # fmt: skip
    for code, status in expected.items():
        unit = fence_roles.op_a if code == "operator_staff" else fence_roles.unit_dc
        user = UserFactory(unit=unit, role_set=[roles[code]])
        response = client_for(user).get(URL)
        assert response.status_code == status, code
        if status == 200:
            html = response.content.decode()
            can_import = code in ("data_staff", "district_manager")
            assert ('data-section="import"' in html) == can_import, code
    leader = UserFactory(unit=fence_roles.center, role_set=[roles["center_leader"]])
    assert upload(leader, collection(feature(ring(YONGHEGONG))), datum="GCJ-02").status_code == 403
    assert client_for(fence_roles.operator_a).get(URL).status_code == 403
    assert Client().get(URL).status_code == 302
