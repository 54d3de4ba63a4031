"""``govcenter demo``: demo units and one account per persona (DEBUG only).

Loads the reference data (as ``govcenter seed``), builds the unit tree — the Center and
its departments, the 17 district parking units, three bike-share operators, an O&M
contractor and a device vendor — and one demo user per persona with a known password,
then prints the accounts. Idempotent: a second run creates nothing and says so. Refuses
(exit 2, one line) when DEBUG is off: known passwords must never reach production.
"""

from __future__ import annotations

from django.conf import settings
from django.db import transaction

from ... import seeding, services
from ...auth import requires_second_factor
from ...context import acting_as
from ...models import District, Role, Unit, UnitKind, User
from ...scope import ScopeKind
from ..base import GovcenterCommand, UsageError
from .seed import changed, load_reference_data

DEMO_PASSWORD = "Demo#2026go"
CENTER = "BTCGC"

# (code, name_zh, name_en, kind, parent code)
UNITS: tuple[tuple[str, str, str, str, str | None], ...] = (
    (
        CENTER,
        "北京市交通综合治理事务中心",
        "Beijing Transport Comprehensive Governance Center",
        UnitKind.CENTER,
        None,
    ),
    ("BTCGC-OFFICE", "办公室", "General Office", UnitKind.DEPARTMENT, CENTER),
    ("BTCGC-DATA", "数据管理科", "Data Management Division", UnitKind.DEPARTMENT, CENTER),
    ("BTCGC-OM", "运维科", "Operations and Maintenance Division", UnitKind.DEPARTMENT, CENTER),
    ("BTCGC-PARKING", "停车管理科", "Parking Management Division", UnitKind.DEPARTMENT, CENTER),
    ("BTCGC-BIKE", "非机动车管理科", "Bicycle Management Division", UnitKind.DEPARTMENT, CENTER),
    ("BTCGC-COORD", "综合协调科", "Comprehensive Coordination Division", UnitKind.DEPARTMENT, CENTER),
    ("PARKING", "各区停车管理单位", "District parking units", UnitKind.GOVERNMENT, None),
    ("OPERATORS", "互联网租赁自行车运营企业", "Bike-share operators", UnitKind.OTHER, None),
    ("OP-MEITUAN", "美团单车", "Meituan Bike", UnitKind.OPERATOR, "OPERATORS"),
    ("OP-HELLO", "哈啰单车", "Hello Bike", UnitKind.OPERATOR, "OPERATORS"),
    ("OP-QINGJU", "青桔单车", "Qingju Bike", UnitKind.OPERATOR, "OPERATORS"),
    ("PARTNERS", "运维及设备单位", "O&M and device partners", UnitKind.OTHER, None),
    (
        "OM-ZHITONG",
        "北京智通运维服务有限公司",
        "Beijing Zhitong O&M Services Co., Ltd.",
        UnitKind.CONTRACTOR,
        "PARTNERS",
    ),
    (
        "VD-LUBO",
        "北京路泊智能设备有限公司",
        "Beijing Lubo Intelligent Devices Co., Ltd.",
        UnitKind.VENDOR,
        "PARTNERS",
    ),
)

# A custom role showing an explicit district set (the built-in one means "own district").
INTEGRATOR_ROLE = (
    "demo_integrator_dc_xc",
    "设备集成商（东城、西城）",
    "Device integrator (Dongcheng, Xicheng)",
)

# (username, full name, role codes, unit code)
ACCOUNTS: tuple[tuple[str, str, str | tuple[str, ...], str], ...] = (
    ("sysadmin", "王建国", "sysadmin", "BTCGC-OFFICE"),
    ("secadmin", "李安平", "secadmin", "BTCGC-OFFICE"),
    ("auditor", "赵审", "auditor", "BTCGC-OFFICE"),
    ("datastaff", "陈数", "data_staff", "BTCGC-DATA"),
    ("leader", "刘主任", "center_leader", CENTER),
    ("omengineer", "孙维", "om_engineer", "OM-ZHITONG"),
    # The O&M team: a 7×24 roster needs several engineers (rest after a night shift).
    ("omeng2", "郭晨", "om_engineer", "OM-ZHITONG"),
    ("omeng3", "马力", "om_engineer", "OM-ZHITONG"),
    ("omeng4", "韩雪", "om_engineer", "OM-ZHITONG"),
    ("dongcheng", "周东", "district_manager", "PK-110101"),
    ("xicheng", "吴西", "district_manager", "PK-110102"),
    ("patrol", "郑巡", "parking_patrol", "PK-110101"),
    ("integrator", "冯集成", ("device_integrator", INTEGRATOR_ROLE[0]), "VD-LUBO"),
    ("meituan", "褚美", "operator_staff", "OP-MEITUAN"),
    ("inspector", "卫查", "field_inspector", "PK-110101"),
    ("congestion", "蒋协调", "congestion_staff", "BTCGC-COORD"),
    ("cgcoord", "沈统筹", "congestion_coordinator", "BTCGC-COORD"),
    ("parkingcoord", "钱停", "congestion_staff", "BTCGC-PARKING"),
)


