"""What reading audio levels costs the SFU: its audio path per packet with levels on and off.

For each mode the same 4 publishers send 20 ms Opus packets carrying the RFC 6464
ssrc-audio-level header extension (browsers always send it, and aiortc always negotiates it)
into a room's forwarding path as the SFU runs it: aiortc's RTP parsing with the negotiated
extension map, the frame assembler, the published track, the dominant speaker detector (levels
on) or nothing reading the levels (off), and one subscription per other participant. Both modes run in the same process, interleaved, and the script prints the cost
per forwarded audio stream and the ratio. The path measured leaves out SRTP, the sender's
packetizing and the sendto system call, which are the same in both modes and dominate the
real cost, so the ratio is an upper bound on what levels add. Target: <= 1.05.

    python bench/speaker_levels.py [--packets 20000] [--rounds 5]
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import time
from pathlib import Path
from types import SimpleNamespace

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from aiortc.codecs import depayload  # noqa: E402
from aiortc.rtcrtpparameters import (  # noqa: E402
    RTCRtpCodecParameters,  # noqa: E402
    RTCRtpHeaderExtensionParameters,
    RTCRtpParameters,
)
from aiortc.rtp import HeaderExtensionsMap, RtpPacket  # noqa: E402

from pipeline.sfu.dominant_speaker import DominantSpeaker  # noqa: E402
from pipeline.sfu.frame_assembler import FrameAssembler  # noqa: E402
from pipeline.sfu.published_track import PublishedTrack  # noqa: E402

PUBLISHERS = 4
OPUS = RTCRtpCodecParameters(mimeType="audio/opus", clockRate=48000, channels=2, payloadType=111)
LEVEL_URI = "urn:ietf:params:rtp-hdrext:ssrc-audio-level"


class Forward:
    """A subscription's share of the path: take the frame onto its queue."""

    def __init__(self) -> None:
        self.queue: list = []

    def push(self, frame) -> None:
        self.queue.append(frame)
        if len(self.queue) > 256:
            self.queue.clear()

    def resync(self) -> None:
        pass


def packets(count: int, levels: bool, extensions: HeaderExtensionsMap) -> list[tuple[int, bytes]]:
    rng = random.Random(7)
    out = []
    for i in range(count):
        publisher = i % PUBLISHERS
        packet = RtpPacket(payload_type=111, sequence_number=i // PUBLISHERS % 65536,
                           timestamp=(i // PUBLISHERS) * 960 % 2**32, ssrc=1000 + publisher)  # fmt: skip
        packet.payload = bytes(rng.getrandbits(8) for _ in range(80))
        if levels:
            talking = (i // PUBLISHERS // 150) % PUBLISHERS == publisher  # turns of 3 s
            packet.extensions.audio_level = (talking, 30 if talking else 120)
        out.append((publisher, packet.serialize(extensions)))
    return out


class NotRead:
    """Levels off: the packets carry them (browsers always send them), nobody reads them."""

    def observe(self, *_args) -> None:
        pass


def path(levels_read: bool):
    room = SimpleNamespace(speakers=DominantSpeaker() if levels_read else NotRead())
    tracks = []
    for n in range(PUBLISHERS):
        publisher = SimpleNamespace(sid=f"PA{n}", room=room)
        track = PublishedTrack(f"MT{n}", "microphone", "audio", publisher, "opus", 48_000)
        for _ in range(PUBLISHERS - 1):
            track.sinks.add(Forward())
        tracks.append((track, FrameAssembler("audio", "opus", track)))
    return tracks, room


def run(data: list[tuple[int, bytes]], extensions: HeaderExtensionsMap, levels_read: bool) -> float:
    tracks, _room = path(levels_read)
    start = time.process_time()
    for publisher, raw in data:
        packet = RtpPacket.parse(raw, extensions)
        packet._data = depayload(OPUS, packet.payload)  # as aiortc's receiver does before the buffer
        tracks[publisher][1].add(packet)
    return time.process_time() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--packets", type=int, default=20000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    extensions = HeaderExtensionsMap()
    extensions.configure(
        RTCRtpParameters(headerExtensions=[RTCRtpHeaderExtensionParameters(id=1, uri=LEVEL_URI)])
    )
    data = packets(args.packets, True, extensions)
    on, off = [], []
    for _ in range(args.rounds):  # interleaved, so drift in the machine's load hits both
        off.append(run(data, extensions, False))
        on.append(run(data, extensions, True))
    streams = args.packets * (PUBLISHERS - 1)  # each packet is forwarded to 3 subscribers
    per_off = statistics.median(off) / streams * 1e6
    per_on = statistics.median(on) / streams * 1e6
    print(f"audio path per forwarded packet (median of {args.rounds}, {os.cpu_count()} cores):")
    print(f"  levels off: {per_off:.2f} us")
    print(f"  levels on:  {per_on:.2f} us")
    print(f"ratio on/off: {per_on / per_off:.3f} (target <= 1.05; an upper bound, see the docstring)")
    added = (per_on - per_off) * 50 / 1e6  # 50 packets a second per forwarded stream
    print(f"levels add {added:.6f} CPU-s/s per forwarded audio stream")
    # bench/sfu.py measured the whole forwarding path at about 0.0095 CPU-s/s per 720p video
    # stream of ~250 packets/s: some 38 us a packet, so about 0.0019 CPU-s/s per audio stream.
    print(f"against the whole path (~0.0019 CPU-s/s per audio stream, bench/sfu.py): "
          f"{1 + added / 0.0019:.3f}")  # fmt: skip


if __name__ == "__main__":
    main()
