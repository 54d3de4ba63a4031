"""Property-based API test: schemathesis generates requests from /api/schema/.

Every operation registered when the suite runs is exercised (positive and negative
examples, a bounded number per operation) as a user holding every permission with the
``all`` data scope, authenticated by a bearer token. Asserted: no 5xx ever, and every
4xx/5xx body is ``{"code", "message", "details"}``.
"""

from __future__ import annotations

import json

import pytest
import schemathesis
from django.contrib.auth.models import Permission
from django.core import signals
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error

from govcenter.core.tokens import api_token_create
from tests.factories import DistrictFactory, RoleFactory, UnitFactory, UserFactory

MAX_EXAMPLES = 25


@pytest.fixture
def api_schema(transactional_db):
    # Like Django's test client: the WSGI handler must not close the connection at the end of
    # each request, or PostgreSQL loses the test's transaction (SQLite in memory never closes).
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    try:
        yield schemathesis.openapi.from_wsgi("/api/schema/?format=json", get_wsgi_application())
    finally:
        signals.request_started.connect(close_old_connections)
        signals.request_finished.connect(close_old_connections)


@pytest.fixture
def bearer(transactional_db):
    """A powerful user (every permission, scope ``all``) and some data to find."""
    role = RoleFactory(scope_kind="all")
    role.permissions.set(Permission.objects.all())
    parent = UnitFactory()
    for _ in range(2):
        DistrictFactory()
        UnitFactory(parent=parent)
    UserFactory.create_batch(2, unit=parent)
    admin = UserFactory(role_set=[role])
    return {"Authorization": f"Bearer {api_token_create(user=admin, name='schemathesis')}"}


def _citizen_token(citizen, name: str) -> dict:
    from govcenter.parking.models import CitizenToken
    from govcenter.parking.services.citizens import TOKEN_PREFIX, token_digest

    raw = f"{TOKEN_PREFIX}schemathesis-{name}"
    CitizenToken.objects.get_or_create(
        digest=token_digest(raw),
        defaults={"citizen": citizen, "prefix": raw[:10], "expires_at": "2999-01-01T00:00:00+08:00"},
    )
    return {"Authorization": f"Bearer {raw}"}


@pytest.fixture
def citizen_bearer(transactional_db):
    """The citizen app's endpoints take a citizen token, never a staff one."""
    from govcenter.parking.models import Citizen, PlateBinding

    citizen = Citizen.objects.create(phone="13900001111")
    PlateBinding.objects.create(citizen=citizen, plate="京A12345")
    return citizen


def _headers_for(path: str, bearer: dict, citizen) -> dict:
    if not path.startswith("/api/v1/parking/citizen/"):
        return bearer
    # Logout revokes its token: it gets one of its own so the other operations keep theirs.
    return _citizen_token(citizen, "logout" if path.endswith("/logout") else "main")


def _operations(api_schema) -> list:
    return [result.ok() for result in api_schema.get_all_operations()]


def test_the_schema_has_operations(api_schema):
    """Guards the property test below against silently testing nothing."""
    assert _operations(api_schema), "no API operation registered"


# schemathesis' pytest loader (`from_fixture`) does not run under pytest 9 (it sets the removed
# `Function._nodeid`), so this drives Hypothesis directly: one strategy per operation and mode.
# Autocommit, as in production: a request the database refuses (400) must not poison the
# transaction the next generated request runs in.
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE], ids=["positive", "negative"])
def test_api_never_errors_and_errors_have_one_shape(api_schema, bearer, citizen_bearer, mode):
    seen: set[str] = set()
    succeeded: set[str] = set()
    for operation in _operations(api_schema):

        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(
            max_examples=MAX_EXAMPLES,
            deadline=None,
            database=None,
            derandomize=True,  # the same examples every run: CI failures reproduce locally
            suppress_health_check=list(HealthCheck),
        )
        def check(case):
            response = case.call(headers=_headers_for(case.path, bearer, citizen_bearer))
            seen.add(f"{case.method} {case.path}")
            if response.status_code < 300:
                succeeded.add(f"{case.method} {case.path}")
            case.validate_response(response, checks=[not_a_server_error])
            if response.status_code >= 400:
                body = json.loads(response.content)
                assert set(body) == {"code", "message", "details"}, (case.method, case.formatted_path, body)
                assert isinstance(body["code"], str) and isinstance(body["message"], str)

        try:
            check()
        except Unsatisfiable:
            # Negative mode has nothing to break in an operation without any input.
            assert mode is GenerationMode.NEGATIVE and not operation.body and not operation.query, operation.path
            seen.add(f"{operation.method.upper()} {operation.path}")
    assert len(seen) == len(_operations(api_schema))
    if mode is GenerationMode.POSITIVE:
        # The token works and the data is there: every list endpoint answered 2xx at least once.
        lists = {f"GET {op.path}" for op in _operations(api_schema) if op.method.upper() == "GET" and "{" not in op.path}
        assert lists <= succeeded, lists - succeeded
