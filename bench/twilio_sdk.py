"""twilio-video.js against roomreel: how long `Video.connect()` takes to resolve (camera and
microphone acquired before the clock starts), and how long
from `trackSubscribed` to the first decoded frame of a remote video.

The real SDK (npm 2.36.0) runs in Debian's Chromium, one page per join, against a server on
127.0.0.1 in this process. A `roomreel bot` publishes coloured video into the room first, so
every join also subscribes to it. Targets: connect p50 <= 300 ms, first frame <= 1 s.

    python bench/twilio_sdk.py [--joins 20]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pipeline.sfu import SfuSettings  # noqa: E402
from tests.live_server import running_server  # noqa: E402
from tests.pipeline.sfu.twilio.sdk_browser import SdkBrowser  # noqa: E402

JOIN = """async (token) => {
  const wsServer = location.origin.replace(/^http/, "ws") + "/signaling";
  const tracks = await Twilio.Video.createLocalTracks();  // the camera's start is not the server's time
  const started = performance.now();
  const room = await Twilio.Video.connect(token, {wsServer, insights: false, name: "bench", tracks});
  const connected = performance.now() - started;
  const firstFrame = await new Promise((resolve) => {
    const watch = (track) => {
      if (track.kind !== "video") return;
      const subscribed = performance.now();
      const video = track.attach();
      video.muted = true;
      document.body.appendChild(video);
      video.requestVideoFrameCallback(() => resolve(performance.now() - subscribed));
    };
    room.participants.forEach((p) => { p.on("trackSubscribed", watch); p.tracks.forEach((pub) => pub.track && watch(pub.track)); });
    room.on("participantConnected", (p) => p.on("trackSubscribed", watch));
  });
  room.disconnect();
  tracks.forEach((track) => track.stop());
  return {connected, firstFrame};
}"""


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--joins", type=int, default=20)
    args = parser.parse_args()
    with running_server(Path(tempfile.mkdtemp()), sfu=SfuSettings(hosts=["127.0.0.1"])) as live:
        bot = subprocess.Popen(
            [sys.executable, "-m", "pipeline.cli", "bot", "--url", live.base, "--room", "bench", "--identity", "bot",
             "--token", live.token("bot", "bench"), "--duration", "600"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=live.settings.data_dir,
        )  # fmt: skip
        browser = SdkBrowser(live.base)
        try:
            time.sleep(3)  # the bot is in and publishing
            connects, frames = [], []
            for i in range(args.joins):
                page = browser.page()
                result = page.evaluate(JOIN, live.token(f"sdk-{i}", "bench"))
                page.context.close()
                connects.append(result["connected"])
                frames.append(result["firstFrame"])
        finally:
            browser.close()
            bot.terminate()
            bot.wait(10)
    print(f"connect() to resolved, {args.joins} joins: p50 {statistics.median(connects):.0f} ms, "
          f"p99 {percentile(connects, 0.99):.0f} ms (target p50 <= 300 ms)")  # fmt: skip
    print(f"trackSubscribed to first video frame: p50 {statistics.median(frames):.0f} ms, "
          f"p99 {percentile(frames, 0.99):.0f} ms (target <= 1000 ms)")  # fmt: skip


if __name__ == "__main__":
    main()
