"""Base class for govcenter commands: bad input exits 2 with one line, no traceback."""

from __future__ import annotations

import sys

from django.core.management.base import BaseCommand, CommandError, CommandParser


class UsageError(CommandError):
    """Bad input on the command line (exit status 2)."""

    def __init__(self, message: str):
        super().__init__(message, returncode=2)


class _OneLineParser(CommandParser):
    def error(self, message):
        # argparse prints the whole usage; operators and scripts want one line.
        sys.stderr.write(f"{self.prog}: {message}\n")
        sys.exit(2)


class GovcenterCommand(BaseCommand):
    """Use for every command: ``raise UsageError("…")`` on bad input."""

    def create_parser(self, prog_name, subcommand, **kwargs):
        parser = super().create_parser(prog_name, subcommand, **kwargs)
        parser.__class__ = type("GovcenterParser", (_OneLineParser,), {})
        return parser

    def add_subcommands(self, parser, dest: str = "action"):
        """Subparsers that also report errors in one line."""
        return parser.add_subparsers(dest=dest, required=True, parser_class=_OneLineParser)


class PluginCommand(GovcenterCommand):
    """A command whose subcommands are plug-in modules of one package (``govcenter <app> <verb>``).

    Every module of ``subcommand_package`` (not starting with ``_``) is imported in name order
    and must define::

        def register(subparsers) -> None:
            p = subparsers.add_parser("my-verb", help="one line")
            p.add_argument(...)
            p.set_defaults(handler=handle_my_verb)

        def handle_my_verb(command, options: dict) -> None:
            ...  # write with command.stdout; raise UsageError("…") for bad input (exit 2)

    Adding a subcommand therefore means adding one module; bad input exits 2 with one line.
    """

    subcommand_package = None  # the package module holding the plug-ins

    def subcommand_modules(self) -> list:
        """The plug-in modules, imported, in name order."""
        import importlib
        import pkgutil

        package = self.subcommand_package
        names = sorted(info.name for info in pkgutil.iter_modules(package.__path__) if not info.name.startswith("_"))
        return [importlib.import_module(f"{package.__name__}.{name}") for name in names]

    def add_arguments(self, parser):
        sub = self.add_subcommands(parser)
        for module in self.subcommand_modules():
            module.register(sub)

    def handle(self, *args, **options):
        handler = options.get("handler")
        if handler is None:  # a plug-in forgot set_defaults(handler=…): a programming error
            raise RuntimeError(f"{options.get('action')}: the subcommand registered no handler")
        return handler(self, options)
