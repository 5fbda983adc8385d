"""TURN for participants whose UDP cannot reach the SFU: short-lived credentials for a coturn
server, in coturn's shared-secret scheme (the "TURN REST API": the username is
`EXPIRY:NAME`, the password base64(HMAC-SHA1(secret, username))), so roomreel and coturn share
one secret and no per-user state.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import time
from dataclasses import dataclass
from typing import Any

from pipeline.config import ConfigError

DEFAULT_TTL = 86400  # as Twilio's Network Traversal Service tokens


class TurnConfigError(ConfigError):
    pass


@dataclass(frozen=True)
class TurnSettings:
    urls: tuple[str, ...]
    secret: str
    ttl: int = DEFAULT_TTL

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> TurnSettings | None:
        """ROOMREEL_TURN_URLS (comma-separated turn:/turns:/stun: URLs), ROOMREEL_TURN_SECRET
        (coturn's static-auth-secret) and ROOMREEL_TURN_TTL; None when no URL is set."""
        env = dict(os.environ if env is None else env)
        urls = tuple(u.strip() for u in env.get("ROOMREEL_TURN_URLS", "").split(",") if u.strip())
        if not urls:
            return None
        for url in urls:
            if not url.startswith(("turn:", "turns:", "stun:")):
                raise TurnConfigError(
                    f"ROOMREEL_TURN_URLS entries are turn:, turns: or stun: URLs, not {url!r}"
                )
        secret = env.get("ROOMREEL_TURN_SECRET", "")
        if not secret and any(u.startswith(("turn:", "turns:")) for u in urls):
            raise TurnConfigError("ROOMREEL_TURN_URLS names a TURN server: set ROOMREEL_TURN_SECRET too")
        try:
            ttl = int(env.get("ROOMREEL_TURN_TTL", DEFAULT_TTL))
        except ValueError:
            raise TurnConfigError("ROOMREEL_TURN_TTL is a number of seconds") from None
        return cls(urls, secret, ttl)

    def credentials(self, name: str, now: float | None = None) -> tuple[str, str]:
        expiry = int((time.time() if now is None else now) + self.ttl)
        username = f"{expiry}:{name}"
        digest = hmac.new(self.secret.encode(), username.encode(), hashlib.sha1).digest()
        return username, base64.b64encode(digest).decode()

    def ice_servers(self, name: str) -> list[dict[str, Any]]:
        """RTCIceServer dictionaries, as a browser's RTCConfiguration takes them."""
        stun = [u for u in self.urls if u.startswith("stun:")]
        turn = [u for u in self.urls if not u.startswith("stun:")]
        servers: list[dict[str, Any]] = [{"urls": stun}] if stun else []
        if turn:
            username, credential = self.credentials(name)
            servers.append({"urls": turn, "username": username, "credential": credential})
        return servers


def ice_servers(turn: TurnSettings | None, name: str) -> list[dict[str, Any]]:
    return turn.ice_servers(name) if turn is not None else []
