"""A production-shaped stack on 127.0.0.1: `roomreel serve` and `roomreel worker` processes on
real Redis, S3 over HTTP (moto), SQLite, and an HTTP receiver for the signed callbacks."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import boto3
import httpx
import pytest
import redis
from twilio.rest import Client

from tests.pipeline.api.conftest import LocalHttpClient, free_port
from tests.pipeline.api.test_composition_jobs import Receiver
from tests.pipeline.conftest import room  # noqa: F401  (the 8 s synthetic room)
from tests.services import ensure_redis
from tests.waiting import wait_for

pytestmark = pytest.mark.services
REDIS_DB = 15


@dataclass
class Stack:
    env: dict[str, str]
    base: str
    bucket: str
    s3_endpoint: str
    account_sid: str
    auth_token: str
    receiver: Receiver
    procs: list[subprocess.Popen] = field(default_factory=list)

    def client(self) -> Client:
        return Client(self.account_sid, self.auth_token, http_client=LocalHttpClient(self.base))

    def run(self, *args: str) -> str:
        result = subprocess.run(
            [sys.executable, "-m", "pipeline.cli", *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert result.returncode == 0, result.stderr
        return result.stdout.strip()

    def start(self, *args: str, env: dict[str, str] | None = None, stderr=None) -> subprocess.Popen:
        proc = subprocess.Popen(
            [sys.executable, "-m", "pipeline.cli", *args],
            env={**self.env, **(env or {})},
            start_new_session=True,
            stdout=subprocess.DEVNULL,
            stderr=stderr or subprocess.DEVNULL,
        )
        self.procs.append(proc)
        return proc

    def start_worker(self, *extra: str) -> subprocess.Popen:
        return self.start(
            "worker",
            *extra,
            "--processes",
            "1",
            "--threads",
            "1",
            "--reconcile-every",
            "0.5",
            "--redispatch-after",
            "3",
            "--stale-after",
            "4",
        )

    @staticmethod
    def kill(proc: subprocess.Popen, sig: int = signal.SIGKILL) -> None:
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            pass
        proc.wait(30)

    def objects(self) -> list[str]:
        listing = boto3.client("s3", endpoint_url=self.s3_endpoint).list_objects_v2(Bucket=self.bucket)
        return [o["Key"] for o in listing.get("Contents", [])]

    def composition(self, sid: str):
        return self.client().video.v1.compositions(sid).fetch()

    def wait_status(self, sid: str, statuses: set[str], timeout: float = 180):
        return wait_for(
            lambda: (c := self.composition(sid)).status in statuses and c,
            timeout,
            f"composition {sid} to reach {statuses}",
            every=0.5,
        )

    def events(self, sid: str) -> list[str]:
        return [
            f["StatusCallbackEvent"] for _, _, f in self.receiver.received if f.get("CompositionSid") == sid
        ]


@pytest.fixture
def stack(tmp_path: Path, moto_endpoint):
    ensure_redis()
    redis.Redis(host="127.0.0.1", port=6379, db=REDIS_DB).flushdb()
    bucket = f"rr-{uuid.uuid4().hex[:16]}"
    boto3.client("s3", endpoint_url=moto_endpoint).create_bucket(Bucket=bucket)
    port = free_port()
    account, token = "AC" + uuid.uuid4().hex, uuid.uuid4().hex
    env = {
        **os.environ,
        "ROOMREEL_DATA_DIR": str(tmp_path / "data"),
        "ROOMREEL_DATABASE_URL": f"sqlite:///{tmp_path / 'roomreel.db'}",
        "ROOMREEL_STORAGE_URL": f"s3://{bucket}/rr?endpoint_url={moto_endpoint}&region=us-east-1",
        "ROOMREEL_BROKER_URL": f"redis://127.0.0.1:6379/{REDIS_DB}",
        "ROOMREEL_PUBLIC_URL": f"http://127.0.0.1:{port}",
        "ROOMREEL_ACCOUNT_SID": account,
        "ROOMREEL_AUTH_TOKEN": token,
        "ROOMREEL_HEARTBEAT_SECONDS": "1",
    }
    receiver = Receiver()
    s = Stack(env, f"http://127.0.0.1:{port}", bucket, moto_endpoint, account, token, receiver)
    s.start("serve", "--port", str(port))
    wait_for(lambda: _up(s.base), 30, "the API")
    yield s
    for proc in s.procs:
        if proc.poll() is None:
            s.kill(proc, signal.SIGTERM if proc.args[3] == "serve" else signal.SIGKILL)
    receiver.close()


def _up(base: str) -> bool:
    try:
        return httpx.get(f"{base}/openapi.json", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False
