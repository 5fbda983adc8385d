"""Send one stored status callback, signed as Twilio signs them; retry with back-off."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import urlencode

import httpx
from sqlalchemy import or_, update

from pipeline.callbacks import auth_token_of, signature
from pipeline.db import Database
from pipeline.db.models import CallbackDelivery, utcnow
from pipeline.metrics import CALLBACK_FAILURES

MAX_ATTEMPTS = 8
TIMEOUT = 10.0
# How long a claimed delivery is its worker's alone; longer than any one request can take.
LEASE = timedelta(seconds=3 * TIMEOUT)


def backoff(attempt: int) -> timedelta:
    return timedelta(seconds=min(600, 2**attempt))


def deliver(db: Database, delivery_id: int, client: httpx.Client | None = None) -> str:
    """Returns the delivery's new status: delivered, pending (will retry) or failed; or
    `sending` when another worker holds it (several may be told to send the same one)."""
    with db.session() as session:
        now = utcnow()
        claimed = session.execute(
            update(CallbackDelivery)
            .where(
                CallbackDelivery.id == delivery_id,
                or_(
                    CallbackDelivery.status == "pending",
                    # the lease of a worker that died mid-request has run out
                    (CallbackDelivery.status == "sending") & (CallbackDelivery.next_attempt_at <= now),
                ),
            )
            .values(status="sending", next_attempt_at=now + LEASE)
        ).rowcount
        delivery = session.get(CallbackDelivery, delivery_id)
        if not claimed:
            return delivery.status if delivery else "missing"
        token = auth_token_of(session, delivery.account_sid)
        url, method, params = delivery.url, delivery.method, dict(delivery.params)
    if method == "GET":
        target = url + ("&" if "?" in url else "?") + urlencode(sorted(params.items()))
        headers = {"X-Twilio-Signature": signature(token, target)}
        request = {"method": "GET", "url": target, "headers": headers}
    else:
        headers = {"X-Twilio-Signature": signature(token, url, params)}
        request = {"method": "POST", "url": url, "data": params, "headers": headers}
    error = None
    try:
        http = client or httpx.Client(timeout=TIMEOUT)
        try:
            response = http.request(**request)
        finally:
            if client is None:
                http.close()
        if response.status_code >= 500:
            error = f"HTTP {response.status_code}"
        elif response.status_code >= 400:
            error = f"HTTP {response.status_code} (not retried)"
        elif response.status_code >= 300:
            # A redirect is not followed (it could point anywhere); the callback did not arrive.
            error = f"HTTP {response.status_code}: a redirect, not followed (not retried)"
    except (httpx.UnsupportedProtocol, httpx.InvalidURL) as exc:
        error = f"{type(exc).__name__}: {exc} (not retried)"
    except httpx.HTTPError as exc:
        error = f"{type(exc).__name__}: {exc}"
    with db.session() as session:
        delivery = session.get(CallbackDelivery, delivery_id)
        delivery.attempts += 1
        delivery.last_error = error
        if error is None:
            delivery.status = "delivered"
        elif "not retried" in error or delivery.attempts >= MAX_ATTEMPTS:
            delivery.status = "failed"
        else:
            delivery.status = "pending"
            delivery.next_attempt_at = utcnow() + backoff(delivery.attempts)
        if error is not None:
            CALLBACK_FAILURES.labels(final=str(delivery.status == "failed").lower()).inc()
        return delivery.status
