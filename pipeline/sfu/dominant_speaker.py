"""Who is speaking in a room, from the audio levels its publishers put in their packets.

A simplified form of Volfin and Cohen's dominant speaker identification (the model Jitsi
uses): each participant's speech activity is measured over three time scales at once, and a
challenger takes the floor only when it leads the current speaker on all of them.

- immediate (0.3 s): is the challenger speaking now, and has the speaker stopped?
- medium (1 s): has the challenger been speaking long enough to count as a turn? A 150 ms cough
  fills at most 15 % of it, so it never does.
- long (3 s): does the challenger hold the conversation more than the speaker lately? Needed
  only to interrupt a speaker who is still talking; after the speaker stops, a turn is enough.

Activity is the share of 20 ms slots in a window whose level is at least as loud as
SPEECH_LEVEL. Levels are RFC 6464 (-dBov: 0 loudest, 127 silence); nothing is decoded.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

SPEECH_LEVEL = 50  # -dBov: quieter than this is background, as in WebRTC's own VAD hints
SLOT = 0.02
IMMEDIATE, MEDIUM, LONG = 0.3, 1.0, 3.0
TURN = 0.5  # medium-scale activity a challenger needs: half a second of the last second
QUIET = 0.2  # immediate-scale activity below which the speaker counts as having stopped


@dataclass
class _Activity:
    """Speech slots of one participant over the longest window, newest last."""

    slots: deque[tuple[float, bool]] = field(default_factory=deque)
    last_slot: float = -1.0

    def add(self, t: float, speaking: bool) -> None:
        slot = round(t / SLOT)
        if slot == self.last_slot and self.slots:
            # One value per slot: a slot counts as speech if any packet in it was.
            if speaking and not self.slots[-1][1]:
                self.slots[-1] = (self.slots[-1][0], True)
            return
        self.last_slot = slot
        self.slots.append((t, speaking))
        while self.slots and self.slots[0][0] < t - LONG:
            self.slots.popleft()

    def share(self, now: float, window: float) -> float:
        """The share of `window` (before `now`) spent speaking; missing slots are silence."""
        spoken = sum(1 for t, speaking in self.slots if speaking and t > now - window)
        return min(1.0, spoken * SLOT / window)


class DominantSpeaker:
    """Feed it levels with `observe`; it calls `changed(participant_sid or None)` on each change."""

    def __init__(self, changed: Callable[[str | None], None] = lambda _sid: None) -> None:
        self.changed = changed
        self.current: str | None = None
        self.changes = 0
        self._activity: dict[str, _Activity] = {}
        self._last_decision = 0.0

    def observe(self, participant_sid: str, level: int, t: float) -> None:
        """One packet's level from `participant_sid`, arriving at wall time `t`."""
        activity = self._activity.setdefault(participant_sid, _Activity())
        activity.add(t, level <= SPEECH_LEVEL)
        if t - self._last_decision >= 0.1:  # decide ten times a second, not for every packet
            self._last_decision = t
            self.decide(t)

    def forget(self, participant_sid: str) -> None:
        """The participant left (or stopped publishing audio)."""
        self._activity.pop(participant_sid, None)
        if self.current == participant_sid:
            self._set(None)

    def decide(self, now: float) -> str | None:
        scores = {
            sid: (a.share(now, IMMEDIATE), a.share(now, MEDIUM), a.share(now, LONG))
            for sid, a in self._activity.items()
        }
        if not scores:
            return self.current
        held = scores.get(self.current, (0.0, 0.0, 0.0)) if self.current else (0.0, 0.0, 0.0)
        challengers = [
            (score, sid)
            for sid, score in scores.items()
            if sid != self.current and score[1] >= TURN and score[0] > QUIET
        ]
        if not challengers:
            return self.current
        score, sid = max(challengers)
        # The speaker keeps the floor while still talking; a challenger must lead it on every
        # time scale (talking now, a turn's worth in the last second, more of the last three).
        stopped = held[0] < QUIET and score[1] > held[1]
        interrupted = score[0] > held[0] and score[1] > held[1] and score[2] > held[2]
        if self.current is None or stopped or interrupted:
            self._set(sid)
        return self.current

    def _set(self, sid: str | None) -> None:
        if sid != self.current:
            self.current = sid
            self.changes += 1
            self.changed(sid)
