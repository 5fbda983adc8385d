"""A real roomreel API on 127.0.0.1, driven by the official twilio client."""

from __future__ import annotations

import socket
import threading
from dataclasses import dataclass

import httpx
import pytest
import uvicorn
from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client

from pipeline.accounts import ensure_account
from pipeline.api.app import create_app
from pipeline.config import Settings
from pipeline.db import Database
from tests.waiting import wait_for

TWILIO = "https://video.twilio.com"


class LocalHttpClient(TwilioHttpClient):
    """Sends what the twilio library would send to Twilio to the local server instead."""

    def __init__(self, base: str) -> None:
        super().__init__()
        self.base = base

    def request(
        self,
        method,
        url,
        params=None,
        data=None,
        headers=None,
        auth=None,
        timeout=None,
        allow_redirects=False,
    ):
        return super().request(
            method, url.replace(TWILIO, self.base), params, data, headers, auth, timeout, allow_redirects
        )


@dataclass
class Server:
    base: str
    settings: Settings
    db: Database
    app: object
    account_sid: str
    auth_token: str

    def client(self) -> Client:
        return Client(self.account_sid, self.auth_token, http_client=LocalHttpClient(self.base))

    def http(self) -> httpx.Client:
        return httpx.Client(base_url=self.base, auth=(self.account_sid, self.auth_token), timeout=30)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.services)])
def server(request, tmp_path_factory):
    directory = tmp_path_factory.mktemp("api")
    if request.param == "postgresql":
        import uuid

        import psycopg

        from tests.services import ensure_postgres

        admin = ensure_postgres()
        name = f"roomreel_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        url = admin.rsplit("/", 1)[0] + "/" + name
    else:
        url = f"sqlite:///{directory / 'roomreel.db'}"
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    settings = Settings.from_env(
        {"ROOMREEL_DATA_DIR": str(directory), "ROOMREEL_DATABASE_URL": url, "ROOMREEL_PUBLIC_URL": base}
    )
    db = Database(url)
    db.upgrade()
    account, _ = ensure_account(db, settings)
    app = create_app(settings, db, public_url=base)
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning")
    uv = uvicorn.Server(config)
    thread = threading.Thread(target=uv.run, daemon=True)
    thread.start()
    wait_for(lambda: uv.started, 20, "the API to start", every=0.05)
    yield Server(base, settings, db, app, account.sid, account.auth_token)
    uv.should_exit = True
    thread.join(10)
    db.engine.dispose()
    if request.param == "postgresql":
        import psycopg

        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