def _district_unit_rows() -> list[tuple[str, str, str, str, str, District]]:
    rows = []
    for district in District.objects.order_by("sort_order", "code"):
        rows.append(
            (
                f"PK-{district.code}",
                f"{district.name_zh}停车管理中心",
                f"{district.name_en} Parking Management Center",
                UnitKind.DISTRICT_UNIT,
                "PARKING",
                district,
            )
        )
    return rows


@transaction.atomic
def build_demo() -> tuple[int, list[tuple[str, str, str, str]]]:
    """Create what is missing; returns (rows created, account table)."""
    created = 0
    units: dict[str, Unit] = {u.code: u for u in Unit.objects.all()}
    for code, name_zh, name_en, kind, parent_code, *district in [
        *((*row, None) for row in UNITS),
        *_district_unit_rows(),
    ]:
        if code in units:
            continue
        units[code] = services.unit_create(
            actor=None,
            code=code,
            name_zh=name_zh,
            name_en=name_en,
            kind=kind,
            parent=units[parent_code] if parent_code else None,
            district=district[0],
        )
        created += 1

    if not Role.objects.filter(code=INTEGRATOR_ROLE[0]).exists():
        services.role_create(
            actor=None,
            code=INTEGRATOR_ROLE[0],
            name_zh=INTEGRATOR_ROLE[1],
            name_en=INTEGRATOR_ROLE[2],
            description="演示：指定区数据范围（东城区、西城区）。",
            scope_kind=ScopeKind.DISTRICTS,
            permissions=list(Role.objects.get(code="device_integrator").permissions.all()),
            districts=District.objects.filter(code__in=["110101", "110102"]),
        )
        created += 1

    roles = {r.code: r for r in Role.objects.all()}
    table = []
    for index, (username, full_name, role_codes, unit_code) in enumerate(ACCOUNTS, start=1):
        unit = units[unit_code]
        user_roles = [roles[code] for code in ((role_codes,) if isinstance(role_codes, str) else role_codes)]
        user = User.objects.filter(username__iexact=username).first()
        if user is None:
            user = services.user_create(
                actor=None,
                username=username,
                unit=unit,
                password=DEMO_PASSWORD,
                full_name=full_name,
                phone=f"138000000{index:02d}",
                roles=user_roles,
                must_change_password=False,
            )
            created += 1
        second_factor = "SMS" if requires_second_factor(user) else "-"
        table.append((username, "、".join(r.name_zh for r in user_roles), unit.name_zh, DEMO_PASSWORD, second_factor))
    return created, table


class Command(GovcenterCommand):
    help = "Load demo units and one account per persona with known passwords (DEBUG only; idempotent)."

    def handle(self, *args, **options):
        if not settings.DEBUG:
            raise UsageError("demo: refusing to load demo accounts with known passwords while DEBUG is off")
        with acting_as(None, channel="cli"):
            reference = load_reference_data()
            created, table = build_demo()
            # Each built module's small demo (registered by the apps, core.seeding).
            modules = {name: loader() for name, loader in seeding.demo_loaders()}
        created += sum(changed(counts) for counts in reference.values())
        created += sum(sum(counts.values()) for counts in modules.values())
        self.stdout.write(self._table(table))
        self.stdout.write(
            "Accounts marked SMS get a 6-digit code after the password: with DEBUG on it is printed "
            "on the server console and kept in the SMS outbox."
        )
        if created:
            self.stdout.write(self.style.SUCCESS(f"demo: {created} rows created or updated"))
        else:
            self.stdout.write("demo: demo data already present; nothing changed")

    @staticmethod
    def _table(rows: list[tuple[str, ...]]) -> str:
        header = ("username", "role", "unit", "password", "2nd factor")

        # East Asian characters take two columns in a terminal.
        def width(text: str) -> int:
            return sum(2 if ord(ch) > 0x2E80 else 1 for ch in text)

        widths = [max(width(r[i]) for r in [header, *rows]) for i in range(len(header))]

        def line(row):
            return "  ".join(cell + " " * (widths[i] - width(cell)) for i, cell in enumerate(row)).rstrip()

        return "\n".join([line(header), line(tuple("-" * w for w in widths)), *(line(r) for r in rows)])
