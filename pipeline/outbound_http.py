"""One HTTP request to a URL an API caller chose: checked addresses, and a hard deadline.

The address check happens where the connection is made (httpcore's network backend), so the
name is resolved once and the connection goes to an address that was checked; a DNS answer that
changes between a check and a connect cannot slip through. The deadline bounds the whole
request: a target that drips a byte at a time gets no more than `deadline` seconds, where a
per-read timeout would let it hold the sender forever.
"""

from __future__ import annotations

import ssl
import time
from dataclasses import dataclass
from typing import Any

import httpcore
import httpx

from pipeline.outbound_policy import OutboundPolicy, RefusedAddress

# httpcore has no common base class for its errors; these are the ones a request can raise.
NETWORK_ERRORS = (
    httpcore.TimeoutException,
    httpcore.NetworkError,
    httpcore.ProtocolError,
    httpcore.ConnectionNotAvailable,
)


class _DeadlineStream(httpcore.NetworkStream):
    def __init__(self, stream: httpcore.NetworkStream, deadline: float) -> None:
        self._stream = stream
        self._deadline = deadline

    def _left(self, timeout: float | None) -> float:
        left = self._deadline - time.monotonic()
        if left <= 0:
            raise httpcore.ReadTimeout("the request's deadline passed")
        return left if timeout is None else min(timeout, left)

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._stream.read(max_bytes, self._left(timeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._stream.write(buffer, self._left(timeout))

    def close(self) -> None:
        self._stream.close()

    def start_tls(
        self, ssl_context: ssl.SSLContext, server_hostname: str | None = None, timeout: float | None = None
    ) -> httpcore.NetworkStream:
        stream = self._stream.start_tls(ssl_context, server_hostname, self._left(timeout))
        return _DeadlineStream(stream, self._deadline)

    def get_extra_info(self, info: str) -> Any:
        return self._stream.get_extra_info(info)


class _CheckedBackend(httpcore.NetworkBackend):
    def __init__(self, policy: OutboundPolicy, deadline: float) -> None:
        self._policy = policy
        self._deadline = deadline
        self._sync = httpcore.SyncBackend()

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Any = None,
    ) -> httpcore.NetworkStream:
        error: Exception | None = None
        for address in self._policy.addresses(host, port):
            left = self._deadline - time.monotonic()
            if left <= 0:
                break
            try:
                stream = self._sync.connect_tcp(
                    address,
                    port,
                    timeout=left if timeout is None else min(timeout, left),
                    local_address=local_address,
                    socket_options=socket_options,
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                error = exc
                continue
            return _DeadlineStream(stream, self._deadline)
        raise error or httpcore.ConnectTimeout("the request's deadline passed")

    def connect_unix_socket(self, *args: Any, **kwargs: Any) -> httpcore.NetworkStream:
        raise httpcore.UnsupportedProtocol("unix sockets are never a target")

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)


@dataclass(frozen=True)
class Answer:
    status: int


def send(
    method: str,
    url: str,
    *,
    policy: OutboundPolicy,
    deadline: float,
    headers: dict[str, str] | None = None,
    body: bytes = b"",
) -> Answer:
    """Raises RefusedAddress, httpcore.UnsupportedProtocol or one of NETWORK_ERRORS."""
    started = time.monotonic()
    backend = _CheckedBackend(policy, started + deadline)
    headers = dict(headers or {})
    if body:
        headers.setdefault("Content-Length", str(len(body)))
    timeouts = {"connect": deadline, "read": deadline, "write": deadline, "pool": deadline}
    with httpcore.ConnectionPool(
        ssl_context=httpx.create_ssl_context(), network_backend=backend, max_connections=1
    ) as pool:
        # Only the status matters; the body, however large, is never read.
        with pool.stream(
            method, url, headers=headers, content=body, extensions={"timeout": timeouts}
        ) as response:
            return Answer(response.status)


__all__ = ["NETWORK_ERRORS", "Answer", "RefusedAddress", "send"]
