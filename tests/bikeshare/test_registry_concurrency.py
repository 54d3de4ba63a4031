"""Registration races on PostgreSQL and the nonce store on Redis (service-backed tests)."""

from __future__ import annotations

import threading
import uuid

import pytest
from django.db import connection
from django.test import override_settings

from govcenter.bikeshare.models import Vehicle
from govcenter.bikeshare.services.registry import vehicles_register

from .conftest import PROVIDER_B, assert_error, push, vehicle


def _run_together(*calls):
    barrier = threading.Barrier(len(calls))
    outcomes: list = [None] * len(calls)

    def run(i, call):
        try:
            barrier.wait()
            outcomes[i] = call()
        except BaseException as exc:  # noqa: BLE001
            outcomes[i] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i, call)) for i, call in enumerate(calls)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return outcomes


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_operators_racing_for_one_device_id(org):
    """One owns it; the other's batch reports it and still writes its other records."""
    contested = str(uuid.uuid4())
    for _ in range(3):  # a few rounds: the race goes either way
        contested = str(uuid.uuid4())
        batch_a = [vehicle(f"A-{contested[:8]}", device_id=contested), vehicle(f"A2-{contested[:8]}")]
        batch_b = [
            vehicle(f"B-{contested[:8]}", device_id=contested, provider=PROVIDER_B),
            vehicle(f"B2-{contested[:8]}", provider=PROVIDER_B),
        ]
        ra, rb = _run_together(
            lambda a=batch_a: vehicles_register(operator=org.op_a, records=a),
            lambda b=batch_b: vehicles_register(operator=org.op_b, records=b),
        )
        assert not isinstance(ra, BaseException) and not isinstance(rb, BaseException), (ra, rb)
        owner = Vehicle.objects.get(device_id=contested).operator_id
        loser = rb if owner == org.op_a.pk else ra
        winner = ra if owner == org.op_a.pk else rb
        assert winner.success == 2 and not winner.failures
        assert [f["error"] for f in loser.failures] == ["registered_by_other_operator"] and loser.success == 1
    assert Vehicle.objects.count() == 9


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_one_operator_sending_one_batch_twice_at_once(org):
    batch = [vehicle(f"MT-{i}") for i in range(20)]
    first, second = _run_together(
        lambda: vehicles_register(operator=org.op_a, records=batch),
        lambda: vehicles_register(operator=org.op_a, records=batch),
    )
    assert first.as_dict() == second.as_dict() == {"success": 20, "total": 20, "failures": []}
    assert sorted([first.outcomes[0], second.outcomes[0]]) == ["already_registered", "registered"]
    assert Vehicle.objects.count() == 20


@pytest.mark.redis
@pytest.mark.django_db
def test_nonce_is_kept_in_redis(org, keys, redis_url, settings):
    import redis

    prefix = f"t-bikeshare-{uuid.uuid4().hex[:8]}"
    caches = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": redis_url,
            "KEY_PREFIX": prefix,
        }
    }
    with override_settings(CACHES=caches):
        nonce = uuid.uuid4().hex
        assert push(keys.a, [vehicle("MT-1")], nonce=nonce).status_code == 201
        assert_error(push(keys.a, [vehicle("MT-2")], nonce=nonce), 401, "replayed_nonce")
        client = redis.Redis.from_url(redis_url)
        stored = client.keys(f"{prefix}:*:bikeshare:operator-nonce:{org.op_a.pk}:{nonce}")
        assert (
            len(stored) == 1
            and 0 < client.ttl(stored[0]) <= 2 * settings.GOVCENTER_BIKESHARE_SIGNATURE_WINDOW_SECONDS
        )
        client.delete(*stored)
