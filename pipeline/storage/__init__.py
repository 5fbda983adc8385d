"""Where media lives: the `Storage` protocol and its local-directory implementation."""

from .base import Storage, StorageError
from .local import LocalStorage

__all__ = ["LocalStorage", "Storage", "StorageError", "open_storage"]


def open_storage(url: str, secret: str, public_url: str) -> Storage:
    if url.startswith("file://"):
        from urllib.parse import unquote, urlparse

        return LocalStorage(unquote(urlparse(url).path), secret, public_url)
    if url.startswith("s3://"):
        from .s3 import S3Storage

        return S3Storage(url)
    raise StorageError(f"unsupported storage URL {url!r}: use file:///path or s3://bucket/prefix")
