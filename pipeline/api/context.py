"""What every route needs: the database, the storage, the settings and the caller's account."""

from __future__ import annotations

import base64
import binascii
import hmac
from dataclasses import dataclass

import anyio
import anyio.to_thread
from fastapi import Request
from starlette.concurrency import run_in_threadpool

from pipeline.config import Settings
from pipeline.db import Database
from pipeline.db.models import Account, ApiKey
from pipeline.error_codes import AUTH_FAILED, INVALID_PARAMETER
from pipeline.storage import Storage

from .auth_throttle import AuthThrottle
from .errors import ApiError
from .params import Params

READER_THREADS = 16


@dataclass
class Services:
    settings: Settings
    db: Database
    storage: Storage
    _readers: anyio.CapacityLimiter | None = None

    def readers(self) -> anyio.CapacityLimiter:
        """Threads for GET queries, apart from the default pool (40) that writes, authentication
        and signaling use; made on first use, inside the server's event loop."""
        if self._readers is None:
            self._readers = anyio.CapacityLimiter(READER_THREADS)
        return self._readers


@dataclass
class Call:
    """One authenticated request."""

    services: Services
    account: Account
    base: str
    params: Params | None = None
    # A GET: its queries run on the readers' threads, so that heavy listing never starves writes.
    reads: bool = False

    @property
    def db(self) -> Database:
        return self.services.db


def services(request: Request) -> Services:
    return request.app.state.services


def base_url(request: Request) -> str:
    configured = request.app.state.public_url
    return configured or str(request.base_url).rstrip("/")


def basic_credentials(request: Request) -> tuple[str, str]:
    header = request.headers.get("authorization", "")
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic" or not encoded:
        raise ApiError(401, AUTH_FAILED, "Authentication Error - No credentials provided")
    try:
        user, _, password = base64.b64decode(encoded).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        raise ApiError(401, AUTH_FAILED, "Authentication Error - invalid credentials") from None
    return user, password


def authenticate(svc: Services, user: str, password: str) -> Account:
    with svc.db.session() as session:
        if user.startswith("SK"):
            key = session.get(ApiKey, user)
            if key and hmac.compare_digest(key.secret.encode(), password.encode()):
                account = session.get(Account, key.account_sid)
                if account:
                    return account
        else:
            account = session.get(Account, user)
            if account and hmac.compare_digest(account.auth_token.encode(), password.encode()):
                return account
    raise ApiError(401, AUTH_FAILED, "Authentication Error - invalid username or password")


async def call(request: Request, allowed: set[str] | None = None) -> Call:
    """Authenticate and read the parameters (form for POST, query otherwise)."""
    svc = services(request)
    throttle: AuthThrottle = request.app.state.auth_throttle
    address = request.client.host if request.client else "unknown"
    await throttle.check(address)
    user, password = basic_credentials(request)
    try:
        account = await run_in_threadpool(authenticate, svc, user, password)
    except ApiError as exc:
        raise (await throttle.failed(address, user)) or exc from None
    params = None
    if allowed is not None:
        if request.method == "POST" and request.headers.get("content-type", "").startswith(
            "application/json"
        ):
            # Twilio's API takes form parameters only; a JSON body would read as "X is required".
            raise ApiError(
                400,
                INVALID_PARAMETER,
                "Send form-encoded parameters (Content-Type: application/x-www-form-urlencoded), "
                "as Twilio's API takes them, not a JSON body",
            )
        data = await request.form() if request.method == "POST" else request.query_params
        params = Params(data, allowed)
    return Call(svc, account, base_url(request), params, reads=request.method in ("GET", "HEAD"))


async def in_session(c: Call, work):
    """Run `work(session)` off the event loop in one transaction and return its result."""

    def run():
        with c.db.session() as session:
            return work(session)

    if c.reads:
        return await anyio.to_thread.run_sync(run, limiter=c.services.readers())
    return await run_in_threadpool(run)
