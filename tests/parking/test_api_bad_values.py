"""Values Python accepts but the database cannot hold are the caller's error (400), never a 500."""

import pytest
from rest_framework.test import APIClient

from govcenter.core.roles import ensure_builtin_roles

# Autocommit like a real request: a refused statement must not poison the next request.
pytestmark = pytest.mark.django_db(transaction=True)


@pytest.mark.postgres
def test_utc_offset_beyond_postgresql_range_is_a_400(org):
    ensure_builtin_roles()  # parking's contributed permissions on the district manager role
    client = APIClient()
    client.force_authenticate(org.manager_dc)
    # +20:26 is a valid Python offset; PostgreSQL refuses anything beyond ±15:59.
    response = client.get("/api/v1/parking/orders/", {"started_after": "2026-01-01T00:00:00+20:26"})
    assert response.status_code == 400, response.content
    body = response.json()
    assert body["code"] == "invalid_value" and set(body) == {"code", "message", "details"}
    # The same filter with a sane offset works.
    assert client.get("/api/v1/parking/orders/", {"started_after": "2026-01-01T00:00:00+08:00"}).status_code == 200
