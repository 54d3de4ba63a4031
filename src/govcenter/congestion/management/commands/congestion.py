"""``govcenter congestion <subcommand>``: the congestion-relief app's command line.

Subcommands are plug-ins: every module in ``govcenter/congestion/management/subcommands/``
(not starting with ``_``) defines ``register(subparsers)`` and its handler — see
:class:`govcenter.core.management.base.PluginCommand`.
"""

from __future__ import annotations

from govcenter.core.management.base import PluginCommand

from .. import subcommands as subcommand_package


class Command(PluginCommand):
    help = "Congestion-relief project management: the demo year and the subcommands other modules add."
    subcommand_package = subcommand_package
