"""Two `roomreel serve` nodes on 127.0.0.1 forming one cluster: one PostgreSQL database, one
Redis, one storage directory; each with its own data directory, port and RTC port range."""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psycopg
import pytest
from twilio.rest import Client

from pipeline.accounts import create_api_key, ensure_account
from pipeline.config import Settings
from pipeline.db import Database
from pipeline.sfu.access_token import mint
from pipeline.sids import new_sid
from tests.live_server import LocalHttpClient, free_port
from tests.metrics_scrape import scrape, value
from tests.services import ensure_redis
from tests.waiting import wait_for


@dataclass
class Node:
    name: str
    env: dict[str, str]
    port: int
    log_path: Path
    proc: subprocess.Popen | None = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Node:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "pipeline.cli", "serve", "--host", "127.0.0.1", "--port", str(self.port)],
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=open(self.log_path, "ab"),  # noqa: SIM115
        )
        wait_for(self._up, 30, f"node {self.name} to start", every=0.1)
        return self

    def _up(self) -> bool:
        if self.proc is not None and self.proc.poll() is not None:
            raise AssertionError(f"node {self.name} exited: {self.log_path.read_text()[-2000:]}")
        try:
            return httpx.get(f"{self.base}/openapi.json", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)

    def log(self) -> str:
        return self.log_path.read_text() if self.log_path.exists() else ""


@dataclass
class Cluster:
    db: Database
    account_sid: str
    auth_token: str
    key: object
    storage: Path
    nodes: list[Node] = field(default_factory=list)

    def client(self, node: Node) -> Client:
        return Client(self.account_sid, self.auth_token, http_client=LocalHttpClient(node.base))

    def http(self, node: Node) -> httpx.Client:
        return httpx.Client(base_url=node.base, auth=(self.account_sid, self.auth_token), timeout=30)

    def token(self, identity: str, room: str | None = None) -> str:
        return mint(self.account_sid, self.key.sid, self.key.secret, identity, room)


def make_cluster(tmp: Path, database_url: str, names: tuple[str, ...] = ("a", "b")) -> Cluster:
    redis_url = ensure_redis()
    account_sid, auth_token = new_sid("AC"), secrets.token_hex(16)
    common = {
        **os.environ,
        "ROOMREEL_DATABASE_URL": database_url,
        "ROOMREEL_CLUSTER_URL": redis_url,
        "ROOMREEL_STORAGE_URL": (tmp / "storage").as_uri(),
        "ROOMREEL_ACCOUNT_SID": account_sid,
        "ROOMREEL_AUTH_TOKEN": auth_token,
        # Quick: a "minute" of room timeouts is 0.5 s; a node missing for 2 s is dead.
        "ROOMREEL_ROOM_TIMEOUT_UNIT": "0.5",
        "ROOMREEL_NODE_HEARTBEAT": "0.5",
        "ROOMREEL_NODE_TTL": "2",
    }
    settings = Settings.from_env({**common, "ROOMREEL_DATA_DIR": str(tmp / "setup")})
    db = Database(database_url)
    db.upgrade()
    ensure_account(db, settings)
    cluster = Cluster(db, account_sid, auth_token, create_api_key(db, account_sid, "tests"), tmp / "storage")
    for i, name in enumerate(names):
        port = free_port()
        low = 41000 + 200 * i
        env = {
            **common,
            "ROOMREEL_DATA_DIR": str(tmp / f"node-{name}"),
            "ROOMREEL_PUBLIC_URL": f"http://127.0.0.1:{port}",
            "ROOMREEL_NODE_ID": f"node-{name}",
            "ROOMREEL_RTC_PORT_RANGE": f"{low}-{low + 199}",
        }
        cluster.nodes.append(Node(name, env, port, tmp / f"node-{name}.log"))
    return cluster


@pytest.fixture(scope="module")
def running_cluster(tmp_path_factory, postgres_server) -> Iterator[Cluster]:
    """One cluster per test module: starting two nodes costs more than most tests."""
    name = f"roomreel_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(postgres_server, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    made = make_cluster(tmp_path_factory.mktemp("cluster"), f"{postgres_server.rsplit('/', 1)[0]}/{name}")
    try:
        yield made
    finally:
        for node in made.nodes:
            node.stop()
        made.db.engine.dispose()
        with psycopg.connect(postgres_server, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def cluster(running_cluster: Cluster) -> Cluster:
    """The module's cluster with every node up (a test may have killed or drained one) and no
    room in progress (placement counts them)."""
    for node in running_cluster.nodes:
        if node.proc is None or node.proc.poll() is not None:
            node.start()
    rooms = running_cluster.client(running_cluster.nodes[0]).video.v1.rooms
    for room in rooms.list(status="in-progress"):
        rooms(room.sid).update(status="completed")
    for node in running_cluster.nodes:
        wait_for(lambda node=node: live_rooms(node) == 0, 20, f"node {node.name} to close its rooms")
    return running_cluster


def live_rooms(node: Node) -> float:
    return value(scrape(f"{node.base}/metrics"), "roomreel_live_rooms")
