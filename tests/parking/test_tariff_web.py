"""POST /api/v1/parking/quote and the tariff plan pages."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from django.core.cache import cache
from django.test import Client
from django.utils import timezone

from govcenter.core.models import AuditEntry
from govcenter.core.tokens import api_token_create
from govcenter.parking.models import TariffPlan
from govcenter.parking.services.tariffs import tariff_seed_beijing_standard
from tests.factories import RoleFactory, UserFactory

pytestmark = pytest.mark.django_db
SH = ZoneInfo("Asia/Shanghai")
URL = "/api/v1/parking/quote"
STAY = {
    "area_class": 1,
    "vehicle": "small",
    "start": "2025-03-04T08:00:00+08:00",
    "end": "2025-03-04T09:30:00+08:00",
}


@pytest.fixture(autouse=True)
def _fresh_throttle():
    cache.clear()  # throttle history lives in the cache
    yield
    cache.clear()


@pytest.fixture
def seeded():
    tariff_seed_beijing_standard()


def post(client, body):
    return client.post(URL, body, content_type="application/json")


def assert_error(response, field, code="invalid"):
    assert response.status_code == 400, response.content
    body = response.json()
    assert set(body) == {"code", "message", "details"} and body["code"] == code, body
    assert field in body["details"], body
    return body


# --------------------------------------------------------------------------------------------
# API
# --------------------------------------------------------------------------------------------


def test_anonymous_quote_matches_the_cli_shape(seeded):
    response = post(Client(), STAY)
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["amount_fen"] == 1750
    assert body["plan"]["code"] == "bj-road-class-1" and body["plan"]["version"] == 1
    assert [(line["units"], line["unit_fen"], line["note"]) for line in body["lines"]] == [
        (4, 250, "首小时"),
        (2, 375, "首小时后"),
    ]
    assert body["lines"][1]["from"] == "2025-03-04T09:00:00+08:00"


def test_token_quote_for_a_large_vehicle_across_midnight(seeded):
    user = UserFactory()
    client = Client(HTTP_AUTHORIZATION=f"Bearer {api_token_create(user=user, name='t')}")
    body = {
        **STAY,
        "vehicle": "large",
        "start": "2025-03-04T22:00:00+08:00",
        "end": "2025-03-05T08:01:00+08:00",
    }
    response = post(client, body)
    assert response.status_code == 200, response.content
    assert response.json()["amount_fen"] == 2 * 1875


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"area_class": 4}, "area_class"),
        ({"area_class": "one"}, "area_class"),
        ({"vehicle": "bus"}, "vehicle"),
        ({"start": "2025-03-04T08:00:00"}, "start"),
        ({"end": "not a time"}, "end"),
        ({"end": "2025-03-04T08:60:00+08:00"}, "end"),
        ({"start": 1741046400}, "start"),
        ({"end": "2025-03-04T07:00:00+08:00"}, "end"),
        ({"at": "2025-03-04"}, "at"),
    ],
)
def test_bad_input_is_400_naming_the_field(seeded, change, field):
    body = assert_error(post(Client(), {**STAY, **change}), field)
    if change == {"start": "2025-03-04T08:00:00"}:
        assert "+08:00" in body["details"]["start"][0]  # says how to write it


def test_missing_field_is_named(seeded):
    body = dict(STAY)
    del body["end"]
    assert_error(post(Client(), body), "end")


def test_no_plan_in_force_is_a_clear_400():
    body = assert_error(post(Client(), STAY), "area_class", code="no_tariff_plan")
    assert "govcenter seed" in body["message"]


def test_anonymous_callers_are_throttled_signed_in_users_are_not(seeded, settings):
    settings.GOVCENTER_PARKING_QUOTE_ANON_RATE = "3/min"
    anonymous = Client()
    assert [post(anonymous, STAY).status_code for _ in range(3)] == [200, 200, 200]
    limited = post(anonymous, STAY)
    assert limited.status_code == 429 and limited.json()["code"] == "throttled"
    member = Client()
    member.force_login(UserFactory())
    assert {post(member, STAY).status_code for _ in range(5)} == {200}


def test_quote_is_in_the_openapi_schema():
    schema = Client().get("/api/schema/?format=json")
    if schema.status_code in (401, 403):  # the schema may require login
        client = Client()
        client.force_login(UserFactory())
        schema = client.get("/api/schema/?format=json")
    paths = schema.json()["paths"]
    operation = paths["/api/v1/parking/quote"]["post"]
    assert operation["operationId"] == "parking_quote"
    components = schema.json()["components"]["schemas"]
    assert {"amount_fen", "lines", "plan"} <= set(components["Quote"]["properties"])
    assert "from" in components["QuoteLine"]["properties"]


# --------------------------------------------------------------------------------------------
# Pages
# --------------------------------------------------------------------------------------------


def client_with(*perms) -> Client:
    client = Client()
    client.force_login(UserFactory(role_set=[RoleFactory(perms=list(perms), scope_kind="all")]))
    return client


def test_pages_need_login_and_permission(seeded):
    plan = TariffPlan.objects.get(area_class=1)
    for url in ("/parking/tariffs/", f"/parking/tariffs/{plan.pk}/", "/parking/tariffs/publish/"):
        assert Client().get(url).status_code == 302
        assert client_with().get(url).status_code == 403
    reader = client_with("parking.view_tariffplan")
    assert reader.get("/parking/tariffs/publish/").status_code == 403
    assert reader.post("/parking/tariffs/publish/", {}).status_code == 403


def test_list_shows_every_class_and_the_plan_in_force(seeded):
    html = client_with("parking.view_tariffplan").get("/parking/tariffs/").content.decode()
    for text in (
        "一类地区",
        "二类地区",
        "三类地区",
        "¥2.50",
        "¥3.75",
        "¥1.00",
        "¥0.50",
        "现行",
        "bj-road-class-3",
    ):
        assert text in html
    assert "发布新版本" not in html  # no add permission


def test_detail_documents_the_semantics_with_worked_examples(seeded):
    plan = TariffPlan.objects.get(area_class=1)
    html = client_with("parking.view_tariffplan").get(f"/parking/tariffs/{plan.pk}/").content.decode()
    for text in (
        "07:00–21:00 为白天时段",
        "按 15 分钟为一个计费单元计算，不足 15 分钟按一个单元计",
        "前 4 个白天单元",
        "按 2 小时为一个计费单元",
        "大型车按小型车的 2 倍收费",
        "四舍五入到分",
        "无免费时长",
        "不设每日封顶",
        "¥17.50",  # 08:00–09:30 small
        "¥35.00",  # the same, large
        "¥11.00",  # 20:00–23:00
    ):
        assert text in html, text


def test_publishing_a_version_from_the_page_is_audited(seeded):
    client = client_with("parking.view_tariffplan", "parking.add_tariffplan")
    form = client.get("/parking/tariffs/publish/?area_class=2")
    assert form.status_code == 200
    initial = form.context["form"].initial
    assert initial["day_first_unit_fen"] == 150 and initial["large_pct"] == 200
    valid_from = (timezone.now() + dt.timedelta(days=30)).astimezone(SH).strftime("%Y-%m-%dT%H:%M")
    data = {k: v for k, v in initial.items() if v is not None}
    data.update(
        area_class=2,
        valid_from=valid_from,
        day_first_unit_fen=180,
        day_start="07:00",
        day_end="21:00",
        notes="调价",
    )
    response = client.post("/parking/tariffs/publish/", data)
    assert response.status_code == 302, response.context["form"].errors if response.context else response
    new = TariffPlan.objects.get(code="bj-road-class-2", version=2)
    assert new.day_first_unit_fen == 180 and new.day_later_unit_fen == 225
    assert TariffPlan.objects.get(code="bj-road-class-2", version=1).valid_to == new.valid_from
    assert AuditEntry.objects.filter(action="parking.tariff_plan.publish", object_id=str(new.pk)).exists()
    page = client.get(response["Location"]).content.decode()
    assert "¥1.80" in page and "v2" in page


def test_publishing_in_the_past_shows_the_reason_and_writes_nothing(seeded):
    client = client_with("parking.view_tariffplan", "parking.add_tariffplan")
    data = {
        k: v
        for k, v in client.get("/parking/tariffs/publish/?area_class=1").context["form"].initial.items()
        if v is not None
    }
    data.update(area_class=1, valid_from="2020-01-01T00:00", day_start="07:00", day_end="21:00")
    response = client.post("/parking/tariffs/publish/", data)
    assert response.status_code == 200
    assert "生效时间不能早于当前时间" in response.content.decode()
    assert TariffPlan.objects.count() == 3
    assert not AuditEntry.objects.filter(action="parking.tariff_plan.publish").exists()


def test_detail_documents_grace_cap_and_holiday_rules(seeded):
    from govcenter.parking.services.tariffs import tariff_plan_publish

    plan = tariff_plan_publish(
        actor=None,
        area_class=3,
        valid_from=timezone.now() + dt.timedelta(days=1),
        grace_minutes=10,
        daily_cap_fen=5000,
        holiday_rule="night_rate",
    )
    html = client_with("parking.view_tariffplan").get(f"/parking/tariffs/{plan.pk}/").content.decode()
    for text in (
        "停车不超过 10 分钟免费",
        "免费时长不扣减",
        "每日封顶 ¥50.00",
        "单独按夜间单元和夜间单价计费",
    ):
        assert text in html, text
    listing = client_with("parking.view_tariffplan").get("/parking/tariffs/").content.decode()
    assert "待生效" in listing
