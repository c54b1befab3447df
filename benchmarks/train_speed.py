"""Training speed of scratchnet's real loop (``scratchnet.training.train``) against PyTorch CPU.

For 784-128-10 and 784-256-128-10 (ReLU, plain SGD) and each descent variant (full batch,
mini-batch 32/64/128/256, pure SGD) it reports the median time per epoch of 60,000 images, the
samples per second, the achieved GFLOP/s (forward and backward matrix products, counted as dense)
and its fraction of the matmul ceiling that it measures itself with NumPy float32 products of the
same shapes at 1 and 2 BLAS threads (the 2-thread ceiling just before each run, the fraction being
the median of the runs' fractions). With PyTorch installed the same cases run in PyTorch CPU in the
same process, alternating with scratchnet, and the ratio of the two median times is printed, with
the range of the ratios of each run to the PyTorch run after it ("paired"). A fresh subprocess
measures the peak RSS of full-batch training of 784-256-128-10 on all 60,000 images.

Timed scope, both frameworks: one epoch of training (shuffle + every update, each update's loss
fetched as a Python float), evaluation excluded, after a warm-up. Pure SGD times a subset of the
epoch and scales it to 60,000 samples.

With ``--baseline DIR`` (another checkout of scratchnet, e.g. ``git worktree add /tmp/old <commit>``)
each run of this checkout is followed by a run of the same case in this checkout's engine and in that
checkout's engine, each in a child process of its own that never loads PyTorch, and the table adds
the ratio new / old of their median times: old and new code measured side by side in one run, alike.
(This process also runs PyTorch and the matmul ceilings; timing the new code here against the old
in a clean child made one-sample SGD read 8-16% slower than the same code in a child.)

    python benchmarks/train_speed.py [--quick] [--json] [--repeats N] [--no-torch] [--torch-threads N]
                                     [--baseline DIR]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from scratchnet.data import load_dataset
from scratchnet.network import mlp
from scratchnet.optimizers import SGD
from scratchnet.training import TrainConfig, train

EPOCH_SAMPLES = 60_000
ARCHITECTURES = ((128,), (256, 128))
DESCENTS = (("full", 0), ("mini", 32), ("mini", 64), ("mini", 128), ("mini", 256), ("sgd", 1))
LEARNING_RATES = {"full": 0.5, "mini": 0.05, "sgd": 0.01}
FULL_BATCH_CHUNK = TrainConfig().full_batch_chunk


@dataclass
class Case:
    hidden: tuple[int, ...]
    descent: str
    batch_size: int  # rows per update (60,000 for full batch)
    samples: int  # samples timed per run; the epoch time is scaled to 60,000

    @property
    def name(self) -> str:
        net = "-".join(str(w) for w in (784, *self.hidden, 10))
        kind = {"full": "full batch", "sgd": "SGD (batch 1)"}.get(self.descent, f"mini-batch {self.batch_size}")
        return f"{net} {kind}"

    @property
    def widths(self) -> tuple[int, ...]:
        return (784, *self.hidden, 10)

    def flops_per_sample(self) -> int:
        """Forward (x W), weight gradient (x^T d) and input gradient (d W^T, all but the first layer)."""
        pairs = list(zip(self.widths[:-1], self.widths[1:], strict=True))
        return sum(2 * k * m * (2 if i == 0 else 3) for i, (k, m) in enumerate(pairs))


@dataclass
class Result:
    case: str
    scratchnet_seconds: float
    samples_per_second: float
    gflops: float
    ceiling_1t: float
    ceiling_2t: float
    fraction_of_2t_ceiling: float
    scratchnet_runs: list[float] = field(default_factory=list)
    ceiling_2t_runs: list[float] = field(default_factory=list)  # measured just before each run
    torch_seconds: float | None = None
    torch_samples_per_second: float | None = None
    torch_runs: list[float] = field(default_factory=list)
    ratio: float | None = None  # median scratchnet time / median torch time
    paired_ratios: list[float] = field(default_factory=list)  # each run / the torch run after it
    baseline_seconds: float | None = None  # median time of the --baseline checkout
    child_seconds: float | None = None  # median time of this checkout, in a child like the baseline's
    baseline_runs: list[float] = field(default_factory=list)
    vs_baseline: float | None = None  # median time / median baseline time


# ----------------------------------------------------------------------------- scratchnet


SETTLE_SECONDS = 0.5


def scratchnet_epoch_seconds(case: Case, x: np.ndarray, y: np.ndarray, model) -> float:
    """One epoch of ``train`` over the case's samples, by the loop's own clock, scaled to 60,000."""
    n = case.samples
    config = TrainConfig(
        descent=case.descent, batch_size=max(case.batch_size, 1), epochs=1, seed=int(time.time()) % 1000
    )
    optimizer = SGD(LEARNING_RATES[case.descent])
    seconds = math.nan
    for log in train(model, optimizer, x[:n], y[:n], config):
        if log["event"] == "epoch":
            seconds = log["seconds"]
    return seconds * EPOCH_SAMPLES / n


# ----------------------------------------------------------------------------- baseline checkout

BASELINE_CHILD = r"""
import json, math, sys, time
sys.path.insert(0, sys.argv[1])
import numpy as np
from scratchnet.data import load_dataset
from scratchnet.network import mlp
from scratchnet.optimizers import SGD
from scratchnet.training import TrainConfig, train
data = load_dataset("mnist")
models = {}
for line in sys.stdin:
    case = json.loads(line)
    key = (tuple(case["hidden"]), case["descent"], case["batch_size"])
    if key not in models:
        models[key] = mlp(784, list(case["hidden"]), 10, rng=np.random.default_rng(0))
    n = case["samples"]
    config = TrainConfig(descent=case["descent"], batch_size=max(case["batch_size"], 1), epochs=1,
                         seed=int(time.time()) % 1000)
    seconds = math.nan
    for log in train(models[key], SGD(case["lr"]), data.x_train[:n], data.y_train[:n], config):
        if log["event"] == "epoch":
            seconds = log["seconds"]
    print(json.dumps(seconds * case["epoch_samples"] / n), flush=True)
