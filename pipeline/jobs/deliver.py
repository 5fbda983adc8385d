"""Send one stored status callback, signed as Twilio signs them; retry with back-off."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import urlencode

import httpcore
from sqlalchemy import or_, update

from pipeline.callbacks import auth_token_of, signature
from pipeline.db import Database
from pipeline.db.models import CallbackDelivery, utcnow
from pipeline.metrics import CALLBACK_FAILURES
from pipeline.outbound_http import NETWORK_ERRORS, send
from pipeline.outbound_policy import OutboundPolicy, RefusedAddress

MAX_ATTEMPTS = 8
# The whole of one attempt, connect to last byte: Twilio's own callback timeout.
DEADLINE = 15.0
# How long a claimed delivery is its worker's alone; longer than any one request can take.
LEASE = timedelta(seconds=2 * DEADLINE)


def backoff(attempt: int) -> timedelta:
    return timedelta(seconds=min(600, 2**attempt))


def deliver(
    db: Database, delivery_id: int, policy: OutboundPolicy | None = None, deadline: float = DEADLINE
) -> str:
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
    error = _attempt(url, method, params, token, policy or OutboundPolicy.from_env(), deadline)
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


def _attempt(
    url: str, method: str, params: dict[str, str], token: str, policy: OutboundPolicy, deadline: float
) -> str | None:
    """One request; the error that made it fail, with "(not retried)" when no retry can help."""
    if method == "GET":
        target = url + ("&" if "?" in url else "?") + urlencode(sorted(params.items()))
        headers = {"X-Twilio-Signature": signature(token, target)}
        body = b""
    else:
        target = url
        headers = {
            "X-Twilio-Signature": signature(token, url, params),
            "Content-Type": "application/x-www-form-urlencoded",
        }
        body = urlencode(params).encode()
    headers["User-Agent"] = "roomreel-callbacks"
    try:
        status = send(method, target, policy=policy, deadline=deadline, headers=headers, body=body).status
    except RefusedAddress as exc:
        return f"refused: {exc} (not retried)"
    except httpcore.UnsupportedProtocol as exc:
        return f"UnsupportedProtocol: {exc} (not retried)"
    except OSError as exc:  # the name does not resolve (yet)
        return f"{type(exc).__name__}: {exc}"
    except NETWORK_ERRORS as exc:
        return f"{type(exc).__name__}: {exc or 'no answer within ' + str(deadline) + ' s'}"
    if status >= 500:
        return f"HTTP {status}"
    if status >= 400:
        return f"HTTP {status} (not retried)"
    if status >= 300:
        # A redirect is not followed (it could point anywhere); the callback did not arrive.
        return f"HTTP {status}: a redirect, not followed (not retried)"
    return None
