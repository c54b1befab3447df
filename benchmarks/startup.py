"""Start-to-first-paint of the desktop app, from source and from the PyInstaller bundle.

    .venv/bin/python benchmarks/startup.py [--runs 5] [--bundle dist/scratchnet/scratchnet]

Each launch sets ``SCRATCHNET_EXIT_AFTER_FIRST_PAINT=1``: the main window prints
``{"first_paint_seconds": t}`` on its first paint, t counted from the process start as the kernel
records it (interpreter start-up and imports included), and quits. Launches alternate between
source and bundle so that a busy moment hits both alike; the medians are printed as a Markdown
table. Platforms: offscreen, and xcb under ``xvfb-run`` when it is installed (Xvfb's own start
is not counted: t is measured inside the app's process). Settings go to a temporary folder, so
every launch is a first launch and the user's settings are untouched.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TIMEOUT_S = 120


def launch(command: list[str], platform: str, config_dir: str) -> float | None:
    """One launch; its first-paint seconds, or None if it printed none (e.g. a bundle built
    before the hook existed)."""
    env = {**os.environ, "QT_QPA_PLATFORM": platform, "SCRATCHNET_EXIT_AFTER_FIRST_PAINT": "1",
           "XDG_CONFIG_HOME": config_dir}
    if platform == "xcb":
        command = ["xvfb-run", "-a", "-s", "-screen 0 1280x800x24", *command]
    try:
        done = subprocess.run(command, env=env, cwd=ROOT, capture_output=True, text=True, timeout=TIMEOUT_S)
    except subprocess.TimeoutExpired:
        return None
    for line in reversed(done.stdout.splitlines()):
        if line.startswith("{"):
            return float(json.loads(line)["first_paint_seconds"])
    return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--bundle", default=str(ROOT / "dist" / "scratchnet" / "scratchnet"))
    args = parser.parse_args(argv)
    targets = {"source (python main.py)": [sys.executable, str(ROOT / "main.py")]}
    if Path(args.bundle).is_file():
        targets["bundle (PyInstaller onedir)"] = [args.bundle]
    platforms = ["offscreen"] + (["xcb"] if shutil.which("xvfb-run") else [])
    times: dict[tuple[str, str], list[float | None]] = {(t, p): [] for t in targets for p in platforms}
    with tempfile.TemporaryDirectory() as config_dir:
        for platform in platforms:
            for _ in range(args.runs):
                for name, command in targets.items():
                    times[name, platform].append(launch(command, platform, config_dir))
    print("| Launch | Platform | Median first paint | Range | Runs |\n|---|---|---|---|---|")
    for (name, platform), seconds in times.items():
        measured = [s for s in seconds if s is not None]
        if not measured:
            print(f"| {name} | {platform} | no report (built before the first-paint hook?) | | 0/{len(seconds)} |")
            continue
        print(f"| {name} | {platform} | {statistics.median(measured):.2f} s | "
              f"{min(measured):.2f}–{max(measured):.2f} s | {len(measured)}/{len(seconds)} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
