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
