"""Network quality levels (0-5, as Twilio's) from what the server sees of a participant's
connection: the loss on the media it receives from them and the loss and round-trip time they
report for the media it sends them (RTCP receiver reports), since the last measurement."""

from __future__ import annotations

from dataclasses import dataclass

# Loss below each bound gives the level beside it; a round trip over 400 ms caps the level at 3
# and over 1 s at 1, since conversation suffers before packets are lost.
LOSS_LEVELS = ((0.01, 5), (0.03, 4), (0.05, 3), (0.10, 2), (0.20, 1))


def level(loss: float, rtt: float | None) -> int:
    found = next((value for bound, value in LOSS_LEVELS if loss < bound), 0)
    if rtt is not None and rtt > 1.0:
        return min(found, 1)
    if rtt is not None and rtt > 0.4:
        return min(found, 3)
    return found


@dataclass
class QualityMeter:
    """One participant's connection; `measure` compares its statistics with the last ones."""

    _lost: int = 0
    _expected: int = 0

    async def measure(self, pc) -> int:
        lost = expected = 0
        rtts: list[float] = []
        for stats in (await pc.getStats()).values():
            if stats.type == "inbound-rtp":
                lost += max(0, stats.packetsLost or 0)
                expected += (stats.packetsReceived or 0) + max(0, stats.packetsLost or 0)
            elif stats.type == "remote-inbound-rtp":
                lost += max(0, stats.packetsLost or 0)
                expected += max(0, stats.packetsLost or 0) + (getattr(stats, "packetsReceived", 0) or 0)
                if getattr(stats, "roundTripTime", None):
                    rtts.append(float(stats.roundTripTime))
        new_lost, new_expected = lost - self._lost, expected - self._expected
        self._lost, self._expected = lost, expected
        loss = new_lost / new_expected if new_expected > 0 else 0.0
        return level(loss, max(rtts) if rtts else None)
