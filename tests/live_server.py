"""A real roomreel server (API and SFU) on 127.0.0.1 in a thread, for tests that talk to it."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import uvicorn
from twilio.rest import Client

from pipeline.accounts import create_api_key, ensure_account
from pipeline.api.app import create_app
from pipeline.config import Settings
from pipeline.db import Database
from pipeline.sfu import SfuSettings
from pipeline.sfu.access_token import mint
from pipeline.twilio_import.source import ElsewhereHttpClient
from tests.waiting import wait_for

# What the twilio library would send to Twilio, sent to the local server instead.
LocalHttpClient = ElsewhereHttpClient


@dataclass
class Server:
    base: str
    settings: Settings
    db: Database
    app: object
    account_sid: str
    auth_token: str
    _key: object = None

    def client(self) -> Client:
        return Client(self.account_sid, self.auth_token, http_client=LocalHttpClient(self.base))

    def http(self) -> httpx.Client:
        return httpx.Client(base_url=self.base, auth=(self.account_sid, self.auth_token), timeout=30)

    def token(self, identity: str, room: str | None = None, ttl: int = 3600, **kw) -> str:
        if self._key is None:
            self._key = create_api_key(self.db, self.account_sid, "tests")
        return mint(self.account_sid, self._key.sid, self._key.secret, identity, room, ttl, **kw)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def running_server(
    directory: Path, url: str | None = None, sfu: SfuSettings | None = None, env: dict[str, str] | None = None
) -> Iterator[Server]:
    url = url or f"sqlite:///{directory / 'roomreel.db'}"
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    settings = Settings.from_env(
        {
            "ROOMREEL_DATA_DIR": str(directory),
            "ROOMREEL_DATABASE_URL": url,
            "ROOMREEL_PUBLIC_URL": base,
            **(env or {}),
        }
    )
    db = Database(url)
    db.upgrade()
    account, _ = ensure_account(db, settings)
    app = create_app(settings, db, public_url=base, sfu_settings=sfu or SfuSettings(hosts=["127.0.0.1"]))
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning")
    uv = uvicorn.Server(config)
    thread = threading.Thread(target=uv.run, daemon=True)
    thread.start()
    wait_for(lambda: uv.started, 20, "the API to start", every=0.05)
    try:
        yield Server(base, settings, db, app, account.sid, account.auth_token)
    finally:
        uv.should_exit = True
        thread.join(10)
        db.engine.dispose()


@dataclass
class ServeProcess:
    """`roomreel serve` in a process of its own on 127.0.0.1 (crash tests, benchmarks), with its
    database, account and an API key for tokens made before it starts."""

    env: dict[str, str]
    base: str
    port: int
    db: Database
    account_sid: str
    auth_token: str
    key: object
    proc: subprocess.Popen | None = None
    log_path: Path | None = None  # the server's stderr, when kept

    @classmethod
    def prepare(cls, data_dir: Path) -> ServeProcess:
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        env = {**os.environ, "ROOMREEL_DATA_DIR": str(data_dir), "ROOMREEL_PUBLIC_URL": base}
        settings = Settings.from_env(env)
        db = Database(settings.database_url)
        db.upgrade()
        account, _ = ensure_account(db, settings)
        key = create_api_key(db, account.sid)
        return cls(env, base, port, db, account.sid, account.auth_token, key)

    @property
    def auth(self) -> tuple[str, str]:
        return (self.account_sid, self.auth_token)

    def token(self, identity: str, room: str | None = None) -> str:
        return mint(self.account_sid, self.key.sid, self.key.secret, identity, room)

    def start(self) -> subprocess.Popen:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "pipeline.cli", "serve", "--host", "127.0.0.1", "--port", str(self.port)],
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=open(self.log_path, "ab") if self.log_path else subprocess.DEVNULL,  # noqa: SIM115
        )
        wait_for(self._up, 30, "roomreel serve to start", every=0.1)
        return self.proc

    def _up(self) -> bool:
        try:
            return httpx.get(f"{self.base}/openapi.json", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    def stop(self, kill: bool = False) -> None:
        if self.proc is not None:
            self.proc.kill() if kill else self.proc.terminate()
            self.proc.wait(30)
