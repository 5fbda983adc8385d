"""What a `roomreel serve` process holds before it touches any state: its data directory and its
listening socket.

Start-up recovery ends the rooms and participants a dead server left live. A second server
started on the same data directory must therefore never get that far while the first is alive,
so it takes an exclusive lock on the directory and binds its port first, and only then recovers.
The lock is an flock, so it is released by the kernel when its holder dies, however it dies.
"""

from __future__ import annotations

import fcntl
import ipaddress
import json
import os
import socket
from pathlib import Path


class ClaimError(RuntimeError):
    """Another live process holds what this one needs; the message says which and what to do."""


class DataDirClaim:
    def __init__(self, data_dir: Path) -> None:
        self.path = data_dir / "serve.lock"
        self._file = None

    def acquire(self, address: str) -> DataDirClaim:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle = open(self.path, "a+")  # noqa: SIM115 - held open for the process's life
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = _holder(handle.read())
            handle.close()
            raise ClaimError(
                f"another roomreel serve{holder} is using {self.path.parent}; stop it first, "
                "or give this one its own ROOMREEL_DATA_DIR"
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(json.dumps({"pid": os.getpid(), "address": address}))
        handle.flush()
        self._file = handle
        return self

    def release(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


def _holder(text: str) -> str:
    try:
        info = json.loads(text)
        return f" (pid {info['pid']}, {info['address']})"
    except (ValueError, KeyError, TypeError):
        return ""


def listening_socket(host: str, port: int) -> socket.socket:
    """The bound, listening socket uvicorn will serve on; ClaimError when it cannot be had."""
    try:
        family = socket.AF_INET6 if ipaddress.ip_address(host).version == 6 else socket.AF_INET
    except ValueError:  # a name such as localhost
        family = socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
        sock.listen(2048)
    except OSError as exc:
        sock.close()
        raise ClaimError(
            f"cannot listen on {host}:{port}: {exc.strerror or exc} (another server there? use --port)"
        ) from None
    sock.set_inheritable(True)
    return sock
