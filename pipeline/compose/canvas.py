"""The output picture: a black yuv420p frame with scaled pictures copied into their cells."""

from __future__ import annotations

import av
import numpy as np

from .video_source import Picture

# Limited-range black, what players expect from yuv420p.
BLACK = (16, 128, 128)


class Canvas:
    def __init__(self, width: int, height: int) -> None:
        self.width = width
        self.height = height

    def new_frame(self) -> tuple[av.VideoFrame, list[np.ndarray]]:
        frame = av.VideoFrame(self.width, self.height, "yuv420p")
        planes = Picture.of(frame)
        views = [planes.y, planes.u, planes.v]
        for view, value in zip(views, BLACK):
            view.fill(value)
        return frame, views

    def paste(self, views: list[np.ndarray], picture: Picture, x: int, y: int, w: int, h: int) -> None:
        """Centre `picture` in the cell (x, y, w, h); offsets are even so chroma lines up."""
        ph, pw = picture.y.shape
        left = (x + (w - pw) // 2) & ~1
        top = (y + (h - ph) // 2) & ~1
        pw = min(pw, self.width - left)
        ph = min(ph, self.height - top)
        if pw <= 0 or ph <= 0:
            return
        views[0][top : top + ph, left : left + pw] = picture.y[:ph, :pw]
        views[1][top // 2 : (top + ph) // 2, left // 2 : (left + pw) // 2] = picture.u[: ph // 2, : pw // 2]
        views[2][top // 2 : (top + ph) // 2, left // 2 : (left + pw) // 2] = picture.v[: ph // 2, : pw // 2]
