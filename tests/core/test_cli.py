"""The ``govcenter`` console command and ``govcenter serve`` (what ``make run`` starts)."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

GOVCENTER = [sys.executable, "-m", "govcenter.cli"]


def _env(var_dir: Path, **overrides) -> dict:
    """The embedded defaults of `make run`: DEBUG on, everything under ``var_dir``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GOVCENTER_") and k != "DJANGO_SETTINGS_MODULE"}
    env.update({"GOVCENTER_DEBUG": "true", "GOVCENTER_VAR_DIR": str(var_dir), "PYTHONUNBUFFERED": "1"})
    env.update(overrides)
    return env


def _free_port() -> int:
    """A port the kernel just handed out: two suites running side by side (as .ci/run does) never pick the same one."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _get(url: str) -> tuple[int, dict]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 — our own loopback server
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def _wait_until_up(url: str, proc: subprocess.Popen, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"serve exited early with {proc.returncode}: {proc.stdout.read()}")
        try:
            if _get(url)[0] == 200:
                return
        except OSError:
            pass
        time.sleep(0.3)
    raise AssertionError(f"{url} did not answer within {seconds}s")


class _Output:
    """Collects a process's output in a thread, so the test can wait for a line."""

    def __init__(self, proc: subprocess.Popen):
        self.lines: list[str] = []
        self._thread = threading.Thread(target=self._read, args=(proc,), daemon=True)
        self._thread.start()

    def _read(self, proc):
        for line in proc.stdout:
            self.lines.append(line)

    def wait_for(self, text: str, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if any(text in line for line in self.lines):
                return
            time.sleep(0.2)
        raise AssertionError(f"{text!r} not printed within {seconds}s:\n{self.text()}")

    def text(self, join: bool = False) -> str:
        if join:
            self._thread.join(30)
        return "".join(self.lines)


def _children(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(p) for p in path.read_text().split()] if path.exists() else []


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, IndexError):
        return False
    return state != "Z"


