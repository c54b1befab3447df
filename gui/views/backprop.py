"""The Backprop tab (``backpropView``): follow one digit forward and backward through the window's
model, check the gradient, take one step, see why the network reads the digit as it does, and
how noisy mini-batch gradients are.

Pick the digit at the top: a test image by index, the next misclassified one, or the drawing
pad's digit (with the label to take the loss against). The pages below:

- **Step through** (``backprop_steps.StepThroughPage``): the forward pass layer by layer, the
  loss, then the backward pass, with any unit's equations.
- **Gradient check**, **One step**, **Why this digit?**, **Gradient noise**
  (``backprop_tools``).

The window's model arrives through ``set_context`` (the ``ViewRefresher``: at once when the tab
is in front, at most about once a second while a run trains). Every number is computed by
``scratchnet.explain`` in a ``JobRunner`` thread; a result for an older digit or model is
dropped. Only what the visible page shows is computed. The gradient noise (a second or so of
work) is recomputed when asked, and after a finished epoch while its page is in front, but then
at most ``VIEW_WORK_SHARE`` of the time, so that training keeps its speed.

``BackpropLink`` wires the tab into the window: the running state, finished epochs, Keep
(the stepped copy becomes the window's model), "Show its backprop" of the misclassified digits
and the drawing pad, and the jobs' end when the window closes.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
from PySide6.QtCore import QDeadlineTimer, QEvent, QObject, Qt, Signal, Slot
from PySide6.QtWidgets import QHBoxLayout, QLabel, QSpinBox, QTabWidget, QVBoxLayout, QWidget

from scratchnet.explain import gradient_check, gradient_noise, integrated_gradients, one_step, trace
from scratchnet.network import Sequential

from .backprop_jobs import Job, JobRunner
from .backprop_stages import model_titles
from .backprop_steps import StepThroughPage
from .backprop_tools import NOISE_BATCH_SIZES, NOISE_IMAGES, GradCheckPage, NoisePage, OneStepPage, SaliencyPage
from .feature_maps import DELTAS, MAP_KIND_TIP, MAP_KINDS, FeatureMapsView
from .images import digit_pixmap
from .predictions import SORT_BY_INDEX, ModelContext, predictions_on_test_set
from .widgets import make_button, make_combo

SOURCE_TEST = "test"
SOURCE_DRAWING = "drawing"
PREVIEW_SIDE = 56
NOISE_WORK_SHARE = 0.05  # while training, the gradient noise takes at most this share of the time
NOISE_SECONDS_GUESS = 1.0  # what a measurement is taken to cost before one has been timed
CLOSE_WAIT_MS = 2000
NO_MODEL = ("No model yet. Train one (the Start button on the left; Quick start takes a few seconds) "
            "or open a saved one (File → Open model…), then come back here to follow a digit through it.")
NO_MODEL_REASON = "No model yet: train or open one first."
CONV_NOTE = ("A convolutional network: the pages that step through a network, check its gradients and take "
             "a step follow networks of Dense layers only, for now. Below, backpropagation's δ = dL/d(map) "
             "for the chosen label, channel by channel, at every convolution, activation and pooling "
             "(or the maps themselves).")
BASE_TIP = "baseToolTip"  # the dynamic property that keeps a control's own tooltip


@dataclass(frozen=True, eq=False)
class DigitChoice:
    """The digit the tab follows: ``pixels`` (features,), the ``label`` the loss is taken
    against, where it came from (``source``, and the test ``index``). Compared by identity: a
    new choice is a new digit, even with the same pixels."""

    pixels: np.ndarray
    label: int
    source: str
    index: int | None = None

    def caption(self, names: list[str]) -> str:
        name = names[self.label] if 0 <= self.label < len(names) else str(self.label)
        if self.source == SOURCE_TEST:
            return f"Test image #{self.index}, labelled {name}"
        return f"The drawing pad's digit, taken as a {name}"


def same_key(a: tuple | None, b: tuple | None) -> bool:
    """Whether two job keys name the same computation: the same objects (models, digits, data
    sets: by identity) and equal numbers."""
    if a is None or b is None or len(a) != len(b):
        return False
    return all(x is y or (isinstance(x, (int, float, str)) and type(x) is type(y) and x == y)
               for x, y in zip(a, b, strict=True))


def _set_enabled(widget, reason: str | None) -> None:
    """Enable ``widget``, or disable it with ``reason`` added to its tooltip."""
    base = widget.property(BASE_TIP)
    if base is None:
        base = widget.toolTip()
        widget.setProperty(BASE_TIP, base)
    widget.setEnabled(reason is None)
    widget.setToolTip(base if reason is None else f"{base}\nNot available: {reason}")


class BackpropView(QWidget):
    """Signal ``keep_requested(object)``: the user kept the stepped copy (a ``Sequential``)."""

    # set_context reads nothing precomputed: the test-set predictions (for "Next misclassified")
    # are worked out only when asked, so that a visible tab costs a running training nothing more
    PREPARE = ()
    keep_requested = Signal(object)

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setObjectName("backpropView")
        self._context = ModelContext(None, None)
        self._choice: DigitChoice | None = None
        self._drawn: np.ndarray | None = None
        self._drawn_guess = 0
        self.training = False
        self.trace = None
        self.problem: str | None = NO_MODEL_REASON
        self._requested: dict[str, object] = {}  # kind -> key of the last job asked for
        self._shown: dict[str, object] = {}  # kind -> key of the result on screen
        self._check_draws = 0
        self._noise_draws = 0
        self._epoch_pending = False
        self._noise_seconds = 0.0
        self._noise_ended = -float("inf")
        self.runner = JobRunner(self)
        self.runner.finished.connect(self._on_job)
        names = self._context.class_names

        self.source_combo = make_combo("backpropSource", "Which digit to follow.",
                                       [("test image #", SOURCE_TEST), ("the drawing pad's digit", SOURCE_DRAWING)],
                                       self._on_source)
        self.index_spin = QSpinBox()
        self.index_spin.setObjectName("backpropTestIndex")
        self.index_spin.setRange(0, 0)
        self.index_spin.setToolTip("The index of the test image to follow.")
        self.index_spin.valueChanged.connect(self._on_index)
        self.next_wrong_button = make_button("Next misclassified ▶", "nextMisclassifiedButton",
                                             "The next test image (by index) that the model gets wrong.",
                                             self.next_misclassified)
        self.label_combo = make_combo("backpropLabel", "The class the loss is taken against: the test set's "
                                      "label, or for a drawing, what you meant to draw.",
                                      [(name, k) for k, name in enumerate(names)], self._on_label)
        self.preview = QLabel()
        self.preview.setObjectName("backpropDigit")
        self.preview.setFixedSize(PREVIEW_SIDE, PREVIEW_SIDE)
        self.caption = QLabel()
        self.caption.setObjectName("backpropCaption")
        self.note = QLabel()
        self.note.setObjectName("backpropNote")
        self.note.setWordWrap(True)

        self.next_button = make_button("Next ▶", "backpropNextButton",
                                       "The next stage: forward layer by layer, the loss, then backward.",
                                       lambda: self.steps.next())
        self.back_button = make_button("◀ Back", "backpropBackButton", "The previous stage.",
                                       lambda: self.steps.back())
        self.steps = StepThroughPage(self.next_button, self.back_button)
        self.check = GradCheckPage()
        self.check.recheck_requested.connect(self.recheck)
        self.stepper = OneStepPage(names)
        self.stepper.step_requested.connect(self.take_step)
        self.stepper.keep_requested.connect(self.keep_step)
        self.saliency = SaliencyPage(names)
        self.saliency.class_changed.connect(self._update_pages)
        self.noise = NoisePage()
        self.noise.recompute_requested.connect(lambda: self.compute_noise(auto=False))
        self.pages = QTabWidget()
        self.pages.setObjectName("backpropPages")
        for page, title in ((self.steps, "Step through"), (self.check, "Gradient check"), (self.stepper, "One step"),
                            (self.saliency, "Why this digit?"), (self.noise, "Gradient noise")):
            self.pages.addTab(page, title)
        self.pages.currentChanged.connect(self._update_pages)
        # a convolutional model: δ maps per channel instead of the pages
        self.conv_maps = FeatureMapsView()
        self.conv_maps.setObjectName("backpropConvMaps")
        self.conv_maps.set_kind(DELTAS)
        self.conv_maps.hide()
        self.conv_kind_combo = make_combo("backpropConvKind", MAP_KIND_TIP, list(reversed(MAP_KINDS)),
                                          lambda: self.conv_maps.set_kind(self.conv_kind_combo.currentData()))
        self.conv_kind_combo.hide()
        self._layout()
        self.set_context(self._context)

    def _layout(self) -> None:
        picker = QHBoxLayout()
        picker.addWidget(QLabel("Follow"))
        picker.addWidget(self.source_combo)
        picker.addWidget(self.index_spin)
        picker.addWidget(self.next_wrong_button)
        picker.addSpacing(8)
        picker.addWidget(QLabel("label"))
        picker.addWidget(self.label_combo)
        picker.addWidget(self.conv_kind_combo)
        picker.addStretch(1)
        texts = QVBoxLayout()
        texts.addLayout(picker)
        texts.addWidget(self.caption)
        top = QHBoxLayout()
        top.addWidget(self.preview, 0, Qt.AlignTop)
        top.addLayout(texts, 1)
        column = QVBoxLayout(self)
        column.setContentsMargins(4, 4, 4, 4)
        column.addLayout(top)
        column.addWidget(self.note)
        column.addWidget(self.pages, 1)
        column.addWidget(self.conv_maps, 1)

    def _say(self, text: str) -> None:
        """The message above the pages (hidden while there is none: it would take a line)."""
        self.note.setText(text)
        self.note.setVisible(bool(text))

    # ------------------------------------------------------------------ the window's model
    def set_context(self, context: ModelContext) -> None:
        """The window's model and data set (the refresher calls this on the GUI thread)."""
        model_changed = context.model is not self._context.model
        dataset_changed = context.dataset is not self._context.dataset
        self._context = context
        names = context.class_names
        self._set_names(names)
        dataset = context.dataset
        if dataset is not None:
            self.index_spin.blockSignals(True)
            self.index_spin.setMaximum(len(dataset.y_test) - 1)
            self.index_spin.blockSignals(False)
        if context.model is not None and context.model.dense_layers:
            kinds, titles = model_titles(context.model)
            self.steps.set_layers(kinds, titles, names)
        else:
            self.steps.set_layers([], [], names)
        if self._choice is None and self.source_combo.currentData() == SOURCE_TEST:
            self._choice = self._test_choice(self.index_spin.value())
        elif self._choice is not None and self._choice.source == SOURCE_TEST and dataset_changed:
            self._choice = self._test_choice(self._choice.index)
        if model_changed and self.stepper.result is not None:
            kept = self.stepper.result.model is context.model
            self.stepper.clear("Kept: the window's model is now the stepped copy; take another step from there."
                               if kept else "The window's model changed since that step: take it again.")
        self._refresh()

    def set_training(self, running: bool) -> None:
        """The window started (True) or ended (False) its runs."""
        self.training = running
        self._update_buttons()
        if running:
            # the work budget counts from the run's start: a short run is not measured while it trains
            self._noise_ended = time.perf_counter()
            self._noise_seconds = max(self._noise_seconds, NOISE_SECONDS_GUESS)
        else:
            self._epoch_pending = True  # the run's final weights

    def epoch_finished(self) -> None:
        """A run finished an epoch: the gradient noise may be measured again."""
        self._epoch_pending = True

    # ------------------------------------------------------------------ picking the digit
    @Slot(int)
    def show_test_digit(self, index: int) -> None:
        """Follow test image ``index``."""
        self.index_spin.blockSignals(True)
        self.index_spin.setMaximum(max(self.index_spin.maximum(), index))
        self.index_spin.setValue(index)
        self.index_spin.blockSignals(False)
        self._set_source(SOURCE_TEST)
        self._choose(self._test_choice(index))

    @Slot(object)
    def set_drawn_digit(self, digit: np.ndarray | None, guess: int | None = None) -> None:
        """The drawing pad's prepared input (features,), or None; ``guess``: its predicted class."""
        self._drawn = None if digit is None else np.array(digit, copy=True)
        if guess is not None:
            self._drawn_guess = guess

    @Slot()
    def show_drawing(self) -> None:
        """Follow the drawing pad's digit, taken as the pad's prediction unless a label is chosen."""
        self._set_source(SOURCE_DRAWING)
        self._choose(self._drawing_choice(self._drawn_guess))

    @Slot()
    def next_misclassified(self) -> None:
        """Follow the next test image (by index) that the model gets wrong; the test-set
        predictions are computed first, off the GUI thread, unless another view has them."""
        context = self._context
        if context.model is None or not context.model.dense_layers:
            return
        if not context.usable:
            self._say("The model does not fit this data set: no test image to follow.")
            return
        if not context.has(predictions_on_test_set):
            self.next_wrong_button.setEnabled(False)
            self._submit("wrong", (context.model, context.dataset),
                         lambda: context.computed(predictions_on_test_set))
            return
        wrong = context.predictions.wrong(sort=SORT_BY_INDEX)
        if len(wrong) == 0:
            self._say("The model gets every test image right: no misclassified digit to follow.")
            return
        current = self._choice.index if self._choice is not None and self._choice.source == SOURCE_TEST else -1
        later = wrong[wrong > current]
        self.show_test_digit(int(later[0] if len(later) else wrong[0]))

    def _test_choice(self, index: int) -> DigitChoice | None:
        dataset = self._context.dataset
        if dataset is None or not 0 <= index < len(dataset.y_test):
            return None
        return DigitChoice(dataset.x_test[index], int(dataset.y_test[index]), SOURCE_TEST, index)

    def _drawing_choice(self, label: int) -> DigitChoice | None:
        return None if self._drawn is None else DigitChoice(self._drawn, int(label), SOURCE_DRAWING)

    def _choose(self, choice: DigitChoice | None) -> None:
        self._choice = choice
        if self.stepper.result is not None:
            self.stepper.clear("")  # that step was for another digit
        self._refresh()

    def _set_source(self, source: str) -> None:
        self.source_combo.blockSignals(True)
        self.source_combo.setCurrentIndex(self.source_combo.findData(source))
        self.source_combo.blockSignals(False)

    @Slot()
    def _on_source(self) -> None:
        if self.source_combo.currentData() == SOURCE_TEST:
            self._choose(self._test_choice(self.index_spin.value()))
        else:
            self.show_drawing()

    @Slot(int)
    def _on_index(self, index: int) -> None:
        if self.source_combo.currentData() == SOURCE_TEST:
            self._choose(self._test_choice(index))

    @Slot()
    def _on_label(self) -> None:
        label = self.label_combo.currentData()
        if self.source_combo.currentData() == SOURCE_DRAWING and label is not None:
            self._drawn_guess = int(label)
            self._choose(self._drawing_choice(label))

    def _set_names(self, names: list[str]) -> None:
        if [self.label_combo.itemText(k) for k in range(self.label_combo.count())] != list(names):
            self.label_combo.blockSignals(True)
            self.label_combo.clear()
            for k, name in enumerate(names):
                self.label_combo.addItem(name, k)
            self.label_combo.blockSignals(False)
        self.stepper.set_names(names)
        self.saliency.set_names(names)

    # ------------------------------------------------------------------ what to compute
    def _problem(self) -> str | None:
        """Why nothing can be traced now, or None."""
        model, choice, dataset = self._context.model, self._choice, self._context.dataset
        if model is None:
            return NO_MODEL_REASON
        if not model.dense_layers:
            return "this model has no Dense layer, so there is nothing to follow through it."
        if choice is None:
            if self.source_combo.currentData() == SOURCE_DRAWING:
                return "nothing is drawn on the pad yet: draw a digit in the Drawing pad tab."
            return "the test images are still loading." if dataset is None else "no such test image."
        if choice.pixels.size != model.input_size:
            side = int(round(choice.pixels.size ** 0.5))
            shape = f" ({side}×{side})" if side * side == choice.pixels.size else ""
            return (f"this model takes {model.input_size:,} inputs, but the digit has {choice.pixels.size:,} "
                    f"pixels{shape}: open a model made for these images, or train one.")
        if choice.label >= model.output_size:
            return f"this model has {model.output_size} classes, and the label is class {choice.label}."
        return None

    def _refresh(self) -> None:
        """Show the chosen digit, and compute what the visible page needs for it."""
        choice, names = self._choice, self._context.class_names
        self.problem = self._problem()
        self._show_choice(choice, names)
        self._update_buttons()
        if self.problem is not None:
            self._show_conv_maps(False)
            self._say(NO_MODEL if self._context.model is None else f"Cannot follow the digit: {self.problem}")
            self._shown.clear()
            self._requested.clear()
            self.trace = None
            self.steps.set_trace(None)
            self.check.clear("")
            self.saliency.clear("")
            self.noise.clear("")
            return
        if self._show_conv_maps(self._context.model.is_image_network):
            self._say(CONV_NOTE)
            self.conv_maps.compute(self._context.model, choice.pixels, choice.label)
            return
        self._say("")
        self._submit("trace", (self._context.model, choice), self._trace_job(self._context.model, choice))
        self._update_pages()

    def _show_conv_maps(self, image_network: bool) -> bool:
        """The δ maps instead of the pages for a convolutional model; returns ``image_network``."""
        self.pages.setVisible(not image_network)
        self.conv_maps.setVisible(image_network)
        self.conv_kind_combo.setVisible(image_network)
        return image_network

    def _show_choice(self, choice: DigitChoice | None, names: list[str]) -> None:
        if choice is None:
            self.preview.clear()
            self.caption.setText("")
            return
        if choice.pixels.size == 784:
            self.preview.setPixmap(digit_pixmap(choice.pixels, PREVIEW_SIDE))
        else:
            self.preview.clear()
        self.caption.setText(choice.caption(names))
        self.label_combo.blockSignals(True)
        self.label_combo.setCurrentIndex(max(self.label_combo.findData(choice.label), 0))
        self.label_combo.blockSignals(False)
        drawing = choice.source == SOURCE_DRAWING
        _set_enabled(self.label_combo, None if drawing else "a test image's label is the test set's.")
        self.index_spin.setEnabled(not drawing)

    def _update_buttons(self) -> None:
        reason = self.problem
        context = self._context
        _set_enabled(self.next_wrong_button, reason if context.model is None or not context.model.dense_layers else
                     None if context.usable and not self.runner.busy("wrong")
                     else "the model does not fit this data set." if not context.usable else
                     "the test set's predictions are being computed.")
        for button in (self.check.recheck_button, self.stepper.step_button, self.noise.recompute_button):
            _set_enabled(button, reason)
        for button in (self.next_button, self.back_button):
            _set_enabled(button, reason)
        if reason is None:
            self.steps.update_buttons()  # Next and Back follow the stage and the trace
        kept = self.stepper.result is not None and self._shown.get("step") is not None \
            and self._shown["step"][0] is self._context.model
        _set_enabled(self.stepper.keep_button, "take a step first." if not kept else
                     "a run is training: stop it first (its next epoch would replace the model)."
                     if self.training else reason)

    @Slot()
    def _update_pages(self) -> None:
        """Compute what the page in front shows, when it shows something older."""
        if self.problem is not None or not self.isVisible() or self._context.model.is_image_network:
            return
        model, choice, page = self._context.model, self._choice, self.pages.currentWidget()
        if page is self.check:
            key = (model, choice, self._check_draws)
            if not same_key(self._shown.get("check"), key):
                self.check.summary.setText("Checking…")
                self._submit("check", key, self._check_job(model, choice, self._check_draws))
        elif page is self.saliency:
            target = self.saliency.target()
            key = (model, choice, target)
            if not same_key(self._shown.get("saliency"), key):
                self.saliency.summary.setText("Computing…")
                self._submit("saliency", key, self._saliency_job(model, choice, target))
        elif page is self.noise:
            self.compute_noise(auto=True)

    def _submit(self, kind: str, key: tuple, compute) -> None:
        if same_key(self._requested.get(kind), key) or same_key(self._shown.get(kind), key):
            return
        self._requested[kind] = key
        self.runner.submit(kind, key, compute)

    @Slot()
    def recheck(self) -> None:
        """Draw new weights for the gradient check."""
        self._check_draws += 1
        self._update_pages()

    @Slot(float)
    def take_step(self, lr: float) -> None:
        if self.problem is not None:
            return
        model, choice = self._context.model, self._choice
        self.stepper.summary.setText("Stepping…")
        self._submit("step", (model, choice, lr, time.perf_counter()), lambda: one_step(model, choice.pixels,
                                                                                       choice.label, lr))

    @Slot()
    def keep_step(self) -> None:
        result = self.stepper.result
        if result is None or self.training or not self.stepper.keep_button.isEnabled():
            return
        self.stepper.keep_button.setEnabled(False)
        self.keep_requested.emit(result.model)

    def compute_noise(self, auto: bool) -> None:
        """Measure the gradient noise at the current weights; ``auto``: only when the page is in
        front and shows an older model, and while training only after a finished epoch and within
        ``NOISE_WORK_SHARE`` of the time, counted from the run's start (a measurement's cost is
        guessed at ``NOISE_SECONDS_GUESS`` until one is timed)."""
        dataset, model = self._context.dataset, self._context.model
        if self.problem is not None or dataset is None:
            return
        if auto:
            if not self.isVisible() or self.pages.currentWidget() is not self.noise:
                return
            shown = self._shown.get("noise")
            if shown is not None and shown[0] is model:
                return
            if self.training:
                waited = time.perf_counter() - self._noise_ended
                if not self._epoch_pending or waited < self._noise_seconds / NOISE_WORK_SHARE:
                    return
        self._epoch_pending = False
        self._noise_draws += 1
        count = min(NOISE_IMAGES, len(dataset.y_train))
        x, y = dataset.x_train[:count], dataset.y_train[:count]
        sizes = [b for b in NOISE_BATCH_SIZES if b <= count]
        seed = self._noise_draws
        self.noise.status.setText(f"Measuring on {count:,} training images…")
        self._submit("noise", (model, dataset, seed),
                     lambda: gradient_noise(model, x, y, sizes, rng=np.random.default_rng(seed)))

    # ------------------------------------------------------------------ jobs
    @staticmethod
    def _trace_job(model: Sequential, choice: DigitChoice):
        return lambda: trace(model, choice.pixels, choice.label)

    @staticmethod
    def _check_job(model: Sequential, choice: DigitChoice, draw: int):
        return lambda: gradient_check(model, choice.pixels, choice.label, rng=np.random.default_rng(draw))

    @staticmethod
    def _saliency_job(model: Sequential, choice: DigitChoice, target: int):
        def compute():
            traced = trace(model, choice.pixels, choice.label)
            k = traced.predicted if target < 0 else target
            black = trace(model, np.zeros_like(choice.pixels), choice.label)
            return k, integrated_gradients(model, choice.pixels, k), float(traced.logits[k] - black.logits[k])
        return compute

    @Slot(object)
    def _on_job(self, job: Job) -> None:
        if same_key(self._requested.get(job.kind), job.key):
            del self._requested[job.kind]
        current = self._current_key(job.kind)
        if current is None or not same_key(job.key[:len(current)], current):
            return  # for an older digit or model: dropped (a newer one is on its way)
        if job.error is not None:
            self._show_error(job)
            return
        self._shown[job.kind] = job.key
        names = self._context.class_names
        if job.kind == "wrong":
            self._update_buttons()
            self.next_misclassified()
        elif job.kind == "trace":
            self.trace = job.result
            self.steps.set_trace(job.result)
            self._update_buttons()
        elif job.kind == "check":
            self.check.show_checks(job.result, self.steps.titles)
        elif job.kind == "saliency":
            k, attributions, change = job.result
            self.saliency.show_map(self._choice.pixels, attributions, k, names[k] if k < len(names) else str(k),
                                   change)
        elif job.kind == "step":
            self.stepper.show_step(job.result, job.key[2])
            self._update_buttons()
        elif job.kind == "noise":
            self._noise_seconds = job.seconds
            self._noise_ended = time.perf_counter()
            when = "during training, after an epoch" if self.training else "at the current weights"
            count = min(NOISE_IMAGES, len(self._context.dataset.y_train))
            self.noise.show_spreads(job.result, count, job.seconds, when)

    def _current_key(self, kind: str) -> tuple | None:
        """The start of the key a result of ``kind`` must have to be shown now."""
        if kind == "wrong":
            return (self._context.model, self._context.dataset)
        if self.problem is not None:
            return None
        if kind == "noise":
            return (self._context.model, self._context.dataset)
        return (self._context.model, self._choice)

    def _show_error(self, job: Job) -> None:
        message = f"{job.error}"
        if job.kind == "trace":
            self.trace = None
            self.steps.set_trace(None)
            self._say(f"Cannot follow the digit: {message}")
        elif job.kind == "check":
            self.check.clear(f"Cannot check: {message}")
        elif job.kind == "saliency":
            self.saliency.clear(f"Cannot compute: {message}")
        elif job.kind == "step":
            self.stepper.clear(f"Cannot step: {message}")
        elif job.kind == "noise":
            self.noise.clear(f"Cannot measure: {message}")
        elif job.kind == "wrong":
            self._update_buttons()
            self._say(f"Cannot find the misclassified digits: {message}")

    def showEvent(self, event) -> None:
        super().showEvent(event)
        choice = self._choice
        if choice is not None and choice.source == SOURCE_DRAWING and self._drawn is not None \
                and not np.array_equal(self._drawn, choice.pixels):
            self.show_drawing()  # drawn again since: follow the new drawing
            return
        self._update_pages()

    # The window's view tabs are a QStackedLayout, whose height for a width is the largest of all
    # its pages', hidden ones included: the wrapped texts here would make every tab scroll on a
    # 600-pixel screen. The tab lays its texts out within the height it gets instead.
    def hasHeightForWidth(self) -> bool:
        return False

    def heightForWidth(self, _width: int) -> int:
        return -1


