"""The customer's own bucket (RecordingSettings/CompositionSettings `AwsS3Url`) as storage.

`https://bucket.s3.amazonaws.com/prefix` and `s3://bucket/prefix` are AWS; any other
`http(s)://host[:port]/bucket/prefix` is an S3-compatible endpoint addressed path-style. Credentials come from the worker's
environment (AWS_* variables, instance roles), never from the API.
"""

from __future__ import annotations

from urllib.parse import quote, urlparse

from .base import StorageError
from .s3 import S3Storage

AWS_SUFFIX = ".s3.amazonaws.com"


def split_s3_url(url: str) -> tuple[str, str, str | None]:
    """(bucket, key or prefix, endpoint_url or None for AWS); StorageError for anything else."""
    parsed = urlparse(url)
    host = parsed.netloc
    if parsed.scheme not in ("http", "https", "s3") or not host:
        raise StorageError(f"AwsS3Url must be an http(s) or s3 URL, got {url!r}")
    path = parsed.path.strip("/")
    if parsed.scheme == "s3":
        return host, path, None
    if host.endswith(AWS_SUFFIX):
        return host[: -len(AWS_SUFFIX)], path, None
    bucket, _, rest = path.partition("/")
    if not bucket:
        raise StorageError(f"AwsS3Url {url!r} names no bucket")
    return bucket, rest, f"{parsed.scheme}://{host}"


def _storage(bucket: str, prefix: str, endpoint: str | None) -> S3Storage:
    url = f"s3://{bucket}/{quote(prefix)}" if prefix else f"s3://{bucket}"
    return S3Storage(url + (f"?endpoint_url={endpoint}" if endpoint else ""))


def customer_storage(aws_s3_url: str) -> S3Storage:
    """Storage rooted at the URL's bucket and path prefix."""
    return _storage(*split_s3_url(aws_s3_url))


def object_at(location: str) -> tuple[S3Storage, str]:
    """The storage and key of an object from its `media_external_location`."""
    bucket, key, endpoint = split_s3_url(location)
    return _storage(bucket, "", endpoint), key


def customer_storage_for(db, account_sid: str, kind: str) -> S3Storage | None:
    """The bucket RecordingSettings (kind "recording") or CompositionSettings ("composition") name, if on."""
    from pipeline.db.models import StorageSettings

    with db.session() as session:
        settings = session.get(StorageSettings, (account_sid, kind))
        if settings is None or not settings.aws_storage_enabled or not settings.aws_s3_url:
            return None
        url = settings.aws_s3_url
    return customer_storage(url)
