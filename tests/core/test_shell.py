"""The UI shell: language, navigation, dashboard, district map endpoint, CSP."""

from __future__ import annotations

import ast
import gettext
import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from django.urls import NoReverseMatch, reverse

import govcenter
from govcenter.core import navigation
from govcenter.core.models import District
from govcenter.core.navigation import NavItem, NavSection
from tests.factories import DistrictFactory, RoleFactory, UnitFactory, UserFactory

pytestmark = pytest.mark.django_db

DISTRICT_CODES = {
    "110101", "110102", "110105", "110106", "110107", "110108", "110109", "110111",
    "110112", "110113", "110114", "110115", "110116", "110117", "110118", "110119",
}  # fmt: skip


@pytest.fixture
def districts():
    """The 16 districts with their boundaries, loaded by the kernel's loader."""
    from govcenter.core.districts import load_districts

    load_districts()
    return District.objects.exclude(geometry=None)


@pytest.fixture
def plain_user():
    """A user without any function permission (no second factor needed)."""
    return UserFactory(role_set=[RoleFactory(scope_kind="own_unit")])


@pytest.fixture
def client_of(client):
    def login(user):
        client.force_login(user)
        return client

    return login


def _route_exists(name: str) -> bool:
    try:
        reverse(name)
        return True
    except NoReverseMatch:
        return False


def _nav_urls(html: str) -> set[str]:
    nav = html.split('id="main-nav"', 1)[1].split("</ul>", 1)[0] if 'id="main-nav"' in html else ""
    return set(re.findall(r'href="(/[^"#]*)"', nav))


# Language ----------------------------------------------------------------------------


def test_dashboard_is_chinese_by_default(client_of, plain_user):
    html = client_of(plain_user).get(reverse("core:dashboard")).content.decode()
    assert '<html lang="zh-hans">' in html
    assert "北京市交通综合治理事务中心" in html
    assert "工作台" in html


def test_set_language_switches_to_english_and_back(client_of, plain_user):
    client = client_of(plain_user)
    response = client.post(reverse("set_language"), {"language": "en", "next": "/"})
    assert response.status_code == 302
    html = client.get(reverse("core:dashboard")).content.decode()
    assert '<html lang="en">' in html
    assert "Beijing Transport Comprehensive Governance Center" in html
    assert "Dashboard" in html
    assert "北京市交通综合治理事务中心" not in html

    client.post(reverse("set_language"), {"language": "zh-hans", "next": "/"})
    assert "北京市交通综合治理事务中心" in client.get(reverse("core:dashboard")).content.decode()


@pytest.mark.skipif(not _route_exists("core:login"), reason="core:login is not built yet")
def test_login_page_in_chinese_then_english(client):
    html = client.get(reverse("core:login")).content.decode()
    assert '<html lang="zh-hans">' in html
    assert "北京市交通综合治理事务中心" in html
    client.post(reverse("set_language"), {"language": "en", "next": reverse("core:login")})
    html = client.get(reverse("core:login")).content.decode()
    assert '<html lang="en">' in html
    assert "Beijing Transport Comprehensive Governance Center" in html


def test_language_switch_is_a_csrf_protected_post_form(client_of, plain_user):
    html = client_of(plain_user).get(reverse("core:dashboard")).content.decode()
    form = re.search(r'<form method="post" action="/i18n/setlang/"[^>]*>(.*?)</form>', html, re.S)
    assert form, "language form missing"
    assert 'name="csrfmiddlewaretoken"' in form.group(1)
    assert 'name="language" value="en"' in form.group(1)
    assert 'name="language" value="zh-hans"' in form.group(1)


def test_setlang_without_csrf_token_is_refused(plain_user):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(plain_user)
    assert client.post(reverse("set_language"), {"language": "en"}).status_code == 403


# Navigation --------------------------------------------------------------------------


def test_nav_shows_dashboard_and_hides_system_section_without_permissions(client_of, plain_user):
    html = client_of(plain_user).get(reverse("core:dashboard")).content.decode()
    assert reverse("core:dashboard") in _nav_urls(html)
    assert 'data-nav-section="system"' not in html


