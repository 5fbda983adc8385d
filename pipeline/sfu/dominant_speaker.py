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

from collections.abc import Callable

SPEECH_LEVEL = 50  # -dBov: quieter than this is background, as in WebRTC's own VAD hints
SLOT = 0.02
IMMEDIATE, MEDIUM, LONG = 0.3, 1.0, 3.0
TURN = 0.5  # medium-scale activity a challenger needs: half a second of the last second
QUIET = 0.2  # immediate-scale activity below which the speaker counts as having stopped


WINDOWS = {name: round(seconds / SLOT) for name, seconds in
           (("immediate", IMMEDIATE), ("medium", MEDIUM), ("long", LONG))}  # fmt: skip
RING = WINDOWS["long"]


class _Activity:
    """One participant's speech per 20 ms slot over the last 3 s, with a running count of the
    speech slots in each window: a packet costs a few additions, never a scan."""

    __slots__ = ("ring", "last_slot", "counts")

    def __init__(self) -> None:
        self.ring = bytearray(RING)
        self.last_slot: int | None = None
        self.counts = dict.fromkeys(WINDOWS, 0)

    def add(self, t: float, speaking: bool) -> None:
        slot = round(t / SLOT)
        if self.last_slot is None:
            self.last_slot = slot - 1
        if slot < self.last_slot:
            return  # a late packet: its slot has been counted
        if slot == self.last_slot:
            # One value per slot: a slot counts as speech if any packet in it was.
            if speaking and not self.ring[slot % RING]:
                self._set(slot, 1)
            return
        self.advance(slot - 1)
        self._set(slot, 1 if speaking else 0)
        self.last_slot = slot

    def advance(self, slot: int) -> None:
        """Slots up to `slot` that had no packet are silence (a muted or departed sender)."""
        if self.last_slot is None or slot <= self.last_slot:
            return
        for empty in range(max(self.last_slot + 1, slot - RING + 1), slot + 1):
            self._set(empty, 0)
        self.last_slot = slot

    def _set(self, slot: int, value: int) -> None:
        index = slot % RING
        # A new slot pushes the oldest out of each window: its value leaves that window's count.
        for name, size in WINDOWS.items():
            leaving = self.ring[(slot - size) % RING] if size < RING else self.ring[index]
            if slot == self.last_slot:  # rewriting the newest slot, which is in every window
                self.counts[name] += value - self.ring[index]
            else:
                self.counts[name] += value - leaving
        self.ring[index] = value

    def shares(self, now: float) -> tuple[float, float, float]:
        """The share of each window before `now` spent speaking (immediate, medium, long)."""
        self.advance(round(now / SLOT) - 1)
        return tuple(self.counts[name] / size for name, size in WINDOWS.items())  # type: ignore[return-value]


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
        scores = {sid: a.shares(now) for sid, a in self._activity.items()}
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
