"""``flush`` that can empty the audit tables of a *test* database, and nothing else.

The audit tables are append-only at the database level (triggers, see
``govcenter.core.audit``): Django's flush (``TRUNCATE`` on PostgreSQL, ``DELETE`` on SQLite)
would be refused, which breaks ``TransactionTestCase``/``live_server`` tests that reset
the database between tests. On the test database the runner created, this command drops
the triggers for the flush and puts them back; on any other database it is Django's flush
unchanged, so the triggers keep refusing to wipe the audit chain.
"""

from __future__ import annotations

from django.core import mail
from django.core.management.commands import flush
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.backends.base.creation import TEST_DATABASE_PREFIX

from ... import audit


def _is_test_database(conn) -> bool:
    """Inside a test run (``mail.outbox`` exists only between setup and teardown of the test
    environment) and connected to the database the runner created (its name: ``test_…``, an
    in-memory SQLite database, or the configured TEST NAME)."""
    if not hasattr(mail, "outbox"):
        return False
    name = str(conn.settings_dict.get("NAME") or "")
    test_name = (conn.settings_dict.get("TEST") or {}).get("NAME")
    return (
        name.startswith(TEST_DATABASE_PREFIX)
        or "mode=memory" in name
        or name == ":memory:"
        or name == test_name
    )


class Command(flush.Command):
    def handle(self, **options):
        conn = connections[options.get("database") or DEFAULT_DB_ALIAS]
        if not _is_test_database(conn):
            return super().handle(**options)
        audit.uninstall_guard(conn)
        try:
            return super().handle(**options)
        finally:
            audit.install_guard(conn)
