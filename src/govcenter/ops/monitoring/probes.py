"""The probes: one function per kind, each ``(config, timeout) -> Outcome`` and never raising
(a failure is an ``Outcome(ok=False, message=…)``). ``clean_config`` checks a target's config
per kind before it is stored.

* ``http``: ``url`` (http/https), ``expect_status`` (default: any 2xx/3xx), ``contains`` (a
  text the body must hold); value = the status code.
* ``tcp``: ``host``, ``port``: a connect.
* ``db``: ``alias`` (default ``default``), ``query`` (one read-only ``SELECT``, default
  ``SELECT 1``; run in a read-only transaction on PostgreSQL); value = the first column if it
  is a number.
* ``redis``: ``url`` (without a password) or ``url_env`` (the environment variable holding
  it): ``PING``.
* ``broker``: ``protocol`` amqp | nats | mqtt, ``host``, ``port``: AMQP sends the 0-9-1
  protocol header and reads the Connection.Start frame; NATS reads the ``INFO`` line; MQTT
  sends CONNECT (3.1.1) and reads CONNACK (return code 0).
* ``disk``: ``path``; value = free space in %; ``min_free_pct`` (optional) makes less a failure.
* ``tls``: ``host``, ``port`` (443), ``server_name``; value = days until the certificate's
  notAfter (the chain is not verified: expiry of self-signed and internal certificates is
  exactly what is watched); ``min_days`` (optional) makes fewer a failure.
* ``freshness``: ``source`` (a name registered in :mod:`govcenter.core.freshness`); value = age in seconds of
  the newest data; ``max_age_s`` (optional) makes older a failure.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import ssl
import struct
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.utils import timezone
from django.utils.translation import gettext as _

from govcenter.core import freshness
from govcenter.core.api.errors import ServiceError


@dataclass(frozen=True)
class Outcome:
    ok: bool
    latency_ms: int | None = None
    value: float | None = None
    message: str = ""


# ------------------------------------------------------------------------------------------
# Config validation
# ------------------------------------------------------------------------------------------

_HOST = re.compile(r"^[A-Za-z0-9.\-:\[\]]{1,253}$")
_SELECT = re.compile(r"^\s*select\b[^;]*;?\s*$", re.IGNORECASE | re.DOTALL)


def _bad(field: str, message: str):
    return ServiceError(_("监控配置有误：%(field)s") % {"field": field}, code="invalid",
                        details={"config": {field: [message]}})  # fmt: skip


def _need(config: dict, field: str) -> str:
    value = config.get(field)
    if not isinstance(value, str) or not value.strip():
        raise _bad(field, "required")
    return value.strip()


def _port(config: dict, default: int | None = None) -> int:
    value = config.get("port", default)
    if isinstance(value, str) and value.isdigit():
        value = int(value)
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= 65535:
        raise _bad("port", "an integer 1–65535")
    return value


def _host(config: dict) -> str:
    host = _need(config, "host")
    if not _HOST.match(host):
        raise _bad("host", "not a host name or address")
    return host


def _number(config: dict, field: str, lo: float, hi: float) -> float | None:
    value = config.get(field)
    if value in (None, ""):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise _bad(field, "a number") from None
    if not lo <= number <= hi:
        raise _bad(field, f"between {lo:g} and {hi:g}")
    return number


def clean_config(kind: str, config) -> dict:
    """The config of a ``kind`` target, checked and normalised; ServiceError (400) naming
    the field otherwise."""
    if not isinstance(config, dict):
        raise ServiceError(_("监控配置须为 JSON 对象。"), code="invalid", details={"config": ["an object"]})
    out: dict = {}
    if kind == "http":
        url = _need(config, "url")
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise _bad("url", "an http:// or https:// URL")
        if parts.password:
            raise _bad("url", "no password in the URL")
        out["url"] = url
        if config.get("expect_status") not in (None, ""):
            status = _number(config, "expect_status", 100, 599)
            out["expect_status"] = int(status)
        if config.get("contains"):
            out["contains"] = str(config["contains"])[:200]
    elif kind in ("tcp", "tls"):
        out["host"] = _host(config)
        out["port"] = _port(config, 443 if kind == "tls" else None)
        if kind == "tls":
            if config.get("server_name"):
                out["server_name"] = str(config["server_name"])[:253]
            if (days := _number(config, "min_days", 0, 3650)) is not None:
                out["min_days"] = days
    elif kind == "db":
        from django.db import connections

        alias = str(config.get("alias") or "default")
        if alias not in connections.settings:
            raise _bad("alias", f"no database {alias!r}")
        out["alias"] = alias
        query = str(config.get("query") or "SELECT 1").strip()
        if not _SELECT.match(query):
            raise _bad("query", "one SELECT statement")
        out["query"] = query.rstrip(";")
    elif kind == "redis":
        if config.get("url_env"):
            name = str(config["url_env"]).strip()
            if not re.fullmatch(r"[A-Z_][A-Z0-9_]*", name):
                raise _bad("url_env", "an environment variable name")
            out["url_env"] = name
        else:
            url = _need(config, "url")
            parts = urlsplit(url)
            if parts.scheme not in ("redis", "rediss", "unix"):
                raise _bad("url", "a redis:// URL")
            if parts.password:
                raise _bad("url", "no password in the URL: put the URL in the environment and name it in url_env")
            out["url"] = url
    elif kind == "broker":
        protocol = str(config.get("protocol") or "").lower()
        if protocol not in BROKER_PORTS:
            raise _bad("protocol", f"one of {', '.join(BROKER_PORTS)}")
        out["protocol"] = protocol
        out["host"] = _host(config)
        out["port"] = _port(config, BROKER_PORTS[protocol])
    elif kind == "disk":
        path = _need(config, "path")
        if not os.path.isabs(path):
            raise _bad("path", "an absolute path")
        out["path"] = path
        if (pct := _number(config, "min_free_pct", 0, 100)) is not None:
            out["min_free_pct"] = pct
    elif kind == "freshness":
        source = _need(config, "source")
        if source not in freshness.names():
            raise _bad("source", f"one of {', '.join(freshness.names())}")
        out["source"] = source
        if (age := _number(config, "max_age_s", 1, 86400 * 365)) is not None:
            out["max_age_s"] = age
    else:
        raise ServiceError(_("未知的监控类型。"), code="invalid", details={"kind": [str(kind)]})
    return out


# ------------------------------------------------------------------------------------------
# The probes
# ------------------------------------------------------------------------------------------

BROKER_PORTS = {"amqp": 5672, "nats": 4222, "mqtt": 1883}


def _ms(start: float) -> int:
    return max(0, round((time.perf_counter() - start) * 1000))


def _fail(start: float, exc: BaseException | str) -> Outcome:
    text = exc if isinstance(exc, str) else f"{type(exc).__name__}: {exc}"
    return Outcome(ok=False, latency_ms=_ms(start), message=str(text)[:200])


def probe_http(config: dict, timeout: float) -> Outcome:
    start = time.perf_counter()
    request = urllib.request.Request(config["url"], headers={"User-Agent": "govcenter-monitor/1"})  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 (http/https checked)
            status = response.status
            body = response.read(65536) if config.get("contains") else b""
    except urllib.error.HTTPError as exc:
        status, body = exc.code, b""
    except (OSError, ValueError) as exc:
        return _fail(start, exc)
    expected = config.get("expect_status")
    ok = status == expected if expected else 200 <= status < 400
    message = f"HTTP {status}"
    if ok and config.get("contains") and config["contains"].encode() not in body:
        ok, message = False, f"HTTP {status}, body lacks {config['contains']!r}"
    return Outcome(ok=ok, latency_ms=_ms(start), value=float(status), message=message)


def probe_tcp(config: dict, timeout: float) -> Outcome:
    start = time.perf_counter()
    try:
        socket.create_connection((config["host"], config["port"]), timeout=timeout).close()
    except OSError as exc:
        return _fail(start, exc)
    return Outcome(ok=True, latency_ms=_ms(start), message="connected")


def probe_db(config: dict, timeout: float) -> Outcome:
    from django.db import connections, transaction

    start = time.perf_counter()
    alias = config.get("alias", "default")
    connection = connections[alias]
    try:
        with transaction.atomic(using=alias), connection.cursor() as cur:
            if connection.vendor == "postgresql":
                cur.execute("SET TRANSACTION READ ONLY")
                cur.execute("SET LOCAL statement_timeout = %s", [max(1, int(timeout * 1000))])
            cur.execute(config.get("query", "SELECT 1"))
            row = cur.fetchone()
    except Exception as exc:  # noqa: BLE001 (any database error is a failed probe)
        return _fail(start, exc)
    value = row[0] if row and isinstance(row[0], int | float) and not isinstance(row[0], bool) else None
    return Outcome(ok=True, latency_ms=_ms(start), value=None if value is None else float(value),
                   message=f"{connection.vendor} ok")  # fmt: skip


def probe_redis(config: dict, timeout: float) -> Outcome:
    import redis

    start = time.perf_counter()
    url = os.environ.get(config["url_env"], "") if config.get("url_env") else config["url"]
    if not url:
        return _fail(start, f"environment variable {config.get('url_env')} is not set")
    try:
        client = redis.Redis.from_url(url, socket_timeout=timeout, socket_connect_timeout=timeout)
        try:
            answered = client.ping()
        finally:
            client.close()
    except (redis.RedisError, OSError, ValueError) as exc:
        return _fail(start, exc)
    return Outcome(ok=bool(answered), latency_ms=_ms(start), message="PONG" if answered else "no PONG")


def _read(sock: socket.socket, n: int) -> bytes:
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            raise ConnectionError(f"closed after {len(data)} of {n} bytes")
        data += chunk
    return data


def _amqp(sock: socket.socket) -> str:
    sock.sendall(b"AMQP\x00\x00\x09\x01")
    head = _read(sock, 7)
    if head[:4] == b"AMQP":  # the server proposes another protocol version
        raise ConnectionError(f"server wants protocol {head[4:] + _read(sock, 1)!r}")
    frame_type, _channel, size = struct.unpack(">BHI", head)
    payload = _read(sock, min(size, 4))
    if frame_type != 1 or payload[:4] != b"\x00\x0a\x00\x0a":
        raise ConnectionError("no Connection.Start frame")
    return "AMQP Connection.Start"


def _nats(sock: socket.socket) -> str:
    line = b""
    while not line.endswith(b"\r\n") and len(line) < 8192:
        chunk = sock.recv(4096)
        if not chunk:
            break
        line += chunk
    if not line.startswith(b"INFO "):
        raise ConnectionError(f"no INFO line: {line[:40]!r}")
    return "NATS INFO"


def _mqtt(sock: socket.socket) -> str:
    client_id = f"govcenter-probe-{os.getpid()}-{time.monotonic_ns() % 10**9}".encode()
    variable = b"\x00\x04MQTT\x04\x02\x00\x1e"  # protocol MQTT 3.1.1, clean session, keep-alive 30 s
    payload = struct.pack(">H", len(client_id)) + client_id
    body = variable + payload
    sock.sendall(bytes([0x10, len(body)]) + body)
    connack = _read(sock, 4)
    if connack[0] != 0x20:
        raise ConnectionError(f"no CONNACK: {connack!r}")
    if connack[3] != 0:
        raise ConnectionError(f"CONNACK return code {connack[3]}")
    sock.sendall(b"\xe0\x00")  # DISCONNECT
    return "MQTT CONNACK"


def probe_broker(config: dict, timeout: float) -> Outcome:
    start = time.perf_counter()
    handshake = {"amqp": _amqp, "nats": _nats, "mqtt": _mqtt}[config["protocol"]]
    try:
        with socket.create_connection((config["host"], config["port"]), timeout=timeout) as sock:
            message = handshake(sock)
    except (OSError, ConnectionError, struct.error, IndexError) as exc:
        return _fail(start, exc)
    return Outcome(ok=True, latency_ms=_ms(start), message=message)


def probe_disk(config: dict, timeout: float) -> Outcome:
    start = time.perf_counter()
    try:
        usage = shutil.disk_usage(config["path"])
    except OSError as exc:
        return _fail(start, exc)
    free = round(usage.free / usage.total * 100, 2) if usage.total else 0.0
    minimum = config.get("min_free_pct")
    ok = minimum is None or free >= minimum
    return Outcome(ok=ok, latency_ms=_ms(start), value=free, message=f"{free:.1f}% free")


def probe_tls(config: dict, timeout: float) -> Outcome:
    from cryptography import x509

    start = time.perf_counter()
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE  # expiry is read, not trust: self-signed certificates too
    try:
        with socket.create_connection((config["host"], config["port"]), timeout=timeout) as raw:
            with context.wrap_socket(raw, server_hostname=config.get("server_name") or config["host"]) as tls:
                der = tls.getpeercert(binary_form=True)
        cert = x509.load_der_x509_certificate(der)
    except (OSError, ssl.SSLError, ValueError, TypeError) as exc:
        return _fail(start, exc)
    left = (cert.not_valid_after_utc - timezone.now()).total_seconds() / 86400
    minimum = config.get("min_days")
    ok = left > 0 and (minimum is None or left >= minimum)
    return Outcome(ok=ok, latency_ms=_ms(start), value=round(left, 2),
                   message=f"notAfter {cert.not_valid_after_utc:%Y-%m-%d %H:%M}Z")  # fmt: skip


def probe_freshness(config: dict, timeout: float) -> Outcome:
    start = time.perf_counter()
    try:
        newest = freshness.newest(config["source"])
    except Exception as exc:  # noqa: BLE001 (a broken source is a failed probe)
        return _fail(start, exc)
    if newest is None:
        return _fail(start, "no data yet")
    age = max(0.0, (timezone.now() - newest).total_seconds())
    maximum = config.get("max_age_s")
    ok = maximum is None or age <= maximum
    return Outcome(ok=ok, latency_ms=_ms(start), value=round(age, 1), message=f"newest {newest.isoformat()}")


PROBES: dict[str, Callable[[dict, float], Outcome]] = {
    "http": probe_http,
    "tcp": probe_tcp,
    "db": probe_db,
    "redis": probe_redis,
    "broker": probe_broker,
    "disk": probe_disk,
    "tls": probe_tls,
    "freshness": probe_freshness,
}


def run_probe(kind: str, config: dict, timeout: float) -> Outcome:
    """Run the probe of ``kind``; anything unexpected is a failed outcome, never an exception."""
    start = time.perf_counter()
    try:
        return PROBES[kind](config, timeout)
    except Exception as exc:  # noqa: BLE001
        return _fail(start, exc)
