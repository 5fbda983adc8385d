"""Resources as Twilio shapes them: snake_case JSON, absolute `url` and `links`, ISO-8601 dates."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pipeline.callbacks import iso
from pipeline.db import models as m
from pipeline.db.models import seconds_between
from pipeline.track_rules import INCLUDE_ALL


def room(r: m.Room, base: str) -> dict[str, Any]:
    url = f"{base}/v1/Rooms/{r.sid}"
    return {
        "sid": r.sid,
        "status": r.status,
        "date_created": iso(r.date_created),
        "date_updated": iso(r.date_updated),
        "account_sid": r.account_sid,
        "enable_turn": True,
        "unique_name": r.unique_name,
        "status_callback": r.status_callback,
        "status_callback_method": r.status_callback_method,
        "end_time": iso(r.end_time),
        "duration": seconds_between(r.date_created, r.end_time) or 0,
        "type": r.type,
        "max_participants": r.max_participants,
        "max_participant_duration": r.max_participant_duration,
        "max_concurrent_published_tracks": r.max_concurrent_published_tracks,
        "record_participants_on_connect": r.record_participants_on_connect,
        "video_codecs": r.video_codecs,
        "media_region": r.media_region,
        "audio_only": r.audio_only,
        "empty_room_timeout": r.empty_room_timeout,
        "unused_room_timeout": r.unused_room_timeout,
        "large_room": r.large_room,
        "url": url,
        "links": {
            "participants": f"{url}/Participants",
            "recordings": f"{url}/Recordings",
            "transcriptions": f"{url}/Transcriptions",
            "recording_rules": f"{url}/RecordingRules",
        },
    }


def participant(p: m.Participant, base: str) -> dict[str, Any]:
    url = f"{base}/v1/Rooms/{p.room_sid}/Participants/{p.sid}"
    return {
        "sid": p.sid,
        "room_sid": p.room_sid,
        "account_sid": p.account_sid,
        "status": p.status,
        "identity": p.identity,
        "date_created": iso(p.date_created),
        "date_updated": iso(p.date_updated),
        "start_time": iso(p.start_time),
        "end_time": iso(p.end_time),
        "duration": seconds_between(p.start_time, p.end_time),
        "url": url,
        "links": {
            "published_tracks": f"{url}/PublishedTracks",
            "subscribed_tracks": f"{url}/SubscribedTracks",
            "subscribe_rules": f"{url}/SubscribeRules",
            "anonymize": f"{url}/Anonymize",
        },
    }


def published_track(t: m.PublishedTrack, base: str) -> dict[str, Any]:
    return {
        "sid": t.sid,
        "participant_sid": t.participant_sid,
        "room_sid": t.room_sid,
        "name": t.name,
        "date_created": iso(t.date_created),
        "date_updated": iso(t.date_updated),
        "enabled": t.enabled,
        "kind": t.kind,
        "url": f"{base}/v1/Rooms/{t.room_sid}/Participants/{t.participant_sid}/PublishedTracks/{t.sid}",
    }


def subscribed_track(t: m.PublishedTrack, subscriber_sid: str, base: str) -> dict[str, Any]:
    return {
        **published_track(t, base),
        "participant_sid": subscriber_sid,
        "publisher_sid": t.participant_sid,
        "url": f"{base}/v1/Rooms/{t.room_sid}/Participants/{subscriber_sid}/SubscribedTracks/{t.sid}",
    }


def subscribe_rules(p: m.Participant) -> dict[str, Any]:
    rules = p.subscribe_rules if p.subscribe_rules is not None else INCLUDE_ALL
    return {"participant_sid": p.sid, **_rules(p.room_sid, rules, p.date_created, p.subscribe_rules_updated)}


def recording(r: m.Recording, base: str, room_scoped: bool = False) -> dict[str, Any]:
    url = (
        f"{base}/v1/Rooms/{r.room_sid}/Recordings/{r.sid}" if room_scoped else f"{base}/v1/Recordings/{r.sid}"
    )
    data = {
        "account_sid": r.account_sid,
        "status": r.status,
        "date_created": iso(r.date_created),
        "sid": r.sid,
        "source_sid": r.source_sid,
        "size": r.size,
        "url": url,
        "type": r.type,
        "duration": r.duration,
        "container_format": r.container_format,
        "codec": r.codec,
        "grouping_sids": {"room_sid": r.room_sid, "participant_sid": r.participant_sid},
        "track_name": r.track_name or r.source_sid,
        "offset": r.offset,
        "media_external_location": r.media_external_location,
        "status_callback": r.status_callback,
        "status_callback_method": r.status_callback_method,
        "links": {"media": f"{url}/Media"},
    }
    if room_scoped:
        data["room_sid"] = r.room_sid
    return data


def composition(c: m.Composition, base: str) -> dict[str, Any]:
    url = f"{base}/v1/Compositions/{c.sid}"
    return {
        "account_sid": c.account_sid,
        "status": c.status,
        "date_created": iso(c.date_created),
        "date_completed": iso(c.date_completed),
        "date_deleted": iso(c.date_deleted),
        "sid": c.sid,
        "room_sid": c.room_sid,
        "audio_sources": c.audio_sources,
        "audio_sources_excluded": c.audio_sources_excluded,
        "video_layout": c.video_layout,
        "resolution": c.resolution,
        "trim": c.trim,
        "format": c.format,
        "bitrate": c.bitrate,
        "size": c.size,
        "duration": c.duration,
        "media_external_location": c.media_external_location,
        "status_callback": c.status_callback,
        "status_callback_method": c.status_callback_method,
        "url": url,
        "links": {"media": f"{url}/Media"},
    }


def hook(h: m.CompositionHook, base: str) -> dict[str, Any]:
    return {
        "account_sid": h.account_sid,
        "friendly_name": h.friendly_name,
        "enabled": h.enabled,
        "date_created": iso(h.date_created),
        "date_updated": iso(h.date_updated),
        "sid": h.sid,
        "audio_sources": h.audio_sources,
        "audio_sources_excluded": h.audio_sources_excluded,
        "video_layout": h.video_layout,
        "resolution": h.resolution,
        "trim": h.trim,
        "format": h.format,
        "status_callback": h.status_callback,
        "status_callback_method": h.status_callback_method,
        "url": f"{base}/v1/CompositionHooks/{h.sid}",
    }


def storage_settings(s: m.StorageSettings, base: str) -> dict[str, Any]:
    path = "RecordingSettings" if s.kind == "recording" else "CompositionSettings"
    return {
        "account_sid": s.account_sid,
        "friendly_name": s.friendly_name,
        "aws_credentials_sid": s.aws_credentials_sid,
        "aws_s3_url": s.aws_s3_url,
        "aws_storage_enabled": s.aws_storage_enabled,
        "encryption_key_sid": s.encryption_key_sid,
        "encryption_enabled": s.encryption_enabled,
        "url": f"{base}/v1/{path}/Default",
    }


def recording_rules(r: m.Room) -> dict[str, Any]:
    return _rules(r.sid, r.recording_rules or [], r.date_created, r.rules_updated)


def _rules(room_sid: str, rules: list, created: datetime | None, updated: datetime | None) -> dict[str, Any]:
    return {
        "room_sid": room_sid,
        "rules": rules,
        "date_created": iso(created),
        "date_updated": iso(updated or created),
    }