"""


class BaselineEngine:
    """The engine of another checkout, timed in a child process of its own (two ``scratchnet``
    packages cannot share one process), by the same clock and the same scaling as this one."""

    def __init__(self, root: str) -> None:
        self.root = root
        self.child = subprocess.Popen([sys.executable, "-c", BASELINE_CHILD, root], stdin=subprocess.PIPE,
                                      stdout=subprocess.PIPE, text=True)

    def epoch_seconds(self, case: Case) -> float:
        request = {"hidden": list(case.hidden), "descent": case.descent, "batch_size": case.batch_size,
                   "samples": case.samples, "lr": LEARNING_RATES[case.descent], "epoch_samples": EPOCH_SAMPLES}
        self.child.stdin.write(json.dumps(request) + "\n")
        self.child.stdin.flush()
        return float(json.loads(self.child.stdout.readline()))

    def close(self) -> None:
        self.child.stdin.close()
        self.child.wait(timeout=30)


# ----------------------------------------------------------------------------- PyTorch


def torch_runner(case: Case, x: np.ndarray, y: np.ndarray):
    """A function that trains one epoch of the case in PyTorch and returns its scaled seconds."""
    import torch

    n = case.samples
    xt = torch.from_numpy(np.ascontiguousarray(x[:n]))
    yt = torch.from_numpy(y[:n])
    layers = []
    for k, m in zip(case.widths[:-1], case.widths[1:], strict=True):
        layers += [torch.nn.Linear(k, m), torch.nn.ReLU()]
    net = torch.nn.Sequential(*layers[:-1])
    optimizer = torch.optim.SGD(net.parameters(), lr=LEARNING_RATES[case.descent])
    loss_fn = torch.nn.CrossEntropyLoss()
    batch = n if case.descent == "full" else case.batch_size
    generator = torch.Generator().manual_seed(0)

    def epoch() -> float:
        start = time.perf_counter()
        order = torch.randperm(n, generator=generator)
        losses = []
        for s in range(0, n, batch):
            idx = order[s : s + batch]
            xb = xt.index_select(0, idx)
            yb = yt.index_select(0, idx)
            optimizer.zero_grad(set_to_none=True)
            loss = loss_fn(net(xb), yb)
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
        return (time.perf_counter() - start) * EPOCH_SAMPLES / n

    return epoch


def torch_available() -> bool:
    try:
        import torch  # noqa: F401
    except ImportError:
        return False
    return True


# ----------------------------------------------------------------------------- ceiling


def matmul_shapes(case: Case) -> list[tuple[int, int, int]]:
    """(m, k, n) of every product of one update: forward, weight gradient, input gradient."""
    rows = min(case.batch_size, FULL_BATCH_CHUNK)
    pairs = list(zip(case.widths[:-1], case.widths[1:], strict=True))
    shapes = []
    for i, (k, m) in enumerate(pairs):
        shapes.append((rows, k, m))  # x W
        shapes.append((k, rows, m))  # x^T d
        if i > 0:
            shapes.append((rows, m, k))  # d W^T
    return shapes


def matmul_ceiling(case: Case, threads: int, min_seconds: float) -> float:
    """GFLOP/s of NumPy float32 matmuls of the case's shapes at ``threads`` BLAS threads (best of 5)."""
    from threadpoolctl import threadpool_limits

    rng = np.random.default_rng(0)
    operands = []
    for m, k, n in matmul_shapes(case):
        a = rng.random((m, k), dtype=np.float32)
        b = rng.random((k, n), dtype=np.float32)
        operands.append((a, b, np.empty((m, n), np.float32)))
    flops = sum(2 * a.shape[0] * a.shape[1] * b.shape[1] for a, b, _ in operands)
    with threadpool_limits(threads, user_api="blas"):
        reps = 1
        while True:
            start = time.perf_counter()
            for _ in range(reps):
                for a, b, out in operands:
                    np.matmul(a, b, out=out)
            elapsed = time.perf_counter() - start
            if elapsed >= min_seconds / 5:
                break
            reps *= 4
        best = elapsed
        for _ in range(4):
            start = time.perf_counter()
            for _ in range(reps):
                for a, b, out in operands:
                    np.matmul(a, b, out=out)
            best = min(best, time.perf_counter() - start)
    return flops * reps / best / 1e9


