"""`roomreel worker`: dramatiq worker processes plus the reconciler, on any number of hosts."""

from __future__ import annotations

import logging
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from datetime import timedelta

log = logging.getLogger("roomreel.worker")
# dramatiq's consumer threads try to reconnect this often (ms) while the broker is away; the
# default, 3 s, from every thread of every process, is a flood of reconnects for nothing.
CONSUMER_RESTART_DELAY_MS = "30000"


class BrokerWatch:
    """Whether the broker answers, asked at a growing interval while it does not, with one log
    line per attempt: the broker being down is said plainly, once each time it is tried."""

    def __init__(self, url: str, first: float = 1.0, longest: float = 60.0) -> None:
        self.url = url
        self.first = first
        self.longest = longest
        self.delay = first
        self.next_try = 0.0
        self.down = False

    def up(self) -> bool:
        """True when the broker answers now; False when it did not, or it is not yet time to ask."""
        from workers.broker import broker_error

        now = time.monotonic()
        if self.down and now < self.next_try:
            return False
        error = broker_error(self.url)
        where = self.url.split("@")[-1]
        if error is None:
            if self.down:
                log.info("broker %s is back", where)
            self.down, self.delay = False, self.first
            return True
        log.warning("broker %s unreachable (%s): next try in %.0f s", where, error, self.delay)
        self.down, self.next_try = True, now + self.delay
        self.delay = min(self.longest, self.delay * 2)
        return False

    def wait(self, stopping: threading.Event) -> bool:
        """Blocks until the broker answers (True) or `stopping` is set (False)."""
        while not self.up():
            if stopping.wait(max(0.0, self.next_try - time.monotonic())):
                return False
        return True


def run(
    processes: int,
    threads: int,
    reconcile_every: float = 5.0,
    redispatch_after: float = 120.0,
    stale_after: float = 60.0,
    metrics_port: int | None = None,
    metrics_host: str = "127.0.0.1",
) -> int:
    from pipeline.config import Settings

    stopping = threading.Event()

    def stop(signum, _frame):
        stopping.set()
        if worker is not None:
            worker.send_signal(signum)

    worker: subprocess.Popen | None = None
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    watch = BrokerWatch(Settings.from_env().broker_url)
    if not watch.wait(stopping):
        return 0
    from workers.actors import reconcile

    reconcile(timedelta(seconds=redispatch_after), timedelta(seconds=stale_after))
    env = dict(os.environ, dramatiq_restart_delay=CONSUMER_RESTART_DELAY_MS)
    metrics_dir = None
    if metrics_port is not None:
        metrics_dir = serve_metrics(metrics_host, metrics_port)
        env["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir
    worker = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "workers.dramatiq_entry",
            "workers.actors",
            "--processes",
            str(processes),
            "--threads",
            str(threads),
            # JSON logs: roomreel's handlers, not dramatiq's text format, in every process
            *(["--skip-logging"] if os.environ.get("ROOMREEL_LOG_FORMAT", "").lower() == "json" else []),
        ],
        env=env,
    )
    try:
        while worker.poll() is None:
            stopping.wait(reconcile_every)
            if stopping.is_set():
                worker.wait()
                break
            if not watch.up():
                continue  # said once per attempt; the reconcile after it sends what waited
            try:
                reconcile(timedelta(seconds=redispatch_after), timedelta(seconds=stale_after))
            except Exception as exc:  # the database may blink; the next tick retries
                log.warning("reconcile failed: %s", exc)
    finally:
        if worker.poll() is None:
            worker.terminate()
            worker.wait(30)
        if metrics_dir is not None:
            shutil.rmtree(metrics_dir, ignore_errors=True)
    return worker.returncode or 0


def serve_metrics(host: str, port: int) -> str:
    """Serve the counters of every dramatiq process of this host on one port (Prometheus'
    multiprocess mode: each process writes its own files in the returned directory)."""
    from prometheus_client import CollectorRegistry, start_http_server
    from prometheus_client.multiprocess import MultiProcessCollector

    directory = tempfile.mkdtemp(prefix="roomreel-metrics-")
    registry = CollectorRegistry()
    MultiProcessCollector(registry, path=directory)
    start_http_server(port, addr=host, registry=registry)
    log.info("worker metrics on http://%s:%d/metrics", host, port)
    return directory
