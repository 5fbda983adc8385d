"""The forwarding core: group rooms over WebRTC; encoded frames are forwarded, never decoded."""

from .sfu import Sfu, SfuSettings

__all__ = ["Sfu", "SfuSettings"]
