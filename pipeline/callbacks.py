"""Status callbacks: Twilio's signature, and deliveries stored for a worker to send."""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import Session

from pipeline.db.models import Account, CallbackDelivery, Room, utcnow


def signature(auth_token: str, url: str, params: dict[str, Any] | None = None) -> str:
    """X-Twilio-Signature: HMAC-SHA1 over the URL and the sorted form parameters."""
    data = url
    for name in sorted(params or {}):
        value = params[name]
        values = value if isinstance(value, list) else [value]
        for item in sorted({str(v) for v in values}):
            data += name + item
    digest = hmac.new(auth_token.encode(), data.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def iso(value: datetime | None) -> str | None:
    """Twilio's date format: ISO-8601 UTC, second precision, with Z."""
    if value is None:
        return None
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def enqueue(
    session: Session, account_sid: str, url: str | None, method: str | None, params: dict[str, Any]
) -> None:
    """Store one delivery; it is sent (and retried) outside the request that caused it."""
    if not url:
        return
    params = {k: str(v) for k, v in params.items() if v is not None}
    params.setdefault("AccountSid", account_sid)
    params.setdefault("Timestamp", iso(utcnow()))
    session.add(
        CallbackDelivery(account_sid=account_sid, url=url, method=(method or "POST").upper(), params=params)
    )


def room_event(session: Session, room: Room, event: str, **params: Any) -> None:
    room.callback_sequence = (room.callback_sequence or 0) + 1
    enqueue(
        session,
        room.account_sid,
        room.status_callback,
        room.status_callback_method,
        {
            "RoomSid": room.sid,
            "RoomName": room.unique_name,
            "RoomStatus": room.status or "in-progress",  # a room not yet flushed has no default yet
            "RoomType": room.type or "group",
            "StatusCallbackEvent": event,
            "SequenceNumber": room.callback_sequence - 1,
            **params,
        },
    )


def auth_token_of(session: Session, account_sid: str) -> str:
    account = session.get(Account, account_sid)
    return account.auth_token if account else ""
