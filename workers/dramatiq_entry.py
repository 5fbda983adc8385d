"""dramatiq's command line with roomreel's logging: `roomreel worker` runs this instead of
`python -m dramatiq`, so that with ROOMREEL_LOG_FORMAT=json the main process's lines are JSON
too (the worker processes set theirs up when they import `workers.actors`)."""

from __future__ import annotations

import sys

from dramatiq.cli import main as dramatiq_main

from pipeline.logs import configure

if __name__ == "__main__":
    configure()
    sys.exit(dramatiq_main())
