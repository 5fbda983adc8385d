"""`roomreel import ROOM_DIR`: a room directory (room.json + media) becomes a completed room."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from pipeline.db import Database
from pipeline.db.models import Participant, PublishedTrack, Recording, Room
from pipeline.media.manifest import load_manifest
from pipeline.media.probe import MediaError, probe_track
from pipeline.rooms import run_hooks
from pipeline.sids import is_sid, new_sid
from pipeline.storage import Storage


def _time(value: str | None) -> datetime | None:
    if not value:
        return None
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def import_room(db: Database, storage: Storage, account_sid: str, room_dir: Path | str) -> str:
    """Copy the media into storage under fresh SIDs and create the rows; returns the room SID."""
    manifest = load_manifest(room_dir)
    data = manifest.data
    created = _time(data.get("created_at")) or datetime.now(UTC)
    ended = _time(data.get("ended_at"))
    room_sid = new_sid("RM")
    recordings = []
    sids: dict[str, str] = {}  # old -> new, so SIDs never clash with rooms imported before

    def renamed(old: str | None, prefix: str) -> str:
        if not old or not is_sid(old, prefix):
            return new_sid(prefix)
        return sids.setdefault(old, new_sid(prefix))

    for raw in data["recordings"]:
        rec = manifest.recordings[str(raw["sid"])]
        path = manifest.media_path(rec.sid)
        try:
            info = probe_track(path, rec.kind, rec.end - rec.start)
            status, error = "completed", None
        except MediaError as exc:
            info, status, error = None, "failed", str(exc)
        new = {
            **raw,
            "sid": renamed(rec.sid, "RT"),
            "track_sid": renamed(raw.get("track_sid"), "MT"),
            "participant_sid": renamed(raw.get("participant_sid"), "PA"),
        }
        key = f"rooms/{room_sid}/{new['sid']}.{raw.get('container_format') or path.suffix.lstrip('.')}"
        size = storage.put_file(key, path) if info else 0
        new["media"] = key.rsplit("/", 1)[1]
        recordings.append((new, key, size, status, error, info))

    room_manifest = {**data, "room_sid": room_sid, "recordings": [r[0] for r in recordings]}
    manifest_path = Path(room_dir) / ".import-room.json"
    manifest_path.write_text(json.dumps(room_manifest, indent=2))
    try:
        storage.put_file(f"rooms/{room_sid}/room.json", manifest_path)
    finally:
        manifest_path.unlink(missing_ok=True)

    with db.session() as session:
        room = Room(
            sid=room_sid,
            account_sid=account_sid,
            unique_name=str(data.get("unique_name") or room_sid),
            status="completed",
            date_created=created,
            end_time=ended or created + timedelta(seconds=max([r[0]["end"] for r in recordings] or [0])),
            manifest_key=f"rooms/{room_sid}/room.json",
        )
        session.add(room)
        session.flush()
        people: dict[str, Participant] = {}
        for rec, key, size, status, error, _info in recordings:
            psid = rec["participant_sid"]
            if psid not in people:
                people[psid] = Participant(
                    sid=psid,
                    account_sid=account_sid,
                    room_sid=room_sid,
                    identity=str(rec.get("participant_identity") or psid),
                    status="disconnected",
                    start_time=created + timedelta(seconds=rec["start"]),
                    end_time=created + timedelta(seconds=rec["end"]),
                    date_created=created,
                )
                session.add(people[psid])
                session.flush()
            session.add(
                PublishedTrack(
                    sid=rec["track_sid"],
                    account_sid=account_sid,
                    room_sid=room_sid,
                    participant_sid=psid,
                    name=str(rec.get("track_name") or rec["track_sid"]),
                    kind=rec["kind"],
                    published=False,
                )
            )
            session.add(
                Recording(
                    sid=rec["sid"],
                    account_sid=account_sid,
                    room_sid=room_sid,
                    participant_sid=psid,
                    source_sid=rec["track_sid"],
                    track_name=str(rec.get("track_name") or ""),
                    type=rec["kind"],
                    codec=str(rec.get("codec") or "").upper(),
                    container_format=str(rec.get("container_format") or ""),
                    status=status,
                    size=size,
                    duration=max(1, round(rec["end"] - rec["start"])),
                    offset=int(rec.get("offset") or 0),
                    start=float(rec["start"]),
                    end=float(rec["end"]),
                    width=rec.get("width"),
                    height=rec.get("height"),
                    events=rec.get("events") or [],
                    media_key=key if status == "completed" else None,
                    error_message=error,
                    date_created=created + timedelta(seconds=rec["start"]),
                )
            )
        session.flush()
        run_hooks(session, room)
    return room_sid
