"""Twilio's track rules, shared by RecordingRules and SubscribeRules."""

from pipeline.track_rules import INCLUDE_ALL, TrackFacts, selected

CHAT = TrackFacts("MT" + "1" * 32, "chat", "data", "PA" + "2" * 32, "alice")
CAMERA = TrackFacts("MT" + "3" * 32, "camera", "video", "PA" + "2" * 32, "alice")


def test_everything_is_selected_by_default_data_included():
    assert selected(INCLUDE_ALL, CHAT) and selected(INCLUDE_ALL, CAMERA)


def test_an_exclude_wins_over_any_include():
    rules = [{"type": "include", "all": True}, {"type": "exclude", "kind": "data"}]
    assert not selected(rules, CHAT) and selected(rules, CAMERA)
    assert not selected(
        [{"type": "include", "track": "camera"}, {"type": "exclude", "publisher": "alice"}], CAMERA
    )


def test_nothing_is_selected_without_an_include():
    assert not selected([{"type": "exclude", "track": "chat"}], CAMERA)
    assert selected([{"type": "include", "publisher": CAMERA.publisher_sid}], CAMERA)
