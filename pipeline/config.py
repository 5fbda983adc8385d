"""Settings from the environment (`ROOMREEL_*`), with the embedded defaults."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path

REDIS_SCHEMES = ("redis://", "rediss://", "unix://")
AMQP_SCHEMES = ("amqp://", "amqps://")
BROKER_SCHEMES = REDIS_SCHEMES + AMQP_SCHEMES
RECORDERS = ("inprocess", "external")


def default_data_dir(env: dict[str, str]) -> Path:
    """The platform's per-user data directory: the same state whatever directory a command is
    run from (XDG_DATA_HOME or ~/.local/share on Linux, ~/Library/Application Support on macOS)."""
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Application Support" / "roomreel"
    base = env.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "roomreel"


class ConfigError(ValueError):
    """A ROOMREEL_* variable has a value roomreel cannot use; reported as one line at start-up."""


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    database_url: str
    storage_url: str
    broker_url: str
    public_url: str
    account_sid: str | None
    auth_token: str | None
    # Signs local download URLs; derived from the data dir when unset.
    secret_key: str | None
    # Serves /dev/token to anyone: for the demo and the browser page on a developer's machine.
    dev_tokens: bool = False
    # Where the recording participant runs: "inprocess" (with the SFU, the default) or "external"
    # (`roomreel recorder --room NAME` processes join over WebRTC).
    recorder: str = "inprocess"

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Settings:
        env = dict(os.environ if env is None else env)
        data_dir = Path(env.get("ROOMREEL_DATA_DIR") or default_data_dir(env)).expanduser().resolve()
        return cls(
            data_dir=data_dir,
            database_url=env.get("ROOMREEL_DATABASE_URL") or f"sqlite:///{data_dir / 'roomreel.db'}",
            storage_url=env.get("ROOMREEL_STORAGE_URL") or (data_dir / "storage").as_uri(),
            broker_url=env.get("ROOMREEL_BROKER_URL") or "memory",
            public_url=(env.get("ROOMREEL_PUBLIC_URL") or "http://127.0.0.1:8080").rstrip("/"),
            account_sid=env.get("ROOMREEL_ACCOUNT_SID") or None,
            auth_token=env.get("ROOMREEL_AUTH_TOKEN") or None,
            secret_key=env.get("ROOMREEL_SECRET_KEY") or None,
            dev_tokens=env.get("ROOMREEL_DEV_TOKENS", "").lower() in ("1", "true", "yes"),
            recorder=env.get("ROOMREEL_RECORDER", "inprocess"),
        )._checked()

    def _checked(self) -> Settings:
        if self.broker_url != "memory" and not self.broker_url.startswith(BROKER_SCHEMES):
            raise ConfigError(
                f"ROOMREEL_BROKER_URL must be memory, redis://... or amqp://..., not {self.broker_url!r}"
            )
        if self.recorder not in RECORDERS:
            raise ConfigError(f"ROOMREEL_RECORDER must be inprocess or external, not {self.recorder!r}")
        return self
