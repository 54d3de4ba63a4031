"""``govcenter ops <subcommand>``: the operations & maintenance command line.

Subcommands are plug-ins: every module in ``govcenter/ops/management/subcommands/`` (not
starting with ``_``) defines ``register(subparsers)`` and its handler — see
:class:`govcenter.core.management.base.PluginCommand`.
"""

from __future__ import annotations

from govcenter.core.management.base import PluginCommand

from .. import subcommands as subcommand_package


class Command(PluginCommand):
    help = "Operations & maintenance: SLA clocks and the subcommands other modules add."
    subcommand_package = subcommand_package