def test_nav_hides_items_whose_route_is_not_built(rf, plain_user):
    navigation.register(
        NavSection(
            key="unbuilt-test",
            label="测试",
            order=-5,
            items=(NavItem("未建成的模块", "core:no_such_page_ever"), NavItem("地图数据", "core:dashboard_districts")),
        )
    )
    try:
        request = rf.get("/")
        request.user = plain_user
        sections = {s["key"]: s for s in navigation.sections_for(request)}
        urls = [item["url"] for item in sections["unbuilt-test"]["items"]]
        assert urls == [reverse("core:dashboard_districts")]  # the unbuilt item vanished, no error
    finally:
        navigation._registry.pop("unbuilt-test")


def test_add_items_joins_an_existing_section_once(rf, plain_user):
    navigation.register(NavSection(key="add-test", label="测试", order=-5))
    try:
        navigation.add_items("add-test", NavItem("地图数据", "core:dashboard_districts"))
        navigation.add_items("add-test", NavItem("地图数据", "core:dashboard_districts"))
        # Re-registering the section (e.g. on a second ready()) keeps the added item.
        navigation.register(NavSection(key="add-test", label="测试", order=-5))
        assert [i.url_name for i in navigation._registry["add-test"].items] == ["core:dashboard_districts"]
    finally:
        navigation._registry.pop("add-test")


def test_section_with_only_unbuilt_items_does_not_appear(rf, plain_user):
    navigation.register(NavSection(key="parking-test", label="停车", items=(NavItem("订单", "parking:nothing"),)))
    try:
        request = rf.get("/")
        request.user = plain_user
        assert "parking-test" not in {s["key"] for s in navigation.sections_for(request)}
    finally:
        navigation._registry.pop("parking-test")


def test_nav_item_needs_its_permission(rf):
    navigation.register(
        NavSection(key="perm-test", label="测试", order=-5, items=(NavItem("审计", "core:dashboard", "core.view_audit"),))
    )
    try:
        auditor = UserFactory(role_set=[RoleFactory(perms=["core.view_audit"])])
        other = UserFactory(role_set=[RoleFactory()])
        for user, expected in ((auditor, True), (other, False)):
            request = rf.get("/")
            request.user = user
            assert ("perm-test" in {s["key"] for s in navigation.sections_for(request)}) is expected
    finally:
        navigation._registry.pop("perm-test")


def test_system_section_lists_only_built_routes_the_admin_may_see(client_of):
    admin = UserFactory(
        role_set=[
            RoleFactory(
                scope_kind="all",
                perms=[
                    "core.manage_accounts",
                    "core.manage_security",
                    "core.view_audit",
                    "core.read_sms_outbox",
                    "core.manage_calendar",
                ],
            )
        ]
    )
    html = client_of(admin).get(reverse("core:dashboard")).content.decode()
    expected = {
        reverse(item.url_name)
        for item in navigation._registry["system"].items
        if _route_exists(item.url_name)
    }
    assert expected <= _nav_urls(html)
    if not expected:
        assert 'data-nav-section="system"' not in html


def test_a_page_appears_once_in_the_earliest_section(rf, plain_user):
    navigation.register(NavSection(key="dup-a", label="甲", order=-2, items=(NavItem("仪表", "core:dashboard"),)))
    navigation.register(NavSection(key="dup-b", label="乙", order=-1, items=(NavItem("仪表", "core:dashboard"),)))
    try:
        request = rf.get("/")
        request.user = plain_user
        keys = [s["key"] for s in navigation.sections_for(request)]
        assert "dup-a" in keys and "dup-b" not in keys and "home" not in keys
    finally:
        navigation._registry.pop("dup-a")
        navigation._registry.pop("dup-b")


def test_user_menu_has_admin_link_for_staff_only(client_of):
    staff = UserFactory(is_staff=True, role_set=[RoleFactory()])
    plain = UserFactory(role_set=[RoleFactory()])
    assert 'href="/admin/"' in client_of(staff).get("/").content.decode()
    assert 'href="/admin/"' not in client_of(plain).get("/").content.decode()


@pytest.mark.skipif(not _route_exists("core:logout"), reason="core:logout is not built yet")
def test_logout_is_a_post_form(client_of, plain_user):
    html = client_of(plain_user).get("/").content.decode()
    assert re.search(rf'<form method="post" action="{re.escape(reverse("core:logout"))}">', html)


