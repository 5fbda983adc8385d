"""The key that signs local media links, shared by every process of a deployment.

It lives in the database, the one place every process of a deployment (API nodes, workers,
recorders, on any host) already reads. Nothing about it can be guessed: roomreel generates it
at random on first start, or the operator sets ROOMREEL_SECRET_KEY everywhere. A process whose
key disagrees with the one the deployment already uses refuses to start, because its links
would fail on every other host.
"""

from __future__ import annotations

import hashlib
import secrets

from sqlalchemy.exc import IntegrityError, OperationalError, ProgrammingError

from pipeline.config import ConfigError, Settings
from pipeline.db import Database
from pipeline.db.models import DeploymentSecret
from pipeline.storage import Storage, open_storage

MEDIA_SIGNING_KEY = "media_signing_key"


def fingerprint(secret: str) -> str:
    return hashlib.sha256(f"roomreel-signing-key:{secret}".encode()).hexdigest()


def media_signing_key(settings: Settings, db: Database) -> str:
    """The deployment's media signing key; raises ConfigError when this process disagrees."""
    try:
        stored = _stored(db)
        if stored is None:
            stored = _store_first(db, settings.secret_key)
    except (OperationalError, ProgrammingError) as exc:
        raise ConfigError(
            f"cannot read the deployment's signing key from the database ({type(exc).__name__});"
            " run `roomreel db upgrade` first"
        ) from None
    if settings.secret_key is None:
        if stored.value is None:
            raise ConfigError(
                "this deployment signs media links with ROOMREEL_SECRET_KEY; set the same value"
                " for this process as for the others"
            )
        return stored.value
    if stored.fingerprint != fingerprint(settings.secret_key):
        raise ConfigError(
            "ROOMREEL_SECRET_KEY differs from the key the other processes of this deployment use;"
            " set the same value everywhere (or unset it everywhere to use the generated key)"
        )
    return settings.secret_key


def deployment_fingerprint(db: Database) -> str:
    """Names this deployment without revealing its key: cluster nodes of one deployment meet
    under it in Redis, apart from any other deployment sharing that Redis."""
    stored = _stored(db)
    if stored is None:
        raise ConfigError("the deployment's signing key is not stored yet")
    return hashlib.sha256(f"roomreel-deployment:{stored.fingerprint}".encode()).hexdigest()


def _stored(db: Database) -> DeploymentSecret | None:
    with db.session() as session:
        return session.get(DeploymentSecret, MEDIA_SIGNING_KEY)


def _store_first(db: Database, operator_key: str | None) -> DeploymentSecret:
    """Stores this process's key as the deployment's; when another process raced us, theirs wins."""
    if operator_key is None:
        generated = secrets.token_hex(32)
        row = DeploymentSecret(name=MEDIA_SIGNING_KEY, value=generated, fingerprint=fingerprint(generated))
    else:
        row = DeploymentSecret(name=MEDIA_SIGNING_KEY, value=None, fingerprint=fingerprint(operator_key))
    try:
        with db.session() as session:
            session.add(row)
    except IntegrityError:
        stored = _stored(db)
        assert stored is not None
        return stored
    return row


def deployment_storage(settings: Settings, db: Database, public_url: str | None = None) -> Storage:
    """The deployment's storage, whose local links are signed with the deployment's key."""
    return open_storage(
        settings.storage_url, media_signing_key(settings, db), public_url or settings.public_url
    )
