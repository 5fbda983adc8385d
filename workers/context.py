"""What every actor in a worker process shares: settings, database and storage, made once."""

from __future__ import annotations

import os
import socket
import threading
from dataclasses import dataclass
from functools import cache

from pipeline.config import Settings
from pipeline.db import Database
from pipeline.signing_key import deployment_storage
from pipeline.storage import Storage


@dataclass(frozen=True)
class WorkerContext:
    settings: Settings
    db: Database
    storage: Storage


@cache
def context() -> WorkerContext:
    settings = Settings.from_env()
    db = Database(settings.database_url)
    storage = deployment_storage(settings, db)
    return WorkerContext(settings, db, storage)


def worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident()}"
