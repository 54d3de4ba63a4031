"""The built-in roles carry the congestion permissions once seeded: handling units answer, the
Center's data staff register and assign, leaders read."""

from __future__ import annotations

import pytest

from govcenter.core.models import Role
from govcenter.core.roles import ensure_builtin_roles


@pytest.mark.django_db
def test_builtin_roles_get_the_suggestion_permissions():
    ensure_builtin_roles()

    def perms(code):
        return {f"{p.content_type.app_label}.{p.codename}" for p in Role.objects.get(code=code).permissions.all()}

    assert {"congestion.view_suggestion", "congestion.reply_suggestion"} <= perms("congestion_staff")
    assert "congestion.assign_suggestion" not in perms("congestion_staff")
    assert {"congestion.add_suggestion", "congestion.assign_suggestion", "congestion.change_suggestion"} <= perms("data_staff")
    assert "congestion.view_suggestion" in perms("center_leader")
    coordinator = perms("congestion_coordinator")  # the Center's staff work, without personal data
    assert {p for p in perms("data_staff") if p.startswith("congestion.")} <= coordinator
    assert "congestion.assign_proposal" in coordinator and "core.reveal_personal_data" not in coordinator
    assert Role.objects.get(code="congestion_coordinator").scope_kind == "all"
    assert not any(p.startswith("congestion.") for p in perms("auditor"))
