"""A directory as storage; downloads go through a signed, expiring route of roomreel itself."""

from __future__ import annotations

import hashlib
import hmac
import os
import shutil
import tempfile
import time
from pathlib import Path
from urllib.parse import quote

from pipeline.metrics import UPLOADED_BYTES

from .base import MAX_LINK_TTL, StorageError

# Clocks of the hosts of one deployment may differ this much.
CLOCK_SKEW = 60


def _safe_key(key: str) -> str:
    parts = key.split("/")
    if (
        not key
        or key.startswith("/")
        or any(p in ("", ".", "..") for p in parts)
        or "\\" in key
        or "\x00" in key
    ):
        raise StorageError(f"invalid storage key {key!r}")
    return key


class LocalStorage:
    def __init__(self, root: str | Path, secret: str, public_url: str) -> None:
        self.root = Path(root).resolve()
        self.root.mkdir(parents=True, exist_ok=True)
        self.secret = secret.encode()
        self.public_url = public_url.rstrip("/")

    def path(self, key: str) -> Path:
        try:
            path = (self.root / _safe_key(key)).resolve()
        except (OSError, ValueError):
            raise StorageError(f"invalid storage key {key!r}") from None
        if self.root not in path.parents:
            raise StorageError(f"invalid storage key {key!r}")
        return path

    def put_file(self, key: str, source: Path) -> int:
        target = self.path(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        size = source.stat().st_size
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".upload-")
        try:
            with os.fdopen(fd, "wb") as out, open(source, "rb") as src:
                shutil.copyfileobj(src, out, 1 << 20)
                out.flush()
                os.fsync(out.fileno())
            if os.path.getsize(tmp) != size:
                raise StorageError(f"upload of {key} is incomplete")
            os.replace(tmp, target)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
        UPLOADED_BYTES.labels("local").inc(size)
        return size

    def get_file(self, key: str, target: Path) -> Path:
        shutil.copyfile(self.path(key), target)
        return target

    def exists(self, key: str) -> bool:
        return self.path(key).is_file()

    def delete(self, key: str) -> None:
        self.path(key).unlink(missing_ok=True)

    def signature(self, key: str, expires: int) -> str:
        return hmac.new(self.secret, f"{key}\n{expires}".encode(), hashlib.sha256).hexdigest()

    def presigned_url(self, key: str, ttl: int, filename: str | None = None) -> str:
        expires = int(time.time()) + ttl
        return (
            f"{self.public_url}/media/{quote(key)}?Expires={expires}&Signature={self.signature(key, expires)}"
        )

    def verify(self, key: str, expires: int, signature: str) -> bool:
        """A link is good until its Expires, and never for longer than the longest Ttl, however
        far ahead a correctly signed Expires lies."""
        now = time.time()
        in_time = now <= expires <= now + MAX_LINK_TTL + CLOCK_SKEW
        return in_time and hmac.compare_digest(self.signature(key, expires), signature)

    def location(self, key: str) -> str | None:
        return None
