"""Optimisers: each owns its per-parameter state, keyed by parameter name, and implements only
its update rule. The rules and defaults follow ``torch.optim`` so results can be compared.

With g the gradient (plus weight_decay * p when weight decay is set), t the step count:
- SGD:       p -= lr * g
- Momentum:  b = mu * b + g;            p -= lr * b             (b starts as g)
- Nesterov:  b = mu * b + g;            p -= lr * (g + mu * b)
- RMSProp:   s = rho * s + (1 - rho) g^2; p -= lr * g / (sqrt(s) + eps)
- Adam:      m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g^2;
             p -= lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)

An optimiser is the only code that changes a parameter. ``step(params, grads)`` updates a whole
model. For the "optimizer step in backward" pattern, ``begin_step()`` counts one update and
``update_layer(i, layer)`` then applies it to one layer as soon as its gradients are ready (see
``Sequential.backward``'s ``on_grads``), while the weights it reads for the layers below are
still those of the forward pass.

``SGD`` without weight decay also takes a Dense layer's weight gradient as the product it comes
from (``OuterProductGrad``, G = x^T dL/dy, zero outside some rows): plain SGD folds lr into the
small factor and changes only the rows where G can be non-zero, and momentum adds G to its buffer
in those rows only. The values are the same as with the dense G, up to float summation order.
"""

from __future__ import annotations

import math
import operator

import numpy as np

