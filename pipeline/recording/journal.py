"""The packet journal: an append-only file of encoded frames, flushed to disk every half second.

A recorder killed at any instant leaves a journal whose every complete record is usable; a torn
last record is ignored. Turning a journal into Matroska (finalize.py) is the only path to a file,
for a clean stop and a crash alike, so crash recovery is exercised by every recording.
"""

from __future__ import annotations

import fcntl
import json
import os
import queue
import struct
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

MAGIC = b"RRJ2"
# data length, pts (clock units), arrival (wall seconds), flags, audio level (RFC 6464; NO_LEVEL)
RECORD = struct.Struct("<IqdBB")
# Journals of the first format (no level byte) are still read: a server upgraded mid-room
# finishes them after its restart.
MAGIC_V1 = b"RRJ1"
RECORD_V1 = struct.Struct("<IqdB")
KEYFRAME = 1
NO_LEVEL = 255
FLUSH_EVERY = 0.5  # seconds; the crash-loss bound is this plus the OS write-back, at most 1 s


@dataclass(frozen=True)
class JournalFrame:
    pts: int
    arrival: float
    keyframe: bool
    data: bytes
    level: int | None = None  # audio: the packet's RFC 6464 level, when its sender gave one


class JournalWriter:
    """Writes from its own thread, so the event loop never waits on the disk."""

    def __init__(self, path: Path, header: dict[str, Any]) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        head = json.dumps(header).encode()
        self._file = open(path, "wb")  # noqa: SIM115  (closed by the writer thread)
        # Held while the journal is written: another process on this host must not finish it.
        # The kernel drops the lock when the writer dies, which is when recovery may start.
        fcntl.flock(self._file.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        self._file.write(MAGIC + struct.pack("<I", len(head)) + head)
        self._file.flush()
        os.fsync(self._file.fileno())
        self._queue: queue.Queue[tuple[int, float, bool, bytes, int | None] | None] = queue.Queue()
        self.bytes = 0
        self._thread = threading.Thread(target=self._run, name=f"journal-{path.stem}", daemon=True)
        self._thread.start()

    def append(self, pts: int, arrival: float, keyframe: bool, data: bytes, level: int | None = None) -> None:
        self.bytes += len(data)
        self._queue.put((pts, arrival, keyframe, data, level))

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join()

    def _run(self) -> None:
        pending = 0
        while True:
            try:
                item = self._queue.get(timeout=FLUSH_EVERY)
            except queue.Empty:
                item = ...
            if item is None or item is ...:
                if pending:
                    self._file.flush()
                    os.fsync(self._file.fileno())
                    pending = 0
                if item is None:
                    self._file.close()
                    return
                continue
            pts, arrival, keyframe, data, level = item
            flags = KEYFRAME if keyframe else 0
            self._file.write(
                RECORD.pack(len(data), pts, arrival, flags, NO_LEVEL if level is None else level) + data
            )
            pending += 1
            if pending >= 25 or self._queue.empty():
                # Small batches reach the disk at once; bulk ones at least every FLUSH_EVERY.
                self._file.flush()
                if pending >= 25:
                    os.fsync(self._file.fileno())
                    pending = 0


class JournalError(ValueError):
    pass


def being_written(path: Path) -> bool:
    """True while a live writer (of any process on this host) holds the journal."""
    try:
        with open(path, "rb") as f:
            try:
                fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return True
            fcntl.flock(f.fileno(), fcntl.LOCK_UN)
    except FileNotFoundError:
        return False
    return False


def read_header(path: Path) -> dict[str, Any]:
    with open(path, "rb") as f:
        return _header(f)


def _header(f) -> dict[str, Any]:
    if f.read(4) not in (MAGIC, MAGIC_V1):
        raise JournalError(f"{Path(f.name).name} is not a roomreel packet journal")
    (size,) = struct.unpack("<I", f.read(4))
    try:
        return json.loads(f.read(size))
    except ValueError as exc:
        raise JournalError(f"{Path(f.name).name} has a damaged header: {exc}") from None


def read_frames(path: Path) -> Iterator[JournalFrame]:
    """Every complete record; stops quietly at a torn tail (the crash case)."""
    with open(path, "rb") as f:
        record = RECORD if f.read(4) == MAGIC else RECORD_V1
        f.seek(0)
        _header(f)
        while True:
            head = f.read(record.size)
            if len(head) < record.size:
                return
            size, pts, arrival, flags, *level = record.unpack(head)
            data = f.read(size)
            if len(data) < size:
                return
            known = level[0] if level and level[0] != NO_LEVEL else None
            yield JournalFrame(pts, arrival, bool(flags & KEYFRAME), data, known)
