"""Turn a drawn digit into the form of an MNIST digit.

MNIST digits were made by fitting each digit's ink into a 20×20 box, keeping the aspect ratio
and anti-aliasing (grey levels, not binary), then translating the result by whole pixels so that
its centre of mass sits at pixel index (14, 14) of a 28×28 field. ``prepare_drawing`` repeats
those steps on a canvas of any size, so a model trained on MNIST sees drawings the way it saw its
training data.

``ink_from_grey`` turns a grey-level photo or scan (dark ink on light paper or the reverse) into
the ink canvas that ``prepare_drawing`` expects.
"""

from __future__ import annotations

import numpy as np

MNIST_SIDE = 28
BOX_SIDE = 20
# MNIST's centre of mass is at index 14 (index coordinates, pixel i spans [i, i+1) and is
# counted at i), measured on the test set: mean 13.99 / 14.01, spread ±0.5 from whole-pixel shifts.
CENTRE_INDEX = 14.0
# Ink at or below this level counts as paper (faint noise, smudges); a canvas with nothing above
# it is empty. Costs 0.1 points on the drawn-MNIST accuracy test, and keeps faint noise from
# pulling the centre of mass.
INK_THRESHOLD = 0.1


def prepare_drawing(image: np.ndarray) -> np.ndarray | None:
    """Make a drawing look like an MNIST digit.

    ``image``: (H, W) ink in [0, 1] (0 = paper), any size. Values outside [0, 1] are clipped;
    ink at or below ``INK_THRESHOLD`` is treated as paper.
    Returns a (784,) float32 vector in [0, 1], normalised like ``load_dataset``'s rows (a 28×28
    image, row-major), or None when the canvas holds no ink above ``INK_THRESHOLD``.
    Raises ValueError for an array that is not 2-D or holds NaN or infinite values.
    """
    ink = _validated_ink(image)
    ink[ink <= INK_THRESHOLD] = 0.0
    rows, cols = _ink_bounds(ink)
    if rows is None:
        return None
    digit = ink[rows, cols]
    height, width = digit.shape
    scale = BOX_SIDE / max(height, width)
    box_height = max(1, round(height * scale))
    box_width = max(1, round(width * scale))
    boxed = area_resample(digit, box_height, box_width)
    np.clip(boxed, 0.0, 1.0, out=boxed)  # rounding can leave 1 + 1e-7
    return _centre_by_mass(boxed).reshape(-1)


def ink_from_grey(grey: np.ndarray) -> np.ndarray:
    """Ink canvas from a grey-level image, whichever the polarity.

    ``grey``: (H, W) luminance in [0, 1]. The paper's level is the median of the border pixels;
    when it is lighter than the image's mean the ink is dark. Returns (H, W) float32 ink in
    [0, 1]: the distance from the paper level, stretched so the strongest ink is 1.
    """
    grey = _validated_ink(grey)
    if grey.size == 0:
        return grey
    border = np.concatenate([grey[0], grey[-1], grey[1:-1, 0], grey[1:-1, -1]])
    paper = np.float32(np.median(border))
    ink = paper - grey if paper > grey.mean() else grey - paper
    np.clip(ink, 0.0, None, out=ink)
    strongest = ink.max()
    if strongest > 0:
        ink /= strongest
    return ink


def area_resample(image: np.ndarray, out_height: int, out_width: int) -> np.ndarray:
    """Resize ``image`` (H, W) to (out_height, out_width) by area averaging.

    Each output pixel is the mean of the input area it covers (partial pixels weighted by their
    covered fraction), so shrinking anti-aliases; growing gives soft-edged blocks. Returns float32.
    """
    rows_done = _area_resample_rows(image, out_height)
    return _area_resample_rows(rows_done.T, out_width).T.astype(np.float32)


def _area_resample_rows(image: np.ndarray, n_out: int) -> np.ndarray:
    """Area-average the rows of (n_in, W) ``image`` down or up to (n_out, W).

    Output row j is the mean over the input span [j, j+1) * n_in / n_out. It is computed from
    the running sum of the rows, read at the span's fractional edges (exact, because a pixel
    is constant over its own span), so it costs O(n_in * W) and needs no matrix product: BLAS
    threads, slow for small products on a busy machine, stay out of the drawing path.
    """
    n_in = image.shape[0]
    running = np.zeros((n_in + 1, image.shape[1]), dtype=np.float64)
    np.cumsum(image, axis=0, out=running[1:])
    step = n_in / n_out
    edges = np.arange(n_out + 1) * step
    below = np.minimum(edges.astype(np.intp), n_in - 1)
    at_edges = running[below] + (edges - below)[:, None] * image[below]
    return np.diff(at_edges, axis=0) / step


def _validated_ink(image) -> np.ndarray:
    array = np.asarray(image)
    if array.ndim != 2:
        raise ValueError(f"expected a 2-D image (height, width), got an array of shape {array.shape}")
    if array.dtype.kind not in "biuf":
        raise ValueError(f"expected numbers, got an array of dtype {array.dtype}")
    array = array.astype(np.float32)  # always a copy: the caller's canvas is never modified
    if not np.isfinite(array).all():
        raise ValueError("the image holds NaN or infinite values")
    return np.clip(array, 0.0, 1.0, out=array)


def _ink_bounds(ink: np.ndarray) -> tuple[slice, slice] | tuple[None, None]:
    """Row and column slices of the bounding box of the non-zero pixels."""
    mask = ink > 0
    ink_rows = np.flatnonzero(mask.any(axis=1))
    if ink_rows.size == 0:
        return None, None
    ink_cols = np.flatnonzero(mask.any(axis=0))
    return slice(ink_rows[0], ink_rows[-1] + 1), slice(ink_cols[0], ink_cols[-1] + 1)


def _centre_by_mass(boxed: np.ndarray) -> np.ndarray:
    """Paste ``boxed`` (h, w ≤ 20) into 28×28, shifted by whole pixels to put its centre of mass
    at index (14, 14); ink pushed past the edge is cut off, as MNIST's own procedure would."""
    mass = boxed.sum(dtype=np.float64)
    com_row = (boxed.sum(axis=1) @ np.arange(boxed.shape[0])) / mass
    com_col = (boxed.sum(axis=0) @ np.arange(boxed.shape[1])) / mass
    top = int(np.floor(CENTRE_INDEX - com_row + 0.5))
    left = int(np.floor(CENTRE_INDEX - com_col + 0.5))
    out = np.zeros((MNIST_SIDE, MNIST_SIDE), dtype=np.float32)
    dst_rows, src_rows = _overlap(top, boxed.shape[0])
    dst_cols, src_cols = _overlap(left, boxed.shape[1])
    out[dst_rows, dst_cols] = boxed[src_rows, src_cols]
    return out


def _overlap(offset: int, length: int) -> tuple[slice, slice]:
    """Destination and source slices of a span of ``length`` placed at ``offset`` in 0..27."""
    start, stop = max(offset, 0), min(offset + length, MNIST_SIDE)
    return slice(start, stop), slice(start - offset, stop - offset)


__all__ = ["BOX_SIDE", "INK_THRESHOLD", "MNIST_SIDE", "area_resample", "ink_from_grey", "prepare_drawing"]
