"""S3 (or any S3-protocol store) as storage: streaming multipart uploads, atomic publish, presigned URLs."""

from __future__ import annotations

import hashlib
import uuid
from pathlib import Path
from urllib.parse import parse_qs, quote, urlparse

import boto3
from boto3.exceptions import Boto3Error
from boto3.s3.transfer import TransferConfig
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from pipeline.metrics import UPLOADED_BYTES

from .base import StorageError

MULTIPART = TransferConfig(multipart_threshold=16 << 20, multipart_chunksize=16 << 20, max_concurrency=4)
TEMP_PREFIX = ".uploading/"


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class S3Storage:
    """`s3://bucket/prefix?endpoint_url=…&region=…&sse=AES256|aws:kms&kms_key_id=…&retries=8&read_timeout=30`"""

    def __init__(
        self,
        url: str,
        *,
        retries: int = 8,
        connect_timeout: float = 5,
        read_timeout: float = 30,
        client=None,
        credentials: tuple[str, str] | None = None,
    ) -> None:
        """`credentials` (access key ID, secret) replace the environment's AWS credentials."""
        parsed = urlparse(url)
        if parsed.scheme != "s3" or not parsed.netloc:
            raise StorageError(f"an S3 storage URL looks like s3://bucket/prefix, got {url!r}")
        options = {k: v[0] for k, v in parse_qs(parsed.query).items()}
        self.bucket = parsed.netloc
        self.prefix = parsed.path.strip("/")
        self.endpoint_url = options.get("endpoint_url")
        self.extra: dict[str, str] = {}
        if options.get("sse"):
            self.extra["ServerSideEncryption"] = options["sse"]
            if options.get("kms_key_id"):
                self.extra["SSEKMSKeyId"] = options["kms_key_id"]
        retries = int(options.get("retries", retries))
        connect_timeout = float(options.get("connect_timeout", connect_timeout))
        read_timeout = float(options.get("read_timeout", read_timeout))
        config = Config(
            retries={"max_attempts": retries, "mode": "standard"},
            connect_timeout=connect_timeout,
            read_timeout=read_timeout,
            signature_version="s3v4",
            s3={"addressing_style": "path" if self.endpoint_url else "auto"},
        )
        keys = {}
        if credentials is not None:
            keys = {"aws_access_key_id": credentials[0], "aws_secret_access_key": credentials[1]}
        self.client = client or boto3.client(
            "s3", endpoint_url=self.endpoint_url, region_name=options.get("region"), config=config, **keys
        )

    def _key(self, key: str) -> str:
        if not key or key.startswith("/") or ".." in key.split("/"):
            raise StorageError(f"invalid storage key {key!r}")
        return f"{self.prefix}/{key}" if self.prefix else key

    def put_file(self, key: str, source: Path) -> int:
        """Upload under a temporary key, verify size and checksum, then publish by server-side copy."""
        final = self._key(key)
        temp = self._key(f"{TEMP_PREFIX}{uuid.uuid4().hex}")
        size = Path(source).stat().st_size
        checksum = _sha256(Path(source))
        extra = {**self.extra, "Metadata": {"sha256": checksum}}
        try:
            self.client.upload_file(str(source), self.bucket, temp, ExtraArgs=extra, Config=MULTIPART)
            head = self.client.head_object(Bucket=self.bucket, Key=temp)
            if head["ContentLength"] != size or head.get("Metadata", {}).get("sha256") != checksum:
                raise StorageError(f"upload of {key} did not verify (size {head['ContentLength']} of {size})")
            self.client.copy(
                {"Bucket": self.bucket, "Key": temp},
                self.bucket,
                final,
                ExtraArgs={**self.extra, "MetadataDirective": "COPY"},
                Config=MULTIPART,
            )
            if self.client.head_object(Bucket=self.bucket, Key=final)["ContentLength"] != size:
                raise StorageError(f"published object {key} has the wrong size")
        except (Boto3Error, BotoCoreError, ClientError) as exc:
            raise StorageError(f"upload of {key} to s3://{self.bucket} failed: {exc}") from None
        finally:
            try:
                self.client.delete_object(Bucket=self.bucket, Key=temp)
            except (Boto3Error, BotoCoreError, ClientError):
                pass  # a lifecycle rule on .uploading/ reaps what a dead store leaves
        UPLOADED_BYTES.labels("s3").inc(size)
        return size

    def get_file(self, key: str, target: Path) -> Path:
        try:
            self.client.download_file(self.bucket, self._key(key), str(target), Config=MULTIPART)
        except (Boto3Error, BotoCoreError, ClientError) as exc:
            raise StorageError(f"download of {key} from s3://{self.bucket} failed: {exc}") from None
        return target

    def exists(self, key: str) -> bool:
        try:
            self.client.head_object(Bucket=self.bucket, Key=self._key(key))
            return True
        except ClientError:
            return False

    def delete(self, key: str) -> None:
        try:
            self.client.delete_object(Bucket=self.bucket, Key=self._key(key))
        except (Boto3Error, BotoCoreError, ClientError) as exc:
            raise StorageError(f"delete of {key} failed: {exc}") from None

    def presigned_url(self, key: str, ttl: int, filename: str | None = None) -> str:
        params = {"Bucket": self.bucket, "Key": self._key(key)}
        if filename:
            params["ResponseContentDisposition"] = f'attachment; filename="{filename}"'
        return self.client.generate_presigned_url("get_object", Params=params, ExpiresIn=ttl)

    def location(self, key: str) -> str | None:
        if self.endpoint_url:
            return f"{self.endpoint_url.rstrip('/')}/{self.bucket}/{quote(self._key(key))}"
        return f"https://{self.bucket}.s3.amazonaws.com/{quote(self._key(key))}"
