"""Importing a learner's own data (issue 17): a 60,000-row CSV, a folder of 10,000 images, and the
second open of each from the cache.

    .venv/bin/python benchmarks/import_speed.py [--rows 60000] [--images 10000] [--repeats 3]

The bundled MNIST's training images are written as one CSV of ``--rows`` rows (label then 784
pixels, as Kaggle's mnist_train.csv) and its test images as ``<class>/NNNNN.png`` folders of
``--images`` images (and again as dark ink on white paper, read with the drawing pad's photo
preprocessing), in a temporary folder; the import cache is a temporary folder too. Each case is
timed ``--repeats`` times and the median printed as a Markdown table: the first open (cache cleared
before each repeat) against the goal, and the second open (from the cache). Wall-clock times on a
busy machine are noisy: the goals are far enough from the figures to hold anyway.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def write_csv(path: Path, images: np.ndarray, labels: np.ndarray) -> None:
    rows = np.column_stack([labels, images]).astype(np.int64)
    with open(path, "w") as handle:
        for start in range(0, len(rows), 5000):
            handle.write("\n".join(",".join(map(str, row)) for row in rows[start:start + 5000].tolist()) + "\n")


def write_pngs(root: Path, images: np.ndarray, labels: np.ndarray) -> None:
    from PySide6.QtGui import QImage

    for i, (image, label) in enumerate(zip(images, labels, strict=True)):
        folder = root / str(label)
        folder.mkdir(parents=True, exist_ok=True)
        grey = np.ascontiguousarray(image.reshape(28, 28))
        QImage(grey.data, 28, 28, 28, QImage.Format.Format_Grayscale8).save(str(folder / f"{i:05d}.png"))


def timed(call, repeats: int, before=None) -> tuple[float, object]:
    times, result = [], None
    for _ in range(repeats):
        if before is not None:
            before()
        began = time.perf_counter()
        result = call()
        times.append(time.perf_counter() - began)
    return statistics.median(times), result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=60_000)
    parser.add_argument("--images", type=int, default=10_000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        os.environ["XDG_DATA_HOME"] = str(tmp / "data-home")
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
        from gui.image_reader import read_grey
        from scratchnet import import_cache
        from scratchnet.data import load_dataset

        mnist = load_dataset("mnist")
        as_bytes = lambda x: np.rint(x * 255).astype(np.uint8)  # noqa: E731
        csv_path = tmp / "mnist_train.csv"
        write_csv(csv_path, as_bytes(mnist.x_train[:args.rows]), mnist.y_train[:args.rows])
        write_pngs(tmp / "pngs", as_bytes(mnist.x_test[:args.images]), mnist.y_test[:args.images])
        size_mb = csv_path.stat().st_size / 1e6

        rows = []
        first, data = timed(lambda: load_dataset(csv_path), args.repeats, before=import_cache.clear)
        second, _ = timed(lambda: load_dataset(csv_path), args.repeats)
        rows.append((f"one CSV, {args.rows:,} rows ({size_mb:.0f} MB)", first, 10.0, second, data.layout))
        first, data = timed(lambda: load_dataset(tmp / "pngs", read_image=read_grey), args.repeats,
                            before=import_cache.clear)
        second, _ = timed(lambda: load_dataset(tmp / "pngs", read_image=read_grey), args.repeats)
        rows.append((f"class folders, {args.images:,} PNG images", first, 30.0, second, data.layout))
        write_pngs(tmp / "photos", 255 - as_bytes(mnist.x_test[:args.images]), mnist.y_test[:args.images])
        first, data = timed(lambda: load_dataset(tmp / "photos", read_image=read_grey, photo=True), args.repeats,
                            before=import_cache.clear)
        second, _ = timed(lambda: load_dataset(tmp / "photos", read_image=read_grey, photo=True), args.repeats)
        rows.append(("the same, dark ink on white, --photo yes", first, 30.0, second, data.layout))

    print(f"median of {args.repeats} runs, {os.cpu_count()} CPUs\n")
    print("| data | first open | goal | second open (cache) | goal | layout found |")
    print("|---|---|---|---|---|---|")
    for name, first, goal, second, layout in rows:
        print(f"| {name} | {first:.2f} s | < {goal:g} s | {second:.2f} s | < 1 s | {layout} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
