"""The customer's own bucket (RecordingSettings/CompositionSettings `AwsS3Url`) as storage.

`https://bucket.s3.amazonaws.com/prefix` and `s3://bucket/prefix` are AWS; any other
`http(s)://host[:port]/bucket/prefix` is an S3-compatible endpoint addressed path-style.

A customer's bucket is written only with the customer's key (Credentials/AWS, named by the
settings' `AwsCredentialsSid`), never with the server's own AWS credentials, and an endpoint the
customer names is held to the same address rules as status callbacks: otherwise any API key
holder could have the server sign requests to an internal host with its own key.
"""

from __future__ import annotations

from urllib.parse import quote, urlparse

from sqlalchemy.orm import Session

from pipeline.outbound_policy import OutboundPolicy, RefusedAddress

from .base import StorageError
from .s3 import S3Storage

AWS_SUFFIX = ".s3.amazonaws.com"
KeyPair = tuple[str, str]


class CustomerStorageRefused(StorageError):
    """The settings cannot work as they are (no credential, a refused endpoint); retrying the
    upload cannot help, so the job fails with this reason."""


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


def _checked(endpoint: str | None, policy: OutboundPolicy | None) -> None:
    if endpoint is None:
        return
    parsed = urlparse(endpoint)
    try:
        (policy or OutboundPolicy.from_env()).addresses(
            parsed.hostname or "", parsed.port or (443 if parsed.scheme == "https" else 80)
        )
    except RefusedAddress as exc:
        raise CustomerStorageRefused(f"AwsS3Url endpoint refused: {exc}") from None
    except OSError as exc:
        raise StorageError(f"AwsS3Url endpoint {parsed.hostname} does not resolve: {exc}") from None


def _storage(bucket: str, prefix: str, endpoint: str | None, key: KeyPair) -> S3Storage:
    url = f"s3://{bucket}/{quote(prefix)}" if prefix else f"s3://{bucket}"
    return S3Storage(url + (f"?endpoint_url={endpoint}" if endpoint else ""), credentials=key)


def customer_storage(aws_s3_url: str, key: KeyPair, policy: OutboundPolicy | None = None) -> S3Storage:
    """Storage rooted at the URL's bucket and path prefix, signed with the customer's key."""
    bucket, prefix, endpoint = split_s3_url(aws_s3_url)
    _checked(endpoint, policy)
    return _storage(bucket, prefix, endpoint, key)


def object_at(location: str, key: KeyPair, policy: OutboundPolicy | None = None) -> tuple[S3Storage, str]:
    """The storage and key of an object from its `media_external_location`."""
    bucket, object_key, endpoint = split_s3_url(location)
    _checked(endpoint, policy)
    return _storage(bucket, "", endpoint, key), object_key


def customer_key(session: Session, account_sid: str, kind: str) -> KeyPair | None:
    """The key the account's settings of `kind` name; CustomerStorageRefused when they name none
    or one that is gone; None when the settings do not store externally."""
    from pipeline.db.models import AwsCredential, StorageSettings

    settings = session.get(StorageSettings, (account_sid, kind))
    if settings is None or not settings.aws_storage_enabled or not settings.aws_s3_url:
        return None
    resource = "RecordingSettings" if kind == "recording" else "CompositionSettings"
    if not settings.aws_credentials_sid:
        raise CustomerStorageRefused(
            f"{resource} stores in {settings.aws_s3_url} but names no AwsCredentialsSid: roomreel "
            "writes a customer's bucket only with the customer's own key (create one with Credentials/AWS)"
        )
    credential = session.get(AwsCredential, settings.aws_credentials_sid)
    if credential is None or credential.account_sid != account_sid:
        raise CustomerStorageRefused(
            f"{resource} names AwsCredentialsSid {settings.aws_credentials_sid}, which does not exist"
        )
    return credential.access_key_id, credential.secret_access_key


def customer_storage_for(db, account_sid: str, kind: str) -> S3Storage | None:
    """The bucket RecordingSettings (kind "recording") or CompositionSettings ("composition") name,
    if on; CustomerStorageRefused when they cannot be used as they are."""
    from pipeline.db.models import StorageSettings

    with db.session() as session:
        key = customer_key(session, account_sid, kind)
        if key is None:
            return None
        url = session.get(StorageSettings, (account_sid, kind)).aws_s3_url
    return customer_storage(url, key)
