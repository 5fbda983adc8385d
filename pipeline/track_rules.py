"""Twilio's track rules (RecordingRules, SubscribeRules): a track is selected when at least one
include rule matches it and no exclude rule does (so `exclude all` selects nothing)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

INCLUDE_ALL: list[dict[str, Any]] = [{"type": "include", "all": True}]


@dataclass(frozen=True)
class TrackFacts:
    sid: str
    name: str
    kind: str
    publisher_sid: str
    publisher_identity: str


def _matches(rule: dict[str, Any], track: TrackFacts) -> bool:
    if rule.get("all") is True:
        return True
    if "kind" in rule:
        return rule["kind"] == track.kind
    if "publisher" in rule:
        return rule["publisher"] in (track.publisher_sid, track.publisher_identity)
    if "track" in rule:
        return rule["track"] in (track.sid, track.name)
    return False


def selected(rules: list[dict[str, Any]], track: TrackFacts) -> bool:
    included = any(_matches(r, track) for r in rules if r.get("type") == "include")
    excluded = any(_matches(r, track) for r in rules if r.get("type") == "exclude")
    return included and not excluded
