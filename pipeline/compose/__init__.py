"""The renderer: a room manifest and a layout plan in, one mp4 or webm out."""

from .errors import ComposeError
from .renderer import DEFAULT_FPS, RenderReport, render

__all__ = ["DEFAULT_FPS", "ComposeError", "RenderReport", "render"]
