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
from datetime import timedelta

log = logging.getLogger("roomreel.worker")


def run(
    processes: int,
    threads: int,
    reconcile_every: float = 5.0,
    redispatch_after: float = 120.0,
    stale_after: float = 60.0,
    metrics_port: int | None = None,
    metrics_host: str = "127.0.0.1",
) -> int:
    from workers.actors import reconcile

    reconcile(timedelta(seconds=redispatch_after), timedelta(seconds=stale_after))
    env = dict(os.environ)
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
