"""Latency of the drawing pad's engine path: stroke finished -> class probabilities.

Times ``prepare_drawing`` on a 280×280 canvas holding an anti-aliased hand-drawn "7", then
``predict_proba`` of a 784-256-128-10 model on the result; prints the median and 99th percentile
of each part and of the whole, in milliseconds. The target is under 10 ms for the whole path.

    python benchmarks/drawing_latency.py [--repeats 2000] [--blas-threads 1]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from scratchnet.network import mlp
from scratchnet.preprocess import prepare_drawing

CANVAS = 280
BRUSH_RADIUS = 9.0
# A "7": the top bar, then the long diagonal, in canvas pixels (row, col).
STROKE = np.array([(60.0, 70.0), (62.0, 210.0), (130.0, 165.0), (225.0, 120.0)])


def drawn_seven() -> np.ndarray:
    """(280, 280) float32 ink: a round brush along STROKE, with a one-pixel soft edge."""
    rows, cols = np.indices((CANVAS, CANVAS), dtype=np.float32)
    points = np.stack([rows, cols], axis=-1)[..., None, :]  # (H, W, 1, 2)
    starts, ends = STROKE[:-1], STROKE[1:]
    along = ends - starts
    t = np.clip(((points - starts) * along).sum(-1) / (along * along).sum(-1), 0.0, 1.0)
    distance = np.linalg.norm(points - (starts + t[..., None] * along), axis=-1).min(axis=-1)
    return np.clip(BRUSH_RADIUS + 0.5 - distance, 0.0, 1.0).astype(np.float32)


def measure(repeats: int) -> dict[str, np.ndarray]:
    """Seconds per call of each part and of the whole path, ``repeats`` times."""
    canvas = drawn_seven()
    model = mlp(784, [256, 128], 10, rng=np.random.default_rng(0))
    timings = {"prepare_drawing": [], "predict_proba": [], "whole path": []}
    for _ in range(20):  # warm caches and BLAS threads
        model.predict_proba(prepare_drawing(canvas)[None, :])
    for _ in range(repeats):
        start = time.perf_counter()
        vector = prepare_drawing(canvas)
        prepared = time.perf_counter()
        model.predict_proba(vector[None, :])
        done = time.perf_counter()
        timings["prepare_drawing"].append(prepared - start)
        timings["predict_proba"].append(done - prepared)
        timings["whole path"].append(done - start)
    return {name: np.array(values) for name, values in timings.items()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=2000)
    parser.add_argument("--blas-threads", type=int, help="limit BLAS threads (needs threadpoolctl)")
    args = parser.parse_args()
    if args.blas_threads:
        from threadpoolctl import threadpool_limits

        threadpool_limits(args.blas_threads, user_api="blas")
    timings = measure(args.repeats)
    print(f"784-256-128-10, 280×280 canvas, {args.repeats} runs (ms)")
    for name, seconds in timings.items():
        median, p99 = np.percentile(seconds * 1e3, [50, 99])
        print(f"  {name:<16} median {median:6.3f}   p99 {p99:6.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
