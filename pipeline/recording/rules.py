"""Recording rules: Twilio's track rules (pipeline.track_rules), data tracks never recorded."""

from __future__ import annotations

from typing import Any

from pipeline.track_rules import TrackFacts, selected

__all__ = ["TrackFacts", "should_record"]


def should_record(rules: list[dict[str, Any]], track: TrackFacts) -> bool:
    if track.kind == "data":
        return False  # data tracks are relayed, not recorded (as on Twilio)
    return selected(rules, track)
