"""A real roomreel API on 127.0.0.1, driven by the official twilio client."""

from __future__ import annotations

import pytest

from tests.live_server import LocalHttpClient, Server, free_port, running_server

__all__ = ["LocalHttpClient", "Server", "free_port"]


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
    with running_server(directory, url) as server:
        yield server
    if request.param == "postgresql":
        import psycopg

        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
