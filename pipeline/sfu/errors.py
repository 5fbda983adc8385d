"""Errors a participant is told about, with Twilio's error codes."""

from __future__ import annotations


class SfuError(Exception):
    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
