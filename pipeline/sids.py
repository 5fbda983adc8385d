"""Twilio-style identifiers: a two-letter prefix and 32 hex digits."""

from __future__ import annotations

import re
import uuid

_PATTERN = re.compile(r"^[A-Z]{2}[0-9a-f]{32}$")


def new_sid(prefix: str) -> str:
    return prefix + uuid.uuid4().hex


def is_sid(value: str, prefix: str | None = None) -> bool:
    return bool(_PATTERN.match(value)) and (prefix is None or value.startswith(prefix))
