"""parking.demo.load_small_demo: inside the real boundaries, versioned, idempotent."""

from __future__ import annotations

import pytest

from govcenter.core.districts import get_index
from govcenter.parking.demo import load_small_demo
from govcenter.parking.models import Device, Segment, Space, SpaceVersion

pytestmark = pytest.mark.django_db


def test_small_demo_is_inside_its_districts_and_idempotent(org):
    first = load_small_demo()
    assert first["roads"] == 6 and first["segments"] == 6 and first["spaces"] == 60 and first["devices"] > 30
    spaces = list(Space.objects.select_related("district"))
    codes = get_index().lookup_codes([s.lon for s in spaces], [s.lat for s in spaces]).tolist()
    assert codes == [s.district.code for s in spaces]
    assert SpaceVersion.objects.filter(valid_to__isnull=True).count() == 60
    assert {s.managing_unit for s in Segment.objects.filter(district=org.dongcheng)} == {org.unit_dc}
    assert load_small_demo() == {"roads": 0, "segments": 0, "spaces": 0, "devices": 0}
    assert Device.objects.filter(kind="geomagnetic", space__isnull=False).count() == 30


def test_govcenter_demo_loads_the_parking_demo_once(settings):
    """`make run` loads every built module's demo through `govcenter demo` (core.seeding)."""
    import io

    from django.core.management import call_command

    from govcenter.parking.models import TariffPlan

    settings.DEBUG = True
    call_command("demo", stdout=io.StringIO())
    assert Segment.objects.count() == 6 and Space.objects.count() == 60
    assert TariffPlan.objects.filter(status="active").count() == 3  # seeded by `seed`, run by demo
    out = io.StringIO()
    call_command("demo", stdout=out)
    assert "nothing changed" in out.getvalue()
    assert Space.objects.count() == 60


def test_small_demo_adds_the_areas_once_the_demo_accounts_exist():
    """With the accounts of `govcenter demo`, load_small_demo also loads every area (demo_areas)."""
    from govcenter.core.management.commands.demo import build_demo
    from govcenter.core.management.commands.seed import load_reference_data

    load_reference_data()
    build_demo()
    first = load_small_demo()
    assert first["spaces"] == 60
    expected = {"citizens": 5, "plates": 6, "orders": 15, "payments": 4, "receipts": 3, "complaints": 5}
    assert {name: first[name] for name in expected} == expected
    assert first["fee_adjustments"] == 1 and first["tickets"] == 3 and first["permits"] == 3
    again = load_small_demo()
    assert set(again) == set(first) and not any(again.values()), again
