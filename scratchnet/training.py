"""One vectorised training loop for the three descent variants.

- ``descent="full"``: one update per epoch from the gradient over the whole training set,
  accumulated in chunks of ``full_batch_chunk`` rows so memory stays bounded.
- ``descent="mini"``: shuffled mini-batches of ``batch_size`` samples, one update each.
- ``descent="sgd"``: stochastic gradient descent, one sample per update, in shuffled order.

``train`` is a generator of Keras-style log dicts, each with an ``"event"`` key:
- ``"start"``: ``n_train, batch_size, updates_per_epoch, epochs, notes``.
- ``"batch"`` (throttled to one every ``log_interval`` seconds): ``epoch, update, samples_seen,
  seconds, loss`` (mean since the last batch log), ``losses`` (float32 array, the loss of every
  update since the last batch log), ``first_update`` (the update number of ``losses[0]``) and
  ``rows`` (the training-set rows of the log's last update; None for full batch).
- ``"epoch"``: ``epoch, loss, accuracy, test_loss, test_accuracy, seconds`` (training time of the
  epoch, evaluation excluded), ``samples_per_second, lr, update, samples_seen, elapsed``, and with
  ``TrainConfig.train_eval_size``: ``train_eval_loss, train_eval_accuracy, train_eval_size``.
- ``"done"``: ``stopped, epochs_completed, test_loss, test_accuracy, seconds, update,
  samples_seen``.
- ``"checkpoint"`` (only with ``checkpoints=``): ``epoch, update, samples_seen, checkpoint`` (a
  ``scratchnet.checkpoints.Checkpoint``), right after the update or the epoch log it describes.
The "start" log also carries where the run starts: ``first_epoch, first_update, samples_seen,
seconds`` (1, 0, 0, 0 for a new run; a resumed run continues its parent's numbering), and
``checkpoint_updates`` (the updates that get a checkpoint, empty without ``checkpoints=``).
A stop request (``control``) is honoured between updates; a non-finite loss raises
``TrainingDiverged`` and leaves the model with the weights from just before the update that made
them non-finite. The same seed gives the same run, bit for bit.

Every update is the same four steps, through the model's own classes:
    logits = model.forward(inputs, training=True)
    loss = loss_fn.forward(logits, labels)
    optimizer.begin_step()
    model.backward(loss_fn.backward(), input_grad=False, on_grads=optimizer.update_layer)
Full batch adds the chunks' gradients up in the layers (``backward(accumulate=True)``), then
takes one ``optimizer.step``. This module only schedules: which samples form an update
(``scratchnet.batches``), in which form (``input_form``), when to log, evaluate and stop.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass

import numpy as np

from .batches import FullBatchChunks, MiniBatches, mostly_zero
from .checkpoints import Checkpoint, capture, checkpoint_updates, restore
from .control import TrainingControl
from .errors import TrainingDiverged
from .layers import Dense, Dropout
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
    train_eval_size: int = 0
    """When > 0, each epoch also measures loss and accuracy in inference mode (no dropout, no
    augmentation, the weights at the epoch's end) on a fixed random subset of this many training
    samples: "train_eval_loss" and "train_eval_accuracy" in the epoch log. The epoch's "loss" and
    "accuracy" are measured during the epoch, while the weights still move and with dropout and
    augmentation, which is why they can sit below the test figures."""

    def __post_init__(self) -> None:
        if self.descent not in DESCENTS:
            raise ValueError(f"unknown descent {self.descent!r}; choose one of {', '.join(DESCENTS)}")
        for name in ("batch_size", "epochs", "full_batch_chunk", "eval_batch_size"):
            value = getattr(self, name)
            if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        value = self.train_eval_size
        if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 0:
            raise ValueError(f"train_eval_size must be a whole number >= 0, got {value!r}")
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
    """Mean cross-entropy and accuracy of ``model`` on inputs (N, F) and int labels (N,), in
    batches of ``model.eval_batch(batch_size)`` rows."""
    batch_size = model.eval_batch(batch_size)
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


def input_form(model: Sequential, optimizer: Optimizer, x: np.ndarray, descent: str, augment=None) -> str:
    """How the training inputs reach the model: "columns" (``ColumnSparse``, each batch's zero
    columns skipped by the first Dense layer) or "dense".

    Columns need a model that starts with a Dense layer, inputs at most half non-zero (MNIST:
    19%) and no augmentation (it moves the zero pixels). Full batch always takes them when it can:
    its chunks are built once per run and the gradient is exact. Mini-batch and one-sample
    descent take them when the optimiser applies a Dense layer's weight gradient as a product
    (SGD without weight decay, ``Optimizer.takes_products``): then only the rows of W under
    the batch's non-zero pixels move, and the (F, H) gradient is never formed. Adam and RMSProp
    need every row of the gradient each update, so the dense products cost them no more.

    A network of images (it starts with ``Reshape`` or ``Conv2D``) always takes dense rows: a
    convolution reads every pixel of every window, so there are no input columns to skip, and
    ``Conv2D`` has no sparse product. The batches still come from the byte copy of the data
    (``MiniBatches.gather``): that gives the same dense float rows with a quarter of the reads.
    """
    layers = model.layers
    # a network of images starts with Reshape or Conv2D, not Dense: dense rows (see above)
    if augment is not None or not layers or type(layers[0]) is not Dense or not mostly_zero(x):
        return "dense"
    if descent == "full" or optimizer.takes_products:
        return "columns"
    return "dense"


class _Diverged(Exception):
    def __init__(self, loss: float) -> None:
        self.loss = loss


def _one_update(model: Sequential, loss_fn: SoftmaxCrossEntropy, optimizer: Optimizer,
                inputs, labels) -> tuple[float, int]:
    """forward, loss, backward and the optimiser's step of each layer as soon as its gradients
    are ready; returns (loss, number of samples predicted right). Raises _Diverged, before any
    weight moves, when the loss is not finite."""
    logits = model.forward(inputs, training=True)
    loss = loss_fn.forward(logits, labels)
    if not math.isfinite(loss):
        raise _Diverged(loss)
    if logits.ndim == 1:
        correct = int(int(logits.argmax()) == labels)
    else:
        correct = int(np.count_nonzero(logits.argmax(axis=1) == labels))
    optimizer.begin_step()
    model.backward(loss_fn.backward(), input_grad=False, on_grads=optimizer.update_layer)
    return loss, correct


class _RunState:
    """What an epoch's updates depend on besides its sample order: the weights, the optimiser's
    state and every random generator (augmentation, dropout), as a checkpoint. Taken at an
    epoch's start, it lets a diverged epoch be replayed up to the last update whose weights were
    finite."""

    def __init__(self, model: Sequential, optimizer: Optimizer, generators: list[np.random.Generator]) -> None:
        self.generators = generators
        self.checkpoint = capture(model, optimizer, generators, epoch=0, update=0, samples_seen=0, seconds=0.0)

    def restore(self, model: Sequential, optimizer: Optimizer) -> None:
        restore(self.checkpoint, model, optimizer, self.generators)


def run_generators(model: Sequential, rng: np.random.Generator) -> list[np.random.Generator]:
    """Every generator a run draws from: the loop's ``rng`` (shuffles, augmentation), then each
    distinct Dropout generator in layer order. Their states are what a checkpoint keeps."""
    found = [rng]
    for layer in model.layers:
        if isinstance(layer, Dropout) and all(layer.rng is not g for g in found):
            found.append(layer.rng)
    return found


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
    checkpoints: int | None = None,
    resume: Checkpoint | None = None,
) -> Iterator[dict]:
    """Train ``model`` in place on x_train (N, F) float32 and y_train (N,) int; yield log dicts.

    ``augment(xb, rng) -> xb`` (e.g. ``scratchnet.augment.Augmenter``), if given, transforms the
    inputs of every update (B, F) with the loop's seeded generator, so augmented runs repeat
    exactly: each mini-batch, each sample of pure SGD, and for full batch each chunk afresh at
    every epoch (each epoch's gradient is that of a newly augmented copy of the training set).

    ``checkpoints`` (None: none): yield a "checkpoint" log at update 0, at every epoch's end and,
    for runs under 10 epochs, at about this many more updates spread through the run (0: epoch
    ends only; ``scratchnet.checkpoints.checkpoint_updates``), and where a stop request ends
    an epoch early. ``resume``: start from this checkpoint (weights, optimiser state, generators
    and position, restored into ``model`` and ``optimizer``) and go on to epoch
    ``config.epochs``; with the checkpoint's run configuration the epochs after it are those of
    the original run, bit for bit. Taken mid-epoch, the run goes on inside that epoch with the
    same sample order (from its sample count, so a new batch size also fits).
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
    generators = run_generators(model, rng)
    if resume is not None:
        restore(resume, model, optimizer, generators)
    marks = frozenset(checkpoint_updates(config.epochs, updates_per_epoch, checkpoints)
                      if checkpoints is not None else ())
    loss_fn = SoftmaxCrossEntropy()
    has_test = x_test is not None and y_test is not None and len(x_test) > 0
    form = input_form(model, optimizer, x_train, config.descent, augment)
    columns = form == "columns"
    if config.descent == "full":
        source = FullBatchChunks(x_train, y_train, min(config.full_batch_chunk, n), columns=columns,
                                 augment=augment, rng=rng)
    else:
        source = MiniBatches(x_train, y_train, batch_size, columns=columns, augment=augment, rng=rng)

    # where the run starts: a resumed one continues its parent's numbers and, mid-epoch, its epoch
    update = resume.update if resume else 0
    samples_seen = resume.samples_seen if resume else 0
    epochs_completed = resume.epoch if resume else 0
    partial = resume.epoch_state if resume and config.descent != "full" else None
    train_seconds = (resume.seconds - (partial["seconds"] if partial else 0.0)) if resume else 0.0
    yield {
        "event": "start", "n_train": n, "batch_size": batch_size, "updates_per_epoch": updates_per_epoch,
        "epochs": config.epochs, "descent": config.descent, "notes": notes, "input_form": form,
        "augmented": augment is not None, "first_epoch": epochs_completed + 1, "first_update": update,
        "samples_seen": samples_seen, "seconds": resume.seconds if resume else 0.0,
        "checkpoint_updates": sorted(marks),
    }

    run_start = time.perf_counter() - (resume.seconds if resume else 0.0)
    stopped = False
    pending_losses: list[float] = []
    first_pending = update
    last_log = time.perf_counter()
    epoch_rng = None  # the loop generator's state before this epoch's shuffle (for checkpoints)

    def checkpoint_log(epoch: int, mid_epoch: dict | None = None) -> dict:
        """A checkpoint of the run now; ``mid_epoch``: the running epoch's sums, when inside one."""
        epoch_state = None
        seconds = train_seconds
        if mid_epoch is not None:
            epoch_state = {"order_rng": epoch_rng} | mid_epoch
            seconds += mid_epoch["seconds"]
        ckpt = capture(model, optimizer, generators, epoch=epoch, update=update, samples_seen=samples_seen,
                       seconds=seconds, epoch_state=epoch_state)
        return {"event": "checkpoint", "epoch": epoch, "update": update, "samples_seen": samples_seen,
                "checkpoint": ckpt}

    if 0 in marks and resume is None:
        yield checkpoint_log(0)

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
            "rows": None if config.descent == "full" else source.last_rows(),
        }
        pending_losses = []
        first_pending = update
        last_log = time.perf_counter()
        return log

    def test_metrics() -> tuple[float, float]:
        if not has_test:
            return math.nan, math.nan
        return evaluate(model, x_test, y_test, config.eval_batch_size)

    # a fixed subset, drawn from its own generator so that the run's own draws are unchanged
    train_subset = None
    if config.train_eval_size:
        subset_rng = np.random.default_rng(np.random.SeedSequence([config.seed, 0x7EA1]))
        train_subset = np.sort(subset_rng.permutation(n)[: config.train_eval_size])

    def gate() -> bool:
        """Wait while paused (paused time is not training time); False when asked to stop."""
        nonlocal epoch_start
        if not control.paused:
            return not control.stop_requested
        waited_from = time.perf_counter()
        go_on = control.wait_for_update()
        epoch_start += time.perf_counter() - waited_from
        return go_on

    # Overflow on the way to a divergence is reported as TrainingDiverged, not as NumPy warnings;
    # the warnings' state is the caller's again while a log is handed over.
    quiet = {"over": "ignore", "invalid": "ignore", "divide": "ignore"}
    caller_errstate = np.seterr(**quiet)
    try:
        with BlasThreads(batch_size, small_products=model.is_image_network) as threads:
            for epoch in range(epochs_completed + 1, config.epochs + 1):
                threads.start_epoch()
                optimizer.lr = base_lr * schedule.factor(epoch - 1)
                epoch_start = time.perf_counter()
                epoch_loss = 0.0
                epoch_correct = 0
                epoch_samples = 0
                epoch_updates = 0
                first_start = 0
                if config.descent != "full":
                    if partial is not None:  # the same order as the parent's epoch, from where it was
                        rng.bit_generator.state = partial["order_rng"]
                        order = rng.permutation(n)
                        rng.bit_generator.state = resume.rng_state["0"]
                        epoch_loss, epoch_correct = partial["loss_sum"], partial["correct"]
                        epoch_samples = first_start = min(partial["samples"], n)
                        epoch_updates = partial["updates"]
                        epoch_start -= partial["seconds"]
                        epoch_rng, partial = partial["order_rng"], None
                    else:
                        if marks:
                            epoch_rng = rng.bit_generator.state
                        order = rng.permutation(n)
                    source.epoch(order)
                run_state = _RunState(model, optimizer, generators)
                resumed_updates = epoch_updates  # done by the parent run (a mid-epoch resume)
                epoch_lr = optimizer.lr
                try:
                    if config.descent == "full":
                        if not gate():
                            stopped = True
                        else:
                            base_lr = _take_lr(control, optimizer, base_lr, schedule, epoch)
                            result = _full_batch_step(model, loss_fn, optimizer, source, control, threads)
                            if result is None:
                                stopped = True
                            else:
                                loss_value, correct = result
                                update += 1
                                epoch_updates = 1
                                samples_seen += n
                                epoch_loss, epoch_correct, epoch_samples = loss_value * n, correct, n
                                pending_losses.append(loss_value)
                    else:
                        for start in range(first_start, n, batch_size):
                            if not gate():
                                stopped = True
                                break
                            base_lr = _take_lr(control, optimizer, base_lr, schedule, epoch)
                            threads.before_update()
                            inputs, labels = source.batch(start)
                            loss_value, correct = _one_update(model, loss_fn, optimizer, inputs, labels)
                            threads.after_update()
                            m = 1 if batch_size == 1 else len(labels)
                            epoch_correct += correct
                            epoch_loss += loss_value * m
                            epoch_samples += m
                            samples_seen += m
                            update += 1
                            epoch_updates += 1
                            pending_losses.append(loss_value)
                            if update in marks and start + batch_size < n:
                                handed_over = time.perf_counter()
                                np.seterr(**caller_errstate)
                                yield checkpoint_log(epoch - 1, {
                                    "samples": epoch_samples, "loss_sum": epoch_loss, "correct": epoch_correct,
                                    "updates": epoch_updates, "seconds": handed_over - epoch_start})
                                np.seterr(**quiet)
                                epoch_start += time.perf_counter() - handed_over
                            if time.perf_counter() - last_log >= config.log_interval:
                                handed_over = time.perf_counter()
                                np.seterr(**caller_errstate)
                                yield batch_log(epoch)
                                np.seterr(**quiet)
                                # time the consumer spends on the log is not training time
                                epoch_start += time.perf_counter() - handed_over
                except _Diverged as exc:
                    pending_losses.append(exc.loss)
                    kept = resumed_updates + _keep_last_finite(
                        model, optimizer, loss_fn, source, run_state, epoch_updates - resumed_updates, batch_size,
                        epoch_lr, first_start)
                    raise _divergence(f"the loss became {exc.loss}", epoch, update, kept, optimizer.lr,
                                      pending_losses, first_pending) from None
                seconds = time.perf_counter() - epoch_start
                # The epoch's last update can overflow the weights without any loss seeing it yet.
                if not params_finite(model):
                    kept = resumed_updates + _keep_last_finite(
                        model, optimizer, loss_fn, source, run_state, epoch_updates - resumed_updates, batch_size,
                        epoch_lr, first_start)
                    raise _divergence("the weights became NaN or infinite", epoch, update, kept, optimizer.lr,
                                      pending_losses, first_pending)
                closing_log = batch_log(epoch, seconds) if pending_losses else None
                train_seconds += seconds
                np.seterr(**caller_errstate)
                if closing_log is not None:
                    yield closing_log
                if stopped and epoch_samples == 0:
                    break
                test_loss, test_acc = test_metrics()
                if not stopped:
                    epochs_completed = epoch
                yield {
                    "event": "epoch", "epoch": epoch, "loss": epoch_loss / max(epoch_samples, 1),
                    "accuracy": epoch_correct / max(epoch_samples, 1), "test_loss": test_loss,
                    "test_accuracy": test_acc, "seconds": seconds,
                    "samples_per_second": epoch_samples / seconds if seconds > 0 else math.inf,
                    "lr": optimizer.lr, "update": update, "samples_seen": samples_seen,
                    "elapsed": time.perf_counter() - run_start, "partial": stopped,
                } | _train_eval(model, x_train, y_train, train_subset, config.eval_batch_size)
                if marks and not stopped:
                    yield checkpoint_log(epoch)
                elif marks and epoch_samples < n:  # stopped inside the epoch: where it stopped
                    yield checkpoint_log(epoch - 1, {
                        "samples": epoch_samples, "loss_sum": epoch_loss, "correct": epoch_correct,
                        "updates": epoch_updates, "seconds": seconds})
                np.seterr(**quiet)
                if stopped:
                    break
    finally:
        np.seterr(**caller_errstate)

    test_loss, test_acc = test_metrics()
    yield {
        "event": "done", "stopped": stopped, "epochs_completed": epochs_completed, "test_loss": test_loss,
        "test_accuracy": test_acc, "seconds": train_seconds, "update": update, "samples_seen": samples_seen,
    }


def _train_eval(model, x, y, subset, batch_size: int) -> dict:
    """Loss and accuracy in inference mode on the training samples ``subset``, or {} when None."""
    if subset is None:
        return {}
    loss, accuracy = evaluate(model, x[subset], y[subset], batch_size)
    return {"train_eval_loss": loss, "train_eval_accuracy": accuracy, "train_eval_size": len(subset)}


def _keep_last_finite(model, optimizer, loss_fn, source, run_state: _RunState, applied: int,
                      batch_size: int, lr: float, first_start: int = 0) -> int:
    """After a divergence in an epoch that had applied ``applied`` updates, leave the model with
    the weights from just before the update that made them non-finite; returns how many of the
    epoch's updates those weights include (of those from sample ``first_start`` on, where a
    resumed run took its run state).

    Finite weights (the loss overflowed, the weights did not) are kept as they are. Otherwise the
    epoch is replayed from its start (weights, optimiser state and generators as they were, the
    same samples) up to the last update whose weights were all finite. Only the replay checks the
    weights after each update, so training pays nothing for it.
    """
    if params_finite(model):
        return applied
    full_batch = isinstance(source, FullBatchChunks)
    run_state.restore(model, optimizer)
    if full_batch or applied <= 1:
        return 0
    optimizer.lr = lr

    def replay(count: int) -> None:
        for u in range(count):
            inputs, labels = source.batch(first_start + u * batch_size)
            _one_update(model, loss_fn, optimizer, inputs, labels)

    # Most often the update just before the non-finite loss was the one that overflowed.
    try:
        replay(applied - 1)
        if params_finite(model):
            return applied - 1
    except _Diverged:
        pass
    run_state.restore(model, optimizer)
    optimizer.lr = lr
    kept = 0
    for u in range(applied):
        before = model.state_dict()
        try:
            inputs, labels = source.batch(first_start + u * batch_size)
            _one_update(model, loss_fn, optimizer, inputs, labels)
        except _Diverged:
            break
        if not params_finite(model):
            model.load_state_dict(before)
            break
        kept = u + 1
    return kept


def _divergence(what: str, epoch: int, update: int, kept: int, lr: float, losses: list[float],
                first_update: int) -> TrainingDiverged:
    error = TrainingDiverged(
        f"training diverged in epoch {epoch} after {update} updates: {what}. The model keeps the "
        f"weights from just before the update that made them non-finite ({kept} of the epoch's updates "
        f"applied). Try a smaller learning rate than {lr:g}, or an adaptive optimiser such as Adam."
    )
    error.epoch = epoch
    error.update = update
    error.kept_updates_in_epoch = kept
    error.losses = np.asarray(losses, dtype=np.float32)  # per-update losses since the last log, the last not finite
    error.first_update = first_update
    return error


def _take_lr(control: TrainingControl, optimizer: Optimizer, base_lr: float, schedule: Schedule, epoch: int) -> float:
    new_lr = control.take_learning_rate()
    if new_lr is None:
        return base_lr
    optimizer.lr = new_lr * schedule.factor(epoch - 1)
    return new_lr


def _full_batch_step(model: Sequential, loss_fn: SoftmaxCrossEntropy, optimizer: Optimizer,
                     chunks: FullBatchChunks, control: TrainingControl, threads: BlasThreads):
    """One update from the gradient of the mean loss over all N samples, added up in the layers'
    ``grads`` chunk by chunk: each chunk's mean-loss gradient weighted by its share m / N.

    Returns (mean loss, correct count), or None when a stop request arrived mid-step: the weights
    are then untouched and the layers' ``grads`` are those of the last update again.
    """
    n = chunks.n
    previous = {name: g.copy() for name, g in model.named_grads().items()}
    model.zero_grad()
    loss_sum = 0.0
    correct = 0
    for inputs, labels in chunks.chunks():
        if control.stop_requested:
            for name, g in model.named_grads().items():
                g[...] = previous[name]
            return None
        threads.before_update()
        m = len(labels)
        logits = model.forward(inputs, training=True)
        loss_value = loss_fn.forward(logits, labels)
        if not math.isfinite(loss_value):
            raise _Diverged(loss_value)
        correct += int(np.count_nonzero(logits.argmax(axis=1) == labels))
        model.backward(loss_fn.backward(weight=m / n), input_grad=False, accumulate=True)
        threads.after_update()
        loss_sum += loss_value * m
    optimizer.step(model.parameters(), model.named_grads())
    return loss_sum / n, correct
