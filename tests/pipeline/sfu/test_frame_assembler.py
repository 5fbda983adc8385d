"""The time-bounded frame assembler, packet by packet."""

from __future__ import annotations

from aiortc.rtp import RtpPacket

from pipeline.sfu.frame_assembler import FrameAssembler


class Sink:
    def __init__(self) -> None:
        self.frames = []
        self.lost = 0

    def on_frame(self, frame) -> None:
        self.frames.append(frame)

    def on_frame_lost(self) -> None:
        self.lost += 1


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


VP8_START = b"\x10"  # payload descriptor: S bit, partition 0
VP8_MORE = b"\x00"


def packet(seq: int, ts: int, marker: bool, data: bytes, start: bool) -> RtpPacket:
    p = RtpPacket(payload_type=96, sequence_number=seq % 65536, timestamp=ts % 2**32, marker=int(marker))
    p.payload = (VP8_START if start else VP8_MORE) + data
    p._data = data
    return p


def frame_packets(first_seq: int, ts: int, parts: int, key: bool = False) -> list[RtpPacket]:
    head = b"\x00" if key else b"\x01"  # VP8: bit 0 clear is a keyframe
    return [
        packet(first_seq + i, ts, i == parts - 1, (head if i == 0 else b"") + bytes([i]), i == 0)
        for i in range(parts)
    ]


def make(max_wait=0.25):
    sink, clock = Sink(), Clock()
    return FrameAssembler("video", "VP8", sink, max_wait=max_wait, clock=clock), sink, clock


def test_a_frame_is_released_by_its_marker_without_waiting_for_the_next():
    assembler, sink, _ = make()
    for p in frame_packets(10, 3000, 3, key=True):
        assembler.add(p)
    assert len(sink.frames) == 1
    assert sink.frames[0].keyframe and sink.frames[0].data == b"\x00\x00\x01\x02"


def test_reordered_packets_are_put_back_in_order():
    assembler, sink, _ = make()
    packets = frame_packets(10, 3000, 3, key=True) + frame_packets(13, 6000, 2)
    for i in (0, 2, 1, 4, 3):
        assembler.add(packets[i])
    assert [f.timestamp - sink.frames[0].timestamp for f in sink.frames] == [0, 3000]


def test_a_lost_packet_holds_frames_back_at_most_max_wait_then_asks_for_a_keyframe():
    assembler, sink, clock = make()
    first = frame_packets(10, 3000, 2, key=True)
    broken = frame_packets(12, 6000, 3)
    after = frame_packets(15, 9000, 2)
    for p in first + [broken[0], broken[2]]:
        assembler.add(p)
    assert len(sink.frames) == 1
    clock.now += 0.1
    assembler.add(after[0])
    assert len(sink.frames) == 1 and sink.lost == 0  # still waiting for a retransmission
    clock.now += 0.2
    assembler.add(after[1])
    assert sink.lost == 1  # the broken frame is dropped, the next whole frame goes out
    assert [f.timestamp - sink.frames[0].timestamp for f in sink.frames] == [0, 6000]


def test_sequence_and_timestamp_wrap():
    assembler, sink, _ = make()
    for p in frame_packets(65534, 2**32 - 3000, 2, key=True) + frame_packets(0, 0, 2):
        assembler.add(p)
    assert len(sink.frames) == 2
    assert sink.frames[1].timestamp - sink.frames[0].timestamp == 3000


def test_joining_mid_frame_starts_at_the_next_whole_frame():
    assembler, sink, _ = make()
    packets = frame_packets(10, 3000, 3, key=True) + frame_packets(13, 6000, 2)
    for p in packets[1:]:
        assembler.add(p)
    assert len(sink.frames) == 1 and sink.frames[0].timestamp % 2**32 == 6000


def test_audio_goes_out_at_once_and_skips_gaps():
    sink = Sink()
    assembler = FrameAssembler("audio", "opus", sink)
    for seq in (1, 2, 4, 3, 5):
        p = RtpPacket(payload_type=111, sequence_number=seq, timestamp=seq * 960)
        p._data = b"x"
        assembler.add(p)
    assert [f.timestamp % 2**32 for f in sink.frames] == [960, 1920, 3840, 4800]


def on(ssrc: int, packets: list[RtpPacket]) -> list[RtpPacket]:
    for p in packets:
        p.ssrc = ssrc
    return packets


def test_one_simulcast_encoding_is_followed_and_another_taken_when_it_goes_silent():
    """A simulcast publisher's encodings reach one receiver; mixing them would be garbage."""
    assembler, sink, clock = make()
    for n in range(3):  # two encodings, interleaved packet by packet
        low = on(111, frame_packets(100 + 2 * n, 9000 + 3000 * n, 2, key=n == 0))
        high = on(222, frame_packets(5000 + 3 * n, 700000 + 3000 * n, 3, key=n == 0))
        for a, b in zip(low + [None], high, strict=False):
            if a is not None:
                assembler.add(a)
            assembler.add(b)
        clock.now += 0.033
    assert [f.ssrc for f in sink.frames] == [111, 111, 111]
    assert [f.timestamp - sink.frames[0].timestamp for f in sink.frames] == [0, 3000, 6000]
    assert assembler.ignored == 9 and sink.lost == 0

    clock.now += 1.5  # the followed encoding stops (the browser turned that layer off)
    for p in on(222, frame_packets(5100, 800000, 3, key=True)):
        assembler.add(p)
    assert sink.lost == 1  # subscribers resync from this encoding's keyframe
    assert sink.frames[-1].ssrc == 222 and sink.frames[-1].keyframe
    # Time goes on from the last frame forwarded: no jump for subscribers or the recording.
    assert sink.frames[-1].timestamp == sink.frames[2].timestamp + 3000


def test_any_reordering_within_a_frame_or_two_gives_every_frame_once_in_order():
    import random

    rng = random.Random(5)
    assembler, sink, clock = make()
    packets, seq = [], 62000  # crosses the 16-bit wrap
    for n in range(300):
        parts = rng.choice([1, 2, 3, 8, 80])
        packets += frame_packets(seq, 1000 + 3000 * n, parts, key=n == 0)
        seq += parts
    for start in range(0, len(packets), 12):  # shuffled in windows of 12 packets (but the first)
        window = packets[start : start + 12]
        if start:
            rng.shuffle(window)
        for p in window:
            assembler.add(p)
            clock.now += 0.0005
    assert [f.timestamp - sink.frames[0].timestamp for f in sink.frames] == [3000 * n for n in range(300)]
    assert sink.lost == 0 and assembler.dropped == 0
