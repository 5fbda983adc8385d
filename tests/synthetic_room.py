"""The test-data generator: synthetic rooms with flashes and beeps (kept in the package for the demo)."""

from pipeline.media.synthetic import (  # noqa: F401
    BEEP_HZ,
    BEEP_SECONDS,
    COLORS,
    SAMPLE_RATE,
    Participant,
    make_room,
    sid,
    tone,
)
