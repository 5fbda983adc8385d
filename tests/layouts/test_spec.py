import pytest

import layouts
from layouts import LayoutError

RES = layouts.parse_resolution("1280x720")


@pytest.mark.parametrize(
    ("layout", "field"),
    [
        ({"grid": {"video_sources": "*"}}, "video_layout.grid.video_sources"),
        ({"grid": {}}, "video_layout.grid.video_sources"),
        ({"grid": {"video_sources": ["*"], "reuse": "always"}}, "video_layout.grid.reuse"),
        ({"grid": {"video_sources": ["*"], "x_pos": 2000}}, "video_layout.grid.x_pos"),
        ({"grid": {"video_sources": ["*"], "z_pos": 100}}, "video_layout.grid.z_pos"),
        ({"grid": {"video_sources": ["*"], "width": "wide"}}, "video_layout.grid.width"),
        ({"grid": {"video_sources": ["*"], "max_rows": -1}}, "video_layout.grid.max_rows"),
        ({"grid": {"video_sources": ["*"], "cells_excluded": 3}}, "video_layout.grid.cells_excluded"),
        ({"grid": {"video_sources": ["*"], "cells_excluded": ["a"]}}, "video_layout.grid.cells_excluded[0]"),
        ({"grid": {"video_sources": [""]}}, "video_layout.grid.video_sources[0]"),
        (
            {"grid": {"video_sources": ["*"], "video_sources_excluded": "x"}},
            "video_layout.grid.video_sources_excluded",
        ),
        ({"grid": {"video_sources": ["*"], "colour": "red"}}, "video_layout.grid.colour"),
        ({"grid": {"video_sources": ["*"], "x_pos": True}}, "video_layout.grid.x_pos"),
        ({"grid": []}, "video_layout.grid"),
        ([], "video_layout"),
        ("{not json", "video_layout"),
    ],
)
def test_every_error_names_its_field(layout, field):
    with pytest.raises(LayoutError) as err:
        layouts.parse_layout(layout, RES)
    assert err.value.field == field
    assert str(err.value).startswith(field + " ")


def test_message_reads_like_the_reference():
    with pytest.raises(LayoutError, match=r"^video_layout.grid.video_sources must be a list$"):
        layouts.parse_layout({"grid": {"video_sources": "*"}}, RES)


def test_defaults_are_echoed_like_twilio():
    regions = layouts.parse_layout('{"main": {"z_pos": 1, "video_sources": ["screen"]}}', RES)
    assert layouts.echo_layout(regions) == {
        "main": {
            "cells_excluded": [],
            "height": None,
            "max_columns": None,
            "max_rows": None,
            "reuse": "show_oldest",
            "video_sources": ["screen"],
            "video_sources_excluded": [],
            "width": None,
            "x_pos": 0,
            "y_pos": 0,
            "z_pos": 1,
        }
    }


def test_zero_sizes_mean_to_the_edge():
    (region,) = layouts.parse_layout(
        {"g": {"video_sources": ["*"], "width": 0, "height": 0, "max_rows": 0}}, RES
    )
    assert (region.width, region.height, region.max_rows) == (None, None, None)


def test_empty_layout_is_audio_only():
    assert layouts.parse_layout({}, RES) == []
    assert layouts.parse_layout(None, RES) == []


@pytest.mark.parametrize(
    "value", ["640x480", "1280x720", "16x16", "1280x720", "1024x576", "720x1280", "1920x1080"]
)
def test_resolutions_within_limits(value):
    assert str(layouts.parse_resolution(value)) == value


@pytest.mark.parametrize(
    "value", ["1281x720", "15x100", "1280x1280", "1920x1200", "abc", "640*480", "641x480"]
)
def test_resolutions_outside_limits(value):
    with pytest.raises(LayoutError) as err:
        layouts.parse_resolution(value)
    assert err.value.field == "resolution"


def test_default_resolution_is_twilios():
    assert str(layouts.parse_resolution(None)) == "640x480"