def test_messages_are_shown(client_of, plain_user, rf):
    from django.contrib import messages
    from django.contrib.messages.storage.fallback import FallbackStorage
    from django.template.loader import render_to_string

    request = rf.get("/")
    request.user = plain_user
    request.session = client_of(plain_user).session
    request._messages = FallbackStorage(request)
    messages.success(request, "已保存")
    html = render_to_string("core/dashboard.html", {"counts": {}}, request=request)
    assert "alert-success" in html and "已保存" in html


# Dashboard ---------------------------------------------------------------------------


def test_anonymous_is_redirected_to_login(client):
    for url in (reverse("core:dashboard"), reverse("core:dashboard_districts")):
        response = client.get(url)
        assert response.status_code == 302
        assert "next=" in response["Location"]


def test_dashboard_counts_respect_the_scope(client_of):
    d1, d2 = DistrictFactory(), DistrictFactory()
    mine, theirs = UnitFactory(district=d1), UnitFactory(district=d2)
    UserFactory.create_batch(2, unit=theirs)
    manager = UserFactory(unit=mine, role_set=[RoleFactory(scope_kind="districts", district_set=[d1])])
    html = client_of(manager).get(reverse("core:dashboard")).content.decode()

    def stat(key):
        block = html.split(f'data-stat="{key}"', 1)[1]
        return int(re.search(r'shell-stat-value">(\d+)<', block).group(1))

    assert stat("units") == 1
    assert stat("users") == 1
    assert stat("districts") == 1


def test_district_map_endpoint_returns_16_features(client_of, plain_user, districts):
    response = client_of(plain_user).get(reverse("core:dashboard_districts"))
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/geo+json")
    data = json.loads(response.content)
    assert data["type"] == "FeatureCollection"
    assert data["datum"] == "GCJ-02"
    assert len(data["features"]) == 16
    assert {f["properties"]["code"] for f in data["features"]} == DISTRICT_CODES
    for feature in data["features"]:
        assert feature["geometry"]["type"] in {"Polygon", "MultiPolygon"}
        assert feature["properties"]["in_scope"] is False  # own_unit scope covers no district
    names = {f["properties"]["code"]: f["properties"]["name"] for f in data["features"]}
    assert names["110105"] == "朝阳区"
    assert len(response.content) < 400_000  # simplified for the screen, not the 1.3 MB source


def test_district_map_names_follow_the_language_and_mark_the_scope(client_of, districts):
    chaoyang = District.objects.get(code="110105")
    manager = UserFactory(role_set=[RoleFactory(scope_kind="districts", district_set=[chaoyang])])
    client = client_of(manager)
    client.post(reverse("set_language"), {"language": "en", "next": "/"})
    data = client.get(reverse("core:dashboard_districts")).json()
    by_code = {f["properties"]["code"]: f["properties"] for f in data["features"]}
    assert by_code["110105"]["name"] == "Chaoyang"
    assert [code for code, p in by_code.items() if p["in_scope"]] == ["110105"]


def test_district_map_geometry_stays_within_beijing(client_of, plain_user, districts):
    from shapely.geometry import shape

    data = client_of(plain_user).get(reverse("core:dashboard_districts")).json()
    for feature in data["features"]:
        original = shape(District.objects.get(code=feature["properties"]["code"]).geometry)
        simple = shape(feature["geometry"])
        assert simple.is_valid
        # Simplified at ~100 m: the area barely changes and the shape stays put.
        assert abs(simple.area - original.area) / original.area < 0.02
        assert original.buffer(0.002).contains(simple)


def test_dashboard_page_points_the_map_at_the_endpoint(client_of, plain_user):
    html = client_of(plain_user).get(reverse("core:dashboard")).content.decode()
    assert f'data-geojson-url="{reverse("core:dashboard_districts")}"' in html
    assert "/static/vendor/echarts/echarts.min.js" in html
    assert "/static/core/js/district-map.js" in html


# Security headers and markup ---------------------------------------------------------


def _csp(response) -> dict[str, list[str]]:
    header = response["Content-Security-Policy"]
    directives = {}
    for part in header.split(";"):
        words = part.split()
        if words:
            directives[words[0]] = words[1:]
    return directives


def test_csp_has_no_inline_script(client_of, plain_user):
    csp = _csp(client_of(plain_user).get(reverse("core:dashboard")))
    assert csp["script-src"] == ["'self'"]
    assert "'unsafe-inline'" not in csp.get("style-src", [])
    assert "'unsafe-eval'" not in csp["script-src"]


