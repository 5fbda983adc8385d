"""dramatiq actors (compose, finalize_recording, deliver_callback, run_hooks, reprocess)."""
