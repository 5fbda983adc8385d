"""Active speaker (roomreel's own extension): who holds the floor, from speaking intervals.

The input is plain data, so this layer needs no media: per participant SID, the room-time
intervals in which that participant spoke (pipeline/media/speech.py derives them from the audio
level timelines). The rule, documented in docs/layouts.md:

- A participant **claims the floor** once they have spoken without a break for `MIN_SPEECH`
  seconds, at `interval start + MIN_SPEECH`. Shorter bursts (a cough, a "mm") never claim it.
- The floor order is "most recent claim first"; participants who never claimed come after, in
  the region's normal order.
- The order shown **changes at most once per `hold`** seconds: a claim made sooner after the last
  change takes effect when the hold runs out (with every claim made meanwhile applied).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence

MIN_SPEECH = 0.5
DEFAULT_HOLD = 2.0

Speech = Mapping[str, Sequence[tuple[float, float]]]


def claims(speech: Speech | None, participants: Collection[str], min_speech: float = MIN_SPEECH):
    """(room time, participant SID) of every floor claim by one of `participants`, in time order."""
    found: list[tuple[float, str]] = []
    for participant, intervals in (speech or {}).items():
        if participant not in participants:
            continue
        for start, end in intervals:
            if end - start >= min_speech:
                found.append((start + min_speech, participant))
    return sorted(found)


def floor_changes(found: Iterable[tuple[float, str]], hold: float) -> list[tuple[float, tuple[str, ...]]]:
    """(room time, floor order from then on, most recent first): never two within `hold` seconds."""
    pending = list(found)
    changes: list[tuple[float, tuple[str, ...]]] = []
    truth: list[str] = []
    shown: tuple[str, ...] = ()
    last = float("-inf")
    i = 0
    while i < len(pending):
        at = max(pending[i][0], last + hold)
        while i < len(pending) and pending[i][0] <= at:
            participant = pending[i][1]
            if participant in truth:
                truth.remove(participant)
            truth.insert(0, participant)
            i += 1
        if tuple(truth) != shown:
            shown, last = tuple(truth), at
            changes.append((at, shown))
    return changes