def _wait_dead(pid: int, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not _alive(pid):
            return True
        time.sleep(0.1)
    return False


def test_help_lists_the_project_commands(tmp_path):
    result = subprocess.run([*GOVCENTER, "--help"], env=_env(tmp_path), capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "govcenter help <subcommand>" in result.stdout
    listed = re.findall(r"^\s{4}(\w+)$", result.stdout, flags=re.MULTILINE)
    for command in ("serve", "token", "worker", "run_huey", "migrate"):
        assert command in listed, command
    assert "[core]" in result.stdout


def test_unknown_command_fails(tmp_path):
    result = subprocess.run([*GOVCENTER, "no-such-command"], env=_env(tmp_path), capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    assert "Unknown command" in result.stderr


@pytest.mark.parametrize(
    ("args", "reason"),
    [(["--port", "70000"], "--port 70000 is not a TCP port"), (["--threads", "0"], "--threads must be at least 1")],
)
def test_serve_refuses_bad_arguments_in_one_line(tmp_path, args, reason):
    result = subprocess.run([*GOVCENTER, "serve", *args], env=_env(tmp_path), capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1 and reason in result.stderr


def test_serve_refuses_a_busy_port_before_starting_anything(tmp_path):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        result = subprocess.run(
            [*GOVCENTER, "serve", "--port", str(port)], env=_env(tmp_path), capture_output=True, text=True, timeout=60
        )
    assert result.returncode == 2
    assert f"cannot listen on 127.0.0.1:{port}" in result.stderr
    assert "worker" not in result.stdout


def test_serve_setup_serves_with_a_worker_and_stops_both_on_sigterm(tmp_path):
    """What `make run` does: migrate, seed, demo once, accounts, waitress + Huey, clean stop."""
    port = _free_port()
    proc = subprocess.Popen(
        [*GOVCENTER, "serve", "--setup", "--port", str(port)],
        env=_env(tmp_path),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    out = _Output(proc)
    try:
        _wait_until_up(f"http://127.0.0.1:{port}/healthz", proc, seconds=180)
        status, ready = _get(f"http://127.0.0.1:{port}/readyz")
        assert status == 200, ready
        assert ready["checks"]["task_queue"]["detail"].startswith("SqliteHuey")
        workers = _children(proc.pid)
        assert len(workers) == 1
        assert "\0worker\0" in Path(f"/proc/{workers[0]}/cmdline").read_text()
        out.wait_for("Huey consumer started", 60)
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    output = out.text(join=True)
    assert proc.returncode == 0, output
    assert "Shutting down gracefully" in output  # the worker got the forwarded signal once
    assert "Traceback" not in output
    assert _wait_dead(workers[0], 5), "the Huey worker outlived the server"
    assert f"govcenter is serving at http://127.0.0.1:{port}/" in output
    assert "Demo#" in output and "sysadmin" in output  # the demo accounts are printed
    assert (tmp_path / "govcenter.sqlite3").exists() and (tmp_path / "demo-accounts.txt").exists()

    # The second start skips the demo and prints the accounts from var/: it takes seconds.
    started = time.monotonic()
    again = subprocess.run(
        [*GOVCENTER, "serve", "--setup-only"], env=_env(tmp_path), capture_output=True, text=True, timeout=60
    )
    assert again.returncode == 0, again.stderr
    assert time.monotonic() - started < 15
    assert "demo data already loaded" in again.stdout and "sysadmin" in again.stdout


def test_the_worker_dies_when_the_server_is_killed_outright(tmp_path):
    port = _free_port()
    subprocess.run([*GOVCENTER, "migrate", "--noinput"], env=_env(tmp_path), capture_output=True, timeout=600, check=True)  # hang guard (see test_audit)
    proc = subprocess.Popen(
        [*GOVCENTER, "serve", "--port", str(port)],
        env=_env(tmp_path),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    out = _Output(proc)
    try:
        _wait_until_up(f"http://127.0.0.1:{port}/healthz", proc, seconds=60)
        workers = _children(proc.pid)
        assert len(workers) == 1
        out.wait_for("Huey consumer started", 60)
        proc.kill()  # SIGKILL: no chance to forward anything
        proc.wait(10)
        assert _wait_dead(workers[0], 10), "orphaned Huey worker"
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()



def test_a_stop_signal_during_worker_start_up_reaches_the_handlers_installed_later():
    """Huey's consumer installs its handlers last; a SIGINT before that must wait for them.

    Without the guard, the first os.kill below raises KeyboardInterrupt in this test.
    """
    from govcenter.core.management.commands.worker import StopSignalGuard

    got: list[int] = []
    before = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        guard = StopSignalGuard()
        guard.arm()
        os.kill(os.getpid(), signal.SIGINT)  # arrives while the consumer is still starting
        os.kill(os.getpid(), signal.SIGINT)  # a second one is not delivered twice
        time.sleep(0.05)
        assert got == []
        signal.signal(signal.SIGINT, lambda signum, frame: got.append(signum))  # "Huey's handler"
        guard.release()
        assert got == [signal.SIGINT]
        assert signal.getsignal(signal.SIGTERM) == before[signal.SIGTERM]  # untouched one restored
    finally:
        for signum, handler in before.items():
            signal.signal(signum, handler)


def test_worker_runs_the_huey_consumer_and_stops_gracefully_on_sigint(tmp_path):
    proc = subprocess.Popen(
        [*GOVCENTER, "worker", "--workers", "1", "--no-periodic"],  # no database here: no tasks
        env=_env(tmp_path),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    out = _Output(proc)
    try:
        out.wait_for("Huey consumer started", 60)
        proc.send_signal(signal.SIGINT)  # at once: most likely before Huey's handlers exist
        proc.wait(60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    output = out.text(join=True)
    assert proc.returncode == 0, output
    assert "Shutting down gracefully" in output and "Consumer exiting" in output, output
    assert "Traceback" not in output and "KeyboardInterrupt" not in output, output
