"""Twilio's signaling, as twilio-video.js 2.x speaks it (docs/signaling.md): an adapter onto the
room core, so an unmodified Twilio Video app joins a roomreel room by changing `wsServer`.

`tcmp` is the framing over the WebSocket (hello/welcome, heartbeats), `sdp` reads and aligns
the one peer connection's descriptions, and `session` speaks the room-signaling messages."""
