"""Draw every layout preset over one sample room into docs/layouts/{preset}.png.

    python scripts/preset_previews.py [--out docs/layouts]

The sample room has four cameras and a screen share, all live for the whole minute; each
picture is the plan at t=30 s (640x360), each source in its own colour with its track name.
carol speaks from 20 s to 40 s, for the presets that follow the active speaker.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import layouts  # noqa: E402
from layouts.presets import preset_names  # noqa: E402
from pipeline.compose.preview import draw_preview  # noqa: E402

TRACKS = ["alice-cam", "bob-cam", "carol-cam", "dave-cam", "teacher-screen"]
SIZE = "640x360"
AT = 30.0
SPEECH = {f"PA{2:032x}": [(20.0, 40.0)]}  # carol


def sample_manifest() -> dict:
    recordings = [
        {
            "sid": f"RT{i:032x}",
            "kind": "video",
            "track_name": name,
            "track_sid": f"MT{i:032x}",
            "participant_sid": f"PA{i:032x}",
            "participant_identity": name.split("-")[0],
            "start": float(i),  # joined one after another: "newest" layouts have an order to show
            "end": 60.0,
        }
        for i, name in enumerate(TRACKS)
    ]
    return {"room_sid": "RM" + "0" * 32, "duration": 60.0, "recordings": recordings}


def draw(preset: str, out: Path) -> Path:
    manifest = sample_manifest()
    plan = layouts.plan_for_manifest(manifest, preset, SIZE, speech=SPEECH)
    names = {r["sid"]: r["track_name"] for r in manifest["recordings"]}
    return draw_preview(plan, AT, out, names)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "layouts")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    for preset in preset_names():
        print(draw(preset, args.out / f"{preset}.png"))


if __name__ == "__main__":
    main()
