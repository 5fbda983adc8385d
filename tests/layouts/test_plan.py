import json

import pytest

import layouts
from layouts import NothingSelected
from layouts.presets import expand_preset
from layouts.sources import Source

RES = layouts.parse_resolution("1280x720")
PA_ALICE = "PA" + "a" * 32
MT_BOB = "MT" + "b" * 32


def sources() -> list[Source]:
    return [
        Source("RT" + "1" * 32, "video", 10, 20, "MT" + "1" * 32, "alice-cam", PA_ALICE, "alice"),
        Source("RT" + "2" * 32, "audio", 10, 20, "MT" + "2" * 32, "alice-mic", PA_ALICE, "alice"),
        Source("RT" + "3" * 32, "video", 25, 40, MT_BOB, "bob-cam", "PA" + "b" * 32, "bob"),
        Source("RT" + "4" * 32, "audio", 25, 40, "MT" + "4" * 32, "bob-mic", "PA" + "b" * 32, "bob"),
        Source("RT" + "5" * 32, "video", 30, 35, "MT" + "5" * 32, "teacher-screen", PA_ALICE, "alice"),
    ]


def plan(layout, audio=(), excluded=(), trim=True, duration=None):
    return layouts.build_plan(
        layouts.parse_layout(layout, RES), sources(), RES, audio, excluded, trim, duration
    )


def test_trim_cuts_stretches_without_media():
    p = plan({"grid": {"video_sources": ["*"]}}, ["*"])
    assert p.duration == pytest.approx(25.0)  # [10,20) + [25,40)
    assert p.segments[0].start == 0 and p.segments[0].room_start == 10
    second = [s for s in p.segments if s.room_start == 25][0]
    assert second.start == pytest.approx(10.0)
    assert [(a.start, a.end) for a in p.audio] == [(0, 10), (10, 25)]


def test_no_trim_keeps_the_room_timeline():
    p = plan({"grid": {"video_sources": ["*"]}}, ["*"], trim=False, duration=45)
    assert p.duration == 45
    assert p.segments[0].tiles == [] and p.segments[0].end == 10
    assert [(a.start, a.end) for a in p.audio] == [(10, 20), (25, 40)]


def test_sid_and_wildcard_selection():
    by_pa = plan({"g": {"video_sources": [PA_ALICE]}})
    assert {t.source[2] for s in by_pa.segments for t in s.tiles} == {"1", "5"}
    by_mt = plan({"g": {"video_sources": [MT_BOB]}})
    assert {t.source[2] for s in by_mt.segments for t in s.tiles} == {"3"}
    by_rt = plan({"g": {"video_sources": ["RT" + "5" * 32]}})
    assert {t.source[2] for s in by_rt.segments for t in s.tiles} == {"5"}
    wild = plan({"g": {"video_sources": ["*-cam"], "video_sources_excluded": ["bob*"]}})
    assert {t.source[2] for s in wild.segments for t in s.tiles} == {"1"}


def test_audio_selection_and_exclusion():
    p = plan({}, ["*"], ["bob-mic"])
    assert [a.source[2] for a in p.audio] == ["2"]
    assert p.duration == 10 and not p.has_video


def test_z_order_paints_upper_regions_last():
    layout = {
        "pip": {
            "z_pos": 2,
            "x_pos": 1000,
            "y_pos": 30,
            "width": 240,
            "height": 180,
            "video_sources": ["bob-cam"],
        },
        "main": {"z_pos": 1, "video_sources": ["teacher-screen"]},
    }
    seg = [s for s in plan(layout).segments if len(s.tiles) == 2][0]
    assert [t.region for t in seg.tiles] == ["main", "pip"]
    assert (seg.tiles[1].x, seg.tiles[1].y, seg.tiles[1].width, seg.tiles[1].height) == (1000, 30, 240, 180)


def test_region_clipped_to_the_canvas():
    p = plan({"g": {"video_sources": ["*"], "x_pos": 1200, "width": 400}})
    assert all(t.x + t.width <= 1280 for s in p.segments for t in s.tiles)


def test_selecting_nothing_is_an_error():
    with pytest.raises(NothingSelected):
        plan({"g": {"video_sources": ["nobody*"]}})


def test_plan_round_trips_through_json():
    p = plan({"grid": {"video_sources": ["*"]}}, ["*"])
    again = layouts.Plan.from_dict(json.loads(json.dumps(p.to_dict())))
    assert again == p


@pytest.mark.parametrize("name", layouts.preset_names())
def test_every_preset_plans(name):
    layout = expand_preset(
        name + ":main=teacher-screen"
        if "{main}" in json.dumps(__import__("layouts.presets", fromlist=["x"])._read(name))
        else name,
        RES,
    )
    p = plan(layout, ["*"])
    assert p.has_video
    for seg in p.segments:
        for tile in seg.tiles:
            assert 0 <= tile.x and tile.x + tile.width <= 1280
            assert 0 <= tile.y and tile.y + tile.height <= 720


def test_presets_by_name_wherever_a_layout_goes():
    regions = layouts.load_layout("presentation:main=teacher-screen", RES)
    assert [r.name for r in regions] == ["main", "row"]
    assert regions[1].video_sources_excluded == ["teacher-screen"]
    assert set(layouts.preset_names()) >= {
        "grid",
        "single",
        "pip",
        "presentation",
        "sidebar",
        "mosaic",
        "chess",
        "sequence",
    }


def test_unknown_preset_or_parameter():
    with pytest.raises(layouts.LayoutError, match="preset"):
        layouts.load_layout("grid:speaker=x", RES)
    with pytest.raises(layouts.LayoutError):
        layouts.load_layout("nosuchpreset", RES)
