"""Cell assignment over time, checked against the worked examples of the layout reference."""

import layouts
from layouts.sources import Source

RES = layouts.parse_resolution("1280x720")


def src(name: str, start: float, end: float) -> Source:
    return Source("RT" + name * 32, "video", start, end, track_name=name)


def shown(layout: dict, sources: list[Source], trim: bool = True) -> list[tuple[float, float, list]]:
    plan = layouts.build_plan(layouts.parse_layout(layout, RES), sources, RES, trim=trim)
    return [(s.start, s.end, [(t.source[2], t.cell) for t in s.tiles]) for s in plan.segments]


A, B, C = src("a", 2, 12), src("b", 5, 15), src("c", 0, 20)


def row(reuse: str) -> dict:
    return {"r": {"video_sources": ["*"], "max_rows": 1, "max_columns": 2, "reuse": reuse}}


def test_none_never_reuses_and_drops_sources_without_a_cell():
    assert shown(row("none"), [A, B, C]) == [
        (0, 2, [("c", 0)]),
        (2, 12, [("c", 0), ("a", 1)]),
        (12, 20, [("c", 0)]),
    ]


def test_show_oldest_queues_the_newer_source_behind_the_cell_that_frees_first():
    assert shown(row("show_oldest"), [A, B, C]) == [
        (0, 2, [("c", 0)]),
        (2, 12, [("c", 0), ("a", 1)]),
        (12, 15, [("c", 0), ("b", 1)]),
        (15, 20, [("c", 0)]),
    ]


def test_show_newest_lets_the_newer_source_take_over():
    assert shown(row("show_newest"), [A, B, C]) == [
        (0, 2, [("c", 0)]),
        (2, 5, [("c", 0), ("a", 1)]),
        (5, 15, [("c", 0), ("b", 1)]),
        (15, 20, [("c", 0)]),
    ]


def single(reuse: str) -> dict:
    return {"s": {"video_sources": ["*"], "max_rows": 1, "max_columns": 1, "reuse": reuse}}


# Twilio's "understanding trim" figure as hisui tests it, with one-second sources.
FIGURE = [src("0", 0, 3), src("1", 1, 2), src("2", 4, 7), src("3", 5, 8), src("4", 6, 9)]


def test_single_cell_show_oldest_follows_the_figure():
    assert shown(single("show_oldest"), FIGURE, trim=False) == [
        (0, 3, [("0", 0)]),
        (3, 4, []),
        (4, 7, [("2", 0)]),
        (7, 8, [("3", 0)]),
        (8, 9, [("4", 0)]),
    ]


def test_single_cell_show_newest_follows_the_figure():
    assert shown(single("show_newest"), FIGURE, trim=False) == [
        (0, 1, [("0", 0)]),
        (1, 2, [("1", 0)]),
        (2, 3, [("0", 0)]),
        (3, 4, []),
        (4, 5, [("2", 0)]),
        (5, 6, [("3", 0)]),
        (6, 9, [("4", 0)]),
    ]


def test_single_cell_none_shows_only_the_first_source():
    segments = shown(single("none"), FIGURE, trim=False)
    assert {t[0] for _, _, tiles in segments for t in tiles} == {"0"}


def test_cells_excluded_are_skipped_and_enlarge_the_grid():
    sources = [src(c, 0, 10) for c in "abcde"]
    plan = layouts.build_plan(
        layouts.parse_layout(
            {
                "chess": {
                    "video_sources": ["*"],
                    "max_rows": 3,
                    "max_columns": 3,
                    "cells_excluded": [1, 3, 5, 7],
                }
            },
            RES,
        ),
        sources,
        RES,
    )
    tiles = plan.segments[0].tiles
    assert sorted(t.cell for t in tiles) == [0, 2, 4, 6, 8]
    assert {(t.width, t.height) for t in tiles} == {(426, 240)}


def test_excluded_centre_cell_of_the_mosaic_stays_empty():
    sources = [src(c, 0, 10) for c in "abcdefgh"]
    layout = {
        "ring": {
            "video_sources": ["*"],
            "x_pos": 10,
            "width": 1260,
            "max_rows": 3,
            "max_columns": 3,
            "cells_excluded": [4],
            "reuse": "show_newest",
        }
    }
    tiles = layouts.build_plan(layouts.parse_layout(layout, RES), sources, RES).segments[0].tiles
    assert sorted(t.cell for t in tiles) == [0, 1, 2, 3, 5, 6, 7, 8]
    centre = [t for t in tiles if t.cell == 5][0]
    assert (centre.x, centre.y, centre.width, centre.height) == (10 + 2 * 420, 240, 420, 240)
