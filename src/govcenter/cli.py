"""The ``govcenter`` console command: the project's manage.py.

Every app adds subcommands as Django management commands; ``govcenter --help`` lists
them. A configuration error ends the process with exit code 2 and one line.
"""

from __future__ import annotations

import os
import sys


def main(argv: list[str] | None = None) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "govcenter.settings")
    argv = list(sys.argv if argv is None else argv)
    argv[0] = "govcenter"
    try:
        from django.core.management import execute_from_command_line

        execute_from_command_line(argv)
    except Exception as exc:
        # ConfigError is defined inside the settings package, whose import is what failed
        # (importing it here first would raise the same error): recognise it by its class.
        if type(exc).__name__ != "ConfigError" or type(exc).__module__ != "govcenter.settings.env":
            raise
        print(f"govcenter: {exc}", file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main()
