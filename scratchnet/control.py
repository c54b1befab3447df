"""Thread-safe requests to a running training loop: stop, pause, resume, single step, and a new
learning rate. The loop checks them between updates (and between chunks of a full-batch step);
another thread (the GUI) makes them. Standard library only."""

from __future__ import annotations

import threading


class TrainingControl:
    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._stop = False
        self._paused = False
        self._steps_granted = 0
        self._new_lr: float | None = None

    @property
    def stop_requested(self) -> bool:
        return self._stop

    @property
    def paused(self) -> bool:
        return self._paused

    def stop(self) -> None:
        with self._cond:
            self._stop = True
            self._cond.notify_all()

    def pause(self) -> None:
        with self._cond:
            self._paused = True

    def resume(self) -> None:
        with self._cond:
            self._paused = False
            self._steps_granted = 0
            self._cond.notify_all()

    def step(self) -> None:
        """While paused, let exactly one more update run."""
        with self._cond:
            self._steps_granted += 1
            self._cond.notify_all()

    def set_learning_rate(self, lr: float) -> None:
        """Ask the loop to use this base learning rate from the next update on."""
        with self._cond:
            self._new_lr = float(lr)

    def take_learning_rate(self) -> float | None:
        """The pending learning rate, once; None when nothing changed."""
        if self._new_lr is None:
            return None
        with self._cond:
            lr, self._new_lr = self._new_lr, None
            return lr

    def wait_for_update(self) -> bool:
        """Block while paused (unless a single step was granted). True: go on; False: stop."""
        if not self._paused and not self._stop:
            return True
        with self._cond:
            while self._paused and not self._stop and self._steps_granted == 0:
                self._cond.wait(0.1)
            if self._stop:
                return False
            if self._paused:
                self._steps_granted -= 1
            return True
