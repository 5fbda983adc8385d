import uuid

import psycopg
import pytest

from tests.services import ensure_postgres


@pytest.fixture(scope="session")
def postgres_server():
    return ensure_postgres()


@pytest.fixture
def postgres_url(postgres_server):
    """A fresh database on the local server, dropped afterwards."""
    name = f"roomreel_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(postgres_server, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base = postgres_server.rsplit("/", 1)[0]
    yield f"{base}/{name}"
    with psycopg.connect(postgres_server, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.services)])
def database_url(request, tmp_path):
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'roomreel.db'}"
    return request.getfixturevalue("postgres_url")
