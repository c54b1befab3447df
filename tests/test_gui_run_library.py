"""Issue 16 in the window: runs saved as they train, shown again at the next start, and the Run
library dialog (rename, delete, export, import, size and clean-up, damaged runs)."""

from __future__ import annotations

import json
import shutil
import zipfile

import numpy as np
import pytest
from gui_view_support import RUN_TIMEOUT, configure, wait_for_views
from gui_view_support import run_in_window as train
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFileDialog, QMessageBox, QPushButton

from gui.run_library import RunLibraryDialog
from gui.views import ConfusionView
from scratchnet.metrics import confusion_matrix
from scratchnet.run_store import RunStore, runs_root


def open_library(qtbot, window) -> RunLibraryDialog:
    qtbot.mouseClick(window.time_bar.library_button, Qt.LeftButton)
    dialog = window.findChild(RunLibraryDialog, "runLibraryDialog")
    assert dialog is not None and dialog.isVisible()
    return dialog


def press(qtbot, dialog, name: str) -> None:
    qtbot.mouseClick(dialog.findChild(QPushButton, name), Qt.LeftButton)


def answer(monkeypatch, yes: bool) -> list[str]:
    """The library's questions answered ``yes`` (or no); returns the questions asked."""
    asked = []

    def question(_parent, _title, text, *args, **kwargs):
        asked.append(text)
        return QMessageBox.Yes if yes else QMessageBox.No

    monkeypatch.setattr(QMessageBox, "question", question)
    return asked


def test_a_run_is_saved_as_it_trains_and_shown_again_at_the_next_start(qtbot, store, open_window,
                                                                       isolated_run_library):
    window = open_window(store)
    configure(window, train_size=500, epochs=2)
    with qtbot.waitSignal(window.training_finished, timeout=RUN_TIMEOUT) as blocker:
        window.start_training()
    run = blocker.args[0]
    assert runs_root() == isolated_run_library
    folder = isolated_run_library / run.stored_id
    info = json.loads((folder / "run.json").read_text())
    assert info["status"] == "done" and info["config"]["epochs"] == 2 and info["config"]["train_size"] == 500
    assert info["config"]["descent"] == "mini" and info["blas_threads"] == 1  # how the worker trained it
    saved = sorted(p.name for p in (folder / "checkpoints").iterdir())
    assert len(saved) == len(window.controller.checkpoints.list(run.run_id))
    assert (folder / "curves.csv").read_text().count("\n") == 3  # header and two epochs
    epochs = [e["test_loss"] for e in run.epochs]
    window.close()

    again = open_window(store)  # the next start
    assert again.runs_panel.list.count() == 1
    stored = again.runs[0]
    assert stored.stored_id == run.stored_id and not stored.curves_loaded
    assert "select to load" in again.runs_panel.list.item(0).text()
    again.runs_panel.select([stored.run_id])
    assert stored.curves_loaded and [e["test_loss"] for e in stored.epochs] == pytest.approx(epochs)
    x, _ = again.plots.curve_data(stored.run_id, "test_loss")
    np.testing.assert_allclose(x, [1.0, 2.0])
    # its checkpoints, read from its folder, move the views
    points = again.time_bar.points
    assert len(points) == len(saved) and points[-1] == (2, 2 * run.updates_per_epoch, 1000)
    again.views.setCurrentWidget(again.findChild(ConfusionView))
    index = points.index((1, run.updates_per_epoch, 500))
    again.time_bar.choose(index)
    again.time_bar.flush()
    wait_for_views(again)
    expected = stored.spec.config.build_model(784, 10)
    expected.load_state_dict(RunStore().get(run.stored_id).load_checkpoint(index).params)
    dataset = again.dataset
    np.testing.assert_array_equal(again.findChild(ConfusionView).matrix,
                                  confusion_matrix(dataset.y_test, expected.predict(dataset.x_test), 10))


def make_runs(qtbot, window, click, count: int) -> list:
    configure(window, train_size=300, epochs=1)
    return [train(qtbot, window, click) for _ in range(count)]


