"""The rules every name and identity a client chooses follows, as the REST API applies them."""

from __future__ import annotations

NAME_MAX = 128  # characters, for room names, identities and track names


def has_control_characters(text: str) -> bool:
    return any(ord(ch) < 32 or ord(ch) == 127 for ch in text)
