"""Start-to-first-paint with 50 runs in the run library (issue 16), against an empty library.

    .venv/bin/python benchmarks/startup_library.py [--runs 5] [--library 50]

Builds a library in a temporary ``XDG_DATA_HOME``: one real run saved as the window saves it
(784-256-128-10, 2 epochs on 2,000 MNIST images, its ~24 checkpoints as .npz) copied under
``--library`` ids, then launches ``main.py`` (``SCRATCHNET_EXIT_AFTER_FIRST_PAINT=1``, see
``benchmarks/startup.py``) alternately with that library and with an empty one. The runs list
shows the stored runs at start; their curves and checkpoints are read only when selected.
Prints the median first-paint seconds of each (target: under 1.5 s with 50 runs), and the time
the listing itself takes in-process (on a loaded machine the launches' difference is mostly noise).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from startup import launch  # noqa: E402

from scratchnet.data import load_dataset  # noqa: E402
from scratchnet.run_config import RunConfig, hidden_layers  # noqa: E402
from scratchnet.run_store import RunStore, RunWriter  # noqa: E402
from scratchnet.training import train  # noqa: E402


def build_library(root: Path, count: int) -> int:
    """``count`` runs in ``root``; returns the library's size in bytes."""
    config = RunConfig(hidden=hidden_layers(256, 128), epochs=2, train_size=2000)
    dataset = load_dataset("mnist")
    data = dataset.subset(2000)
    model = config.build_model(784, 10)
    store = RunStore(root)
    folder = store.new_folder("template")
    writer = RunWriter(folder, config, name="template", model=model)
    for log in train(model, config.build_optimizer(), data.x_train, data.y_train, config.train_config(),
                     x_test=data.x_test, y_test=data.y_test, checkpoints=20):
        writer.log(log)
    for k in range(count):
        copy = root / f"20250101-{k:06d}-run-{k}"
        shutil.copytree(folder, copy)
        info = json.loads((copy / "run.json").read_text())
        info["name"], info["created"] = f"run {k}", f"2025-01-01T00:{k // 60:02d}:{k % 60:02d}"
        (copy / "run.json").write_text(json.dumps(info))
    shutil.rmtree(folder)
    return store.total_size()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--library", type=int, default=50)
    args = parser.parse_args()
    times: dict[str, list[float]] = {"empty library": [], f"{args.library} runs": []}
    with tempfile.TemporaryDirectory() as full, tempfile.TemporaryDirectory() as empty, \
            tempfile.TemporaryDirectory() as config_dir:
        size = build_library(Path(full) / "scratchnet" / "runs", args.library)
        listing = []
        for _ in range(5):  # what the window adds at start: reading the library's run.json files
            started = time.perf_counter()
            RunStore(Path(full) / "scratchnet" / "runs").list()
            listing.append(time.perf_counter() - started)
        for _ in range(args.runs):
            for name, home in ((f"{args.library} runs", full), ("empty library", empty)):
                os.environ["XDG_DATA_HOME"] = home
                seconds = launch([sys.executable, str(ROOT / "main.py")], "offscreen", config_dir)
                if seconds is not None:
                    times[name].append(seconds)
    print(f"first paint, offscreen, median of {args.runs} launches (load average {os.getloadavg()[0]:.1f}); "
          f"library of {args.library} runs, {size / 2**20:.0f} MB")
    for name, values in times.items():
        shown = f"{statistics.median(values):.2f} s" if values else "no paint reported"
        print(f"  {name:<16} {shown}")
    print(f"  listing the {args.library} runs in-process (RunStore.list): {1000 * statistics.median(listing):.0f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
