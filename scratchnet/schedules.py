"""Learning-rate schedules: the factor applied to the base learning rate at a given epoch.

- constant: 1
- step:     gamma ** (epoch // step_size)       (halve every few epochs)
- cosine:   min_factor + (1 - min_factor) (1 + cos(pi epoch / epochs)) / 2
Epochs count from 0.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

SCHEDULES = ("constant", "step", "cosine")


@dataclass(frozen=True)
class Schedule:
    name: str = "constant"
    epochs: int = 1
    step_size: int = 0  # 0: a third of the run, at least 1 epoch
    gamma: float = 0.5
    min_factor: float = 0.0

    def __post_init__(self) -> None:
        if self.name not in SCHEDULES:
            raise ValueError(f"unknown schedule {self.name!r}; choose one of {', '.join(SCHEDULES)}")
        if self.epochs < 1:
            raise ValueError(f"schedule needs epochs >= 1, got {self.epochs}")
        if not 0 < self.gamma <= 1:
            raise ValueError(f"step-decay gamma must be in (0, 1], got {self.gamma}")

    def factor(self, epoch: int) -> float:
        if self.name == "step":
            step = self.step_size or max(1, self.epochs // 3)
            return self.gamma ** (epoch // step)
        if self.name == "cosine":
            progress = min(epoch, self.epochs) / self.epochs
            return self.min_factor + (1 - self.min_factor) * 0.5 * (1 + math.cos(math.pi * progress))
        return 1.0
