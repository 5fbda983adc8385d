import pytest

from tests.synthetic_room import COLORS, Participant, make_room

RED, GREEN, BLUE = COLORS[0], COLORS[1], COLORS[2]


def people() -> list[Participant]:
    return [
        Participant("alice", RED, 0.0, 8.0, tone_hz=300, flashes=[1.0, 4.0], resize=(5.0, (640, 360))),
        Participant("bob", GREEN, 1.0, 7.0, tone_hz=500, flashes=[2.6], disabled=[(3.0, 4.5)]),
        Participant("carol", BLUE, 2.0, 6.0, tone_hz=700, flashes=[5.2], codec="H264"),
    ]


@pytest.fixture(scope="session")
def room(tmp_path_factory):
    """An 8 s room: alice 0-8 s (resizes at 5 s), bob 1-7 s (disabled 3-4.5 s), carol 2-6 s on H.264."""
    directory = tmp_path_factory.mktemp("room")
    make_room(directory, people(), fps=15, duration=10.0)
    return directory
