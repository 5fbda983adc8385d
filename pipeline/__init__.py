"""roomreel: recording and composition for WebRTC group rooms."""

__version__ = "0.1.0"
