"""One recorded span of one published track: frames go straight into a packet journal."""

from __future__ import annotations

from pathlib import Path

from pipeline.metrics import RECORDER_BYTES, RECORDER_FRAMES
from pipeline.sfu.frame_assembler import EncodedFrame
from pipeline.sfu.published_track import PublishedTrack

from .journal import JournalWriter


class TrackRecorder:
    """A `TrackSink`: attached to a published track like a subscriber, but writing to disk."""

    def __init__(self, sid: str, track: PublishedTrack, journal: Path, room_sid: str) -> None:
        self.sid = sid
        self.track = track
        self.journal = journal
        self.writer = JournalWriter(
            journal,
            {
                "recording_sid": sid,
                "room_sid": room_sid,
                "track_sid": track.sid,
                "kind": track.kind,
                "codec": track.codec,
                "clock_rate": track.clock_rate,
            },
        )
        self.frames = 0
        self._counted_frames = RECORDER_FRAMES.labels(track.kind)
        self._counted_bytes = RECORDER_BYTES.labels(track.kind)
        self._waiting_keyframe = track.kind == "video"
        self._first_ts: int | None = None

    def push(self, frame: EncodedFrame) -> None:
        if self._waiting_keyframe:
            if not frame.keyframe:
                return
            self._waiting_keyframe = False
        if self._first_ts is None:
            self._first_ts = frame.timestamp
        self.writer.append(
            frame.timestamp - self._first_ts, frame.arrival, frame.keyframe, frame.data, frame.audio_level
        )
        self.frames += 1
        self._counted_frames.inc()
        self._counted_bytes.inc(len(frame.data))

    def resync(self) -> None:
        # After lost packets the next decodable frame is a keyframe; nothing corrupt is written.
        self._waiting_keyframe = self.track.kind == "video"

    def start(self) -> None:
        self.track.attach(self)

    def detach(self) -> None:
        self.track.detach(self)

    def close(self) -> None:
        """Close the journal; blocks on the writer thread, so call it off the event loop."""
        self.writer.close()
