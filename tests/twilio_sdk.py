"""The real twilio-video.js SDK, fetched from the npm registry once and checked by its sha256."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import tarfile
import tempfile
from pathlib import Path

import pytest

VERSION = "2.36.0"
TARBALL_SHA256 = "ed9addaad4aca29dd272d24579ee928f1bc5f2678840b4ffc67bb45c7ce34097"
CACHE = Path.home() / ".cache" / "roomreel" / f"twilio-video-{VERSION}"


def sdk_script() -> Path:
    """dist/twilio-video.min.js of the pinned release; skips the test when npm is missing."""
    target = CACHE / "twilio-video.min.js"
    if target.exists():
        return target
    npm = shutil.which("npm")
    if npm is None:
        pytest.skip("npm is not installed: it fetches the twilio-video SDK the browser tests load")
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(
            [npm, "pack", f"twilio-video@{VERSION}", "--silent"],
            cwd=tmp,
            check=True,
            capture_output=True,
            timeout=300,
        )
        (tarball,) = Path(tmp).glob("twilio-video-*.tgz")
        digest = hashlib.sha256(tarball.read_bytes()).hexdigest()
        assert digest == TARBALL_SHA256, f"twilio-video {VERSION} from npm has sha256 {digest}"
        with tarfile.open(tarball) as archive:
            member = archive.extractfile("package/dist/twilio-video.min.js")
            assert member is not None
            CACHE.mkdir(parents=True, exist_ok=True)
            partial = target.with_suffix(".partial")
            partial.write_bytes(member.read())
            partial.replace(target)
    return target