def test_rename_delete_export_and_import_through_the_dialog(qtbot, window, click, monkeypatch, tmp_path):
    first, second = make_runs(qtbot, window, click, 2)
    dialog = open_library(qtbot, window)
    assert dialog.run_ids() == [first.stored_id, second.stored_id]
    assert dialog.size_label.text().startswith("2 runs, ")
    # rename
    dialog.select(first.stored_id)
    dialog.name_edit.setText("my baseline")
    press(qtbot, dialog, "renameRunButton")
    assert RunStore().get(first.stored_id).name == "my baseline"
    assert dialog.table.item(0, 0).text() == "my baseline"
    assert "my baseline" in window.runs_panel.list.item(0).text()
    # export, in a worker thread
    target = tmp_path / "baseline.zip"
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(target), ""))
    with qtbot.waitSignal(dialog.job_ended, timeout=20_000):
        press(qtbot, dialog, "exportRunButton")
    assert dialog.message.text() == f"Exported to {target}."
    names = zipfile.ZipFile(target).namelist()
    assert f"{first.stored_id}/run.json" in names and any(n.endswith(".npz") for n in names)
    # delete, answered no, then yes
    asked = answer(monkeypatch, yes=False)
    press(qtbot, dialog, "deleteRunButton")
    assert len(asked) == 1 and "my baseline" in asked[0] and dialog.run_ids() == [first.stored_id, second.stored_id]
    answer(monkeypatch, yes=True)
    press(qtbot, dialog, "deleteRunButton")
    assert dialog.run_ids() == [second.stored_id]
    assert not (runs_root() / first.stored_id).exists()
    assert [run.run_id for run in window.runs] == [second.run_id]
    # import the exported zip: listed again, in the dialog and the runs list
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *a, **k: (str(target), ""))
    with qtbot.waitSignal(dialog.job_ended, timeout=20_000):
        press(qtbot, dialog, "importRunButton")
    assert dialog.message.text() == "Imported “my baseline”."
    assert len(dialog.run_ids()) == 2 and window.runs_panel.list.count() == 2
    assert "my baseline" in window.runs_panel.list.item(1).text()
    # a zip that is not a run says why, and nothing changes
    bad = tmp_path / "evil.zip"
    with zipfile.ZipFile(bad, "w") as handle:
        handle.writestr("../escape/run.json", "{}")
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *a, **k: (str(bad), ""))
    with qtbot.waitSignal(dialog.job_ended, timeout=20_000):
        press(qtbot, dialog, "importRunButton")
    assert dialog.message.text().startswith(f"Could not import {bad}: ") and len(dialog.run_ids()) == 2
    assert not (tmp_path / "escape").exists()


