"""Argument parsing that fails with exit code 2 and one line, never a usage dump or traceback."""

from __future__ import annotations

import argparse
import math
import sys

from scratchnet.limits import LAYERS_REASON, MAX_HIDDEN_LAYERS, MAX_IMPORT_SIDE, MAX_WIDTH
from scratchnet.stacks import parse_layers


class ArgumentParser(argparse.ArgumentParser):
    def error(self, message: str):
        sys.stderr.write(f"{self.prog}: error: {message}\n")
        raise SystemExit(2)


class UsageError(Exception):
    """An argument value that parsed but makes no sense (exit code 2)."""


def _whole_number(text: str, minimum: int) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < minimum:
        rule = "must be at least 1" if minimum == 1 else "must not be negative"
        raise argparse.ArgumentTypeError(f"{text!r} {rule}")
    return value


def positive_int(text: str) -> int:
    return _whole_number(text, 1)


def non_negative_int(text: str) -> int:
    return _whole_number(text, 0)


def _finite_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"{text!r} is not a finite number")
    return value


def positive_float(text: str) -> float:
    value = _finite_float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{text!r} must be greater than 0")
    return value


def non_negative_float(text: str) -> float:
    value = _finite_float(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text!r} must not be negative")
    return value


def unit_interval(text: str) -> float:
    """A number in [0, 1), such as a dropout rate or a momentum."""
    value = _finite_float(text)
    if not 0 <= value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} must be at least 0 and below 1")
    return value


def open_share(text: str) -> float:
    """A share strictly between 0 and 1, such as a held-out test share."""
    value = _finite_float(text)
    if not 0 < value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} must be above 0 and below 1")
    return value


def image_side(text: str) -> int:
    """The side of a square image: 2 to ``MAX_IMPORT_SIDE`` pixels."""
    value = _whole_number(text, 1)
    if not 2 <= value <= MAX_IMPORT_SIDE:
        raise argparse.ArgumentTypeError(f"{text!r} must be between 2 and {MAX_IMPORT_SIDE} pixels")
    return value


def widths(text: str) -> list[int]:
    """'256,128' -> [256, 128]; '' or 'none' -> [] (softmax regression)."""
    text = text.strip()
    if text.lower() in ("", "none", "0-hidden"):
        return []
    result = []
    for part in text.split(","):
        part = part.strip()
        try:
            width = int(part)
        except ValueError:
            raise argparse.ArgumentTypeError(f"hidden width {part!r} is not a whole number") from None
        if not 1 <= width <= MAX_WIDTH:
            raise argparse.ArgumentTypeError(f"hidden width {width} must be between 1 and {MAX_WIDTH}")
        result.append(width)
        if len(result) > MAX_HIDDEN_LAYERS:
            raise argparse.ArgumentTypeError(f"{text.count(',') + 1:,} hidden layers is too many: {LAYERS_REASON}")
    return result


def layer_tokens(text: str) -> tuple[str, ...]:
    """'conv5x5x8,relu,pool2,flatten,dense128,relu' -> its tokens (``scratchnet.stacks``)."""
    try:
        return parse_layers(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
