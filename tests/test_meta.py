"""Meta-tests: the suite keeps up with the code.

Every management command under ``src/govcenter/*/management/commands`` is mentioned by at
least one test (by its name, as in ``call_command("name"`` or ``govcenter name``), so a new
command cannot land untested.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SRC = ROOT / "src" / "govcenter"
TESTS = ROOT / "tests"


def _commands() -> list[str]:
    return sorted(
        path.stem
        for path in SRC.glob("*/management/commands/*.py")
        if not path.name.startswith("_")
    )


def _test_sources() -> str:
    return "\n".join(
        path.read_text(encoding="utf-8") for path in TESTS.rglob("test_*.py") if path.resolve() != Path(__file__).resolve()
    )


def test_commands_are_found():
    assert "serve" in _commands()


@pytest.mark.parametrize("command", _commands())
def test_every_management_command_has_a_test(command):
    sources = _test_sources()
    patterns = [
        rf"call_command\(\s*[\"']{command}[\"']",  # call_command("name", …)
        rf"GOVCENTER\s*,\s*[\"']{command}[\"']",  # subprocess: [*GOVCENTER, "name", …]
        rf"[\"']govcenter[\"']\s*,\s*[\"']{command}[\"']",  # main(["govcenter", "name", …])
        rf"govcenter {command}\b",  # a shell line in a docstring or string
    ]
    assert any(re.search(p, sources) for p in patterns), (
        f"management command {command!r} has no test mentioning it (call_command({command!r}, …) or a subprocess)"
    )