def test_pages_have_no_inline_script_or_style(client_of, plain_user):
    client = client_of(plain_user)
    for url in (reverse("core:dashboard"), "/no-such-page/"):
        html = client.get(url).content.decode()
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html), url
        assert "<style" not in html, url
        assert not re.search(r"\sstyle=", html), url
        assert not re.search(r"\son[a-z]+=", html), url
        assert '<meta name="htmx-config" content=\'{"includeIndicatorStyles": false' in html


def test_htmx_requests_carry_the_csrf_token(client_of, plain_user):
    html = client_of(plain_user).get(reverse("core:dashboard")).content.decode()
    match = re.search(r"<body[^>]*hx-headers='(\{[^']*\})'", html)
    assert match
    assert len(json.loads(match.group(1))["X-CSRFToken"]) >= 32


def test_404_page_uses_the_shell(client_of, plain_user):
    response = client_of(plain_user).get("/no-such-page/")
    assert response.status_code == 404
    html = response.content.decode()
    assert "页面不存在" in html and 'id="main-nav"' in html


def test_unknown_icon_renders_nothing():
    from govcenter.core.templatetags.shell import icon

    assert icon("no-such-icon") == ""
    assert icon("../../settings") == ""
    svg = icon("home", "me-1")
    assert svg.startswith("<svg") and 'aria-hidden="true"' in svg and "icon me-1 " in svg


# Translations --------------------------------------------------------------------------

LOCALE = Path(govcenter.__file__).resolve().parent / "locale"


def _po_entries(path: Path) -> list[dict]:
    """msgid/msgstr/flags of each entry of a .po file (enough of the format for our files)."""
    entries, current, field = [], None, None

    def unquote(text: str) -> str:
        return ast.literal_eval(text)

    for line in path.read_text(encoding="utf-8").splitlines() + [""]:
        if not line.strip():
            if current is not None:
                entries.append(current)
            current, field = None, None
            continue
        if current is None:
            current = {"flags": "", "msgid": "", "msgstr": {}}
        if line.startswith("#,"):
            current["flags"] += line
        elif line.startswith("#"):
            continue
        elif line.startswith("msgid_plural "):
            field = ("plural", None)
        elif line.startswith("msgid "):
            field = ("msgid", None)
            current["msgid"] = unquote(line[6:])
        elif line.startswith("msgstr"):
            key = line.split(" ", 1)[0]
            field = ("msgstr", key)
            current["msgstr"][key] = unquote(line.split(" ", 1)[1])
        elif line.startswith('"') and field is not None:
            if field[0] == "msgid":
                current["msgid"] += unquote(line)
            elif field[0] == "msgstr":
                current["msgstr"][field[1]] += unquote(line)
    return [e for e in entries if e["msgid"]]


def test_every_msgid_has_an_english_translation():
    entries = _po_entries(LOCALE / "en" / "LC_MESSAGES" / "django.po")
    assert len(entries) > 100
    untranslated = [e["msgid"] for e in entries if "fuzzy" in e["flags"] or not all(e["msgstr"].values())]
    assert untranslated == [], "run bin/i18n and translate these in locale/en/LC_MESSAGES/django.po"


@pytest.mark.skipif(shutil.which("msgfmt") is None, reason="msgfmt (gettext) is not installed")
def test_committed_mo_files_match_their_po(tmp_path):
    for po in LOCALE.glob("*/LC_MESSAGES/django.po"):
        compiled = tmp_path / f"{po.parent.parent.name}.mo"
        subprocess.run(["msgfmt", "--check-format", "-o", str(compiled), str(po)], check=True)  # noqa: S603, S607
        with open(po.with_suffix(".mo"), "rb") as committed, open(compiled, "rb") as fresh:
            assert gettext.GNUTranslations(committed)._catalog == gettext.GNUTranslations(fresh)._catalog, (
                f"{po.with_suffix('.mo')} is stale: run bin/i18n"
            )


def test_english_shell_strings_come_from_the_catalogue():
    from django.utils import translation

    with translation.override("en"):
        assert translation.gettext("北京市交通综合治理事务中心") == "Beijing Transport Comprehensive Governance Center"
        assert translation.gettext("工作台") == "Dashboard"
        assert translation.gettext("修改密码") == "Change password"
        assert translation.gettext("退出") == "Log out"
    with translation.override("zh-hans"):
        assert translation.gettext("工作台") == "工作台"
