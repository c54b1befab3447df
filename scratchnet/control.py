"""Thread-safe requests to a running training loop: stop, pause, resume, single step, and a new
learning rate. The loop checks them between updates (and between chunks of a full-batch step);
another thread (the GUI) makes them. Standard library only.

The loop asks for a new learning rate once before each update (``take_learning_rate``), so the
control knows at which update each new rate took effect: ``rate_changes()``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import NamedTuple


class RateChange(NamedTuple):
    """A learning rate set mid-run: ``lr`` is the base rate from update number ``update`` on
    (updates count from 1; a schedule still scales it)."""

    update: int
    lr: float


class TrainingControl:
    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._stop = False
        self._paused = False
        self._steps_granted = 0
        self._new_lr: float | None = None
        self._updates_asked = 0  # updates that asked for a new learning rate so far
        self._rate_changes: list[RateChange] = []
        # called in the loop's thread while it waits paused between updates: with False as it
        # starts waiting (the previous update is over), with True just before a single step runs
        self.between_updates: Callable[[bool], None] | None = None

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
        """The pending learning rate, once; None when nothing changed. The loop calls this once
        right before each update."""
        self._updates_asked += 1
        if self._new_lr is None:
            return None
        with self._cond:
            lr, self._new_lr = self._new_lr, None
            self._rate_changes.append(RateChange(self._updates_asked, lr))
            return lr

    @property
    def updates_started(self) -> int:
        """How many updates the loop has begun (the number of the current or last update)."""
        return self._updates_asked

    def rate_changes(self) -> list[RateChange]:
        """Every learning rate the loop has taken, with the first update that used it."""
        with self._cond:
            return list(self._rate_changes)

    def wait_for_update(self) -> bool:
        """Block while paused (unless a single step was granted). True: go on; False: stop."""
        if not self._paused and not self._stop:
            return True
        hook = self.between_updates
        if hook is not None and self._paused:
            hook(False)
        with self._cond:
            while self._paused and not self._stop and self._steps_granted == 0:
                self._cond.wait(0.1)
            if self._stop:
                return False
            stepping = self._paused
            if stepping:
                self._steps_granted -= 1
        if stepping and hook is not None:
            hook(True)
        return True