class BackpropLink(QObject):
    """Wires a ``BackpropView`` into the main window (see the module docstring)."""

    def __init__(self, window, view: BackpropView, misclassified, pad) -> None:
        super().__init__(window)
        self.setObjectName("backpropLink")
        self._window = window
        self._view = view
        self._epochs = 0
        controller = window.controller
        controller.run_started.connect(self._on_run_started)
        controller.idle.connect(self._on_idle)
        controller.curves_changed.connect(self._on_curves)
        view.keep_requested.connect(self._keep)
        misclassified.detail.backprop_requested.connect(self.show_test_digit)
        pad.digit_changed.connect(self._on_drawn)
        pad.backprop_requested.connect(self.show_drawing)
        self._pad = pad
        window.installEventFilter(self)

    @Slot(int)
    def show_test_digit(self, index: int) -> None:
        self._view.show_test_digit(index)
        self._bring_to_front()

    @Slot()
    def show_drawing(self) -> None:
        self._on_drawn(self._pad.digit)
        self._view.show_drawing()
        self._bring_to_front()

    def _bring_to_front(self) -> None:
        self._view.pages.setCurrentWidget(self._view.steps)
        self._window.views.setCurrentWidget(self._view)

    @Slot(object)
    def _on_drawn(self, digit) -> None:
        probabilities = self._pad.bars.probabilities()
        guess = None if probabilities is None else int(np.argmax(probabilities))
        self._view.set_drawn_digit(digit, guess)

    @Slot(object)
    def _on_run_started(self, _run) -> None:
        self._epochs = 0
        self._view.set_training(True)

    @Slot(object)
    def _on_idle(self, _run) -> None:
        self._view.set_training(False)

    @Slot()
    def _on_curves(self) -> None:
        run = self._window.controller.run
        epochs = len(run.epochs) if run is not None else 0
        if epochs > self._epochs:
            self._epochs = epochs
            self._view.epoch_finished()

    @Slot(object)
    def _keep(self, model: Sequential) -> None:
        window = self._window
        if window.is_running:
            return
        controller = window.controller
        controller.set_model(model, controller.model_spec, controller.model_run)
        window.status.say("Kept the step: the window's model is now the stepped copy (one SGD step on one digit).")

    def eventFilter(self, watched, event) -> bool:
        if watched is self._window and event.type() == QEvent.Close:
            deadline = QDeadlineTimer(CLOSE_WAIT_MS)
            self._view.runner.shutdown(deadline)
            self._view.conv_maps.close_job(deadline)
        elif watched is self._window and event.type() == QEvent.Show:
            self._view.runner.reopen()
        return False
