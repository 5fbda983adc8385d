"""Room life-cycle rules shared by the API, the forwarding core and the importer."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from pipeline import callbacks
from pipeline.db.models import (
    Composition,
    CompositionHook,
    Participant,
    PublishedTrack,
    Recording,
    Room,
    seconds_between,
    utcnow,
)
from pipeline.error_codes import INVALID_PARAMETER, INVALID_SUBSCRIBE_RULES, NOTHING_TO_COMPOSE
from pipeline.priority import JobPriority
from pipeline.sids import new_sid

RULE_FILTERS = ("all", "publisher", "track", "kind")
MAX_SUBSCRIBE_RULES = 20


class InvalidRules(ValueError):
    """Rules that break Twilio's rule language: `field` names the offending part, `code` is the
    Twilio error code. The REST API answers it as a 400."""

    def __init__(self, field: str, reason: str, code: int) -> None:
        super().__init__(f"{field} {reason}" if field else reason)
        self.field = field
        self.reason = reason
        self.code = code


def validate_rules(raw: Any, field: str = "Rules", subscribe: bool = False) -> list[dict[str, Any]]:
    """Track rules as Twilio documents them: include/exclude with one filter each. Subscribe
    rules (`subscribe`) also take `priority`, must not be empty and number at most 20, and
    their errors are Twilio's 53215. Raises InvalidRules."""
    code = INVALID_SUBSCRIBE_RULES if subscribe else INVALID_PARAMETER
    if not isinstance(raw, list):
        raise InvalidRules(field, "must be a JSON array of rules", code)
    if subscribe and not 1 <= len(raw) <= MAX_SUBSCRIBE_RULES:
        raise InvalidRules(field, f"must hold 1 to {MAX_SUBSCRIBE_RULES} rules", code)
    rules = []
    for i, rule in enumerate(raw):
        where = f"{field}[{i}]"
        if not isinstance(rule, dict):
            raise InvalidRules(where, "must be an object", code)
        if rule.get("type") not in ("include", "exclude"):
            raise InvalidRules(f"{where}.type", "must be include or exclude", code)
        extra = {"priority"} if subscribe else set()
        unknown = set(rule) - {"type", *RULE_FILTERS, *extra}
        if unknown:
            raise InvalidRules(f"{where}.{sorted(unknown)[0]}", "is not a rule filter", code)
        filters = [k for k in RULE_FILTERS if rule.get(k) is not None]
        if len(filters) != 1:
            raise InvalidRules(where, "must have exactly one of all, publisher, track or kind", code)
        key = filters[0]
        if key == "all" and rule["all"] is not True:
            raise InvalidRules(f"{where}.all", "must be true", code)
        if key == "kind" and rule["kind"] not in ("audio", "video", "data"):
            raise InvalidRules(f"{where}.kind", "must be audio, video or data", code)
        if key in ("publisher", "track") and (not isinstance(rule[key], str) or not rule[key]):
            raise InvalidRules(f"{where}.{key}", "must be a non-empty string", code)
        kept = {"type": rule["type"], key: rule[key]}
        if subscribe and rule.get("priority") is not None:
            kept["priority"] = rule["priority"]
        rules.append(kept)
    return rules


def disconnect_participant(session: Session, room: Room, participant: Participant) -> None:
    now = utcnow()
    participant.status = "disconnected"
    participant.end_time = now
    for track in session.scalars(
        select(PublishedTrack).where(PublishedTrack.participant_sid == participant.sid)
    ):
        if track.published:
            track.published = False
            callbacks.room_event(
                session,
                room,
                "track-removed",
                ParticipantSid=participant.sid,
                ParticipantIdentity=participant.identity,
                ParticipantStatus="disconnected",
                TrackSid=track.sid,
                TrackName=track.name,
                TrackKind=track.kind,
            )
    callbacks.room_event(
        session,
        room,
        "participant-disconnected",
        ParticipantSid=participant.sid,
        ParticipantIdentity=participant.identity,
        ParticipantStatus="disconnected",
        ParticipantDuration=seconds_between(participant.start_time, now),
    )


def disconnect_everyone(session: Session, room: Room) -> None:
    """Every participant of the room still connected is disconnected, with its callbacks."""
    for participant in session.scalars(
        select(Participant).where(Participant.room_sid == room.sid, Participant.status != "disconnected")
    ):
        disconnect_participant(session, room, participant)


