"""Inside the network for wide layers (issue 13, bug 8): tiles stay 28 px whatever the number of
units, rows are evenly spaced, the rest scrolls or pages, and the histogram legend covers nothing."""

from __future__ import annotations

import numpy as np
import pytest
from gui_view_support import show_model
from PySide6.QtCore import Qt

from gui.views import WeightsView
from gui.views.weights import GAP_RGBA, TILE_SIDE, TILES_PER_PAGE
from scratchnet.network import mlp


def weights_view(window) -> WeightsView:
    view = window.findChild(WeightsView, "weightsView")
    window.views.setCurrentWidget(view)
    return view


def gap_lines(pixels: np.ndarray, axis: int) -> np.ndarray:
    """Indices of the rows (axis 0) or columns (axis 1) of an RGB(A) image that are gap grey (all
    but a stray pixel or two: a corner may be painted over)."""
    gap = np.all(pixels[..., :3] == GAP_RGBA[:3], axis=-1)
    return np.flatnonzero(gap.mean(axis=1 - axis) > 0.98)


@pytest.mark.parametrize("units", [128, 800])
def test_tiles_are_28_px_with_evenly_spaced_rows_and_columns(qtbot, window, units):
    window.resize(1280, 800)
    view = weights_view(window)
    show_model(window, mlp(784, [units], 10, rng=np.random.default_rng(0)))
    qtbot.wait(50)  # let the layout settle: the scroll bar may take room from the columns
    shown = min(units, TILES_PER_PAGE)
    pixels = view.tiles.image  # the mosaic the label shows, pixel for pixel (checked below)
    rows, columns = gap_lines(pixels, 0), gap_lines(pixels, 1)
    # every gap line 29 px after the previous one: 28-px tiles, every row and column the same
    assert set(np.diff(rows)) == {TILE_SIDE + 1} and set(np.diff(columns)) == {TILE_SIDE + 1}
    assert (len(rows) - 1) * (len(columns) - 1) >= shown > (len(rows) - 2) * (len(columns) - 1)
    assert len(columns) - 1 == view.tiles.shown_columns
    # on screen at one image pixel per screen pixel
    size = (pixels.shape[1], pixels.shape[0])
    assert view.tiles.label.pixmap().size().toTuple() == size == view.tiles.label.size().toTuple()
    viewport = view.tiles.viewport().size()
    assert pixels.shape[1] <= viewport.width()
    if pixels.shape[0] > viewport.height():  # what does not fit scrolls
        scroll = view.tiles.verticalScrollBar()
        qtbot.waitUntil(lambda: scroll.isVisible())
        assert scroll.maximum() == pixels.shape[0] - view.tiles.viewport().height()


def test_wide_layers_page_and_a_narrow_window_keeps_the_tile_size(qtbot, window):
    window.resize(1280, 800)
    view = weights_view(window)
    show_model(window, mlp(784, [800], 10, rng=np.random.default_rng(1)))
    assert view.tile_page_count == 4 and view.tiles_label.text().startswith(f"units 1–{TILES_PER_PAGE} of 800")
    for _ in range(3):
        qtbot.mouseClick(view.tiles_next, Qt.LeftButton)
    assert view.tile_page == 3 and view.tiles_label.text().startswith("units 769–800 of 800")
    assert not view.tiles_next.isEnabled()
    wide_columns = view.tiles.shown_columns
    view.tiles.resize(150, 300)  # narrower: fewer columns, never smaller tiles
    assert view.tiles.shown_columns < wide_columns
    rows = gap_lines(view.tiles.image, 0)
    assert set(np.diff(rows)) == {TILE_SIDE + 1}
    assert view.tiles.image.shape[1] == view.tiles.shown_columns * (TILE_SIDE + 1) + 1 <= view.tiles.width()


def test_the_histogram_legend_sits_outside_the_plots_and_names_every_layer(window):
    view = weights_view(window)
    show_model(window, mlp(784, [800, 800], 10, rng=np.random.default_rng(2)))
    for plot in (view.weight_plot, view.gradient_plot):
        assert plot.plotItem.legend is None  # nothing drawn over the curves
        assert len(plot.plotItem.listDataItems()) == 3
    view.section_bar.setCurrentIndex(1)  # a small window shows one section at a time
    legend = view.histogram_legend
    assert legend.isVisible()
    for name in ("layer 1 (784→800)", "layer 2 (800→800)", "layer 3 (800→10)"):
        assert name in legend.text()
    for plot in (view.weight_plot, view.gradient_plot):  # below both plots, not over them
        assert legend.geometry().top() >= plot.geometry().bottom()
