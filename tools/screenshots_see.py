"""Screenshots of the "see the network" views (issue 15) in the window at 1024x600, with a
784-128-64-10 network trained for 2 epochs on 20,000 digits:

    QT_QPA_PLATFORM=xcb xvfb-run -a -s "-screen 0 1280x800x24" .venv/bin/python tools/screenshots_see.py docs

Writes view-network-diagram.png, view-neuron-lab.png and view-hidden-layer-map.png.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np
from PySide6.QtWidgets import QApplication, QWidget

from scratchnet.data import load_dataset
from scratchnet.network import mlp
from scratchnet.optimizers import make_optimizer
from scratchnet.training import TrainConfig, train
from tools.screenshots import fresh_window, wait, wait_until


def main(argv: list[str]) -> int:
    out = Path(argv[0] if argv else "docs")
    out.mkdir(parents=True, exist_ok=True)
    app = QApplication.instance() or QApplication(sys.argv[:1])
    settings_dir = tempfile.TemporaryDirectory()
    window = fresh_window(settings_dir.name, (1024, 600))
    if window.tour.active:
        window.tour.skip()
    data = load_dataset("mnist").subset(20_000)
    model = mlp(784, [128, 64], 10, rng=np.random.default_rng(0))
    for _ in train(model, make_optimizer("momentum", 0.05), data.x_train, data.y_train,
                   TrainConfig(descent="mini", batch_size=64, epochs=2, seed=0)):
        pass
    window.controller.set_model(model, None)
    diagram = window.findChild(QWidget, "networkDiagram")
    lab = window.findChild(QWidget, "neuronLab")
    embedding = window.findChild(QWidget, "embeddingView")

    window.views.setCurrentWidget(diagram)
    diagram.select_test_digit(8)
    wait(800)
    window.grab().save(str(out / "view-network-diagram.png"))

    unit = int(diagram.columns[0].shown[0])
    diagram.unit_clicked.emit(diagram.columns[0].layer, unit)
    wait_until(lambda: lab.lab is not None and lab.unit_info is not None and not any(j.busy for j in lab.jobs))
    lab.off_check.setChecked(True)
    lab.prune_slider.setValue(50)
    lab.plot_prune_curve()
    wait_until(lambda: not any(j.busy for j in lab.jobs))
    wait(500)
    window.grab().save(str(out / "view-neuron-lab.png"))

    window.views.setCurrentWidget(embedding)
    wait_until(lambda: embedding.map is not None and not embedding.job.busy)
    wait(500)
    window.grab().save(str(out / "view-hidden-layer-map.png"))
    window.close()
    app.processEvents()
    return 0


if __name__ == "__main__":
    from tools.private_data import use_private_data_home

    use_private_data_home()  # the runs it trains go to a temporary library, not the user's
    sys.exit(main(sys.argv[1:]))
