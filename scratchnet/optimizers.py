"""Optimisers: each owns its per-parameter state, keyed by parameter name, and implements only
its update rule. The rules and defaults follow ``torch.optim`` so results can be compared.

With g the gradient (plus weight_decay * p when weight decay is set), t the step count:
- SGD:       p -= lr * g
- Momentum:  b = mu * b + g;            p -= lr * b             (b starts as g)
- Nesterov:  b = mu * b + g;            p -= lr * (g + mu * b)
- RMSProp:   s = rho * s + (1 - rho) g^2; p -= lr * g / (sqrt(s) + eps)
- Adam:      m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g^2;
             p -= lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)
"""

from __future__ import annotations

import math

import numpy as np


def _check(name: str, value: float, low: float, high: float = math.inf, *, low_open: bool = False) -> float:
    value = float(value)
    ok = math.isfinite(value) and (value > low if low_open else value >= low) and value < high
    if not ok:
        bound = f"{'>' if low_open else '>='} {low}" + (f" and < {high}" if high != math.inf else "")
        raise ValueError(f"{name} must be a finite number {bound}, got {value!r}")
    return value


class Optimizer:
    """Base: holds the learning rate and weight decay, and per-parameter state in ``self.state``."""

    def __init__(self, lr: float, weight_decay: float = 0.0) -> None:
        self.lr = _check("learning rate", lr, 0.0, low_open=True)
        self.weight_decay = _check("weight decay", weight_decay, 0.0)
        self.state: dict[str, dict[str, np.ndarray]] = {}
        self.steps = 0
        # one scratch array per parameter, so an update allocates nothing (not optimiser state)
        self._scratch: dict[str, np.ndarray] = {}

    def step(self, params: dict[str, np.ndarray], grads: dict[str, np.ndarray]) -> None:
        """Update every array of ``params`` in place from ``grads`` with the same names."""
        self.steps += 1
        for name, p in params.items():
            g = grads[name]
            if self.weight_decay:
                g = g + p.dtype.type(self.weight_decay) * p
            self._update(name, p, g)

    def _update(self, name: str, p: np.ndarray, g: np.ndarray) -> None:
        raise NotImplementedError

    def scratch(self, name: str, like: np.ndarray) -> np.ndarray:
        """A reusable array of ``like``'s shape and dtype; its contents are garbage."""
        tmp = self._scratch.get(name)
        if tmp is None or tmp.shape != like.shape or tmp.dtype != like.dtype:
            tmp = self._scratch[name] = np.empty_like(like)
        return tmp

    def _buffer(self, name: str, key: str, like: np.ndarray) -> np.ndarray:
        slot = self.state.setdefault(name, {})
        if key not in slot:
            slot[key] = np.zeros_like(like)
        return slot[key]

    def get_config(self) -> dict:
        raise NotImplementedError


class SGD(Optimizer):
    """Plain, momentum or Nesterov gradient descent (torch.optim.SGD with dampening 0)."""

    def __init__(self, lr: float, momentum: float = 0.0, nesterov: bool = False, weight_decay: float = 0.0) -> None:
        super().__init__(lr, weight_decay)
        self.momentum = _check("momentum", momentum, 0.0, 1.0)
        if nesterov and self.momentum == 0.0:
            raise ValueError("Nesterov momentum needs a momentum > 0")
        self.nesterov = bool(nesterov)

    def _update(self, name: str, p: np.ndarray, g: np.ndarray) -> None:
        lr = p.dtype.type(self.lr)
        tmp = self.scratch(name, p)
        if self.momentum == 0.0:
            p -= np.multiply(g, lr, out=tmp)
            return
        mu = p.dtype.type(self.momentum)
        slot = self.state.setdefault(name, {})
        if "momentum_buffer" not in slot:
            slot["momentum_buffer"] = np.array(g, dtype=p.dtype, copy=True)
        else:
            buf = slot["momentum_buffer"]
            buf *= mu
            buf += g
        buf = slot["momentum_buffer"]
        if self.nesterov:
            np.multiply(buf, mu, out=tmp)
            tmp += g
            tmp *= lr
            p -= tmp
        else:
            p -= np.multiply(buf, lr, out=tmp)

    def get_config(self) -> dict:
        kind = "nesterov" if self.nesterov else ("momentum" if self.momentum else "sgd")
        return {"name": kind, "lr": self.lr, "momentum": self.momentum, "weight_decay": self.weight_decay}


class RMSProp(Optimizer):
    """torch.optim.RMSprop with alpha = rho, no momentum, not centred."""

    def __init__(self, lr: float, rho: float = 0.9, eps: float = 1e-8, weight_decay: float = 0.0) -> None:
        super().__init__(lr, weight_decay)
        self.rho = _check("rho", rho, 0.0, 1.0)
        self.eps = _check("eps", eps, 0.0, low_open=True)

    def _update(self, name: str, p: np.ndarray, g: np.ndarray) -> None:
        t = p.dtype.type
        s = self._buffer(name, "square_avg", p)
        s *= t(self.rho)
        s += t(1 - self.rho) * g * g
        p -= t(self.lr) * g / (np.sqrt(s) + t(self.eps))

    def get_config(self) -> dict:
        return {"name": "rmsprop", "lr": self.lr, "rho": self.rho, "eps": self.eps, "weight_decay": self.weight_decay}


class Adam(Optimizer):
    """torch.optim.Adam (not AMSGrad), with L2 weight decay added to the gradient."""

    def __init__(
        self, lr: float, beta1: float = 0.9, beta2: float = 0.999, eps: float = 1e-8, weight_decay: float = 0.0
    ) -> None:
        super().__init__(lr, weight_decay)
        self.beta1 = _check("beta1", beta1, 0.0, 1.0)
        self.beta2 = _check("beta2", beta2, 0.0, 1.0)
        self.eps = _check("eps", eps, 0.0, low_open=True)

    def _update(self, name: str, p: np.ndarray, g: np.ndarray) -> None:
        t = p.dtype.type
        m = self._buffer(name, "exp_avg", p)
        v = self._buffer(name, "exp_avg_sq", p)
        m *= t(self.beta1)
        m += t(1 - self.beta1) * g
        v *= t(self.beta2)
        v += t(1 - self.beta2) * g * g
        step_size = self.lr / (1 - self.beta1**self.steps)
        denom = np.sqrt(v) / t(math.sqrt(1 - self.beta2**self.steps)) + t(self.eps)
        p -= t(step_size) * m / denom

    def get_config(self) -> dict:
        return {
            "name": "adam", "lr": self.lr, "beta1": self.beta1, "beta2": self.beta2,
            "eps": self.eps, "weight_decay": self.weight_decay,
        }


OPTIMIZER_NAMES = ("sgd", "momentum", "nesterov", "rmsprop", "adam")


def make_optimizer(name: str, lr: float, *, momentum: float = 0.9, weight_decay: float = 0.0) -> Optimizer:
    """Build an optimiser by its user-facing name; ``momentum`` applies to momentum and nesterov."""
    if name == "sgd":
        return SGD(lr, weight_decay=weight_decay)
    if name == "momentum":
        return SGD(lr, momentum=momentum, weight_decay=weight_decay)
    if name == "nesterov":
        return SGD(lr, momentum=momentum, nesterov=True, weight_decay=weight_decay)
    if name == "rmsprop":
        return RMSProp(lr, weight_decay=weight_decay)
    if name == "adam":
        return Adam(lr, weight_decay=weight_decay)
    raise ValueError(f"unknown optimiser {name!r}; choose one of {', '.join(OPTIMIZER_NAMES)}")
