"""Placing recordings by Twilio's documented fields: `offset` (ms, common epoch, the moment the
track's room started) plus the file's own start time (ffprobe `start_time`)."""

from pipeline.twilio_import.timing import placements


def test_file_start_times_place_tracks_of_one_room():
    # As Twilio's REST API returns them: one room, one offset, tracks that start late.
    offsets = {"RTa": 1_700_000_000_123, "RTb": 1_700_000_000_123, "RTc": 1_700_000_000_123}
    starts = {"RTa": 0.0, "RTb": 2.5, "RTc": 61.02}
    assert placements(offsets, starts) == {"RTa": 0.0, "RTb": 2.5, "RTc": 61.02}


def test_a_room_moved_between_servers_shifts_by_its_offset():
    # Recordings after a recovery carry the later offset; their files start again near 0.
    offsets = {"RTbefore": 1_000_000, "RTafter": 1_045_250}
    starts = {"RTbefore": 0.0, "RTafter": 0.5}
    placed = placements(offsets, starts)
    assert placed["RTbefore"] == 0.0 and abs(placed["RTafter"] - 45.75) < 1e-9


def test_nothing_to_place():
    assert placements({}, {}) == {}
