"""The error a composition ends with: one line, naming the recording at fault when there is one."""

from __future__ import annotations


class ComposeError(Exception):
    def __init__(self, reason: str, recording_sid: str | None = None) -> None:
        self.reason = reason
        self.recording_sid = recording_sid
        super().__init__(f"recording {recording_sid}: {reason}" if recording_sid else reason)
