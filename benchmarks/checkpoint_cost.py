"""What keeping checkpoints costs a training run (issue 16's target: under 5%).

784-256-128-10 (ReLU, momentum SGD, the default run), mini-batch 64, 5 epochs on MNIST's 60,000
images, three ways, alternated so that the loaded machine's noise hits each alike:

- "none":   ``train`` without checkpoints;
- "memory": ``train(checkpoints=20)``, every checkpoint added to a ``CheckpointMemory``
            (26 checkpoints: update 0, 5 epoch ends, 20 spread through the run);
- "saved":  the same, written to a run folder by ``RunWriter`` (curves and .npz checkpoints,
            each written atomically with an fsync).

Printed: the training time (the epochs' own "seconds", evaluation excluded) and the wall time
of each way (median of ``--repeats``), and the ratios to "none". The wall-clock ratio is noisy on
a shared machine, so the direct cost is printed too: the time the checkpoints themselves took
(capture measured inside the loop's hand-over, plus the consumer's add or write), over the
training time of "none".

    python benchmarks/checkpoint_cost.py [--quick] [--repeats N] [--epochs N]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np

from scratchnet.checkpoints import CheckpointMemory, capture
from scratchnet.data import load_dataset
from scratchnet.run_config import RunConfig, hidden_layers
from scratchnet.run_store import RunWriter
from scratchnet.training import run_generators, train


def one_run(mode: str, config: RunConfig, data, folder: Path) -> dict:
    x, y, xt, yt = data
    model = config.build_model(784, 10)
    optimizer = config.build_optimizer()
    memory = CheckpointMemory()
    writer = RunWriter(folder, config, name=mode, model=model) if mode == "saved" else None
    train_seconds = 0.0
    handling = 0.0  # the consumer's share: add to memory, or write the .npz
    count = 0
    started = time.perf_counter()
    for log in train(model, optimizer, x, y, config.train_config(), x_test=xt, y_test=yt,
                     checkpoints=20 if mode != "none" else None):
        if log["event"] == "checkpoint":
            count += 1
            handled = time.perf_counter()
            if writer is not None:
                writer.log(log)
            else:
                memory.add(mode, log["checkpoint"])
            handling += time.perf_counter() - handled
            continue
        if writer is not None:
            writer.log(log)
        if log["event"] == "epoch":
            train_seconds += log["seconds"]
    wall = time.perf_counter() - started
    # the loop's share: one capture of this model and optimiser state, timed on its own
    generators = run_generators(model, np.random.default_rng())
    times = []
    for _ in range(5):
        t = time.perf_counter()
        capture(model, optimizer, generators, epoch=0, update=0, samples_seen=0, seconds=0.0)
        times.append(time.perf_counter() - t)
    capturing = count * statistics.median(times)
    return {"train": train_seconds, "wall": wall, "checkpoints": count, "checkpoint_seconds": capturing + handling,
            "problem": writer.problem if writer else None}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="10,000 images, 2 epochs, 1 repeat")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--epochs", type=int, default=5)
    args = parser.parse_args()
    dataset = load_dataset("mnist")
    n, epochs, repeats = (10_000, 2, 1) if args.quick else (60_000, args.epochs, args.repeats)
    data = (dataset.x_train[:n], dataset.y_train[:n], dataset.x_test, dataset.y_test)
    config = RunConfig(hidden=hidden_layers(256, 128), batch_size=64, epochs=epochs)
    results: dict[str, list[dict]] = {"none": [], "memory": [], "saved": []}
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(repeats):
            for mode in results:
                result = one_run(mode, config, data, Path(tmp) / f"{mode}-{r}")
                results[mode].append(result)
                print(f"  run {r + 1} {mode:>6}: train {result['train']:.2f} s, wall {result['wall']:.2f} s, "
                      f"{result['checkpoints']} checkpoints taking {result['checkpoint_seconds']:.3f} s"
                      + (f" ({result['problem']})" if result["problem"] else ""), flush=True)
    base_train = statistics.median(r["train"] for r in results["none"])
    base_wall = statistics.median(r["wall"] for r in results["none"])
    print(f"\n784-256-128-10, momentum SGD, mini-batch 64, {epochs} epochs of {n:,} images, median of {repeats}")
    print(f"{'mode':>8} {'train s':>9} {'wall s':>9} {'wall/none':>10} {'checkpoints':>12} {'their s':>9} "
          f"{'cost':>7}")
    for mode, runs in results.items():
        train_s = statistics.median(r["train"] for r in runs)
        wall = statistics.median(r["wall"] for r in runs)
        cost = statistics.median(r["checkpoint_seconds"] for r in runs)
        print(f"{mode:>8} {train_s:9.2f} {wall:9.2f} {wall / base_wall:10.3f} {runs[0]['checkpoints']:12d} "
              f"{cost:9.3f} {cost / base_train:7.2%}")
    print("\ncost = the checkpoints' own time (capture + add to memory or write) / training time without them")


if __name__ == "__main__":
    main()
