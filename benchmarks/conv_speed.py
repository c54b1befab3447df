"""Training speed of a LeNet-like convolutional network in scratchnet's real loop against PyTorch CPU.

The network of issue 18: conv 5x5x6 pad 2, ReLU, pool 2, conv 5x5x16, ReLU, pool 2, dense 120, ReLU,
dense 84, ReLU, dense 10; float32, momentum SGD, mini-batches of 64. For each repeat, one epoch of
``--samples`` MNIST images in scratchnet (``scratchnet.training.train``, evaluation excluded), then the
same in PyTorch CPU (its default threads unless ``--torch-threads``), in the same process; it prints
the median seconds per 60,000 images, their ratio, the GFLOP/s of the convolution and dense products
(forward and backward, counted as dense), and where scratchnet's time goes (cProfile of one epoch,
grouped by layer).

    python benchmarks/conv_speed.py [--samples N] [--repeats N] [--no-torch] [--torch-threads N] [--json]
"""

from __future__ import annotations

import argparse
import cProfile
import json
import pstats
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from scratchnet.data import load_dataset
from scratchnet.optimizers import make_optimizer
from scratchnet.run_config import RunConfig
from scratchnet.training import TrainConfig, train

LAYERS = ("conv5x5x6p2", "relu", "pool2", "conv5x5x16", "relu", "pool2", "flatten", "dense120", "relu", "dense84",
          "relu")
BATCH = 64
LR = 0.02
EPOCH = 60_000


def product_flops_per_sample() -> float:
    """Multiply-adds x 2 of every product of one sample, forward + backward (3x forward; the first
    layer's input gradient is skipped, so 2x for it)."""
    conv1 = 6 * 28 * 28 * 25 * 1
    conv2 = 16 * 10 * 10 * 25 * 6
    dense = 400 * 120 + 120 * 84 + 84 * 10
    return 2 * (2 * conv1 + 3 * conv2 + 3 * dense)


def scratchnet_epoch(x, y) -> float:
    model = RunConfig(layers=LAYERS).build_model(784, 10)
    config = TrainConfig(descent="mini", batch_size=BATCH, epochs=1, seed=0, log_interval=1e9)
    start = time.perf_counter()
    for log in train(model, make_optimizer("momentum", LR), x, y, config):
        if log["event"] == "epoch":
            return log["seconds"]
    return time.perf_counter() - start


def torch_runner(x, y, threads: int | None):
    import torch

    if threads:
        torch.set_num_threads(threads)
    net = torch.nn.Sequential(
        torch.nn.Conv2d(1, 6, 5, padding=2), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
        torch.nn.Conv2d(6, 16, 5), torch.nn.ReLU(), torch.nn.MaxPool2d(2), torch.nn.Flatten(),
        torch.nn.Linear(400, 120), torch.nn.ReLU(), torch.nn.Linear(120, 84), torch.nn.ReLU(), torch.nn.Linear(84, 10))
    optimizer = torch.optim.SGD(net.parameters(), lr=LR, momentum=0.9)
    loss_fn = torch.nn.CrossEntropyLoss()
    xt = torch.from_numpy(np.ascontiguousarray(x)).reshape(-1, 1, 28, 28)
    yt = torch.from_numpy(y.astype(np.int64))
    generator = torch.Generator().manual_seed(0)

    def epoch() -> float:
        start = time.perf_counter()
        order = torch.randperm(len(xt), generator=generator)
        for i in range(0, len(xt), BATCH):
            idx = order[i : i + BATCH]
            optimizer.zero_grad()
            loss = loss_fn(net(xt[idx]), yt[idx])
            loss.backward()
            optimizer.step()
            loss.item()
        return time.perf_counter() - start

    return epoch


def _class_lines() -> dict[tuple[str, int, int], str]:
    """(file, first line, last line) -> class name, for the layer classes of conv.py and layers.py."""
    import inspect

    from scratchnet import conv, layers

    owners = {}
    for module, path in ((conv, "conv.py"), (layers, "layers.py")):
        for name, cls in vars(module).items():
            if inspect.isclass(cls) and cls.__module__ == module.__name__:
                source, first = inspect.getsourcelines(cls)
                owners[(path, first, first + len(source) - 1)] = name
    return owners


def profile(x, y) -> dict[str, float]:
    """Shares of one epoch's time by the function that owns it (conv.py and layers.py by class)."""
    profiler = cProfile.Profile()
    profiler.enable()
    scratchnet_epoch(x, y)
    profiler.disable()
    stats = pstats.Stats(profiler).stats
    total = sum(row[2] for row in stats.values())  # tottime, the time inside each function itself
    owners = _class_lines()
    groups: dict[str, float] = {}
    for (filename, line, name), row in stats.items():
        owner = next((cls for (path, first, last), cls in owners.items()
                      if filename.endswith(path) and first <= line <= last), None)
        if owner is not None:
            key = f"{owner}.{name}"
        elif "scratchnet" in filename:
            key = "other scratchnet (loop, batches, optimiser)"
        else:
            key = "NumPy functions written in Python, and the rest"
        groups[key] = groups.get(key, 0.0) + row[2]
    return {k: v / total for k, v in sorted(groups.items(), key=lambda kv: -kv[1])}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--samples", type=int, default=EPOCH)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--no-torch", action="store_true")
    p.add_argument("--torch-threads", type=int, default=None)
    p.add_argument("--json", action="store_true")
    args = p.parse_args(argv)
    data = load_dataset("mnist")
    x, y = data.x_train[: args.samples], data.y_train[: args.samples]
    scale = EPOCH / len(x)
    torch_epoch = None
    if not args.no_torch:
        try:
            torch_epoch = torch_runner(x, y, args.torch_threads)
            torch_epoch()  # warm-up
        except ImportError:
            torch_epoch = None
    scratchnet_epoch(x[: 2 * BATCH], y[: 2 * BATCH])  # warm-up
    ours, theirs = [], []
    for _ in range(args.repeats):
        ours.append(scratchnet_epoch(x, y) * scale)
        if torch_epoch is not None:
            theirs.append(torch_epoch() * scale)
    result = {
        "samples": len(x), "scratchnet_seconds_per_epoch": statistics.median(ours), "scratchnet_runs": ours,
        "gflops": product_flops_per_sample() * EPOCH / statistics.median(ours) / 1e9,
    }
    if theirs:
        result.update(torch_seconds_per_epoch=statistics.median(theirs), torch_runs=theirs,
                      ratio=statistics.median(ours) / statistics.median(theirs))
    result["profile"] = profile(x[: min(len(x), 10_000)], y[: min(len(x), 10_000)])
    if args.json:
        print(json.dumps(result))
        return 0
    print(f"LeNet-like, batch {BATCH}, {len(x):,} images timed, scaled to {EPOCH:,} per epoch")
    print(f"scratchnet: {result['scratchnet_seconds_per_epoch']:.2f} s/epoch "
          f"({', '.join(f'{s:.2f}' for s in ours)}), {result['gflops']:.1f} GFLOP/s in the products")
    if theirs:
        print(f"PyTorch:    {result['torch_seconds_per_epoch']:.2f} s/epoch ({', '.join(f'{s:.2f}' for s in theirs)}); "
              f"ratio scratchnet / PyTorch {result['ratio']:.2f}")
    print("where scratchnet's time goes (one epoch of up to 10,000 images, cProfile):")
    for name, share in result["profile"].items():
        if share >= 0.01:
            print(f"  {100 * share:5.1f}%  {name}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
