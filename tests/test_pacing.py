"""The speed control: the pace is kept between updates by the worker, changes mid-run take effect,
and slow motion shows every update's loss, mini-batch and weights."""

from __future__ import annotations

import threading
import time

import pytest

from gui.pacing import SLOW_MOTION_MAX, SPEEDS, WATCH_SPEED
from scratchnet.control import TrainingControl
from scratchnet.presets import PRESETS

RUN_TIMEOUT = 60_000


def test_control_starts_at_full_speed_and_rejects_nonsense():
    control = TrainingControl()
    assert control.speed is None  # command-line runs never set a pace
    start = time.perf_counter()
    for _ in range(1000):
        assert control.wait_for_pace()
    assert time.perf_counter() - start < 0.5
    for bad in (0, -1, float("nan"), float("inf")):
        with pytest.raises(ValueError, match="updates per second"):
            control.set_speed(bad)


def test_wait_for_pace_spaces_updates_and_a_new_speed_cuts_a_wait_short():
    control = TrainingControl()
    control.set_speed(20)
    start = time.perf_counter()
    for _ in range(5):
        control.wait_for_pace()
    assert 0.25 <= time.perf_counter() - start < 0.45  # 5 intervals of 50 ms, the first one too

    control.set_speed(0.2)  # 5 s per update, then full speed from another thread after 0.2 s
    threading.Timer(0.2, control.set_speed, args=(None,)).start()
    start = time.perf_counter()
    control.wait_for_pace()
    assert time.perf_counter() - start < 1.0

    control.set_speed(0.2)
    threading.Timer(0.2, control.stop).start()
    assert control.wait_for_pace() is False


def small_run(window, n_train: int = 640, epochs: int = 1) -> None:
    """Mini-batches of 64: n_train / 64 updates per epoch."""
    panel = window.training_panel
    panel.train_size_spin.setValue(n_train)
    panel.epochs_spin.setValue(epochs)
    assert window.run_config().batch_size == 64


def set_speed(window, speed) -> None:
    window.speed_slider.setValue(SPEEDS.index(speed))
    assert window.controller.speed == speed


def test_the_slider_exists_from_the_start_at_full_speed(window):
    slider = window.speed_slider
    assert slider.objectName() == "speedSlider" and slider.toolTip()
    assert window.controller.speed is None and SPEEDS[slider.value()] is None
    assert window.speed_control.label.text() == "full speed"
    slider.setValue(0)
    assert window.controller.speed == 1 and window.speed_control.label.text() == "1 update/s"


def test_at_5_updates_a_second_a_run_of_n_updates_takes_about_n_over_5_seconds(qtbot, window):
    small_run(window)  # 10 updates
    set_speed(window, 5)
    from PySide6.QtCore import QObject

    refresher = window.findChild(QObject, "viewRefresher")
    shown, models = [], []

    def on_update(update, preview):  # connected after the window's own slot: sees what it drew
        shown.append((update, preview))
        models.append((window.current_model, refresher.context.model))

    window.controller.update_shown.connect(on_update)
    start = time.perf_counter()
    with qtbot.waitSignal(window.training_finished, timeout=RUN_TIMEOUT) as finished:
        window.start_training()
    elapsed = time.perf_counter() - start
    run = finished.args[0]
    assert run.status == "finished" and run.result["update"] == 10
    # a paced interval of 0.2 s after each of the 10 updates, plus set-up and evaluation
    assert 1.9 <= elapsed < 2.0 + 2.0, elapsed
    # slow motion: every update reached the window with its loss, mini-batch and predictions
    assert [update for update, _ in shown] == list(range(1, 11))
    losses = run.trace.view()[:, 1]
    for update, preview in shown:
        assert preview["loss"] == pytest.approx(losses[update - 1])
        assert preview["images"].shape == (16, 784) and preview["predictions"].shape == (16,)
    # and the weights: each update brought a new copy, which the views were given at once
    assert len({id(current) for current, _ in models}) == 10
    assert all(viewed is current for current, viewed in models)
    strip = window.batch_strip
    assert strip.isVisible() and strip.caption.text().startswith("Update 10: loss")


def test_full_speed_is_not_paced_and_shows_no_slow_motion(qtbot, window):
    small_run(window, n_train=6400)  # 100 updates: 20 s at 5 a second
    start = time.perf_counter()
    with qtbot.waitSignal(window.training_finished, timeout=RUN_TIMEOUT):
        window.start_training()
    assert time.perf_counter() - start < 5
    assert not window.batch_strip.isVisible()


def test_changing_the_speed_mid_run_takes_effect(qtbot, window):
    small_run(window, n_train=1280)  # 20 updates: 19 s at 1 a second
    set_speed(window, 1)
    start = time.perf_counter()
    with qtbot.waitSignal(window.training_finished, timeout=RUN_TIMEOUT) as finished:
        window.start_training()
        qtbot.waitUntil(lambda: window.progress.get("update", 0) >= 3, timeout=10_000)
        assert time.perf_counter() - start >= 1.9  # updates 2 and 3 each waited their second
        window.speed_slider.setValue(len(SPEEDS) - 1)  # the user drags to full speed
    assert finished.args[0].result["update"] == 20
    assert time.perf_counter() - start < 6


def test_presets_marked_fast_run_at_full_speed_the_others_at_a_watchable_pace(window):
    from test_gui_presets import choose_preset

    assert not PRESETS["quick-start"].fast and WATCH_SPEED > SLOW_MOTION_MAX
    choose_preset(window, "best-accuracy")
    assert PRESETS["best-accuracy"].fast and window.controller.speed is None
    choose_preset(window, "quick-start")
    assert window.controller.speed == WATCH_SPEED
    choose_preset(window, "three-descents")
    assert window.controller.speed is None


@pytest.mark.parametrize("descent", ["mini", "sgd", "full"])
def test_batch_logs_name_the_rows_of_their_last_update(mnist, descent):
    """What slow motion shows as "this mini-batch": with a log after every update, the rows of
    one epoch's logs are each training row exactly once (a shuffled partition of the set)."""
    import numpy as np

    from scratchnet.run_config import RunConfig
    from scratchnet.training import train

    data = mnist.subset(256)
    config = RunConfig(descent=descent, batch_size=64, epochs=2, learning_rate=0.01, optimizer="sgd")
    model = config.build_model(784, 10)
    logs = [log for log in train(model, config.build_optimizer(), data.x_train, data.y_train,
                                 config.train_config(log_interval=0.0)) if log["event"] == "batch"]
    if descent == "full":
        assert len(logs) == 2 and all(log["rows"] is None for log in logs)
        return
    per_epoch = 256 // (64 if descent == "mini" else 1)
    assert len(logs) == 2 * per_epoch
    for epoch in (0, 1):
        rows = np.concatenate([log["rows"] for log in logs[epoch * per_epoch:(epoch + 1) * per_epoch]])
        assert sorted(rows.tolist()) == list(range(256))
    assert logs[0]["rows"].tolist() != list(range(len(logs[0]["rows"])))  # shuffled, not in order
