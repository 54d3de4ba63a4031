"""`govcenter worker`: the Huey consumer (`run_huey`) without its start-up signal window.

Huey's consumer logs "consumer started", starts its scheduler and worker threads and only
then installs its SIGINT/SIGTERM handlers. A stop signal in between meets Python's default
handlers: SIGINT raises KeyboardInterrupt wherever the main thread is (a traceback, no
graceful stop) and SIGTERM kills the process outright. `govcenter serve` stops its worker
with SIGINT, possibly right after starting it. Here a stop signal that arrives before
Huey's handlers are in place is held and delivered to them once they are: finish running
tasks, then exit. (Blocking the signals is not enough: threads that native libraries start
at import time do not block them, and CPython runs the handler in the main thread anyway.)
"""

from __future__ import annotations

import signal

from huey.consumer import Consumer
from huey.contrib.djhuey.management.commands.run_huey import Command as RunHueyCommand

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class StopSignalGuard:
    """Hold the stop signals that arrive between `arm()` and `release()`; then deliver each once.

    Whoever installs a handler in between gets the held signal; a signal whose handler is
    still the guard's at release gets its previous handler back first.
    """

    def __init__(self, signals=STOP_SIGNALS):
        self.signals = tuple(signals)
        self.received: list[int] = []
        self._previous: dict[int, object] = {}

    def _hold(self, signum, frame) -> None:
        if signum not in self.received:
            self.received.append(signum)

    def arm(self) -> None:
        self._previous = {signum: signal.signal(signum, self._hold) for signum in self.signals}

    def release(self) -> None:
        previous, self._previous = self._previous, {}
        for signum, handler in previous.items():
            if signal.getsignal(signum) == self._hold:
                signal.signal(signum, handler)
        received, self.received = self.received, []
        for signum in received:
            signal.raise_signal(signum)

    def __enter__(self):
        self.arm()
        return self

    def __exit__(self, *exc) -> None:
        self.release()


class _GuardedConsumer(Consumer):
    guard: StopSignalGuard | None = None

    def start(self):
        try:
            super().start()  # installs Huey's signal handlers as its last step
        finally:
            if self.guard is not None:
                self.guard.release()


class Command(RunHueyCommand):
    help = "Run the Huey task consumer (what `govcenter serve` starts); a stop signal during start-up is not lost."

    def handle(self, *args, **options):
        from huey.contrib.djhuey import HUEY

        guard = StopSignalGuard()
        guard.arm()  # from here until Huey's own handlers are in place

        def create_consumer(**config):
            consumer = _GuardedConsumer(HUEY, **config)
            consumer.guard = guard
            return consumer

        HUEY.create_consumer = create_consumer
        try:
            super().handle(*args, **options)
        finally:
            guard.release()  # a no-op after start; restores the handlers if start never came
