"""Which addresses roomreel may send a request to when an API caller chose the URL.

Status callbacks and customer buckets name hosts that roomreel then reaches from inside the
deployment's network, with its own signature or credentials attached. A key holder must not be
able to point them at the host itself or at a cloud metadata service (169.254.169.254), so the
name is resolved when the request is made and every address it resolves to is checked.

Private ranges (10/8, 172.16/12, 192.168/16, fc00::/7) are allowed: a self-hosted deployment's
own backend usually lives there, and refusing them would break the common case. Loopback is
allowed only while the deployment's public URL is itself loopback (a developer's machine, where
the callback receiver is usually on the same host); `ROOMREEL_CALLBACK_ALLOW` adds networks or
host names that are allowed whatever they resolve to.
"""

from __future__ import annotations

import ipaddress
import os
import socket
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

ALLOW_VARIABLE = "ROOMREEL_CALLBACK_ALLOW"


class RefusedAddress(Exception):
    """The target resolves to an address roomreel does not send to; retrying cannot help."""


def _kind(address: IPAddress) -> str | None:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped
    if address.is_loopback:
        return "loopback"
    if address.is_link_local:
        return "link-local"
    if address.is_unspecified:
        return "unspecified"
    if address.is_multicast:
        return "multicast"
    if address.is_reserved:
        return "reserved"
    return None


def _is_loopback_url(url: str) -> bool:
    host = urlsplit(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class OutboundPolicy:
    networks: tuple[IPNetwork, ...] = ()
    hosts: frozenset[str] = frozenset()
    loopback: bool = False

    @classmethod
    def parse(cls, allow: str, public_url: str) -> OutboundPolicy:
        networks: list[IPNetwork] = []
        hosts: set[str] = set()
        for entry in (part.strip() for part in allow.split(",")):
            if not entry:
                continue
            try:
                networks.append(ipaddress.ip_network(entry, strict=False))
            except ValueError:
                hosts.add(entry.lower().rstrip("."))
        return cls(tuple(networks), frozenset(hosts), _is_loopback_url(public_url))

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> OutboundPolicy:
        env = dict(os.environ if env is None else env)
        public_url = env.get("ROOMREEL_PUBLIC_URL") or "http://127.0.0.1:8080"
        return cls.parse(env.get(ALLOW_VARIABLE, ""), public_url)

    def refusal(self, host: str, address: IPAddress) -> str | None:
        """Why `address` (which `host` resolved to) is refused, or None when it may be used."""
        if host.lower().rstrip(".") in self.hosts or any(address in net for net in self.networks):
            return None
        kind = _kind(address)
        if kind is None or (kind == "loopback" and self.loopback):
            return None
        return (
            f"{host} resolves to {address}, a {kind} address; "
            f"add it to {ALLOW_VARIABLE} if roomreel should send there"
        )

    def addresses(self, host: str, port: int) -> list[str]:
        """Every address `host` resolves to, all of them checked; raises RefusedAddress."""
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        found = list(dict.fromkeys(str(info[4][0]) for info in infos))
        self.check(host, found)
        return found

    def check(self, host: str, addresses: Iterable[str]) -> None:
        for text in addresses:
            reason = self.refusal(host, ipaddress.ip_address(text.split("%", 1)[0]))
            if reason:
                raise RefusedAddress(reason)
