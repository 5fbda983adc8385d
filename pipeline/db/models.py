"""SQLAlchemy models: the database holds every status (docs/design.md)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, Float, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import DateTime, TypeDecorator

from pipeline.priority import JobPriority


def utcnow() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def seconds_between(start: datetime | None, end: datetime | None) -> int | None:
    """Whole seconds from `start` to `end` (Twilio's durations); None while either is unknown."""
    if start is None or end is None:
        return None
    return max(0, round((end - start).total_seconds()))


class UtcDateTime(TypeDecorator):
    """Timezone-aware UTC in and out, on every database: SQLite hands back naive values, and
    without this every reader would have to patch them."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value

    def process_result_value(self, value, dialect):
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value


class Base(DeclarativeBase):
    type_annotation_map = {dict[str, Any]: JSON, list[Any]: JSON}


class Timestamps:
    date_created: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow, index=True)
    date_updated: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow, onupdate=utcnow)


SID = String(34)


class Account(Timestamps, Base):
    __tablename__ = "accounts"
    sid: Mapped[str] = mapped_column(SID, primary_key=True)
    auth_token: Mapped[str] = mapped_column(String(64))
    friendly_name: Mapped[str] = mapped_column(String(128), default="")


class ApiKey(Timestamps, Base):
    __tablename__ = "api_keys"
    sid: Mapped[str] = mapped_column(SID, primary_key=True)
    account_sid: Mapped[str] = mapped_column(ForeignKey("accounts.sid"), index=True)
    secret: Mapped[str] = mapped_column(String(64))
    friendly_name: Mapped[str] = mapped_column(String(128), default="")


class Room(Timestamps, Base):
    __tablename__ = "rooms"
    sid: Mapped[str] = mapped_column(SID, primary_key=True)
    account_sid: Mapped[str] = mapped_column(ForeignKey("accounts.sid"), index=True)
    unique_name: Mapped[str] = mapped_column(String(128), index=True)
    status: Mapped[str] = mapped_column(String(16), default="in-progress", index=True)
    type: Mapped[str] = mapped_column(String(16), default="group")
    status_callback: Mapped[str | None] = mapped_column(Text)
    status_callback_method: Mapped[str] = mapped_column(String(4), default="POST")
    max_participants: Mapped[int] = mapped_column(Integer, default=50)
    max_participant_duration: Mapped[int] = mapped_column(Integer, default=14400)
    max_concurrent_published_tracks: Mapped[int] = mapped_column(Integer, default=0)
    record_participants_on_connect: Mapped[bool] = mapped_column(Boolean, default=False)
    video_codecs: Mapped[list[Any]] = mapped_column(default=lambda: ["VP8"])
    media_region: Mapped[str] = mapped_column(String(16), default="us1")
    audio_only: Mapped[bool] = mapped_column(Boolean, default=False)
    empty_room_timeout: Mapped[int] = mapped_column(Integer, default=5)
    unused_room_timeout: Mapped[int] = mapped_column(Integer, default=5)
    large_room: Mapped[bool] = mapped_column(Boolean, default=False)
    end_time: Mapped[datetime | None] = mapped_column(UtcDateTime())
    recording_rules: Mapped[list[Any]] = mapped_column(default=list)
    rules_updated: Mapped[datetime | None] = mapped_column(UtcDateTime())
    # Per-room counter carried by callbacks as SequenceNumber.
    callback_sequence: Mapped[int] = mapped_column(Integer, default=0)
    manifest_key: Mapped[str | None] = mapped_column(Text)
    # The cluster node that runs the live room (pipeline/cluster/placement.py); None on one node.
    node_id: Mapped[str | None] = mapped_column(String(64))


class Participant(Timestamps, Base):
    __tablename__ = "participants"
    sid: Mapped[str] = mapped_column(SID, primary_key=True)
    account_sid: Mapped[str] = mapped_column(ForeignKey("accounts.sid"), index=True)
    room_sid: Mapped[str] = mapped_column(ForeignKey("rooms.sid"), index=True)
    identity: Mapped[str] = mapped_column(String(128))
    status: Mapped[str] = mapped_column(String(16), default="connected")
    start_time: Mapped[datetime | None] = mapped_column(UtcDateTime())
    end_time: Mapped[datetime | None] = mapped_column(UtcDateTime())
    subscribe_rules: Mapped[list | None] = mapped_column(JSON)  # None: subscribe to everything
    subscribe_rules_updated: Mapped[datetime | None] = mapped_column(UtcDateTime())


class PublishedTrack(Timestamps, Base):
    __tablename__ = "published_tracks"
    sid: Mapped[str] = mapped_column(SID, primary_key=True)
    account_sid: Mapped[str] = mapped_column(ForeignKey("accounts.sid"), index=True)
    room_sid: Mapped[str] = mapped_column(ForeignKey("rooms.sid"), index=True)
    participant_sid: Mapped[str] = mapped_column(ForeignKey("participants.sid"), index=True)
    name: Mapped[str] = mapped_column(String(128))
    kind: Mapped[str] = mapped_column(String(8))
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    published: Mapped[bool] = mapped_column(Boolean, default=True)


class Recording(Timestamps, Base):
    __tablename__ = "recordings"
    sid: Mapped[str] = mapped_column(SID, primary_key=True)
    account_sid: Mapped[str] = mapped_column(ForeignKey("accounts.sid"), index=True)
    room_sid: Mapped[str] = mapped_column(ForeignKey("rooms.sid"), index=True)
    participant_sid: Mapped[str | None] = mapped_column(SID)
    source_sid: Mapped[str] = mapped_column(SID, index=True)
    track_name: Mapped[str] = mapped_column(String(128), default="")
    type: Mapped[str] = mapped_column(String(8))
    codec: Mapped[str] = mapped_column(String(8))
    container_format: Mapped[str] = mapped_column(String(4))
    status: Mapped[str] = mapped_column(String(16), default="processing", index=True)
    size: Mapped[int] = mapped_column(BigInteger, default=0)
    duration: Mapped[int] = mapped_column(Integer, default=0)
    offset: Mapped[int] = mapped_column(BigInteger, default=0)
    # Seconds on the room timeline (docs/design.md).
    start: Mapped[float] = mapped_column(Float, default=0.0)
    end: Mapped[float] = mapped_column(Float, default=0.0)
    width: Mapped[int | None] = mapped_column(Integer)
    height: Mapped[int | None] = mapped_column(Integer)
    events: Mapped[list[Any]] = mapped_column(default=list)
    media_key: Mapped[str | None] = mapped_column(Text)
    media_external_location: Mapped[str | None] = mapped_column(Text)
    status_callback: Mapped[str | None] = mapped_column(Text)
    status_callback_method: Mapped[str | None] = mapped_column(String(4))
    error_message: Mapped[str | None] = mapped_column(Text)


class Composition(Timestamps, Base):
    __tablename__ = "compositions"
    sid: Mapped[str] = mapped_column(SID, primary_key=True)
    account_sid: Mapped[str] = mapped_column(ForeignKey("accounts.sid"), index=True)
    room_sid: Mapped[str] = mapped_column(ForeignKey("rooms.sid"), index=True)
    hook_sid: Mapped[str | None] = mapped_column(SID)
    status: Mapped[str] = mapped_column(String(16), default="enqueued", index=True)
    video_layout: Mapped[dict[str, Any]] = mapped_column(default=dict)
    audio_sources: Mapped[list[Any]] = mapped_column(default=list)
    audio_sources_excluded: Mapped[list[Any]] = mapped_column(default=list)
    resolution: Mapped[str] = mapped_column(String(16), default="640x480")
    format: Mapped[str] = mapped_column(String(8), default="webm")
    trim: Mapped[bool] = mapped_column(Boolean, default=True)
    status_callback: Mapped[str | None] = mapped_column(Text)
    status_callback_method: Mapped[str] = mapped_column(String(4), default="POST")
    bitrate: Mapped[int] = mapped_column(Integer, default=0)
    size: Mapped[int] = mapped_column(BigInteger, default=0)
    duration: Mapped[int] = mapped_column(Integer, default=0)
    media_key: Mapped[str | None] = mapped_column(Text)
    media_external_location: Mapped[str | None] = mapped_column(Text)
    date_completed: Mapped[datetime | None] = mapped_column(UtcDateTime())
    date_deleted: Mapped[datetime | None] = mapped_column(UtcDateTime())
    # Lower runs first: API, then hooks, then batch reprocessing.
    priority: Mapped[int] = mapped_column(Integer, default=JobPriority.API)
    progress: Mapped[int] = mapped_column(Integer, default=0)
    worker_id: Mapped[str | None] = mapped_column(String(128))
    heartbeat_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    # When a queue message was last sent for it: the reconciler re-sends only long-silent jobs.
    dispatched_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    error_code: Mapped[int | None] = mapped_column(Integer)
    error_message: Mapped[str | None] = mapped_column(Text)


class CompositionPart(Base):
    """One window (or the audio) of a composition split across workers."""

    __tablename__ = "composition_parts"
    composition_sid: Mapped[str] = mapped_column(ForeignKey("compositions.sid"), primary_key=True)
    index: Mapped[int] = mapped_column(Integer, primary_key=True)  # -1 is the audio
    start: Mapped[float] = mapped_column(Float)
    end: Mapped[float] = mapped_column(Float)
    status: Mapped[str] = mapped_column(String(16), default="enqueued")
    worker_id: Mapped[str | None] = mapped_column(String(128))
    heartbeat_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    media_key: Mapped[str | None] = mapped_column(Text)


class CompositionHook(Timestamps, Base):
    __tablename__ = "composition_hooks"
    __table_args__ = (Index("uq_hook_name", "account_sid", "friendly_name", unique=True),)
    sid: Mapped[str] = mapped_column(SID, primary_key=True)
    account_sid: Mapped[str] = mapped_column(ForeignKey("accounts.sid"), index=True)
    friendly_name: Mapped[str] = mapped_column(String(100))
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    video_layout: Mapped[dict[str, Any]] = mapped_column(default=dict)
    audio_sources: Mapped[list[Any]] = mapped_column(default=list)
    audio_sources_excluded: Mapped[list[Any]] = mapped_column(default=list)
    resolution: Mapped[str] = mapped_column(String(16), default="640x480")
    format: Mapped[str] = mapped_column(String(8), default="webm")
    trim: Mapped[bool] = mapped_column(Boolean, default=True)
    status_callback: Mapped[str | None] = mapped_column(Text)
    status_callback_method: Mapped[str] = mapped_column(String(4), default="POST")


class AwsCredential(Timestamps, Base):
    """Twilio's Credentials/AWS: the key roomreel writes a customer's bucket with."""

    __tablename__ = "aws_credentials"
    sid: Mapped[str] = mapped_column(SID, primary_key=True)
    account_sid: Mapped[str] = mapped_column(ForeignKey("accounts.sid"), index=True)
    friendly_name: Mapped[str] = mapped_column(String(64), default="")
    access_key_id: Mapped[str] = mapped_column(String(128))
    secret_access_key: Mapped[str] = mapped_column(String(256))


class StorageSettings(Timestamps, Base):
    """RecordingSettings/Default and CompositionSettings/Default, one row per account and kind."""

    __tablename__ = "storage_settings"
    account_sid: Mapped[str] = mapped_column(ForeignKey("accounts.sid"), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16), primary_key=True)  # recording | composition
    friendly_name: Mapped[str] = mapped_column(String(128), default="")
    aws_credentials_sid: Mapped[str | None] = mapped_column(SID)
    aws_s3_url: Mapped[str | None] = mapped_column(Text)
    aws_storage_enabled: Mapped[bool] = mapped_column(Boolean, default=False)
    encryption_key_sid: Mapped[str | None] = mapped_column(SID)
    encryption_enabled: Mapped[bool] = mapped_column(Boolean, default=False)


class CallbackDelivery(Base):
    __tablename__ = "callback_deliveries"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    account_sid: Mapped[str] = mapped_column(ForeignKey("accounts.sid"), index=True)
    url: Mapped[str] = mapped_column(Text)
    method: Mapped[str] = mapped_column(String(4), default="POST")
    params: Mapped[dict[str, Any]] = mapped_column(default=dict)
    status: Mapped[str] = mapped_column(String(16), default="pending", index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    last_error: Mapped[str | None] = mapped_column(Text)
    date_created: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)


class DeploymentSecret(Base):
    """A secret every process of one deployment must share, kept where they all read it.

    `value` holds a secret roomreel generated; when the operator supplies it instead
    (ROOMREEL_SECRET_KEY), only its `fingerprint` is stored, so processes that disagree can be
    told apart without the database ever holding the operator's secret."""

    __tablename__ = "deployment_secrets"
    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str | None] = mapped_column(String(128))
    fingerprint: Mapped[str] = mapped_column(String(64))
    date_created: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)


