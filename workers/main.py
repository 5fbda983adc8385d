"""`roomreel worker`: dramatiq worker processes plus the reconciler, on any number of hosts."""

from __future__ import annotations

import logging
import signal
import subprocess
import sys
import threading
from datetime import timedelta

log = logging.getLogger("roomreel.worker")


def run(
    processes: int,
    threads: int,
    reconcile_every: float = 5.0,
    redispatch_after: float = 120.0,
    stale_after: float = 60.0,
) -> int:
    from workers.actors import reconcile

    reconcile(timedelta(seconds=redispatch_after), timedelta(seconds=stale_after))
    worker = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "dramatiq",
            "workers.actors",
            "--processes",
            str(processes),
            "--threads",
            str(threads),
        ],
    )
    stopping = threading.Event()

    def stop(signum, _frame):
        stopping.set()
        worker.send_signal(signum)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        while worker.poll() is None:
            stopping.wait(reconcile_every)
            if stopping.is_set():
                worker.wait()
                break
            try:
                reconcile(timedelta(seconds=redispatch_after), timedelta(seconds=stale_after))
            except Exception as exc:  # the database or broker may blink; the next tick retries
                log.warning("reconcile failed: %s", exc)
    finally:
        if worker.poll() is None:
            worker.terminate()
            worker.wait(30)
    return worker.returncode or 0
