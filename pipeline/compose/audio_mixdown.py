"""The whole audio path on one thread: every audio source decoded, mixed tick by tick through the
plan's segments, limited and encoded, independent of the video loop.

A Python thread per audio track, each handing chunks to the compositor every tick, kept the
compositor waiting for the CPU and the GIL (16 audio readers in a 16-participant room); one
thread doing all of it leaves the main thread nothing but video and muxing.
"""

from __future__ import annotations

import math

import av
import numpy as np

from layouts import Plan

from .audio_source import CHANNELS, SAMPLE_RATE, AudioSource
from .errors import ComposeError
from .mixer import Limiter
from .output import AudioEncoder
from .reader_thread import END, ReaderThread
from .timeline import output_ticks

# Packets the audio may run ahead of the muxer: about 5 s of AAC, so memory stays flat.
PACKET_QUEUE = 256
# The video loop waits for audio only when the audio lags this far behind it (seconds); short
# lags are caught up at a later tick, without a hand-off per frame.
LAG_ALLOWED = 0.5
# Ticks mixed as one block at most (about 270 ms at 30 fps).
BLOCK_TICKS = 8


def packet_time(packet: av.Packet) -> float:
    return float(packet.pts * packet.time_base) if packet.pts is not None else -math.inf


class AudioMixdown(ReaderThread):
    def __init__(
        self,
        plan: Plan,
        tick: float,
        sources: dict[str, AudioSource],
        encoder: AudioEncoder,
        skip_broken: bool,
    ) -> None:
        super().__init__("audio-mixdown", PACKET_QUEUE)
        self.plan = plan
        self.tick = tick
        self.sources = sources
        self.encoder = encoder
        self.skip_broken = skip_broken
        self.failure: BaseException | None = None
        self._held: av.Packet | None = None
        self._ended = False
        self._taken_until = -math.inf

    # -- the audio thread -------------------------------------------------------------
    def produce(self) -> None:
        try:
            self._mix()
        except BaseException as exc:  # raised again on the main thread when it takes packets
            self.failure = exc
        finally:
            for source in self.sources.values():
                source.close()

    def _mix(self) -> None:
        """Each tick's samples, as the video loop's ticks: the mix for output time t reads the
        room time of the segment that holds t, so trims and cuts stay sample-exact.

        Ticks whose room samples follow on from each other and hear the same sources are mixed
        as one block (per-tick reads from 16 sources cost more than the mixing), and the limiter
        still runs tick by tick, so the output is the same as mixing tick by tick."""
        tick = self.tick
        spans = {a.source: (a.start, a.end) for a in self.plan.audio}
        limiter = Limiter()
        counts: list[int] = []
        block_at = block_end = 0
        hearing: tuple[str, ...] = ()
        done = 0
        for n, t_out, _, room_t in output_ticks(self.plan, tick):
            target = round((n + 1) * tick * SAMPLE_RATE)
            count, done = target - done, target
            room_pos = round(room_t * SAMPLE_RATE)
            audible = tuple(
                sid for sid, (start, end) in spans.items() if start < t_out + tick and t_out < end
            )
            if counts and (audible != hearing or room_pos != block_end or len(counts) == BLOCK_TICKS):
                if not self._mix_block(block_at, counts, hearing, limiter):
                    return
                counts = []
            if not counts:
                block_at, hearing = room_pos, audible
            counts.append(count)
            block_end = room_pos + count
        if counts and not self._mix_block(block_at, counts, hearing, limiter):
            return
        self._put_all(self.encoder.finish())

    def _mix_block(
        self, position: int, counts: list[int], hearing: tuple[str, ...], limiter: Limiter
    ) -> bool:
        """Mixes room samples from `position` for ticks of `counts` samples; False when closed."""
        mixed = np.zeros((sum(counts), CHANNELS), np.float32)
        for sid in hearing:
            source = self.sources[sid]
            source.add_into(mixed, position)
            if source.error and not self.skip_broken:
                raise ComposeError(source.error, sid)
        limited = []
        offset = 0
        for count in counts:
            limited.append(limiter.process(mixed[offset : offset + count]))
            offset += count
        return self._put_all(self.encoder.encode(np.concatenate(limited)))

    def _put_all(self, packets: list[av.Packet]) -> bool:
        return all(self.put(packet) for packet in packets)

    # -- the main thread --------------------------------------------------------------
    def take_until(self, t: float | None, lag_allowed: float = LAG_ALLOWED) -> list[av.Packet]:
        """The encoded packets up to output time `t` (None: all that are left). Waits for the
        audio thread only while it is more than `lag_allowed` seconds behind `t`."""
        packets: list[av.Packet] = []
        while True:
            if self._held is None:
                if self._ended:
                    break
                behind = t is None or self._taken_until < t - lag_allowed
                item = self.take() if behind else self.poll()
                if item is None:
                    break
                if item is END:
                    self._ended = True
                    if self.failure is not None:
                        raise self.failure
                    if self.error is not None:
                        raise ComposeError(self.error)
                    break
                assert isinstance(item, av.Packet)
                self._held = item
            when = packet_time(self._held)
            if t is not None and when > t:
                break
            packets.append(self._held)
            self._held = None
            self._taken_until = when
        return packets
