"""Every probe kind against the real thing running here: a local HTTP server, a listening and
a closed port, the database, Redis, RabbitMQ, NATS, Mosquitto, the disk, a TLS server with a
self-signed certificate made in the test, the bike-share live state."""

from __future__ import annotations

import datetime as dt
import socket
import ssl
import threading

import pytest
from django.utils import timezone

from govcenter.core import freshness
from govcenter.core.api.errors import ServiceError
from govcenter.ops.monitoring.probes import clean_config, run_probe

from .conftest import closed_port


def probe(kind: str, config: dict, timeout: float = 3.0):
    return run_probe(kind, clean_config(kind, config), timeout)


def test_http_up_down_and_unreachable(http_server):
    up = probe("http", {"url": f"{http_server}/ok", "contains": "govcenter"})
    assert up.ok and up.value == 200 and up.latency_ms is not None
    assert not probe("http", {"url": f"{http_server}/ok", "contains": "nothing-like-this"}).ok
    down = probe("http", {"url": f"{http_server}/down"})
    assert not down.ok and down.value == 503
    assert probe("http", {"url": f"{http_server}/down", "expect_status": 503}).ok
    gone = probe("http", {"url": f"http://127.0.0.1:{closed_port()}/"})
    assert not gone.ok and gone.value is None and "Connection refused" in gone.message


def test_tcp_open_and_closed(tcp_listener):
    assert probe("tcp", {"host": "127.0.0.1", "port": tcp_listener}).ok
    closed = probe("tcp", {"host": "127.0.0.1", "port": closed_port()})
    assert not closed.ok and closed.message


@pytest.mark.django_db
def test_database_select_and_a_configured_query():
    assert probe("db", {}).ok
    counted = probe("db", {"query": "SELECT COUNT(*) FROM django_migrations"})
    assert counted.ok and counted.value and counted.value > 10
    broken = probe("db", {"query": "SELECT * FROM no_such_table"})
    assert not broken.ok
    for query in ("DELETE FROM django_migrations", "SELECT 1; DROP TABLE x"):
        with pytest.raises(ServiceError) as err:
            clean_config("db", {"query": query})
        assert "query" in err.value.details["config"]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_postgres_query_runs_read_only():
    # A SELECT calling a writing function is refused by the read-only transaction.
    outcome = probe("db", {"query": "SELECT nextval('django_migrations_id_seq')"})
    assert not outcome.ok and "read-only" in outcome.message


@pytest.mark.redis
def test_redis_ping(redis_url, monkeypatch):
    assert probe("redis", {"url": redis_url}).ok
    monkeypatch.setenv("GC_TEST_MONITOR_REDIS", redis_url)
    assert probe("redis", {"url_env": "GC_TEST_MONITOR_REDIS"}).ok
    assert not probe("redis", {"url": f"redis://127.0.0.1:{closed_port()}/0"}).ok
    with pytest.raises(ServiceError):
        clean_config("redis", {"url": "redis://:secret@127.0.0.1:6379/0"})  # secrets come from the environment


def _listening(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        return True
    except OSError:
        return False


def test_amqp_connection_start():
    if not _listening(5672):
        pytest.skip("RabbitMQ at 127.0.0.1:5672 does not answer")
    outcome = probe("broker", {"protocol": "amqp", "host": "127.0.0.1"})
    assert outcome.ok, outcome.message
    assert outcome.message == "AMQP Connection.Start"


@pytest.mark.nats
def test_nats_info():
    outcome = probe("broker", {"protocol": "nats", "host": "127.0.0.1", "port": 4222})
    assert outcome.ok and outcome.message == "NATS INFO"


@pytest.mark.mqtt
def test_mqtt_connack():
    outcome = probe("broker", {"protocol": "mqtt", "host": "127.0.0.1"})
    assert outcome.ok, outcome.message


def test_a_broker_handshake_fails_on_the_wrong_service(http_server):
    port = int(http_server.rsplit(":", 1)[1])
    for protocol in ("amqp", "nats", "mqtt"):
        outcome = probe("broker", {"protocol": protocol, "host": "127.0.0.1", "port": port}, timeout=1)
        assert not outcome.ok, protocol


def test_disk_free_percent(tmp_path):
    outcome = probe("disk", {"path": str(tmp_path)})
    assert outcome.ok and 0 < outcome.value <= 100
    assert not probe("disk", {"path": str(tmp_path), "min_free_pct": 100}).ok or outcome.value == 100
    assert not probe("disk", {"path": str(tmp_path / "missing")}).ok


def _self_signed(tmp_path, days: int):
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "monitor.test")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=days)).sign(key, hashes.SHA256())
    )  # fmt: skip
    cert_file, key_file = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))  # fmt: skip
    return cert_file, key_file


@pytest.fixture
def tls_server(tmp_path):
    cert_file, key_file = _self_signed(tmp_path, days=20)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_file, key_file)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(8)
    stop = threading.Event()

    def serve():
        sock.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _addr = sock.accept()
            except OSError:
                continue
            try:
                with context.wrap_socket(conn, server_side=True) as tls:
                    tls.recv(1)
            except OSError:
                pass

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield sock.getsockname()[1]
    stop.set()
    thread.join()
    sock.close()


def test_tls_days_left_of_a_self_signed_certificate(tls_server):
    outcome = probe("tls", {"host": "127.0.0.1", "port": tls_server, "server_name": "monitor.test"})
    assert outcome.ok, outcome.message
    assert 19.9 < outcome.value <= 20.0
    assert not probe("tls", {"host": "127.0.0.1", "port": tls_server, "min_days": 30}).ok
    assert not probe("tls", {"host": "127.0.0.1", "port": closed_port()}).ok


def test_freshness_of_the_bikeshare_ingest(tmp_path, settings, db):
    from govcenter.bikeshare.live import open_live_state

    settings.GOVCENTER_BIKESHARE_LIVE_URL = f"sqlite:///{tmp_path / 'live.db'}"
    empty = probe("freshness", {"source": "bikeshare_ingest"})
    assert not empty.ok and empty.message == "no data yet"
    reported = timezone.now() - dt.timedelta(minutes=7)
    with open_live_state() as store:
        store.update({"operator": ["OP1"], "device_id": ["d1"], "vehicle_id": ["v1"],
                      "timestamp_ms": [int(reported.timestamp() * 1000)], "lon": [116.4], "lat": [39.9],
                      "vehicle_state": ["available"]})  # fmt: skip
    stale = probe("freshness", {"source": "bikeshare_ingest", "max_age_s": 300})
    assert not stale.ok and 420 <= stale.value < 480  # 7 minutes old: over the 5-minute limit
    assert probe("freshness", {"source": "bikeshare_ingest", "max_age_s": 900}).ok


def test_config_is_checked_per_kind():
    bad = [
        ("http", {"url": "ftp://x"}), ("tcp", {"host": "127.0.0.1"}), ("tcp", {"host": "a b", "port": 1}),
        ("broker", {"protocol": "kafka", "host": "h"}), ("disk", {"path": "relative"}),
        ("freshness", {"source": "nope"}), ("tls", {"host": "h", "port": 70000}), ("nope", {}),
    ]  # fmt: skip
    for kind, config in bad:
        with pytest.raises(ServiceError):
            clean_config(kind, config)
    assert clean_config("broker", {"protocol": "NATS", "host": "127.0.0.1"}) == {
        "protocol": "nats", "host": "127.0.0.1", "port": 4222}
    assert "bikeshare_ingest" in freshness.names()
