"""What a browser may do with roomreel: no state change on behalf of another site, no framing,
no content sniffing.

A browser that holds an operator's credentials (typed into a Basic prompt of `/v1`) would
otherwise attach them to a form that another site posts to roomreel. Browsers say where a
request comes from (`Sec-Fetch-Site`, and `Origin` on every non-GET request); server-side
clients such as the official `twilio` library send neither, so they are untouched.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from pipeline.error_codes import FORBIDDEN

from .errors import respond

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# 'none' is a request the user made directly (typed URL, bookmark): never a forgery.
OWN_SITE = frozenset({"same-origin", "none"})
CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'self'",
        # Composition media may come from a presigned S3 URL on another host.
        "media-src 'self' blob: http: https:",
        "img-src 'self' blob: data:",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    )
)
# twilio-video.js evaluates a string (a global-object shim), which default-src alone forbids:
# only the quickstart page, which runs that SDK, allows it.
SDK_PAGE_POLICY = CONTENT_SECURITY_POLICY + "; script-src 'self' 'unsafe-eval'"
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
}


def _netloc(url: str) -> str:
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if ":" in host:
        host = f"[{host}]"
    default = {"http": 80, "https": 443, "ws": 80, "wss": 443}.get(parts.scheme)
    port = parts.port
    return host if port is None or port == default else f"{host}:{port}"


def is_cross_site(headers: Headers, own_origins: list[str]) -> bool:
    """True when a browser says that another site made this request."""
    fetch_site = headers.get("sec-fetch-site")
    if fetch_site is not None:
        return fetch_site.lower() not in OWN_SITE
    origin = headers.get("origin")
    if origin is None:
        return False  # not a browser, or one too old to say: nothing to judge by
    if origin == "null":
        return True  # sandboxed frames, file:// pages, redirects across sites
    ours = {_netloc(o) for o in own_origins if o}
    host = headers.get("host")
    if host:
        ours.add(_netloc(f"http://{host}"))
    return _netloc(origin) not in ours


class BrowserPolicy:
    """Refuses state-changing requests another site makes, and adds the security headers."""

    def __init__(self, app: ASGIApp, public_url: str | None = None) -> None:
        self.app = app
        self.own_origins = [public_url] if public_url else []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if scope["method"] not in SAFE_METHODS and is_cross_site(Headers(scope=scope), self.own_origins):
            response = respond(
                403,
                FORBIDDEN,
                "Cross-site request refused: roomreel changes nothing on behalf of another site's page",
            )
            await response(scope, receive, self._adding_headers(send))
            return
        await self.app(scope, receive, self._adding_headers(send))

    @staticmethod
    def _adding_headers(send: Send) -> Send:
        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in SECURITY_HEADERS.items():
                    headers.setdefault(name, value)
            await send(message)

        return sending
