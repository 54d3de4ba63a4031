"""``govcenter serve``: the web server and the task worker in one foreground command.

``make run`` calls ``govcenter serve --setup``: migrate, load reference data, load the demo
once (DEBUG only), print the demo accounts, then serve. The Huey consumer runs as a child
process; waitress serves ``govcenter.wsgi`` in the foreground. Ctrl-C (SIGINT) or SIGTERM
stops both; the child also dies if the parent is killed outright (PR_SET_PDEATHSIG).
"""

from __future__ import annotations

import contextlib
import ctypes
import io
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from django.conf import settings
from django.core.management import call_command, get_commands

from ..base import GovcenterCommand, UsageError

DEMO_MARKER = "demo-loaded.json"
DEMO_ACCOUNTS = "demo-accounts.txt"
WORKER_STOP_SECONDS = 10


def _parent_death_signal():
    """Linux: a pre-exec hook making the kernel SIGTERM the worker when the server dies.

    libc is loaded here, in the parent; the hook itself only makes one system call.
    """
    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None

    def hook() -> None:  # pragma: no cover - runs in the forked child
        prctl(1, signal.SIGTERM)  # 1 == PR_SET_PDEATHSIG

    return hook


class Command(GovcenterCommand):
    help = "Serve govcenter with waitress and the Huey task worker (--setup: migrate, seed, demo once)."

    def add_arguments(self, parser):
        parser.add_argument("--setup", action="store_true", help="migrate, seed, load the demo once (DEBUG), then serve")
        parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
        parser.add_argument("--port", type=int, default=8000, help="port to listen on (default 8000)")
        parser.add_argument("--threads", type=int, default=None, help="waitress threads (default GOVCENTER_WEB_THREADS)")
        parser.add_argument("--no-worker", action="store_true", help="do not start the Huey consumer")
        parser.add_argument(
            "--setup-only", action="store_true", help="run the --setup steps and exit without serving"
        )

    def handle(self, *args, **options):
        if not 0 < options["port"] < 65536:
            raise UsageError(f"--port {options['port']} is not a TCP port")
        threads = settings.GOVCENTER_WEB_THREADS if options["threads"] is None else options["threads"]
        if threads < 1:
            raise UsageError("--threads must be at least 1")
        if options["setup"] or options["setup_only"]:
            self.setup()
        if options["setup_only"]:
            return

        from waitress.server import create_server

        from govcenter.wsgi import application

        try:
            # Bind before starting the worker, so a busy port fails fast with one line.
            server = create_server(application, host=options["host"], port=options["port"], threads=threads)
        except OSError as exc:
            raise UsageError(f"cannot listen on {options['host']}:{options['port']}: {exc.strerror or exc}") from None

        worker = None if options["no_worker"] else self.start_worker()
        url = f"http://{'127.0.0.1' if options['host'] in ('0.0.0.0', '') else options['host']}:{options['port']}/"  # noqa: S104
        self.banner(url, threads, worker)

        def _terminate(signum, frame):
            raise KeyboardInterrupt

        signal.signal(signal.SIGTERM, _terminate)
        try:
            server.run()
        except KeyboardInterrupt:  # waitress swallows its own; ours arrive between polls
            pass
        finally:
            server.close()
            if worker is not None:
                self.stop_worker(worker)
        self.stdout.write("govcenter stopped.")

    # --- setup ---------------------------------------------------------------------------

    def setup(self) -> None:
        start = time.perf_counter()
        call_command("migrate", interactive=False, verbosity=0)
        commands = get_commands()
        if "seed" in commands:
            call_command("seed", verbosity=0)
        if settings.DEBUG and "demo" in commands:
            self.load_demo_once()
        self.stdout.write(f"setup done in {time.perf_counter() - start:.1f} s")

    def _database_identity(self) -> dict:
        db = settings.DATABASES["default"]
        identity = {"engine": db["ENGINE"], "name": str(db["NAME"]), "host": db.get("HOST", "")}
        if db["ENGINE"].endswith("sqlite3") and Path(db["NAME"]).exists():
            # A deleted and recreated database file gets a new inode: load the demo again.
            identity["inode"] = Path(db["NAME"]).stat().st_ino
        return identity

    def load_demo_once(self) -> None:
        var = Path(settings.GOVCENTER_VAR_DIR)
        marker, accounts = var / DEMO_MARKER, var / DEMO_ACCOUNTS
        identity = self._database_identity()
        loaded = marker.exists() and json.loads(marker.read_text() or "{}") == identity
        if loaded and accounts.exists():
            self.stdout.write(f"demo data already loaded; accounts (from {accounts}):")
            self.stdout.write(accounts.read_text())
            return
        before = accounts.stat().st_mtime if accounts.exists() else None
        buf = io.StringIO()
        # The demo command prints the accounts; capture them so the next start can show them cheaply.
        with contextlib.redirect_stdout(buf):
            call_command("demo", stdout=buf)
        output = buf.getvalue()
        written_by_demo = accounts.exists() and accounts.stat().st_mtime != before
        if not written_by_demo:
            var.mkdir(parents=True, exist_ok=True)
            accounts.write_text(output)
        self.stdout.write(accounts.read_text() if written_by_demo else output)
        marker.write_text(json.dumps(identity))

    # --- worker ----------------------------------------------------------------------------

    def start_worker(self) -> subprocess.Popen:
        # A new session keeps the terminal's Ctrl-C away from the worker: we forward it once.
        return subprocess.Popen(  # noqa: S603
            [sys.executable, "-m", "govcenter.cli", "worker"],
            start_new_session=True,
            preexec_fn=_parent_death_signal(),
            env=os.environ.copy(),
        )

    def stop_worker(self, worker: subprocess.Popen) -> None:
        if worker.poll() is not None:
            return
        worker.send_signal(signal.SIGINT)  # Huey: finish running tasks, then exit
        try:
            worker.wait(WORKER_STOP_SECONDS)
        except subprocess.TimeoutExpired:
            worker.terminate()
            try:
                worker.wait(5)
            except subprocess.TimeoutExpired:
                worker.kill()
                worker.wait()

    def banner(self, url: str, threads: int, worker) -> None:
        huey = settings.HUEY
        queue = huey["huey_class"].rsplit(".", 1)[-1]
        workers = huey.get("consumer", {}).get("workers")
        line = "=" * 64
        lines = [
            line,
            f"  govcenter is serving at {url}",
            f"  web: waitress, {threads} threads · DEBUG={'on' if settings.DEBUG else 'off'}",
            f"  tasks: {queue}, {workers} workers (pid {worker.pid})" if worker else "  tasks: worker not started",
            f"  API docs {url}api/docs/ · health {url}healthz · {url}readyz",
            "  Ctrl-C stops the server and the worker.",
            line,
        ]
        self.stdout.write("\n".join(lines))
