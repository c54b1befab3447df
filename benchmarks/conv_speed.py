"""Training speed of a LeNet-like convolutional network in scratchnet's real loop against PyTorch CPU.

The network of issue 18: conv 5x5x6 pad 2, ReLU, pool 2, conv 5x5x16, ReLU, pool 2, dense 120, ReLU,
dense 84, ReLU, dense 10; float32, momentum SGD, mini-batches of 64. For each repeat, one epoch of
``--samples`` MNIST images in scratchnet (``scratchnet.training.train``, evaluation excluded), then the
same in PyTorch CPU (its default threads unless ``--torch-threads``), in the same process; it prints
the median seconds per 60,000 images, their ratio, the GFLOP/s of the convolution and dense products
(forward and backward, counted as dense), and where scratchnet's time goes (cProfile of one epoch,
grouped by layer).

Also, unless ``--quick``: the same epoch with Conv2D's worker threads off (``workers=1``, one core);
the CPU time of each part of one update at batch 64 with one BLAS thread and no workers (conv
products, im2col, col2im, pooling with bias, ReLU and masks, dense; each part timed on its own, the
minimum over repeats of ``time.thread_time``, which other processes' load does not count); and the
peak memory of one update at batch 256 (``tracemalloc``: NumPy reports its arrays to it). The BLAS
kernel that ran is printed: compare ``OPENBLAS_CORETYPE=Haswell`` with
``env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE`` (see ../shared/PERF_NOTES.md).

    python benchmarks/conv_speed.py [--samples N] [--repeats N] [--no-torch] [--torch-threads N] [--quick] [--json]
"""

from __future__ import annotations

import argparse
import cProfile
import json
import math
import pstats
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from scratchnet.conv import Conv2D, MaxPool2D
from scratchnet.data import load_dataset
from scratchnet.layers import ReLU
from scratchnet.losses import SoftmaxCrossEntropy
from scratchnet.optimizers import make_optimizer
from scratchnet.run_config import RunConfig
from scratchnet.threads import blas_thread_limit
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


def scratchnet_epoch(x, y, workers: int = 2) -> float:
    model = RunConfig(layers=LAYERS).build_model(784, 10)
    for layer in model.layers:
        if isinstance(layer, Conv2D):
            layer.workers = workers
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
    """Shares of one epoch's time by the function that owns it (conv.py and layers.py by class), with
    Conv2D's workers off (cProfile sees only this thread: with them on, their work is a wait)."""
    profiler = cProfile.Profile()
    profiler.enable()
    scratchnet_epoch(x, y, workers=1)
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


def _cpu_ms(function, repeats: int = 15, number: int = 5) -> float:
    """The minimum over ``repeats`` of the mean CPU time of ``number`` calls, in ms (this thread only)."""
    best = math.inf
    for _ in range(repeats):
        start = time.thread_time()
        for _ in range(number):
            function()
        best = min(best, (time.thread_time() - start) / number)
    return 1e3 * best


def _conv_parts(layer: Conv2D, x, grad, forward: float, input_grad: bool) -> dict[str, float]:
    """One Conv2D's CPU ms by part (see ``breakdown``); ``forward``: its whole forward's."""
    backward = _cpu_ms(lambda: layer.backward(grad, input_grad=input_grad))
    without = _cpu_ms(lambda: layer.backward(grad, input_grad=False))
    layer.forward(x, training=True)
    xp, cols = layer._xp, layer._cols[0]
    _, oh, ow = layer.output_shape(x.shape[1:])
    w = layer.params["W"].reshape(layer.out_channels, -1)
    g = np.ascontiguousarray(grad.transpose(1, 2, 3, 0)).reshape(layer.out_channels, -1)
    spans = [slice(i0 * ow * BATCH, i1 * ow * BATCH) for i0, i1 in layer._bands(oh, ow, BATCH)]
    bands = layer._bands(oh, ow, BATCH)
    im2col = _cpu_ms(lambda: [layer._im2col(xp, oh, ow, out=cols, rows=r) for r in bands])
    products = _cpu_ms(lambda: [w @ cols[:, span] for span in spans])
    dcols = _cpu_ms(lambda: [w.T @ g[:, span] for span in spans]) if input_grad else 0.0
    grad_w = _cpu_ms(lambda: [cols[:, span] @ g[:, span].T for span in spans])
    return {"im2col": im2col, "conv products": products + grad_w + dcols,
            "col2im": max(backward - without - dcols, 0.0),
            "pooling, bias, ReLU, masks": max(forward - im2col - products, 0.0) + max(without - grad_w, 0.0)}