def test_clean_up_deletes_the_oldest_runs_beyond_the_limit_after_asking(qtbot, window, click, monkeypatch):
    runs = make_runs(qtbot, window, click, 3)
    dialog = open_library(qtbot, window)
    sizes = {run.id: run.size_bytes for run in RunStore().list()}
    # a limit that holds only the newest run: 1 MB units, so make the runs look big by the limit
    newest = sizes[runs[2].stored_id]
    limit_mb = max(1, -(-newest // 2**20))
    dialog.limit_spin.setValue(limit_mb)
    assert window.store.value("library/limitMB") == limit_mb
    if sum(sizes.values()) <= limit_mb * 2**20:
        pytest.skip("runs too small for a 1 MB limit to matter")
    asked = answer(monkeypatch, yes=False)
    press(qtbot, dialog, "cleanupButton")
    assert len(asked) == 1 and "oldest" in asked[0] and dialog.message.text() == "Nothing deleted."
    assert len(dialog.run_ids()) == 3
    answer(monkeypatch, yes=True)
    press(qtbot, dialog, "cleanupButton")
    kept = dialog.run_ids()
    assert runs[0].stored_id not in kept and runs[2].stored_id in kept
    assert RunStore().total_size() <= limit_mb * 2**20
    assert window.runs_panel.list.count() == len(kept)


def test_damaged_runs_are_listed_with_their_warning_and_the_rest_loads(qtbot, store, open_window,
                                                                      isolated_run_library):
    window = open_window(store)
    configure(window, train_size=300, epochs=1)
    with qtbot.waitSignal(window.training_finished, timeout=RUN_TIMEOUT) as blocker:
        window.start_training()
    good = blocker.args[0]
    window.close()
    root = isolated_run_library
    (root / "20200101-000000-nonsense").mkdir()
    (root / "20200101-000000-nonsense" / "run.json").write_text("{this is not json")
    (root / "20200101-000001-cut-short").mkdir()
    newer = root / "20200101-000002-newer"
    newer.mkdir()
    (newer / "run.json").write_text(json.dumps({"format_version": 99, "name": "from the future"}))
    # a copy whose configuration was edited to another width: its checkpoints no longer fit it
    shutil.copytree(root / good.stored_id, root / "20200101-000003-edited")
    info = json.loads((root / "20200101-000003-edited" / "run.json").read_text())
    info["config"]["hidden"] = [{"width": 32, "activation": "relu"}]
    info["name"] = "edited"
    (root / "20200101-000003-edited" / "run.json").write_text(json.dumps(info))
    # a copy whose last checkpoint was cut short (a disk that filled up during a copy)
    cut = root / "20200101-000004-cut"
    shutil.copytree(root / good.stored_id, cut)
    info = json.loads((cut / "run.json").read_text()) | {"name": "cut"}
    (cut / "run.json").write_text(json.dumps(info))
    last = sorted((cut / "checkpoints").glob("*.npz"))[-1]
    last.write_bytes(last.read_bytes()[:300])

    again = open_window(store)
    texts = [again.runs_panel.list.item(row).text() for row in range(again.runs_panel.list.count())]
    assert len(texts) == 6
    assert any("not valid JSON" in t for t in texts)
    assert any("run.json is missing" in t for t in texts)
    assert any("newer scratchnet" in t for t in texts)
    loaded = next(run for run in again.runs if run.stored_id == good.stored_id)
    again.runs_panel.select([loaded.run_id])
    assert len(loaded.epochs) == 1 and again.plots.runs == [loaded]
    # selecting a damaged one draws nothing and breaks nothing
    damaged = next(run for run in again.runs if run.stored_id.endswith("nonsense"))
    again.runs_panel.select([damaged.run_id])
    assert again.plots.runs == []
    # the edited one: listed, and its checkpoints refused with the reason when the slider needs one
    edited = next(run for run in again.runs if run.stored_id.endswith("edited"))
    again.runs_panel.select([edited.run_id])
    again.time_bar.choose(0)
    again.time_bar.flush()
    assert "Cannot show that checkpoint" in again.error_label.text() and "shape" in again.error_label.text()
    with qtbot.waitSignal(again.library.checked, timeout=20_000):
        dialog = open_library(qtbot, again)
    warnings = {dialog.table.item(row, 0).text(): dialog.table.item(row, 4).text()
                for row in range(dialog.table.rowCount())}
    assert sum(bool(w) for w in warnings.values()) == 5
    assert "checkpoint e0000-u000000000" in warnings["edited"] and "shape" in warnings["edited"]
    assert f"checkpoint {last.name} cannot be read" in warnings["cut"] and warnings[good.name] == ""
    assert "cannot be used" in dialog.message.text()
    # every dialog fits a 1024x600 screen
    assert dialog.width() <= 1024 and dialog.height() <= 600
    assert dialog.minimumSizeHint().width() <= 1024 and dialog.minimumSizeHint().height() <= 600


def test_the_checkpoint_budget_and_count_are_settings_and_scrubbing_stays_within_the_budget(
        qtbot, window, click, isolated_run_library):
    dialog = open_library(qtbot, window)
    assert dialog.budget_spin.value() == 200 and window.controller.checkpoints.budget_bytes == 200 * 2**20
    dialog.budget_spin.setValue(4)
    dialog.count_spin.setValue(5)
    assert window.store.value("runs/memoryBudgetMB") == 4 and window.store.value("runs/checkpointCount") == 5
    memory = window.controller.checkpoints
    assert memory.budget_bytes == 4 * 2**20 and window.controller.checkpoint_count == 5
    dialog.close()
    window.layer_editor.width_spin(0).setValue(256)  # 784-256-10 with momentum: 1.6 MB a checkpoint
    configure(window, train_size=640, epochs=2)
    run = train(qtbot, window, click)
    points = memory.list(run.run_id)
    assert 7 <= len(points) <= 9  # update 0, about 5 through the run, 2 epoch ends
    assert memory.nbytes <= 4 * 2**20
    # beyond the budget, the checkpoints already saved in the run's folder are forgotten, not written again
    assert not (isolated_run_library / run.stored_id / "spill").exists()
    for index in range(len(points)):  # scrub through every checkpoint: each read back, none kept
        window.time_bar.choose(index)
        window.time_bar.flush()
        assert memory.nbytes <= 4 * 2**20
        assert window.time_bar.label.text().startswith(f"epoch {points[index][0]}")
    # the spilled copies go with the session; the run's folder keeps its checkpoints
    window.close()
    assert not (isolated_run_library / run.stored_id / "spill").exists()
    assert len(list((isolated_run_library / run.stored_id / "checkpoints").iterdir())) == len(points)


def test_a_full_disk_is_said_once_and_the_run_trains_on_in_memory(qtbot, window, click, monkeypatch):
    import errno

    import scratchnet.run_store as run_store

    def full(*_args, **_kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(run_store, "write_atomically", full)
    configure(window, train_size=300, epochs=2)
    run = train(qtbot, window, click)
    assert run.status == "finished" and len(run.epochs) == 2
    assert "not saved in the run library" in window.error_label.text()
    assert window.error_label.text().endswith("the disk is full")
    # its checkpoints are still there to scrub through, in memory
    points = window.controller.checkpoints.list(run.run_id)
    assert points[-1][0] == 2
    window.time_bar.choose(0)
    window.time_bar.flush()
    assert window.controller.held and window.time_bar.label.text().startswith("epoch 0")


def test_a_run_on_imported_data_keeps_its_import_options_for_resume(qtbot, store, open_window, isolated_run_library,
                                                                    tmp_path, capsys):
    """A run trained in the window on a CSV imported with a 25% held-out share saves that share
    in run.json, and `scratchnet resume` reads the data the same way: same test set, same numbers."""
    from PySide6.QtGui import QAction

    from cli import run_cli

    rng = np.random.default_rng(0)
    labels = np.arange(120) % 3
    pixels = rng.integers(0, 100, (120, 64))
    for i, label in enumerate(labels):
        pixels[i, label * 20:label * 20 + 20] += 150
    path = tmp_path / "blocks.csv"
    path.write_text("".join(f"{label},{','.join(map(str, row))}\n" for label, row in zip(labels, pixels, strict=True)))
    window = open_window(store)
    window.findChild(QAction, "importDataAction").trigger()
    dialog = window._import_dialog
    dialog.path_edit.setText(str(path))
    dialog.held_out_spin.setValue(25.0)
    with qtbot.waitSignal(window.dataset_changed, timeout=60_000):
        qtbot.mouseClick(dialog.import_button, Qt.LeftButton)
    assert len(window.dataset.y_test) == 30
    configure(window, train_size=90, epochs=2, batch_size=16)
    with qtbot.waitSignal(window.training_finished, timeout=RUN_TIMEOUT) as blocker:
        window.start_training()
    run = blocker.args[0]
    folder = isolated_run_library / run.stored_id
    info = json.loads((folder / "run.json").read_text())
    assert info["data_import"] == {"image_size": None, "held_out": 0.25, "seed": 0, "photo": False}
    assert info["dataset"] == str(path)
    capsys.readouterr()
    assert run_cli(["resume", str(folder), "--from-epoch", "1", "--json"]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    assert [line["epoch"] for line in lines if "epoch" in line] == [2]
    assert lines[0]["test_loss"] == pytest.approx(run.epochs[1]["test_loss"], rel=1e-6)

    # the same path imported again with another share: forking the run is refused with the reason,
    # until the data are read the run's way again
    def reimport(share, test_images):
        window.findChild(QAction, "importDataAction").trigger()
        window._import_dialog.held_out_spin.setValue(share)
        qtbot.mouseClick(window._import_dialog.import_button, Qt.LeftButton)
        qtbot.waitUntil(lambda: len(window.dataset.y_test) == test_images, timeout=60_000)

    reimport(40.0, 48)
    window.runs_panel.select([run.run_id])
    window.time_bar.choose(1)
    window.time_bar.flush()
    assert window.time_travel.open_fork_dialog() is None
    error = window.error_label.text()
    assert f"Cannot fork run #{run.run_id}: its data were imported with 25% held out" in error
    assert "now read with 40% held out" in error
    reimport(25.0, 30)
    dialog = window.time_travel.open_fork_dialog()
    assert dialog is not None and dialog.isVisible()
    dialog.reject()
