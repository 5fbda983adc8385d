"""Local services the tests use for real, started when they are down (127.0.0.1 only)."""

from __future__ import annotations

import glob
import os
import socket
import subprocess

POSTGRES_URL = os.environ.get("ROOMREEL_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("ROOMREEL_TEST_REDIS", "redis://127.0.0.1:6379/0")


def _listening(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


def _wait(port: int, seconds: float = 30) -> bool:
    from tests.waiting import wait_for

    try:
        return wait_for(lambda: _listening(port), seconds, f"port {port}")
    except AssertionError:
        return False


def ensure_postgres() -> str:
    if not _listening(5432):
        versions = sorted(glob.glob("/etc/postgresql/*"))
        if versions:
            version = os.path.basename(versions[-1])
            subprocess.run(
                ["pg_ctlcluster", "--skip-systemctl-redirect", version, "main", "start"], check=False
            )
        if not _wait(5432):
            raise RuntimeError("PostgreSQL is not running on 127.0.0.1:5432 and could not be started")
    return POSTGRES_URL


def ensure_redis() -> str:
    if not _listening(6379):
        subprocess.run(
            [
                "redis-server",
                "--daemonize",
                "yes",
                "--bind",
                "127.0.0.1",
                "-::1",
                "--port",
                "6379",
                "--save",
                "",
                "--appendonly",
                "no",
            ],
            check=False,
        )
        if not _wait(6379):
            raise RuntimeError("Redis is not running on 127.0.0.1:6379 and could not be started")
    return REDIS_URL
