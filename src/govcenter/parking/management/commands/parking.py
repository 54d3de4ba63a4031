"""``govcenter parking <subcommand>``: the parking app's command line.

Subcommands are plug-ins. Every module in ``govcenter/parking/management/subcommands/``
(not starting with ``_``) is imported in name order and must define::

    def register(subparsers) -> None:
        p = subparsers.add_parser("my-verb", help="one line")
        p.add_argument(...)
        p.set_defaults(handler=handle_my_verb)

    def handle_my_verb(command, options: dict) -> None:
        ...  # write with command.stdout; raise UsageError("…") for bad input (exit 2)

``command`` is this :class:`Command` (a ``GovcenterCommand``: its ``stdout``/``style``),
``options`` the parsed options. Adding a subcommand therefore means adding one module —
no edit here. Bad input exits 2 with one line (the parsers are the one-line kind).
Built in by the tariff module (``subcommands/tariff.py``): ``govcenter parking quote`` and
``govcenter parking seed-tariffs``.
"""

from __future__ import annotations

import importlib
import pkgutil

from govcenter.core.management.base import GovcenterCommand

from .. import subcommands as subcommand_package


def subcommand_modules() -> list:
    """The plug-in modules, imported, in name order."""
    names = sorted(
        info.name
        for info in pkgutil.iter_modules(subcommand_package.__path__)
        if not info.name.startswith("_")
    )
    return [importlib.import_module(f"{subcommand_package.__name__}.{name}") for name in names]


class Command(GovcenterCommand):
    help = "Road parking: tariff quotes and seeding, and the subcommands other parking modules add."

    def add_arguments(self, parser):
        sub = self.add_subcommands(parser)
        for module in subcommand_modules():
            module.register(sub)

    def handle(self, *args, **options):
        handler = options.get("handler")
        if handler is None:  # a plug-in forgot set_defaults(handler=…): a programming error
            raise RuntimeError(f"parking {options.get('action')}: the subcommand registered no handler")
        return handler(self, options)
