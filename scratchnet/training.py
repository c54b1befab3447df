"""One vectorised training loop for the three descent variants.

- ``descent="full"``: one update per epoch from the gradient over the whole training set,
  accumulated in chunks of ``full_batch_chunk`` rows so memory stays bounded.
- ``descent="mini"``: shuffled mini-batches of ``batch_size`` samples, one update each.
- ``descent="sgd"``: stochastic gradient descent, one sample per update, in shuffled order.

``train`` is a generator of Keras-style log dicts, each with an ``"event"`` key:
- ``"start"``: ``n_train, batch_size, updates_per_epoch, epochs, notes``.
- ``"batch"`` (throttled to one every ``log_interval`` seconds): ``epoch, update, samples_seen,
  seconds, loss`` (mean since the last batch log), ``losses`` (float32 array, the loss of every
  update since the last batch log) and ``first_update`` (the update number of ``losses[0]``).
- ``"epoch"``: ``epoch, loss, accuracy, test_loss, test_accuracy, seconds`` (training time of the
  epoch, evaluation excluded), ``samples_per_second, lr, update, samples_seen, elapsed``.
- ``"done"``: ``stopped, epochs_completed, test_loss, test_accuracy, seconds, update,
  samples_seen``.
A stop request (``control``) is honoured between updates; a non-finite loss raises
``TrainingDiverged`` and leaves the model with its last finite weights. The same seed gives the
same run, bit for bit.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass

import numpy as np

from .batch_steps import BatchSteps, SparseInputBatchSteps, sparse_input_path_supported
from .control import TrainingControl
from .errors import TrainingDiverged
from .fastpaths import OneSampleSteps, one_sample_path_supported
from .full_batch import RowChunks, SparseInputChunks, sparse_full_batch_supported
from .losses import SoftmaxCrossEntropy
from .network import Sequential
from .optimizers import Optimizer
from .schedules import Schedule
from .threads import BlasThreads

DESCENTS = ("full", "mini", "sgd")


@dataclass
class TrainConfig:
    """How to train: descent variant, batch size, epochs, schedule and seed."""

    descent: str = "mini"
    batch_size: int = 64
    epochs: int = 5
    seed: int = 0
    schedule: str = "constant"
    log_interval: float = 0.05
    full_batch_chunk: int = 2048
    eval_batch_size: int = 8192

    def __post_init__(self) -> None:
        if self.descent not in DESCENTS:
            raise ValueError(f"unknown descent {self.descent!r}; choose one of {', '.join(DESCENTS)}")
        for name in ("batch_size", "epochs", "full_batch_chunk", "eval_batch_size"):
            value = getattr(self, name)
            if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        if not isinstance(self.seed, (int, np.integer)) or self.seed < 0:
            raise ValueError(f"seed must be a non-negative integer, got {self.seed!r}")
        if not (math.isfinite(self.log_interval) and self.log_interval >= 0):
            raise ValueError(f"log_interval must be >= 0 seconds, got {self.log_interval!r}")
        Schedule(self.schedule, self.epochs)

    def batch_size_for(self, n_train: int) -> int:
        """The number of samples per update for a training set of ``n_train`` samples."""
        if self.descent == "full":
            return n_train
        if self.descent == "sgd":
            return 1
        return min(self.batch_size, n_train)

    def to_dict(self) -> dict:
        return asdict(self)


def evaluate(
    model: Sequential, x: np.ndarray, y: np.ndarray, batch_size: int = 8192
) -> tuple[float, float]:
    """Mean cross-entropy and accuracy of ``model`` on inputs (N, F) and int labels (N,)."""
    loss_fn = SoftmaxCrossEntropy()
    total_loss = 0.0
    correct = 0
    for start in range(0, len(x), batch_size):
        logits = model.forward(x[start : start + batch_size], training=False)
        yb = y[start : start + batch_size]
        total_loss += loss_fn.forward(logits, yb) * len(yb)
        correct += int(np.count_nonzero(np.argmax(logits, axis=1) == yb))
    n = max(len(x), 1)
    return total_loss / n, correct / n


def params_finite(model: Sequential) -> bool:
    return all(np.isfinite(p).all() for p in model.parameters().values())


class _Diverged(Exception):
    def __init__(self, loss: float) -> None:
        self.loss = loss


def train(
    model: Sequential,
    optimizer: Optimizer,
    x_train: np.ndarray,
    y_train: np.ndarray,
    config: TrainConfig | None = None,
    *,
    x_test: np.ndarray | None = None,
    y_test: np.ndarray | None = None,
    control: TrainingControl | None = None,
    augment: Callable[[np.ndarray, np.random.Generator], np.ndarray] | None = None,
) -> Iterator[dict]:
    """Train ``model`` in place on x_train (N, F) float32 and y_train (N,) int; yield log dicts.

    ``augment(xb, rng) -> xb`` (e.g. ``scratchnet.augment.Augmenter``), if given, transforms each
    mini-batch's inputs (B, F) with the loop's seeded generator, so augmented runs repeat exactly.
    Full-batch descent and the fast one-sample SGD path (``OneSampleSteps``) ignore it.
    """
    config = config or TrainConfig()
    control = control or TrainingControl()
    n = len(x_train)
    if n == 0:
        raise ValueError("the training set is empty")
    if len(y_train) != n:
        raise ValueError(f"{n} training inputs but {len(y_train)} labels")
    batch_size = config.batch_size_for(n)
    updates_per_epoch = 1 if config.descent == "full" else math.ceil(n / batch_size)
    notes = []
    if config.descent == "mini" and config.batch_size > n:
        notes.append(f"batch size {config.batch_size} is larger than the {n} training samples: using {n}")
    schedule = Schedule(config.schedule, config.epochs)
    base_lr = optimizer.lr
    rng = np.random.default_rng(np.random.SeedSequence([config.seed, 0x5EED]))
    loss_fn = SoftmaxCrossEntropy()
    has_test = x_test is not None and y_test is not None and len(x_test) > 0
    steps = chunks = None
    if config.descent == "full":
        chunk = min(config.full_batch_chunk, n)
        sparse = sparse_full_batch_supported(model, x_train)
        chunks = SparseInputChunks(model, x_train, y_train, chunk) if sparse else RowChunks(x_train, y_train, chunk)
    elif config.descent == "sgd" and one_sample_path_supported(model, optimizer):
        steps = OneSampleSteps(model, optimizer, x_train, y_train)
    else:
        sparse = sparse_input_path_supported(model, optimizer, x_train, augment)
        batch_steps = SparseInputBatchSteps if sparse else BatchSteps
        steps = batch_steps(model, optimizer, loss_fn, x_train, y_train, batch_size, augment=augment, rng=rng)

    yield {
        "event": "start", "n_train": n, "batch_size": batch_size, "updates_per_epoch": updates_per_epoch,
        "epochs": config.epochs, "descent": config.descent, "notes": notes,
    }

    update = 0
    samples_seen = 0
    train_seconds = 0.0
    run_start = time.perf_counter()
    stopped = False
    epochs_completed = 0
    pending_losses: list[float] = []
    first_pending = 0
    last_log = time.perf_counter()

    def batch_log(epoch: int, epoch_seconds: float | None = None) -> dict:
        """The losses since the last log; ``epoch_seconds``, when the epoch is over, is its time."""
        nonlocal pending_losses, first_pending, last_log
        losses = np.asarray(pending_losses, dtype=np.float32)
        if epoch_seconds is None:
            epoch_seconds = time.perf_counter() - epoch_start
        log = {
            "event": "batch", "epoch": epoch, "update": update, "samples_seen": samples_seen,
            "seconds": train_seconds + epoch_seconds, "loss": float(losses.mean()),
            "losses": losses, "first_update": first_pending,
        }
        pending_losses = []
        first_pending = update
        last_log = time.perf_counter()
        return log

    def test_metrics() -> tuple[float, float]:
        if not has_test:
            return math.nan, math.nan
        return evaluate(model, x_test, y_test, config.eval_batch_size)

    def gate() -> bool:
        """Wait while paused (paused time is not training time); False when asked to stop."""
        nonlocal epoch_start
        if not control.paused:
            return not control.stop_requested
        waited_from = time.perf_counter()
        go_on = control.wait_for_update()
        epoch_start += time.perf_counter() - waited_from
        return go_on

    with BlasThreads(batch_size) as threads:
        for epoch in range(1, config.epochs + 1):
            snapshot = model.state_dict()
            threads.start_epoch()
            optimizer.lr = base_lr * schedule.factor(epoch - 1)
            epoch_start = time.perf_counter()
            epoch_loss = 0.0
            epoch_correct = 0
            epoch_samples = 0
            try:
                if config.descent == "full":
                    if not gate():
                        stopped = True
                    else:
                        base_lr = _take_lr(control, optimizer, base_lr, schedule, epoch)
                        result = _full_batch_step(model, loss_fn, optimizer, chunks, control, threads)
                        if result is None:
                            stopped = True
                        else:
                            loss_value, correct = result
                            update += 1
                            samples_seen += n
                            epoch_loss, epoch_correct, epoch_samples = loss_value * n, correct, n
                            pending_losses.append(loss_value)
                else:
                    steps.epoch(rng.permutation(n))
                    for start in range(0, n, batch_size):
                        if not gate():
                            stopped = True
                            break
                        base_lr = _take_lr(control, optimizer, base_lr, schedule, epoch)
                        threads.before_update()
                        loss_value, correct, m = steps.forward(start)
                        if not math.isfinite(loss_value):
                            raise _Diverged(loss_value)
                        steps.update()
                        threads.after_update()
                        epoch_correct += correct
                        epoch_loss += loss_value * m
                        epoch_samples += m
                        samples_seen += m
                        update += 1
                        pending_losses.append(loss_value)
                        if time.perf_counter() - last_log >= config.log_interval:
                            handed_over = time.perf_counter()
                            yield batch_log(epoch)
                            # time the consumer spends on the log is not training time
                            epoch_start += time.perf_counter() - handed_over
            except _Diverged as exc:
                if not params_finite(model):
                    model.load_state_dict(snapshot)
                raise _divergence(f"the loss became {exc.loss}", epoch, update, optimizer.lr) from None
            seconds = time.perf_counter() - epoch_start
            # The epoch's last update can overflow the weights without any loss seeing it yet.
            if not params_finite(model):
                model.load_state_dict(snapshot)
                raise _divergence("the weights became NaN or infinite", epoch, update, optimizer.lr)
            closing_log = batch_log(epoch, seconds) if pending_losses else None
            train_seconds += seconds
            if closing_log is not None:
                yield closing_log
            if stopped and epoch_samples == 0:
                break
            test_loss, test_acc = test_metrics()
            if not stopped:
                epochs_completed = epoch
            yield {
                "event": "epoch", "epoch": epoch, "loss": epoch_loss / max(epoch_samples, 1),
                "accuracy": epoch_correct / max(epoch_samples, 1), "test_loss": test_loss, "test_accuracy": test_acc,
                "seconds": seconds, "samples_per_second": epoch_samples / seconds if seconds > 0 else math.inf,
                "lr": optimizer.lr, "update": update, "samples_seen": samples_seen,
                "elapsed": time.perf_counter() - run_start, "partial": stopped,
            }
            if stopped:
                break

    test_loss, test_acc = test_metrics()
    yield {
        "event": "done", "stopped": stopped, "epochs_completed": epochs_completed, "test_loss": test_loss,
        "test_accuracy": test_acc, "seconds": train_seconds, "update": update, "samples_seen": samples_seen,
    }


def _divergence(what: str, epoch: int, update: int, lr: float) -> TrainingDiverged:
    return TrainingDiverged(
        f"training diverged in epoch {epoch} after {update} updates: {what}. "
        f"The model keeps its last finite weights. Try a smaller learning rate than {lr:g}, "
        "or an adaptive optimiser such as Adam."
    )


def _take_lr(control: TrainingControl, optimizer: Optimizer, base_lr: float, schedule: Schedule, epoch: int) -> float:
    new_lr = control.take_learning_rate()
    if new_lr is None:
        return base_lr
    optimizer.lr = new_lr * schedule.factor(epoch - 1)
    return new_lr


def _full_batch_step(model, loss_fn, optimizer, chunks, control, threads):
    """One update from the gradient of the mean loss over all the samples, summed chunk by chunk
    (``scratchnet.full_batch``).

    Each chunk's fused gradient is (p - t) / m; scaling it by m / N makes the sum over chunks
    exactly the full-batch gradient (p - t) / N. Returns (mean loss, correct count), or None when
    a stop request arrived mid-step (the weights are then untouched).
    """
    n = chunks.n
    total = {name: np.zeros_like(p) for name, p in model.parameters().items()}
    loss_sum = 0.0
    correct = 0
    for i in range(len(chunks)):
        if control.stop_requested:
            return None
        threads.before_update()
        logits, yb = chunks.forward(model, i)
        loss_value = loss_fn.forward(logits, yb)
        if not math.isfinite(loss_value):
            raise _Diverged(loss_value)
        correct += int(np.count_nonzero(np.argmax(logits, axis=1) == yb))
        grad = loss_fn.backward()
        grad *= grad.dtype.type(len(yb) / n)
        chunks.add_gradient(model, grad, total)
        threads.after_update()
        loss_sum += loss_value * len(yb)
    optimizer.step(model.parameters(), total)
    return loss_sum / n, correct