def breakdown(x, y) -> dict[str, float]:
    """CPU ms of each part of one update at batch 64 (one BLAS thread, no workers), each timed alone.

    Per Conv2D: "im2col" is building every band's columns, "conv products" the forward product,
    dL/dW and dL/dcols, "col2im" the rest of its backward beyond dL/dcols; "pooling, bias, ReLU,
    masks" is MaxPool2D, the ReLUs after the convolutions and the bias add; "dense" the Dense layers
    and their ReLUs; "loss, Flatten, Reshape" the rest of one forward and backward."""
    model = RunConfig(layers=LAYERS).build_model(784, 10)
    loss = SoftmaxCrossEntropy()
    xb, yb = x[:BATCH], y[:BATCH]
    parts = dict.fromkeys(("conv products", "im2col", "col2im", "pooling, bias, ReLU, masks", "dense",
                           "loss, Flatten, Reshape"), 0.0)
    with blas_thread_limit(1):
        for layer in model.layers:
            if isinstance(layer, Conv2D):
                layer.workers = 1
        inputs, outputs = [], []
        h = xb
        for layer in model.layers:
            inputs.append(h)
            h = layer.forward(h, training=True)
            outputs.append(h)
        loss.forward(h, yb)
        grads = [None] * len(model.layers)
        g = loss.backward()
        for i in range(len(model.layers) - 1, 0, -1):  # down to the first Conv2D (no dL/dinput)
            grads[i] = g
            layer = model.layers[i]
            g = layer.backward(g, input_grad=i > 1) if layer.params else layer.backward(g)
        parts["loss, Flatten, Reshape"] += _cpu_ms(lambda: (loss.forward(h, yb), loss.backward()))
        for i, layer in enumerate(model.layers[1:], start=1):
            xi, gi = inputs[i], grads[i]
            forward = _cpu_ms(lambda layer=layer, xi=xi: layer.forward(xi, training=True))
            if isinstance(layer, Conv2D):
                for key, ms in _conv_parts(layer, xi, gi, forward, input_grad=i > 1).items():
                    parts[key] += ms
            else:
                backward = _cpu_ms(lambda layer=layer, gi=gi: layer.backward(gi))
                below = model.layers[i - 1] if i else None
                if isinstance(layer, MaxPool2D) or (isinstance(layer, ReLU) and isinstance(below, Conv2D)):
                    key = "pooling, bias, ReLU, masks"
                elif layer.params or isinstance(layer, ReLU):
                    key = "dense"
                else:
                    key = "loss, Flatten, Reshape"
                parts[key] += forward + backward
    return parts


def peak_memory_mb(x, y, batch: int = 256) -> float:
    """Peak MB of NumPy arrays allocated during one update at ``batch`` (tracemalloc), beyond the data."""
    import tracemalloc

    model = RunConfig(layers=LAYERS).build_model(784, 10)
    optimizer = make_optimizer("momentum", LR)
    loss = SoftmaxCrossEntropy()
    xb, yb = np.ascontiguousarray(x[:batch]), y[:batch]

    def update():
        loss.forward(model.forward(xb, training=True), yb)
        optimizer.begin_step()
        model.backward(loss.backward(), input_grad=False, on_grads=optimizer.update_layer)

    update()  # the optimiser's state and the first allocations
    tracemalloc.start()
    update()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak / 1e6


def blas_kernel() -> str:
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return "unknown (no threadpoolctl)"
    return ", ".join(f"{i.get('internal_api')} {i.get('version')} {i.get('architecture')}"
                     for i in threadpool_info() if i.get("user_api") == "blas")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--samples", type=int, default=EPOCH)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--no-torch", action="store_true")
    p.add_argument("--torch-threads", type=int, default=None)
    p.add_argument("--quick", action="store_true", help="skip the one-core epoch, the breakdown and the memory")
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
    ours, one_core, theirs = [], [], []
    for _ in range(args.repeats):
        ours.append(scratchnet_epoch(x, y) * scale)
        if not args.quick:
            one_core.append(scratchnet_epoch(x, y, workers=1) * scale)
        if torch_epoch is not None:
            theirs.append(torch_epoch() * scale)
    result = {
        "blas": blas_kernel(), "samples": len(x), "scratchnet_seconds_per_epoch": statistics.median(ours),
        "scratchnet_runs": ours, "gflops": product_flops_per_sample() * EPOCH / statistics.median(ours) / 1e9,
    }
    if one_core:
        result.update(one_core_seconds_per_epoch=statistics.median(one_core), one_core_runs=one_core)
    if not args.quick:
        result["breakdown_cpu_ms"] = breakdown(x, y)
        result["peak_mb_batch_256"] = peak_memory_mb(x, y)
    if theirs:
        result.update(torch_seconds_per_epoch=statistics.median(theirs), torch_runs=theirs,
                      ratio=statistics.median(ours) / statistics.median(theirs))
    result["profile"] = profile(x[: min(len(x), 10_000)], y[: min(len(x), 10_000)])
    if args.json:
        print(json.dumps(result))
        return 0
    print(f"LeNet-like, batch {BATCH}, {len(x):,} images timed, scaled to {EPOCH:,} per epoch; BLAS {result['blas']}")
    print(f"scratchnet: {result['scratchnet_seconds_per_epoch']:.2f} s/epoch "
          f"({', '.join(f'{s:.2f}' for s in ours)}), {result['gflops']:.1f} GFLOP/s in the products")
    if one_core:
        print(f"  one core (Conv2D workers=1): {result['one_core_seconds_per_epoch']:.2f} s/epoch "
              f"({', '.join(f'{s:.2f}' for s in one_core)})")
    if theirs:
        print(f"PyTorch:    {result['torch_seconds_per_epoch']:.2f} s/epoch ({', '.join(f'{s:.2f}' for s in theirs)}); "
              f"ratio scratchnet / PyTorch {result['ratio']:.2f}")
    if "breakdown_cpu_ms" in result:
        parts = result["breakdown_cpu_ms"]
        total = sum(parts.values())
        print(f"one update at batch {BATCH}, CPU time of each part alone (one BLAS thread, no workers): {total:.2f} ms")
        for name, ms in sorted(parts.items(), key=lambda kv: -kv[1]):
            print(f"  {100 * ms / total:5.1f}%  {ms:.3f} ms  {name}")
        print(f"peak memory of one update at batch 256: {result['peak_mb_batch_256']:.1f} MB of arrays")
    print("where scratchnet's time goes (one epoch of up to 10,000 images, no workers, cProfile):")
    for name, share in result["profile"].items():
        if share >= 0.01:
            print(f"  {100 * share:5.1f}%  {name}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
