"""Twilio access tokens (JWT, HS256, signed with an API key secret): minting and checking."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import time
from collections.abc import Callable
from dataclasses import dataclass

from pipeline.error_codes import (
    INVALID_ISSUER,
    INVALID_SIGNATURE,
    INVALID_TOKEN,
    ROOM_NOT_FOUND,
    TOKEN_EXPIRED,
    TOKEN_NOT_YET_VALID,
)
from pipeline.sfu.errors import SfuError
from pipeline.sfu.names import NAME_MAX, has_control_characters
from pipeline.sids import is_sid

MAX_LIFETIME = 86400  # seconds from issue to expiry, as Twilio allows

# A token minted on a host whose clock runs ahead is not refused as not yet valid; an expired
# one is refused at once, as Twilio does.
NBF_LEEWAY = 30  # seconds


class AccessTokenError(SfuError):
    pass


@dataclass(frozen=True)
class AccessToken:
    account_sid: str
    key_sid: str
    identity: str
    room: str | None
    expires: int
    # roomreel's own grant (`grants.video.recorder`): a hidden participant that only receives.
    recorder: bool = False
    # When the grant and the request name the room differently (one by SID, one by UniqueName),
    # `room` is the SID and this the other name: the room opened must answer to both.
    also_named: str | None = None


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def mint(
    account_sid: str,
    key_sid: str,
    secret: str,
    identity: str,
    room: str | None = None,
    ttl: int = 3600,
    now: float | None = None,
    recorder: bool = False,
) -> str:
    """The same token `twilio.jwt.access_token.AccessToken` with a `VideoGrant` produces."""
    issued = int(now if now is not None else time.time())
    video: dict = {"room": room} if room else {}
    if recorder:
        video["recorder"] = True
    header = {"typ": "JWT", "alg": "HS256", "cty": "twilio-fpa;v=1"}
    payload = {
        "jti": f"{key_sid}-{issued}",
        "iss": key_sid,
        "sub": account_sid,
        "exp": issued + ttl,
        "nbf": issued,
        "grants": {"identity": identity, "video": video},
    }
    signing_input = _b64(json.dumps(header).encode()) + "." + _b64(json.dumps(payload).encode())
    signature = hmac.new(secret.encode(), signing_input.encode(), hashlib.sha256).digest()
    return signing_input + "." + _b64(signature)


def verify(
    token: str,
    secret_for: Callable[[str, str], str | None],
    room: str | None = None,
    now: float | None = None,
) -> AccessToken:
    """Check signature, times and grants; `secret_for(account_sid, key_sid)` finds the key secret.

    `room` is the room the client asks for; a token granting another room is refused.
    """
    parts = token.split(".") if isinstance(token, str) else []
    if len(parts) != 3:
        raise AccessTokenError(INVALID_TOKEN, "Invalid Access Token: not a JWT")
    try:
        header = json.loads(_unb64(parts[0]))
        payload = json.loads(_unb64(parts[1]))
        signature = _unb64(parts[2])
    except (ValueError, binascii.Error) as exc:
        raise AccessTokenError(INVALID_TOKEN, f"Invalid Access Token: {exc}") from None
    if not isinstance(header, dict) or not isinstance(payload, dict):
        raise AccessTokenError(INVALID_TOKEN, "Invalid Access Token: header and payload must be objects")
    if header.get("alg") != "HS256":
        raise AccessTokenError(INVALID_TOKEN, "Invalid Access Token: alg must be HS256")
    key_sid, account_sid = payload.get("iss"), payload.get("sub")
    if not isinstance(key_sid, str) or not isinstance(account_sid, str):
        raise AccessTokenError(INVALID_ISSUER, "Invalid Access Token issuer/subject")
    secret = secret_for(account_sid, key_sid)
    if secret is None:
        raise AccessTokenError(INVALID_ISSUER, f"Invalid Access Token issuer/subject: unknown key {key_sid}")
    expected = hmac.new(secret.encode(), f"{parts[0]}.{parts[1]}".encode(), hashlib.sha256).digest()
    if not hmac.compare_digest(expected, signature):
        raise AccessTokenError(INVALID_SIGNATURE, "Invalid Access Token signature")
    current = now if now is not None else time.time()
    exp = payload.get("exp")
    if not isinstance(exp, int | float) or exp <= current:
        raise AccessTokenError(TOKEN_EXPIRED, "Access Token expired or expiration date invalid")
    nbf = payload.get("nbf")
    if isinstance(nbf, int | float) and nbf - NBF_LEEWAY > current:
        raise AccessTokenError(TOKEN_NOT_YET_VALID, "Access Token not yet valid")
    issued = nbf if isinstance(nbf, int | float) else payload.get("iat")
    if exp - (issued if isinstance(issued, int | float) else current) > MAX_LIFETIME:
        raise AccessTokenError(INVALID_TOKEN, "Invalid Access Token: it lives longer than 24 hours")
    grants = payload.get("grants")
    if not isinstance(grants, dict) or "video" not in grants:
        raise AccessTokenError(INVALID_TOKEN, "Invalid Access Token grants: no video grant")
    identity = grants.get("identity")
    if not isinstance(identity, str) or not identity or len(identity) > NAME_MAX:
        raise AccessTokenError(INVALID_TOKEN, "Invalid Access Token grants: identity is required")
    if has_control_characters(identity):
        raise AccessTokenError(
            INVALID_TOKEN, "Invalid Access Token grants: identity contains control characters"
        )
    video = grants.get("video") or {}
    granted = video.get("room") if isinstance(video, dict) else None
    if granted is not None and not isinstance(granted, str):
        raise AccessTokenError(INVALID_TOKEN, "Invalid Access Token grants: video.room must be a string")
    recorder = isinstance(video, dict) and video.get("recorder") is True
    if granted and room and granted != room:
        if not (is_sid(granted, "RM") or is_sid(room, "RM")):
            # "Room not found" is what a token for another room gets, as on Twilio.
            raise AccessTokenError(ROOM_NOT_FOUND, f"Access Token grants room {granted!r}, not {room!r}")
        by_sid, other = (granted, room) if is_sid(granted, "RM") else (room, granted)
        return AccessToken(account_sid, key_sid, identity, by_sid, int(exp), recorder, other)
    return AccessToken(account_sid, key_sid, identity, room or granted, int(exp), recorder)
