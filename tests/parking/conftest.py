"""Fixtures of the parking tests: the small two-district organisation of tests/helpers/org.py."""

from __future__ import annotations

import pytest

from tests.helpers.org import build_org


@pytest.fixture
def org(db):
    return build_org()