# ----------------------------------------------------------------------------- peak RSS


def peak_rss_full_batch() -> dict:
    """Train 784-256-128-10 full batch on all 60,000 images for 2 epochs; report peak RSS."""
    data = load_dataset("mnist")
    model = mlp(784, [256, 128], 10, rng=np.random.default_rng(0))
    config = TrainConfig(descent="full", epochs=2)
    for _ in train(model, SGD(LEARNING_RATES["full"]), data.x_train, data.y_train, config):
        pass
    return {"peak_rss_mb": _peak_rss_kib() / 1024, "data_mb": data.x_train.nbytes / 2**20}


def _peak_rss_kib() -> int:
    """This process's peak RSS in KiB. Linux carries ``ru_maxrss`` over from the forked parent
    across exec (so it would report the benchmark's own 1 GB), while /proc's VmHWM belongs to this
    program alone; ``getrusage`` is the fallback where /proc is missing."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def measure_peak_rss_in_subprocess() -> dict:
    out = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), "--peak-rss-full-batch"],
        check=True, capture_output=True, text=True,
    )
    return json.loads(out.stdout)


# ----------------------------------------------------------------------------- driver


def build_cases(quick: bool) -> list[Case]:
    mini_samples = 10_000 if quick else EPOCH_SAMPLES
    sgd_samples = 1_000 if quick else 10_000
    cases = []
    for hidden in ARCHITECTURES:
        for descent, batch in DESCENTS:
            if descent == "full":
                cases.append(Case(hidden, descent, EPOCH_SAMPLES, EPOCH_SAMPLES))
            elif descent == "sgd":
                cases.append(Case(hidden, descent, 1, sgd_samples))
            else:
                cases.append(Case(hidden, descent, batch, mini_samples))
    return cases


def run_case(case: Case, x, y, repeats: int, with_torch: bool, ceiling_seconds: float,
             baseline: tuple[BaselineEngine, BaselineEngine] | None = None) -> Result:
    """Alternate ``repeats`` times: the 2-thread matmul ceiling, a scratchnet epoch, a PyTorch epoch
    (and a ``baseline`` checkout's epoch, when given).

    This machine's speed drifts by 10-40% over seconds, so the ceiling is measured just before each
    scratchnet run and the fraction of the ceiling is the median of the per-run fractions: a
    ceiling measured once, minutes away from the runs, reads the machine at another speed.
    """
    model = mlp(784, list(case.hidden), 10, rng=np.random.default_rng(0))
    warm_samples = min(case.samples, 2_000) if case.descent == "sgd" else case.samples
    warm = Case(case.hidden, case.descent, case.batch_size, warm_samples)
    scratchnet_epoch_seconds(warm, x, y, model)
    if baseline is not None:
        for engine in baseline:
            engine.epoch_seconds(warm)
    torch_epoch = torch_runner(case, x, y) if with_torch else None
    if torch_epoch is not None:
        torch_epoch()
    ours, theirs, ceilings, fractions, new, old = [], [], [], [], [], []
    for _ in range(repeats):
        # Each framework's idle worker threads spin for a while after its last parallel region
        # (OpenBLAS ~0.1 s, OpenMP too): let them go to sleep before timing the other one.
        time.sleep(SETTLE_SECONDS)
        ceilings.append(matmul_ceiling(case, 2, ceiling_seconds))
        ours.append(scratchnet_epoch_seconds(case, x, y, model))
        fractions.append(case.flops_per_sample() * EPOCH_SAMPLES / ours[-1] / 1e9 / ceilings[-1])
        if torch_epoch is not None:
            time.sleep(SETTLE_SECONDS)
            theirs.append(torch_epoch())
        if baseline is not None:
            time.sleep(SETTLE_SECONDS)
            new.append(baseline[0].epoch_seconds(case))
            old.append(baseline[1].epoch_seconds(case))
    seconds = statistics.median(ours)
    gflops = case.flops_per_sample() * EPOCH_SAMPLES / seconds / 1e9
    result = Result(
        case=case.name, scratchnet_seconds=seconds, samples_per_second=EPOCH_SAMPLES / seconds,
        gflops=gflops, ceiling_1t=matmul_ceiling(case, 1, ceiling_seconds), ceiling_2t=statistics.median(ceilings),
        fraction_of_2t_ceiling=statistics.median(fractions), scratchnet_runs=ours, ceiling_2t_runs=ceilings,
    )
    if theirs:
        result.torch_seconds = statistics.median(theirs)
        result.torch_samples_per_second = EPOCH_SAMPLES / result.torch_seconds
        result.torch_runs = theirs
        result.ratio = seconds / result.torch_seconds
        result.paired_ratios = [a / b for a, b in zip(ours, theirs, strict=True)]
    if old:
        result.baseline_seconds = statistics.median(old)
        result.baseline_runs = old
        result.child_seconds = statistics.median(new)
        result.vs_baseline = result.child_seconds / result.baseline_seconds
    return result


TABLE_HEAD = (
    f"{'case':<36} {'s/epoch':>8} {'samples/s':>10} {'GFLOP/s':>8} {'ceil 1T':>8} {'ceil 2T':>8} "
    f"{'% of 2T':>7} {'torch s':>8} {'torch sps':>10} {'ratio':>6} {'paired':>17} {'new s':>8} {'old s':>8} "
    f"{'new/old':>7}"
)


def format_row(r: Result) -> str:
    """One line of the table: scratchnet's figures, then PyTorch's and the time ratio."""
    if r.ratio is not None:
        paired = f"{min(r.paired_ratios):.2f}-{max(r.paired_ratios):.2f}"
        torch_cols = f"{r.torch_seconds:8.3f} {r.torch_samples_per_second:10.0f} {r.ratio:6.2f} {paired:>17}"
    else:
        torch_cols = f"{'-':>8} {'-':>10} {'-':>6} {'-':>17}"
    old_cols = (f"{r.child_seconds:8.3f} {r.baseline_seconds:8.3f} {r.vs_baseline:7.2f}"
                if r.vs_baseline is not None else "")
    return (
        f"{r.case:<36} {r.scratchnet_seconds:8.3f} {r.samples_per_second:10.0f} {r.gflops:8.1f} "
        f"{r.ceiling_1t:8.1f} {r.ceiling_2t:8.1f} {100 * r.fraction_of_2t_ceiling:6.0f}% {torch_cols} {old_cols}"
    )


def target_report(results: list[Result]) -> list[str]:
    """Each issue target with its measured value, met or not."""
    lines = []
    for r in results:
        if r.ratio is None:
            continue
        if "mini-batch" in r.case:
            lines.append(_check(f"{r.case}: time ratio", r.ratio, 0.75, "<="))
        elif "full batch" in r.case:
            lines.append(_check(f"{r.case}: time ratio", r.ratio, 0.8, "<="))
        else:
            lines.append(_check(f"{r.case}: samples/s vs torch", 1 / r.ratio, 5.0, ">="))
    for r in results:
        if r.case == "784-256-128-10 mini-batch 128":
            lines.append(_check(f"{r.case}: fraction of 2-thread ceiling", r.fraction_of_2t_ceiling, 0.6, ">="))
    return lines


def _check(label: str, value: float, bound: float, op: str) -> str:
    met = value <= bound if op == "<=" else value >= bound
    return f"{'MET ' if met else 'MISS'} {label} = {value:.2f} (target {op} {bound})"


def machine_description() -> dict:
    import numpy

    info = {
        "cpu": _cpu_model(), "cores": os.cpu_count(), "python": platform.python_version(),
        "numpy": numpy.__version__, "blas": _blas_name(),
    }
    if torch_available():
        import torch

        info.update(torch=torch.__version__, torch_threads=torch.get_num_threads())
    return info


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _blas_name() -> str:
    from threadpoolctl import threadpool_info

    blas = [f"{i['internal_api']} {i['version']} ({i.get('architecture')}, {i['num_threads']} threads)"
            for i in threadpool_info() if i["user_api"] == "blas"]
    return "; ".join(blas) or "unknown"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer samples per case (under 2 minutes)")
    parser.add_argument("--json", action="store_true", help="print one JSON object per case")
    parser.add_argument("--repeats", type=int, default=5, help="timed runs per case (median reported)")
    parser.add_argument("--no-torch", action="store_true", help="skip the PyTorch comparison")
    parser.add_argument(
        "--only", action="append", default=[], metavar="TEXT",
        help="run only the cases whose name contains TEXT, e.g. '256-128-10 mini-batch 128' (repeatable)",
    )
    parser.add_argument(
        "--torch-threads", type=int, default=0,
        help="set PyTorch's thread count (default: leave torch's own default, the fair comparison)",
    )
    parser.add_argument("--baseline", metavar="DIR",
                        help="another scratchnet checkout, timed side by side (the new/old column)")
    parser.add_argument("--peak-rss-full-batch", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.peak_rss_full_batch:
        print(json.dumps(peak_rss_full_batch()))
        return 0

    with_torch = not args.no_torch and torch_available()
    if with_torch and args.torch_threads > 0:
        import torch

        torch.set_num_threads(args.torch_threads)
    machine = machine_description()
    data = load_dataset("mnist")
    x, y = data.x_train, data.y_train
    if not args.json:
        print("machine:", ", ".join(f"{k}={v}" for k, v in machine.items()))
        print(TABLE_HEAD)
        print("-" * len(TABLE_HEAD), flush=True)
    cases = [c for c in build_cases(args.quick) if not args.only or any(text in c.name for text in args.only)]
    if not cases:
        parser.error(f"no case name contains {' or '.join(map(repr, args.only))}")
    results = []
    baseline = (BaselineEngine(str(Path(__file__).resolve().parents[1])), BaselineEngine(args.baseline)) \
        if args.baseline else None
    try:
        for case in cases:
            result = run_case(case, x, y, max(args.repeats, 1), with_torch, 0.1 if args.quick else 0.3, baseline)
            results.append(result)
            print(json.dumps(asdict(result)) if args.json else format_row(result), flush=True)
    finally:
        for engine in baseline or ():
            engine.close()
    rss = measure_peak_rss_in_subprocess()
    if args.json:
        print(json.dumps({"machine": machine, "full_batch_peak_rss": rss}))
        return 0
    if not with_torch:
        print("PyTorch comparison skipped: torch is not installed (pip install torch==2.13.0)"
              if not args.no_torch else "PyTorch comparison skipped (--no-torch)")
    print(f"peak RSS, 784-256-128-10 full batch on 60,000 images: {rss['peak_rss_mb']:.0f} MB "
          f"(data {rss['data_mb']:.0f} MB; target <= 400 MB)")
    for line in target_report(results):
        print(line)
    return 0

if __name__ == "__main__":
    raise SystemExit(main())
