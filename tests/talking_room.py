"""A synthetic room whose three participants talk in turns, with 150 ms coughs by others, and
the checks of a composition that follows the active speaker."""

from __future__ import annotations

from tests.media_checks import close, colour, video_frames
from tests.synthetic_room import COLORS, Participant

RED, GREEN, BLUE = COLORS[0], COLORS[1], COLORS[2]
LENGTH = 18.0
# (talker, colour, start, end) in room time; the room starts at 0 and is not trimmed.
TURNS = [
    ("alice", RED, 1.0, 5.0),
    ("bob", GREEN, 5.5, 9.0),
    ("carol", BLUE, 9.5, 13.0),
    ("alice", RED, 13.0, 17.0),
]
COUGHS = [("carol", 3.0), ("bob", 14.5)]  # 150 ms each, while someone else talks
HOLD = 2.0
SIZE = "320x180"
MAIN = (160, 54)  # inside the main picture in both layouts (a 240x180 picture, centred)


def people() -> list[Participant]:
    found = []
    for name, color, hz in (("alice", RED, 300), ("bob", GREEN, 500), ("carol", BLUE, 700)):
        speech = [(a, b) for who, _, a, b in TURNS if who == name]
        speech += [(t, t + 0.15) for who, t in COUGHS if who == name]
        found.append(Participant(name, color, 0.0, LENGTH, tone_hz=hz, speech=sorted(speech)))
    return found


def main_colours(path):
    """(time, colour of the main region) for every frame."""
    return [(t, colour(img, *MAIN)) for t, img in video_frames(path)]


def who(c) -> str:
    for name, expected in (("alice", RED), ("bob", GREEN), ("carol", BLUE)):
        if close(c, expected):
            return name
    return "?"


def check_follows_the_talker(path) -> list[tuple[str, float, float]]:
    """Returns (talker, start, when the main region first showed them) for every turn."""
    shown = [(t, who(c)) for t, c in main_colours(path)]
    measured = []
    for name, _, start, end in TURNS:
        during = [(t, n) for t, n in shown if start <= t < end]
        first = next(t for t, n in during if n == name)
        assert first - start <= 1.0, f"{name}'s turn at {start} s shown only at {first} s"
        assert all(n == name for t, n in during if t >= start + 1.0), (
            f"{name}'s turn at {start} s lost the floor"
        )
        measured.append((name, start, round(first, 3)))
    changes = [t for (t, n), (_, before) in zip(shown[1:], shown) if n != before]
    assert all(b - a >= HOLD - 0.04 for a, b in zip(changes, changes[1:])), changes
    for name, t in COUGHS:
        assert all(n != name for at, n in shown if t <= at < t + 2.0), (
            f"{name}'s cough at {t} s took the floor"
        )
    return measured
