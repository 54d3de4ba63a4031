"""Fixtures of the monitoring tests: two O&M units with an engineer each, a leader over all,
the SLA policy table (fired alerts open incidents on its clock), local listeners."""

from __future__ import annotations

import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from govcenter.core.calendar import seed_calendar
from govcenter.ops import services
from tests.factories import RoleFactory, UnitFactory, UserFactory

MANAGE = ["ops.view_monitortarget", "ops.manage_monitoring", "ops.view_incident"]


@pytest.fixture
def team(db):
    seed_calendar()
    services.sla_policies_seed()
    unit, other_unit = UnitFactory(code="OM-A"), UnitFactory(code="OM-B")
    engineers = RoleFactory(scope_kind="own_unit", perms=MANAGE)
    leaders = RoleFactory(scope_kind="all", perms=["ops.view_monitortarget"])
    return {
        "unit": unit,
        "other_unit": other_unit,
        "engineer": UserFactory(username="mon-a", unit=unit, role_set=[engineers]),
        "stranger": UserFactory(username="mon-b", unit=other_unit, role_set=[engineers]),
        "leader": UserFactory(username="mon-leader", unit=unit, role_set=[leaders]),
        "nobody": UserFactory(username="mon-nobody", unit=unit),
    }


def closed_port() -> int:
    """A local port nothing listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802
        status = 200 if self.path.startswith("/ok") else 503
        body = b"govcenter ok" if status == 200 else b"down"
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def http_server():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture
def tcp_listener():
    """A listening TCP socket (connections are accepted by the kernel's backlog)."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(1024)
    yield sock.getsockname()[1]
    sock.close()