class TwilioImportRun(Base):
    """One queued `roomreel import-twilio --queue`: where its rooms come from, read by the
    workers that copy them. The source's secret is dropped once every room is done."""

    __tablename__ = "twilio_imports"
    sid: Mapped[str] = mapped_column(SID, primary_key=True)
    account_sid: Mapped[str] = mapped_column(ForeignKey("accounts.sid"), index=True)
    api_url: Mapped[str] = mapped_column(Text)
    username: Mapped[str] = mapped_column(String(64))
    password: Mapped[str | None] = mapped_column(String(128))
    source_account_sid: Mapped[str] = mapped_column(SID)
    concurrency: Mapped[int] = mapped_column(Integer, default=4)
    status: Mapped[str] = mapped_column(String(16), default="in-progress")  # | completed
    date_created: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    date_completed: Mapped[datetime | None] = mapped_column(UtcDateTime())


class TwilioImportRoom(Base):
    """One room of a queued import: a job with the lease and retry fields of a composition."""

    __tablename__ = "twilio_import_rooms"
    import_sid: Mapped[str] = mapped_column(ForeignKey("twilio_imports.sid"), primary_key=True)
    room_sid: Mapped[str] = mapped_column(SID, primary_key=True)
    position: Mapped[int] = mapped_column(Integer, default=0)
    status: Mapped[str] = mapped_column(String(16), default="enqueued", index=True)
    worker_id: Mapped[str | None] = mapped_column(String(128))
    heartbeat_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    dispatched_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    recordings: Mapped[int] = mapped_column(Integer, default=0)
    compositions: Mapped[int] = mapped_column(Integer, default=0)
    bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    # [[sid, why], ...]: what of this room was not copied, for the summary
    not_copied: Mapped[list[Any]] = mapped_column(default=list)
    error_message: Mapped[str | None] = mapped_column(Text)
    date_completed: Mapped[datetime | None] = mapped_column(UtcDateTime())
