"""The storage contract shared by local directories and S3."""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

# Twilio's longest Ttl for a /Media link, in seconds; no link roomreel signs outlives it.
MAX_LINK_TTL = 3600


class StorageError(Exception):
    pass


class Storage(Protocol):
    def put_file(self, key: str, source: Path) -> int:
        """Publish `source` under `key` atomically and verified; return its size."""

    def get_file(self, key: str, target: Path) -> Path: ...

    def exists(self, key: str) -> bool: ...

    def delete(self, key: str) -> None: ...

    def presigned_url(self, key: str, ttl: int, filename: str | None = None) -> str: ...

    def location(self, key: str) -> str | None:
        """The object's external location (S3 URL), or None for roomreel-served storage."""
