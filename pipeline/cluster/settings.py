"""Who this node is and where its peers reach it: the cluster's configuration, from the environment."""

from __future__ import annotations

import os
import re
import secrets
from dataclasses import dataclass
from pathlib import Path

from pipeline.config import REDIS_SCHEMES, ConfigError

NODE_ID_PATTERN = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
NODE_ID_FILE = "node-id"


@dataclass(frozen=True)
class ClusterSettings:
    redis_url: str
    node_id: str
    # The HTTP base URL the other nodes relay signaling to (ROOMREEL_NODE_URL).
    node_url: str
    # Seconds between load reports; an entry not refreshed for `ttl` seconds is a dead node.
    heartbeat: float = 2.0
    ttl: float = 8.0
    # SIGTERM: how long a draining node waits for its rooms to end (ROOMREEL_DRAIN_TIMEOUT).
    drain_timeout: float = 3600.0

    @classmethod
    def from_env(
        cls, data_dir: Path, broker_url: str, bind_url: str, env: dict[str, str] | None = None
    ) -> ClusterSettings | None:
        """None when this process runs alone: no Redis to meet the others on, or ROOMREEL_CLUSTER=off."""
        env = dict(os.environ if env is None else env)
        if env.get("ROOMREEL_CLUSTER", "on").lower() in ("off", "0", "false", "no"):
            return None
        redis_url = env.get("ROOMREEL_CLUSTER_URL") or (
            broker_url if broker_url.startswith(REDIS_SCHEMES) else ""
        )
        if not redis_url:
            return None
        if not redis_url.startswith(REDIS_SCHEMES):
            raise ConfigError(f"ROOMREEL_CLUSTER_URL must be a redis:// URL, not {redis_url!r}")
        return cls(
            redis_url=redis_url,
            node_id=env.get("ROOMREEL_NODE_ID") or node_id_of(data_dir),
            node_url=(env.get("ROOMREEL_NODE_URL") or bind_url).rstrip("/"),
            heartbeat=float(env.get("ROOMREEL_NODE_HEARTBEAT", "2")),
            ttl=float(env.get("ROOMREEL_NODE_TTL", "8")),
            drain_timeout=float(env.get("ROOMREEL_DRAIN_TIMEOUT", "3600")),
        )._checked()

    def _checked(self) -> ClusterSettings:
        if not NODE_ID_PATTERN.match(self.node_id):
            raise ConfigError(f"ROOMREEL_NODE_ID must be 1-64 letters, digits, - or _, not {self.node_id!r}")
        if self.ttl <= self.heartbeat:
            raise ConfigError("ROOMREEL_NODE_TTL must be longer than ROOMREEL_NODE_HEARTBEAT")
        return self


def node_id_of(data_dir: Path) -> str:
    """The node's id, kept in its data directory: a restarted node knows its rooms again."""
    path = data_dir / NODE_ID_FILE
    try:
        text = path.read_text().strip()
        if NODE_ID_PATTERN.match(text):
            return text
    except FileNotFoundError:
        pass
    node_id = "node-" + secrets.token_hex(4)
    data_dir.mkdir(parents=True, exist_ok=True)
    path.write_text(node_id + "\n")
    return node_id
