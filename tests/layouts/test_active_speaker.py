"""roomreel's active-speaker regions: the floor follows sustained speech, never faster than the hold."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import layouts
from layouts import LayoutError
from layouts.grid import max_concurrent
from layouts.sources import Source
from layouts.speaker import MIN_SPEECH, claims, floor_changes

RES = layouts.parse_resolution("1280x720")
NAMES = ["alice", "bob", "carol"]
PA = {n: "PA" + f"{i:x}" * 32 for i, n in enumerate(NAMES, 1)}
CAM = {n: "RT" + f"{i + 5:x}" * 32 for i, n in enumerate(NAMES, 1)}


def sources(end: float = 60.0) -> list[Source]:
    found = []
    for i, name in enumerate(NAMES):
        found.append(Source(CAM[name], "video", float(i), end, "", f"{name}-cam", PA[name], name))
        found.append(Source("RT" + f"{i + 10:x}" * 16, "audio", float(i), end, "", f"{name}-mic", PA[name]))
    return found


def plan(layout, speech=None, end: float = 60.0):
    return layouts.build_plan(layouts.parse_layout(layout, RES), sources(end), RES, ["*"], speech=speech)


def shown(p, region: str, cell: int = 0) -> list[tuple[float, str]]:
    """(room time from which, camera) for what the region's cell shows, changes only."""
    found: list[tuple[float, str]] = []
    for seg in p.segments:
        tile = next((t for t in seg.tiles if t.region == region and t.cell == cell), None)
        sid = tile.source if tile else ""
        if not found or found[-1][1] != sid:
            found.append((seg.room_start, sid))
    return found


def cells_at(p, room_t: float) -> list[str]:
    seg = next(s for s in p.segments if s.room_start <= room_t < s.room_start + s.end - s.start)
    return [t.source for t in sorted(seg.tiles, key=lambda t: t.cell)]


SPEAKER = {"main": {"video_sources": ["*"], "max_rows": 1, "max_columns": 1, "active_speaker": True}}
TURNS = {
    PA["bob"]: [(5.0, 12.0), (30.0, 31.0)],
    PA["carol"]: [(12.5, 20.0), (8.0, 8.15)],  # the 150 ms cough at 8 s never claims the floor
    PA["alice"]: [(20.2, 29.0)],
}


def test_the_main_region_follows_each_turn_from_its_sustained_start():
    p = plan(SPEAKER, TURNS)
    assert shown(p, "main") == [
        (0.0, CAM["alice"]),  # nobody has spoken: the normal (start) order
        (5.0 + MIN_SPEECH, CAM["bob"]),
        (12.5 + MIN_SPEECH, CAM["carol"]),
        (20.2 + MIN_SPEECH, CAM["alice"]),
        (30.0 + MIN_SPEECH, CAM["bob"]),
    ]


def test_nobody_spoke_is_the_normal_order_and_plain_layouts_are_unchanged():
    plain = {"main": {"video_sources": ["*"], "max_rows": 1, "max_columns": 1}}
    assert shown(plan(SPEAKER), "main") == [(0.0, CAM["alice"])]
    assert plan(plain, TURNS).to_dict() == plan(plain).to_dict()


def test_the_hold_delays_a_switch_but_keeps_the_latest_claim():
    layout = {"main": {**SPEAKER["main"], "active_speaker_hold": 3}}
    speech = {PA["bob"]: [(5.0, 6.0)], PA["carol"]: [(6.0, 7.0)], PA["alice"]: [(6.2, 6.9)]}
    # bob at 5.5; carol (6.5) and alice (6.7) wait for the hold to end at 8.5: alice spoke last.
    assert shown(plan(layout, speech), "main") == [
        (0.0, CAM["alice"]),
        (5.5, CAM["bob"]),
        (8.5, CAM["alice"]),
    ]


def test_changes_are_never_closer_than_the_hold():
    found = [(t * 0.7, NAMES[int(t) % 3]) for t in range(40)]
    for hold in (0.0, 1.0, 2.0, 2.5):
        times = [t for t, _ in floor_changes(found, hold)]
        assert all(b - a >= hold - 1e-9 for a, b in zip(times, times[1:]))


def test_short_bursts_never_claim():
    assert claims({"PA1": [(0, 0.15), (1, 1.49)], "PA2": [(3, 4)]}, {"PA1", "PA2"}) == [(3.5, "PA2")]
    assert claims({"PA1": [(0, 1)]}, set()) == []


def test_cells_fill_in_floor_order_and_skip_leaves_the_speaker_out():
    grid = {"grid": {"video_sources": ["*"], "max_rows": 1, "active_speaker": True}}
    strip = {
        "strip": {"video_sources": ["*"], "max_rows": 1, "active_speaker": True, "active_speaker_skip": 1}
    }
    speech = {PA["carol"]: [(10.0, 11.0)], PA["bob"]: [(20.0, 21.0)]}
    assert cells_at(plan(grid, speech), 15.0) == [CAM["carol"], CAM["alice"], CAM["bob"]]
    assert cells_at(plan(grid, speech), 25.0) == [CAM["bob"], CAM["carol"], CAM["alice"]]
    assert cells_at(plan(strip, speech), 25.0) == [CAM["carol"], CAM["alice"]]
    assert cells_at(plan(strip, speech), 5.0) == [CAM["bob"], CAM["carol"]]  # nobody spoke yet
    tiles = plan(strip, speech).segments[-1].tiles
    assert len({(t.x, t.width) for t in tiles}) == 2  # two cells: one fewer than the cameras


