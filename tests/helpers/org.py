"""A small organisation for scope tests: two districts, their units, two operators, people.

``build_org()`` returns a namespace with the objects by name; every module's scope tests
can start from it and add their own rows per unit/district/operator.
"""

from __future__ import annotations

from types import SimpleNamespace

from govcenter.core.models import Role
from govcenter.core.roles import ensure_builtin_roles
from tests.factories import DistrictFactory, RoleFactory, UnitFactory, UserFactory


def build_org() -> SimpleNamespace:
    ensure_builtin_roles()
    roles = {r.code: r for r in Role.objects.all()}
    o = SimpleNamespace(roles=roles)
    o.dongcheng = DistrictFactory(code="110101", name_zh="东城区", name_en="Dongcheng")
    o.xicheng = DistrictFactory(code="110102", name_zh="西城区", name_en="Xicheng")
    o.center = UnitFactory(code="T-CENTER", name_zh="测试中心", kind="center")
    o.office = UnitFactory(code="T-OFFICE", name_zh="测试办公室", kind="department", parent=o.center)
    o.unit_dc = UnitFactory(
        code="T-PK-DC", name_zh="东城停车单位", kind="district_unit", district=o.dongcheng
    )
    o.sub_dc = UnitFactory(
        code="T-PK-DC-1", name_zh="东城一所", kind="department", parent=o.unit_dc, district=o.dongcheng
    )
    o.unit_xc = UnitFactory(code="T-PK-XC", name_zh="西城停车单位", kind="district_unit", district=o.xicheng)
    o.op_a = UnitFactory(code="T-OP-A", name_zh="甲单车", kind="operator")
    o.op_b = UnitFactory(code="T-OP-B", name_zh="乙单车", kind="operator")

    # Custom roles: operator and own-unit scopes that may also read users.
    o.role_operator_reader = RoleFactory(
        code="t-operator-reader", scope_kind="operator", perms=["core.view_unit", "core.view_user"]
    )
    o.role_own_unit_reader = RoleFactory(
        code="t-own-unit-reader", scope_kind="own_unit", perms=["core.view_unit", "core.view_user"]
    )

    o.sysadmin = UserFactory(username="t_sysadmin", unit=o.office, role_set=[roles["sysadmin"]])
    o.leader = UserFactory(username="t_leader", unit=o.center, role_set=[roles["center_leader"]])
    o.manager_dc = UserFactory(username="t_mgr_dc", unit=o.unit_dc, role_set=[roles["district_manager"]])
    o.manager_xc = UserFactory(username="t_mgr_xc", unit=o.unit_xc, role_set=[roles["district_manager"]])
    o.operator_a = UserFactory(username="t_op_a", unit=o.op_a, role_set=[o.role_operator_reader])
    o.own_dc = UserFactory(username="t_own_dc", unit=o.unit_dc, role_set=[o.role_own_unit_reader])
    o.plain_dc = UserFactory(username="t_plain_dc", unit=o.sub_dc)
    o.plain_xc = UserFactory(username="t_plain_xc", unit=o.unit_xc)
    o.plain_b = UserFactory(username="t_plain_b", unit=o.op_b)
    o.plain_a = UserFactory(username="t_plain_a", unit=o.op_a)
    o.nobody = UserFactory(username="t_nobody", unit=o.office)
    return o