def complete_room(session: Session, room: Room) -> list[Composition]:
    """End the room, disconnect everyone, and create one composition per enabled hook."""
    disconnect_everyone(session, room)
    room.status = "completed"
    room.end_time = room.end_time or utcnow()
    callbacks.room_event(
        session, room, "room-ended", RoomDuration=seconds_between(room.date_created, room.end_time)
    )
    return run_hooks(session, room)


def run_hooks(session: Session, room: Room) -> list[Composition]:
    """One composition per enabled hook; a room that recorded nothing gets composition-hook-failed."""
    created = []
    recorded = session.scalars(
        select(Recording.sid).where(
            Recording.room_sid == room.sid, Recording.status.in_(("processing", "completed"))
        )
    ).first()
    hooks = session.scalars(
        select(CompositionHook).where(
            CompositionHook.account_sid == room.account_sid, CompositionHook.enabled.is_(True)
        )
    )
    for hook in hooks:
        exists = session.scalars(
            select(Composition).where(Composition.room_sid == room.sid, Composition.hook_sid == hook.sid)
        ).first()
        if exists:  # idempotent: a retried room completion creates nothing twice
            continue
        if recorded is None:
            callbacks.enqueue(
                session,
                room.account_sid,
                hook.status_callback,
                hook.status_callback_method,
                {
                    "RoomSid": room.sid,
                    "StatusCallbackEvent": "composition-hook-failed",
                    "HookSid": hook.sid,
                    "HookFriendlyName": hook.friendly_name,
                    "HookUri": f"/v1/CompositionHooks/{hook.sid}",
                    "ErrorCode": NOTHING_TO_COMPOSE,
                    "ErrorMessage": f"room {room.sid} has no recordings to compose",
                },
            )
            continue
        composition = Composition(
            sid=new_sid("CJ"),
            account_sid=room.account_sid,
            room_sid=room.sid,
            hook_sid=hook.sid,
            video_layout=hook.video_layout,
            audio_sources=hook.audio_sources,
            audio_sources_excluded=hook.audio_sources_excluded,
            resolution=hook.resolution,
            format=hook.format,
            trim=hook.trim,
            status_callback=hook.status_callback,
            status_callback_method=hook.status_callback_method,
            priority=JobPriority.HOOK,
        )
        session.add(composition)
        composition_event(session, composition, "composition-enqueued")
        created.append(composition)
    return created


def composition_event(session: Session, composition: Composition, event: str, **params: Any) -> None:
    callbacks.enqueue(
        session,
        composition.account_sid,
        composition.status_callback,
        composition.status_callback_method,
        {
            "RoomSid": composition.room_sid,
            "CompositionSid": composition.sid,
            "StatusCallbackEvent": event,
            "CompositionUri": f"/v1/Compositions/{composition.sid}",
            "HookSid": composition.hook_sid,
            **params,
        },
    )


def manifest_data(session: Session, room: Room) -> tuple[dict[str, Any], dict[str, str]]:
    """The room manifest (room.json) of the room's completed recordings, and their storage keys."""
    rows = session.scalars(
        select(Recording).where(Recording.room_sid == room.sid, Recording.status == "completed")
    ).all()
    people = {
        p.sid: p.identity
        for p in session.scalars(select(Participant).where(Participant.room_sid == room.sid))
    }
    recordings = [
        {
            "sid": r.sid,
            "track_sid": r.source_sid,
            "track_name": r.track_name,
            "kind": r.type,
            "codec": r.codec,
            "container_format": r.container_format,
            "participant_sid": r.participant_sid,
            "participant_identity": people.get(r.participant_sid or ""),
            "start": r.start,
            "end": r.end,
            "offset": r.offset,
            "media": f"{r.sid}.{r.container_format or 'mkv'}",
            "width": r.width,
            "height": r.height,
            "events": r.events or [],
        }
        for r in rows
    ]
    data = {
        "room_sid": room.sid,
        "unique_name": room.unique_name,
        "created_at": callbacks.iso(room.date_created),
        "ended_at": callbacks.iso(room.end_time),
        "recordings": recordings,
    }
    return data, {r.sid: r.media_key for r in rows if r.media_key}