from .sparse import OuterProductGrad


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
        self._lr_scalars: dict[np.dtype, np.generic] = {}  # lr as a scalar of each dtype asked for
        self.lr = _check("learning rate", lr, 0.0, low_open=True)
        self.weight_decay = _check("weight decay", weight_decay, 0.0)
        self.state: dict[str, dict[str, np.ndarray]] = {}
        self.steps = 0
        # one scratch array per parameter, so an update allocates nothing (not optimiser state)
        self._scratch: dict[str, np.ndarray] = {}
        self._layer_names: dict[int, tuple[tuple[str, str], ...]] = {}  # (key, "index.key") per layer
        self._workspaces: dict[str, tuple] = {}  # see SGD._workspace

    def _set_lr(self, value: float) -> None:
        self._lr = value
        self._lr_scalars.clear()

    # read as a plain attribute (attrgetter runs no Python code); a new value drops the cached scalars
    lr = property(operator.attrgetter("_lr"), _set_lr, doc="The learning rate; schedules and the window change it.")

    takes_products = False
    """True when ``update`` applies an ``OuterProductGrad`` without expanding it."""

    def step(self, params: dict[str, np.ndarray], grads: dict) -> None:
        """One update of every array of ``params``, in place, from ``grads`` with the same names."""
        self.begin_step()
        self.update(params, grads)

    def begin_step(self) -> None:
        """Count one update (Adam's bias correction uses the count); then ``update`` each part."""
        self.steps += 1

    def update(self, params: dict[str, np.ndarray], grads: dict) -> None:
        """Apply the current update to ``params`` from ``grads`` with the same names: arrays, or
        ``OuterProductGrad`` products (expanded here unless ``takes_products``)."""
        products = self.takes_products
        for name, p in params.items():
            g = grads[name]
            if not products and isinstance(g, OuterProductGrad):
                g = g.to_dense(np.empty_like(p))
            self._apply(name, p, g)

    def update_layer(self, index: int, layer) -> None:
        """Apply the current update to one layer of a ``Sequential`` (its position ``index``
        names its parameters "index.key"), from the gradients of its last backward."""
        grads = layer.compact_grads() if self.takes_products else layer.grads
        params = layer.params
        names = self._layer_names.get(index)
        if names is None:
            names = self._layer_names[index] = tuple((key, f"{index}.{key}") for key in params)
        apply = self._apply if self.weight_decay else self._update  # one call less per parameter
        for key, name in names:
            apply(name, params[key], grads[key])

    def _apply(self, name: str, p: np.ndarray, g) -> None:
        """The update rule for one parameter, with L2 weight decay added to its gradient."""
        if self.weight_decay:
            g = g + p.dtype.type(self.weight_decay) * p
        self._update(name, p, g)

    def _update(self, name: str, p: np.ndarray, g) -> None:
        raise NotImplementedError

    def lr_as(self, dtype: np.dtype):
        """The learning rate as a scalar of ``dtype`` (cached: it is asked for every parameter)."""
        scalar = self._lr_scalars.get(dtype)
        if scalar is None:
            scalar = self._lr_scalars[dtype] = dtype.type(self._lr)
        return scalar

    def scratch(self, name: str, like: np.ndarray) -> np.ndarray:
        """A reusable array of ``like``'s shape and dtype; its contents are garbage."""
        tmp = self._scratch.get(name)
        if tmp is None or tmp.shape != like.shape or tmp.dtype is not like.dtype and tmp.dtype != like.dtype:
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
        # weight decay adds p to every row of the gradient, so only without it does the product
        # stay cheaper (an attribute, not a property: it is read at every layer's update)
        self.takes_products = self.weight_decay == 0.0
        self._plain = self.momentum == 0.0 and self.weight_decay == 0.0

    def update(self, params: dict[str, np.ndarray], grads: dict) -> None:
        if self._plain:
            self._descend(tuple((name, name) for name in params), params, grads)
        else:
            Optimizer.update(self, params, grads)

    def update_layer(self, index: int, layer) -> None:
        if not self._plain:
            Optimizer.update_layer(self, index, layer)
            return
        # plain SGD: one call per layer, which in pure SGD runs once per layer per sample
        names = self._layer_names.get(index)
        if names is None:
            names = self._layer_names[index] = tuple((key, f"{index}.{key}") for key in layer.params)
        self._descend(names, layer.params, layer.compact_grads())

    def _update(self, name: str, p: np.ndarray, g) -> None:
        if self.momentum:
            self._momentum_step(name, p, g)
        else:
            self._descend(((name, name),), {name: p}, {name: g})

    def _descend(self, names, params: dict[str, np.ndarray], grads: dict) -> None:
        """p -= lr * g for each (key, name) of ``names``: params[key] from grads[key], an array or
        an ``OuterProductGrad`` G = left^T right. For G, lr is folded into the small factor,
        lr * right ((B, H) values instead of p's (F, H)), and only G's rows are stepped: gathered
        (or taken as the forward pass read them) and scattered back. One sample's dL/db is the
        right factor of its dL/dW, so the bias then takes the lr * right already made: the very
        same numbers, one product fewer."""
        right = scaled = lr_dtype = None
        for key, name in names:
            p = params[key]
            g = grads[key]
            if p.dtype is not lr_dtype:
                lr_dtype = p.dtype
                lr = self._lr_scalars.get(lr_dtype) or self.lr_as(lr_dtype)
            if type(g) is OuterProductGrad:
                left, right, rows, _, block = g  # block: p[rows] as the forward pass read it
                scaled = right * lr
                space = self._workspaces.get(name)
                if space is None or space[0] is not p:
                    space = self._workspace(name, p)
                step = g.product(space[1], scaled)  # (K, H)
                if rows is None:
                    p -= step
                    continue
                if block is None:
                    block = p.take(rows, axis=0, out=self.scratch(name + "/rows", p)[: len(rows)], mode="clip")
                block -= step
                if space[2] is None:
                    p[rows] = block
                else:  # each row moved as one record: the same bytes, fewer instructions
                    space[2][rows] = block.view(space[3])[:, 0]
            elif g is right:
                p -= scaled
            elif g.ndim == 1 and len(g) <= 4096:
                p -= g * lr  # a bias: one small temporary costs less than a scratch write
            else:
                p -= np.multiply(g, lr, out=self.scratch(name, p))

    def _workspace(self, name: str, p: np.ndarray) -> tuple:
        """(p, a buffer of p's shape for the step's product, p as a vector of whole-row records, the
        record dtype), kept per parameter while p is the same array. Writing
        ``records[rows] = block.view(record)[:, 0]`` is ``p[rows] = block`` with one copy per row,
        where NumPy copies a fancy-indexed row of floats number by number (150 rows of 128
        float32: 24k instead of 42k instructions, a twentieth of a one-sample update). None in
        place of the records for a parameter whose rows are not contiguous."""
        record = np.dtype((np.void, p.strides[0])) if p.ndim == 2 and p.flags.c_contiguous else None
        records = None if record is None else p.view(record).reshape(len(p))
        self._workspaces[name] = space = (p, np.empty_like(p), records, record)
        return space

    def _momentum_step(self, name: str, p: np.ndarray, g) -> None:
        """b = mu b + g, then p -= lr b (or, Nesterov, p -= lr (g + mu b))."""
        lr = self.lr_as(p.dtype)
        tmp = self.scratch(name, p)
        mu = p.dtype.type(self.momentum)
        slot = self.state.setdefault(name, {})
        buf = slot.get("momentum_buffer")
        if buf is None:
            buf = slot["momentum_buffer"] = np.zeros_like(p)  # mu * 0 + g: torch's first buffer, g
        else:
            buf *= mu
        _add(buf, g, tmp)
        if self.nesterov:
            np.multiply(buf, mu, out=tmp)
            _add(tmp, g, self.scratch(name + "/product", p))
            tmp *= lr
            p -= tmp
        else:
            p -= np.multiply(buf, lr, out=tmp)

    def get_config(self) -> dict:
        kind = "nesterov" if self.nesterov else ("momentum" if self.momentum else "sgd")
        return {"name": kind, "lr": self.lr, "momentum": self.momentum, "weight_decay": self.weight_decay}


def _add(target: np.ndarray, g, scratch: np.ndarray) -> None:
    """target += g for an array or an ``OuterProductGrad`` (its non-zero rows only)."""
    if isinstance(g, OuterProductGrad):
        g.add_to(target, scratch)
    else:
        target += g


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
