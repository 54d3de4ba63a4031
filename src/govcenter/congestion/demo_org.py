"""The handling units of the congestion-relief demo year: the municipal bureaus and the district
transport authorities that answer suggestions, lead NPC/CPPCC items and carry supervised tasks
in Beijing — each with one handler account (role 治堵单位人员, own-unit scope, no password: the
demo year is replayed through the services, nobody logs in as them). Idempotent."""

from __future__ import annotations

import functools

from govcenter.core.models import District, Role, Unit, User
from govcenter.core.models.org import UnitKind

PARENT = ("CG-UNITS", "缓堵工作承办单位", "Congestion-relief handling units")
# (code, name_zh, name_en)
BUREAUS: tuple[tuple[str, str, str], ...] = (
    ("CG-JTW", "北京市交通委员会", "Beijing Municipal Commission of Transport"),
    ("CG-JGJ", "北京市公安局公安交通管理局", "Beijing Traffic Management Bureau"),
    (
        "CG-GZW",
        "北京市规划和自然资源委员会",
        "Beijing Municipal Commission of Planning and Natural Resources",
    ),
    (
        "CG-ZJW",
        "北京市住房和城乡建设委员会",
        "Beijing Municipal Commission of Housing and Urban-Rural Development",
    ),
    ("CG-CGW", "北京市城市管理委员会", "Beijing Municipal Commission of Urban Management"),
    ("CG-FGW", "北京市发展和改革委员会", "Beijing Municipal Commission of Development and Reform"),
    ("CG-JYW", "北京市教育委员会", "Beijing Municipal Education Commission"),
    ("CG-WJW", "北京市卫生健康委员会", "Beijing Municipal Health Commission"),
    ("CG-LZJ", "北京市交通委员会路政局", "Beijing Road Administration Bureau"),
    ("CG-BUS", "北京公共交通控股（集团）有限公司", "Beijing Public Transport Holdings"),
    ("CG-MTR", "北京市地铁运营有限公司", "Beijing Subway Operation Co."),
)


def _unit(code: str, name_zh: str, name_en: str, kind: str, parent: Unit | None, district=None) -> Unit:
    unit, _ = Unit.objects.get_or_create(
        code=code,
        defaults={
            "name_zh": name_zh,
            "name_en": name_en,
            "kind": kind,
            "parent": parent,
            "district": district,
        },
    )
    return unit


@functools.cache
def _role() -> Role:
    return Role.objects.get(code="congestion_staff")


def handling_units() -> list[Unit]:
    """The bureaus and the districts' transport authorities (区交通委), created once, each with
    a handler ``cg-<code>``."""
    parent = _unit(*PARENT, UnitKind.GOVERNMENT, None)
    units = [_unit(code, zh, en, UnitKind.GOVERNMENT, parent) for code, zh, en in BUREAUS]
    for district in District.objects.order_by("sort_order", "code"):
        units.append(
            _unit(
                f"CG-{district.code}",
                f"{district.name_zh}交通委员会",
                f"{district.name_en} Commission of Transport",
                UnitKind.GOVERNMENT,
                parent,
                district,
            )
        )
    for unit in units:
        username = f"cg-{unit.code[3:].lower()}"
        user, created = User.objects.get_or_create(
            username=username, defaults={"unit": unit, "first_name": f"{unit.name_zh[:6]}承办人"}
        )
        if created:
            user.set_unusable_password()
            user.save(update_fields=["password"])
            user.roles.add(_role())
    return units


def handler(unit: Unit) -> User:
    return User.objects.get(username=f"cg-{unit.code[3:].lower()}")


def district_unit(units: list[Unit], district: District | None) -> Unit | None:
    """The district's transport authority among ``units``."""
    if district is None:
        return None
    return next((u for u in units if u.district_id == district.pk and u.code == f"CG-{district.code}"), None)
