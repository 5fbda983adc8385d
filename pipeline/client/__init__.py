"""A Python participant for roomreel rooms (aiortc): tests, `roomreel bot`, benchmarks."""

from .room_client import RemoteTrack, RoomClient, RoomClientError

__all__ = ["RemoteTrack", "RoomClient", "RoomClientError"]