def test_speaker_preset_puts_the_speaker_large_and_the_others_in_the_strip():
    regions = layouts.load_layout("speaker", RES)
    p = layouts.build_plan(regions, sources(), RES, speech={PA["bob"]: [(10.0, 12.0)]})
    seg = p.segments[-1]
    main = [t for t in seg.tiles if t.region == "speaker"]
    strip = [t for t in seg.tiles if t.region != "speaker"]
    assert [t.source for t in main] == [CAM["bob"]] and main[0].width == 1280
    assert {t.source for t in strip} == {CAM["alice"], CAM["carol"]}


@pytest.mark.parametrize(
    ("region", "message"),
    [
        ({"active_speaker": "yes"}, "active_speaker must be true or false"),
        ({"active_speaker": True, "active_speaker_hold": -1}, "active_speaker_hold must be between 0"),
        ({"active_speaker": True, "active_speaker_hold": "2"}, "active_speaker_hold must be a number"),
        ({"active_speaker": True, "active_speaker_hold": True}, "active_speaker_hold must be a number"),
        ({"active_speaker": True, "active_speaker_skip": -1}, "active_speaker_skip must be at least 0"),
        ({"active_speaker_hold": 2}, "active_speaker_hold applies only to a region with active_speaker"),
    ],
)
def test_the_new_keys_are_validated(region, message):
    with pytest.raises(LayoutError, match=message):
        layouts.parse_layout({"main": {"video_sources": ["*"], **region}}, RES)


def test_echo_names_the_keys_only_where_they_are_used():
    regions = layouts.parse_layout(
        {
            "a": {"video_sources": ["*"], "active_speaker": True, "active_speaker_hold": 1.5},
            "b": {"video_sources": ["*"]},
        },
        RES,
    )
    echo = layouts.echo_layout(regions)
    assert echo["a"]["active_speaker"] is True and echo["a"]["active_speaker_hold"] == 1.5
    assert echo["a"]["active_speaker_skip"] == 0
    assert "active_speaker" not in echo["b"]
    assert layouts.echo_layout(layouts.parse_layout(echo, RES)) == echo


@st.composite
def talks(draw):
    """Up to four participants with a camera each and random speech, all in one room."""
    n = draw(st.integers(1, 4))
    everyone_throughout = draw(st.booleans())
    found, speech = [], {}
    for i in range(n):
        start = 0.0 if everyone_throughout else float(draw(st.integers(0, 20)))
        end = 40.0 if everyone_throughout else start + draw(st.integers(1, 20))
        found.append(Source(f"RT{i:032x}", "video", start, end, "", f"p{i}-cam", f"PA{i:032x}"))
        bursts = draw(st.lists(st.tuples(st.floats(0, 40), st.floats(0.05, 6)), max_size=6))
        speech[f"PA{i:032x}"] = [(round(a, 2), round(a + d, 2)) for a, d in bursts]
    return found, speech, everyone_throughout


@settings(max_examples=150, deadline=None)
@given(
    talks(),
    st.sampled_from([0, 0.5, 2, 3.5]),
    st.integers(0, 2),
    st.lists(st.integers(0, 3), max_size=2),
    st.sampled_from([{}, {"max_rows": 1, "max_columns": 1}, {"max_rows": 1}]),
)
def test_active_speaker_plans_tile_the_output_and_respect_the_hold(room, hold, skip, excluded, bounds):
    sources, speech, throughout = room
    region = {"video_sources": ["*"], "active_speaker": True, "active_speaker_hold": hold}
    region.update(bounds, active_speaker_skip=skip, cells_excluded=excluded)
    regions = layouts.parse_layout({"r": region}, RES)
    try:
        plan = layouts.build_plan(regions, sources, RES, speech=speech, trim=False)
    except layouts.NothingSelected:  # skip leaves no one, or every cell is excluded
        assert skip >= max_concurrent(sources) or bounds.get("max_columns") == 1 and 0 in excluded
        return
    for a, b in zip(plan.segments, plan.segments[1:]):
        assert a.end == b.start and a.end > a.start
    for seg in plan.segments:
        shown = [t.source for t in seg.tiles]
        assert len(shown) == len(set(shown)), "a source in two cells"
        assert not {t.cell for t in seg.tiles} & set(excluded)
    if throughout:
        firsts = [(s.room_start, min(s.tiles, key=lambda t: t.cell).source) for s in plan.segments if s.tiles]
        shown_changes = [t for (t, sid), (_, before) in zip(firsts[1:], firsts) if sid != before]
        assert all(b - a >= hold - 1e-6 for a, b in zip(shown_changes, shown_changes[1:]))
