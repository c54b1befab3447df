"""Screenshots of the convolutional network in the window (issue 18) for docs/: the layer editor
with the "Convolutional network" preset, the same editor refusing a kernel too large for its
input, and Inside the network (kernels and feature maps) after a short run.

    QT_QPA_PLATFORM=xcb xvfb-run -a -s "-screen 0 1280x800x24" .venv/bin/python tools/screenshots_conv.py docs

Writes at 1280x800 conv-editor.png, conv-editor-refused.png, conv-feature-maps.png,
conv-delta-maps.png (their δ = dL/d(map) for the digit's label), conv-backprop.png (the Backprop
tab's δ maps) and conv-diagram.png (the Network diagram's columns of maps), and
screenshot-1024x600-feature-maps.png (the same view on a small screen, one section at a time).
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from screenshots import fresh_window, run_until_idle, shoot, wait, wait_until

from gui.views import BackpropView, NetworkDiagram, WeightsView

TEST_DIGIT = 0  # a 7


def show_feature_maps(window) -> WeightsView:
    weights = window.findChild(WeightsView, "weightsView")
    window.views.setCurrentWidget(weights)
    weights.select_test_digit(TEST_DIGIT)
    wait_until(lambda: bool(weights.feature_maps.maps()) and not weights.feature_maps.job.busy)
    wait(300)
    return weights


def main(argv: list[str]) -> int:
    out = Path(argv[0] if argv else "docs")
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as settings:
        os.environ["XDG_DATA_HOME"] = settings  # the run library too, not the user's
        window = fresh_window(settings, (1280, 800))
        window.tour.skip()
        window.apply_preset("convolutional")
        window.settings_tabs.setCurrentIndex(0)
        wait(300)
        shoot(window, out / "conv-editor.png")

        editor = window.layer_editor
        editor.image_table.selectRow(2)
        editor.image_cell(2, "Kernel").setValue(15)
        wait(200)
        shoot(window, out / "conv-editor-refused.png")
        editor.image_cell(2, "Kernel").setValue(5)

        # a short run, for kernels and maps that have learnt something (about 97% after one epoch)
        panel = window.training_panel
        panel.epochs_spin.setValue(1)
        panel.train_size_spin.setValue(10_000)
        panel.augment_check.setChecked(False)
        run_until_idle(window, window.start_training)
        print(window.status_label.text())
        weights = show_feature_maps(window)
        shoot(window, out / "conv-feature-maps.png")
        combo = weights.map_kind_combo
        combo.setCurrentIndex(combo.findData("gradient"))
        wait(300)
        shoot(window, out / "conv-delta-maps.png")
        combo.setCurrentIndex(combo.findData("values"))

        backprop = window.findChild(BackpropView, "backpropView")
        window.views.setCurrentWidget(backprop)
        backprop.show_test_digit(TEST_DIGIT)
        wait_until(lambda: bool(backprop.conv_maps.maps()) and not backprop.conv_maps.job.busy)
        wait(300)
        shoot(window, out / "conv-backprop.png")

        diagram = window.findChild(NetworkDiagram, "networkDiagram")
        window.views.setCurrentWidget(diagram)
        diagram.select_test_digit(TEST_DIGIT)
        wait_until(lambda: bool(diagram.map_columns))
        wait(300)
        shoot(window, out / "conv-diagram.png")

        window.resize(1024, 600)
        wait(300)
        weights = show_feature_maps(window)
        if weights.compact:
            weights.section_bar.setCurrentIndex(2)  # the feature maps' section
        wait(300)
        window.grab().save(str(out / "screenshot-1024x600-feature-maps.png"))
        print(f"wrote {out / 'screenshot-1024x600-feature-maps.png'}")
        window.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
