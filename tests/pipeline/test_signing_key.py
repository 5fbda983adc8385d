"""The media signing key: random, kept in the database, the same for every process of a
deployment, and a process that disagrees refuses to start."""

from __future__ import annotations

import hashlib
import time

import httpx
import pytest

from pipeline.config import ConfigError, Settings
from pipeline.db import Database
from pipeline.importer import import_room
from pipeline.signing_key import deployment_storage, media_signing_key
from pipeline.storage import LocalStorage
from tests.live_server import running_server


def settings_for(tmp_path, database_url: str, secret: str | None = None) -> Settings:
    env = {"ROOMREEL_DATA_DIR": str(tmp_path / "data"), "ROOMREEL_DATABASE_URL": database_url}
    if secret is not None:
        env["ROOMREEL_SECRET_KEY"] = secret
    return Settings.from_env(env)


@pytest.fixture
def db(database_url):
    db = Database(database_url)
    db.upgrade()
    yield db
    db.engine.dispose()


def test_the_generated_key_is_random_and_shared_by_every_process(tmp_path, database_url, db):
    settings = settings_for(tmp_path, database_url)
    first = media_signing_key(settings, db)
    # Another process of the same deployment (a worker, another host) reads the same key.
    other = Database(database_url)
    try:
        assert media_signing_key(settings, other) == first
    finally:
        other.engine.dispose()
    assert len(first) == 64
    assert first != hashlib.sha256(f"roomreel:{settings.data_dir}".encode()).hexdigest()
    # A second deployment with the same data directory path gets a key of its own.
    elsewhere = Database(f"sqlite:///{tmp_path / 'other.db'}")
    elsewhere.upgrade()
    try:
        assert media_signing_key(settings, elsewhere) != first
    finally:
        elsewhere.engine.dispose()


def test_a_process_whose_key_disagrees_refuses_to_start(tmp_path, database_url, db):
    media_signing_key(settings_for(tmp_path, database_url), db)
    with pytest.raises(ConfigError, match="differs"):
        media_signing_key(settings_for(tmp_path, database_url, "an-operator-secret"), db)


def test_an_operator_key_must_be_set_on_every_process(tmp_path, database_url, db):
    operator = settings_for(tmp_path, database_url, "an-operator-secret")
    assert media_signing_key(operator, db) == "an-operator-secret"
    assert media_signing_key(operator, db) == "an-operator-secret"
    with pytest.raises(ConfigError, match="differs"):
        media_signing_key(settings_for(tmp_path, database_url, "another-secret"), db)
    with pytest.raises(ConfigError, match="set the same value"):
        media_signing_key(settings_for(tmp_path, database_url), db)
    # The database keeps only a fingerprint of the operator's secret.
    with db.engine.connect() as connection:
        rows = connection.exec_driver_sql("SELECT value, fingerprint FROM deployment_secrets").all()
    assert rows[0][0] is None and "an-operator-secret" not in rows[0][1]


def test_a_database_without_the_schema_is_a_clear_error(tmp_path):
    bare = Database(f"sqlite:///{tmp_path / 'bare.db'}")
    with pytest.raises(ConfigError, match="roomreel db upgrade"):
        media_signing_key(settings_for(tmp_path, f"sqlite:///{tmp_path / 'bare.db'}"), bare)


def test_links_cannot_be_forged_or_outlive_the_longest_ttl(tmp_path, room):
    with running_server(tmp_path / "data") as server:
        storage = deployment_storage(server.settings, server.db, server.base)
        assert isinstance(storage, LocalStorage)
        room_sid = import_room(server.db, storage, server.account_sid, room)
        key = f"rooms/{room_sid}/room.json"
        assert storage.exists(key)

        def fetch(secret: str, expires: int) -> httpx.Response:
            forged = LocalStorage(storage.root, secret, server.base)
            return httpx.get(
                f"{server.base}/media/{key}",
                params={"Expires": expires, "Signature": forged.signature(key, expires)},
            )

        soon = int(time.time()) + 600
        assert fetch(media_signing_key(server.settings, server.db), soon).status_code == 200
        # The key the old default derived from the data directory, with a 31-year Expires.
        derived = hashlib.sha256(f"roomreel:{server.settings.data_dir}".encode()).hexdigest()
        forged = fetch(derived, int(time.time()) + 31 * 365 * 86400)
        assert forged.status_code == 403 and forged.json()["code"] == 20403
        assert fetch(derived, soon).status_code == 403
        # Even the real key cannot sign a link that outlives the longest Ttl (3600 s).
        real = media_signing_key(server.settings, server.db)
        assert fetch(real, int(time.time()) + 2 * 3600).status_code == 403
        assert fetch(real, int(time.time()) - 1).status_code == 403
