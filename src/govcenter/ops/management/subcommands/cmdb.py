"""``govcenter ops cmdb seed-inventory [--unit CODE]``: load the O&M contract's inventory
(idempotent; see ``govcenter.ops.cmdb.services.seed_inventory``).
``govcenter ops cmdb expiry-alerts``: raise the licence/certificate expiry incidents now
(what the daily task does). Both print JSON; bad input exits 2 with one line."""

from __future__ import annotations

import json

from govcenter.core.management.base import UsageError


def register(subparsers) -> None:
    p = subparsers.add_parser("cmdb", help="CMDB: seed-inventory | expiry-alerts")
    sub = p.add_subparsers(dest="cmdb_action", required=True)
    seed = sub.add_parser("seed-inventory", help="create the O&M contract's inventory (idempotent)")
    seed.add_argument("--unit", help="code of the maintaining unit (default GOVCENTER_OPS_CMDB_UNIT)")
    seed.set_defaults(handler=handle_seed)
    alerts = sub.add_parser("expiry-alerts", help="open incidents for licences/certificates about to expire")
    alerts.set_defaults(handler=handle_alerts)


def handle_seed(command, options: dict) -> None:
    from django.conf import settings

    from govcenter.core.context import acting_as
    from govcenter.core.models import Unit
    from govcenter.ops.cmdb.services import seed_inventory

    code = options.get("unit") or settings.GOVCENTER_OPS_CMDB_UNIT
    unit = Unit.objects.filter(code=code).first()
    if unit is None:
        raise UsageError(f"ops cmdb seed-inventory: no unit with code {code!r} (create it first or pass --unit)")
    with acting_as(None, channel="cli"):
        counts = seed_inventory(unit=unit)
    command.stdout.write(json.dumps(counts))


def handle_alerts(command, options: dict) -> None:
    from govcenter.core.api.errors import ServiceError
    from govcenter.core.context import acting_as
    from govcenter.ops.cmdb.expiry import raise_alerts

    with acting_as(None, channel="cli"):
        try:
            result = raise_alerts()
        except ServiceError as exc:
            raise UsageError(f"ops cmdb expiry-alerts: {exc.detail} {exc.details}") from None
    command.stdout.write(json.dumps(result, ensure_ascii=False))
