"""``govcenter parking <subcommand>``: the parking app's command line.

Subcommands are plug-ins: every module in ``govcenter/parking/management/subcommands/``
(not starting with ``_``) defines ``register(subparsers)`` and its handler — see
:class:`govcenter.core.management.base.PluginCommand`. Adding a subcommand means adding one
module, no edit here. Built in by the tariff module (``subcommands/tariff.py``):
``govcenter parking quote`` and ``govcenter parking seed-tariffs``.
"""

from __future__ import annotations

from govcenter.core.management.base import PluginCommand

from .. import subcommands as subcommand_package


class Command(PluginCommand):
    help = "Road parking: tariff quotes and seeding, and the subcommands other parking modules add."
    subcommand_package = subcommand_package
