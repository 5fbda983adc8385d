"""The dominant speaker follows turns within a second and never goes to a cough."""

from __future__ import annotations

from pipeline.sfu.dominant_speaker import DominantSpeaker

LOUD, SILENT = 30, 127


def talk(turns: dict[str, list[tuple[float, float]]], until: float) -> list[tuple[float, str | None]]:
    """Feed 20 ms Opus packets from everyone; returns (time, new speaker) at each change."""
    changes: list[tuple[float, str | None]] = []
    now = {"t": 0.0}
    speaker = DominantSpeaker(lambda sid: changes.append((round(now["t"], 2), sid)))
    for step in range(int(until / 0.02)):
        now["t"] = t = step * 0.02
        for sid, spans in turns.items():
            speaking = any(start <= t < end for start, end in spans)
            speaker.observe(sid, LOUD if speaking else SILENT, t)
    return changes


def test_turns_switch_within_a_second_and_a_cough_does_not():
    changes = talk(
        {"alice": [(0.0, 3.0)], "bob": [(1.5, 1.65), (3.2, 6.0)], "carol": [(6.5, 9.0)]},
        until=10.0,
    )
    assert [sid for _, sid in changes] == ["alice", "bob", "carol"]
    (_, _), (bob_at, _), (carol_at, _) = changes
    assert 3.2 < bob_at <= 4.2 and 6.5 < carol_at <= 7.5


def test_a_speaker_who_keeps_talking_is_not_interrupted_by_a_short_remark():
    changes = talk({"alice": [(0.0, 6.0)], "bob": [(2.0, 2.6)]}, until=6.0)
    assert [sid for _, sid in changes] == ["alice"]


def test_a_sustained_interruption_takes_the_floor():
    changes = talk({"alice": [(0.0, 4.0), (5.0, 8.0)], "bob": [(4.2, 8.0)]}, until=8.0)
    assert [sid for _, sid in changes][:2] == ["alice", "bob"]


def test_a_speaker_whose_packets_stop_counts_as_silent():
    changes: list[str | None] = []
    speaker = DominantSpeaker(changes.append)
    for step in range(300):
        t = step * 0.02
        if t < 3.0:
            speaker.observe("alice", LOUD, t)  # then alice's sender stops: no packets at all
        speaker.observe("bob", LOUD if t >= 3.2 else SILENT, t)
    assert changes == ["alice", "bob"]
