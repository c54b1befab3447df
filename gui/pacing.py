"""The speed control: how many updates a second a window run may make, and what slow motion shows.

The slider (``speedSlider``) goes from 1 update per second to full speed. The pace is kept by the
worker between updates (``TrainingControl.wait_for_pace``), never on the GUI thread, and can be
changed mid-run. At ``SLOW_MOTION_MAX`` updates a second or fewer the run is in slow motion: the
worker sends, with every update, its loss, the mini-batch it used with the predictions after it
(``batch_preview``) and a copy of the weights, and the window redraws them all at once.
The widgets (the slider, the strip of digits) are in ``speed_control``.
"""

from __future__ import annotations

import numpy as np

from scratchnet.network import Sequential

# slider positions, slowest first; None is full speed (the default, and that of command-line runs)
SPEEDS: tuple[float | None, ...] = (1, 2, 5, 10, 20, 50, 100, 200, None)
SLOW_MOTION_MAX = 5  # updates per second at or below which every update is shown
WATCH_SPEED = 50  # what a preset that is not marked "fast" starts at: Quick start in about a minute
PREVIEW_DIGITS = 16  # the images of a mini-batch shown in slow motion

SPEED_TIP = (
    "How fast the run goes: from one update (one step of the weights) per second to full speed. "
    "At 5 updates a second or slower, every update shows its loss, the digits of its mini-batch "
    "with what the network now predicts for them, and the new weights. You can change it while a "
    "run trains."
)


def speed_text(speed: float | None) -> str:
    if speed is None:
        return "full speed"
    return f"{speed:g} update{'s' if speed != 1 else ''}/s"


def is_slow_motion(speed: float | None) -> bool:
    return speed is not None and speed <= SLOW_MOTION_MAX


PREVIEW_FEATURES = 784  # slow motion shows the mini-batch when its inputs are 28x28 images


def batch_preview(model: Sequential, x: np.ndarray, y: np.ndarray, rows: np.ndarray, loss: float) -> dict:
    """What slow motion shows of one update: its loss, and the first ``PREVIEW_DIGITS`` images of
    its mini-batch (copies) with their labels and the model's predictions after the update."""
    rows = np.asarray(rows[:PREVIEW_DIGITS], dtype=np.intp)
    images = x[rows].copy()
    return {"loss": float(loss), "images": images, "labels": y[rows].copy(),
            "predictions": model.predict(images), "batch_size": int(len(rows))}
