"""``govcenter security unlock USERNAME [--ip IP] --reason TEXT`` · ``security locked`` · ``security disable-idle``."""

from __future__ import annotations

import ipaddress

from ...context import acting_as
from ...security import account_unlock, accounts_disable_idle, locked_out
from ..base import GovcenterCommand, UsageError


class Command(GovcenterCommand):
    help = "Login lockouts and idle accounts: list and lift locks, disable idle accounts now."

    def add_arguments(self, parser):
        sub = self.add_subcommands(parser)
        unlock = sub.add_parser("unlock", help="lift the lock of USERNAME (and/or of a source IP)")
        unlock.add_argument("username", nargs="?", default="")
        unlock.add_argument("--ip", default=None, help="also (or only) lift the lock of this source IP")
        unlock.add_argument("--reason", default="unlocked from the command line")
        sub.add_parser("locked", help="list accounts and IPs locked now")
        sub.add_parser(
            "disable-idle", help="disable accounts idle beyond GOVCENTER_ACCOUNT_IDLE_DISABLE_DAYS now"
        )

    def handle(self, *args, **options):
        with acting_as(None, channel="cli"):
            getattr(self, options["action"].replace("-", "_"))(options)

    def unlock(self, options) -> None:
        username, ip = options["username"].strip(), options["ip"]
        if not username and not ip:
            raise UsageError("give a USERNAME, --ip IP, or both")
        if ip:
            try:
                ipaddress.ip_address(ip)
            except ValueError:
                raise UsageError(f"--ip {ip!r} is not an IP address") from None
        removed = account_unlock(username=username, ip=ip, actor=None, reason=options["reason"])
        self.stdout.write(
            f"unlocked {' '.join(x for x in (username, ip) if x)} ({removed} failures discarded)"
        )

    def locked(self, options) -> None:
        for lock in locked_out():
            self.stdout.write(f"{lock['scope']}\t{lock['key']}\t{lock['until'].isoformat()}")

    def disable_idle(self, options) -> None:
        self.stdout.write(f"disabled {len(accounts_disable_idle())} idle accounts")
