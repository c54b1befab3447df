"""Thread-safe requests to a running training loop: stop, pause, resume, single step, a new
learning rate and a pace. The loop checks them between updates (and between chunks of a
full-batch step); another thread (the GUI) makes them. Standard library only.

The loop asks for a new learning rate once before each update (``take_learning_rate``), so the
control knows at which update each new rate took effect: ``rate_changes()``.

The pace (``set_speed``) is kept by whoever consumes the loop's logs: the window's worker calls
``wait_for_pace`` after each log, between updates, so the loop itself never sleeps."""

from __future__ import annotations

import math
import threading
import time
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
        self._speed: float | None = None  # updates per second; None: full speed
        self._released_at: float | None = None  # when wait_for_pace last let the loop go on

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

    @property
    def speed(self) -> float | None:
        """The requested updates per second, or None for full speed."""
        return self._speed

    def set_speed(self, updates_per_second: float | None) -> None:
        """Run at most this many updates per second from now on (None: full speed)."""
        if updates_per_second is not None and not (updates_per_second > 0 and math.isfinite(updates_per_second)):
            raise ValueError(f"the speed must be a positive number of updates per second, got {updates_per_second!r}")
        with self._cond:
            self._speed = None if updates_per_second is None else float(updates_per_second)
            self._cond.notify_all()  # a pace wait re-reads the new speed at once

    def wait_for_pace(self) -> bool:
        """Call after each update: sleep until the requested speed allows the next one, counted
        from the end of the previous wait (from now at the first call), at once at full speed. A
        new speed takes effect within the wait; a stop ends it. True: go on; False: stop."""
        with self._cond:
            since = self._released_at if self._released_at is not None else time.perf_counter()
            while not self._stop and self._speed is not None:
                remaining = since + 1.0 / self._speed - time.perf_counter()
                if remaining <= 0:
                    break
                self._cond.wait(min(remaining, 0.1))
            self._released_at = time.perf_counter()
            return not self._stop
