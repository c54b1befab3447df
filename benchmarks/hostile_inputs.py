"""Time and peak memory of each hostile input of issue 19, before and after the fix.

    .venv/bin/python benchmarks/hostile_inputs.py [--before /tmp/before-tree] [--only NAME]

Builds each hostile file (``tests/hostile_files.py``) in a temporary folder, then runs the command
that meets it in a child process, once in this source tree ("after") and, with ``--before``, once
in another checkout (e.g. ``git archive 5e4bb28 | tar -x -C /tmp/before``). Each child runs under
an address-space cap (4 GiB) and a timeout (30 s), so a blow-up or a hang is reported as such
instead of taking the machine down. Peak memory is the child's maximum resident set size
(``wait4``). Prints a Markdown table: time, peak memory and how the command ended.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

import hostile_files as hostile  # noqa: E402

ADDRESS_SPACE = 4 << 30
TIMEOUT_S = 30

WINDOW = r"""
import sys
from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QApplication
from gui.main_window import MainWindow
from scratchnet.data import load_dataset
app = QApplication([])
store = QSettings(sys.argv[1], QSettings.IniFormat)
window = MainWindow(dataset_loader=lambda name: load_dataset("mnist"), settings=store)
window.show()
app.processEvents()
print(window.layer_editor.table.rowCount(), "layers;", window.size().width(), "x", window.size().height())
window.close()
"""


def build_cases(folder: Path) -> list[dict]:
    """name, argv (after ``python``), and optional stdin / preexec / env changes per case."""
    import numpy as np
    from PySide6.QtGui import QImage

    pixels = np.full((28, 28), 255, np.uint8)
    pixels[4:24, 12:16] = 0
    digit = folder / "digit.png"
    QImage(pixels.data, 28, 28, 28, QImage.Format.Format_Grayscale8).copy().save(str(digit))
    model = folder / "model.npz"
    layers = hostile.LAYERS
    hostile.model_file(folder, "model.npz")
    os.mkfifo(folder / "fifo.png")
    os.mkfifo(folder / "fifo.npz")
    (folder / "zero-link.npz").symlink_to("/dev/zero")
    (folder / "a-folder.npz").mkdir()
    main = str(ROOT / "main.py")  # replaced by the tree's own main.py when run
    predict = [main, "predict", str(digit), "--model"]
    settings_deep = folder / "deep.ini"
    settings_wide = folder / "wide.ini"
    _settings(settings_deep, {"settings/network": "[" * 100_000 + "]" * 100_000})
    _settings(settings_wide, {"settings/network": json.dumps(
        {"hidden": [{"width": 4096, "activation": "relu"}] * 10_000, "init": "he", "dropout": 0.0, "seed": 0})})
    dense = dict(layers[0])
    return [
        {"name": "predict on a FIFO image", "argv": [main, "predict", str(folder / "fifo.png")]},
        {"name": "predict --model on a FIFO", "argv": [*predict, str(folder / "fifo.npz")]},
        {"name": "predict: 8000×8000 grey PNG", "argv": [main, "predict", str(
            hostile.png(folder / "big.png", 8000, 8000))]},
        {"name": "predict: 2 MB svgz bomb", "argv": [main, "predict", str(hostile.svgz_bomb(folder / "bomb.svgz"))]},
        {"name": "model: zip bomb in __config__", "argv": [*predict, str(hostile.config_zip_bomb(folder))]},
        {"name": "model: npy header of 1 TiB", "argv": [*predict, str(hostile.npy_header_of_one_tib(folder))]},
        {"name": "model: zip bomb in a weight", "argv": [*predict, str(hostile.weight_zip_bomb(folder))]},
        {"name": "model: 10 million layers", "argv": [*predict, str(hostile.ten_million_layers(folder))]},
        {"name": "model: /dev/zero", "argv": [*predict, "/dev/zero"]},
        {"name": "model: symlink to /dev/zero", "argv": [*predict, str(folder / "zero-link.npz")]},
        {"name": "model: JSON nested 100,000 deep", "argv": [*predict, str(hostile.deep_json(folder))]},
        {"name": "model: \"type\": [\"Dense\"]", "argv": [*predict, str(hostile.model_file(
            folder, "list.npz", hostile.document([{**dense, "type": ["Dense"]}])))]},
        {"name": "model: Dropout without rate", "argv": [*predict, str(hostile.model_file(
            folder, "rate.npz", hostile.document(layers + [{"type": "Dropout"}])))]},
        {"name": "model: compression method 99", "argv": [*predict, str(hostile.model_file(folder, "m99.npz", weights=[
            hostile.stored("0.W.npy", hostile.npy(np.zeros((784, 10), np.float32)), method=99),
            hostile.stored("0.b.npy", hostile.npy(np.zeros(10, np.float32)))]))]},
        {"name": "model: float64 weights of 1e300", "argv": [*predict, str(hostile.model_file(
            folder, "huge.npz", weights=hostile.weight_entries(np.full((784, 10), 1e300))))]},
        {"name": "model: 300-character name", "argv": [*predict, str(folder / ("x" * 300 + ".npz"))]},
        {"name": "IDX .gz declaring 2×30000×30000", "argv": [main, "train", "--dataset", str(hostile.idx_folder(
            folder / "idx", (2, 30000, 30000), gz_payload=2 * 30000 * 30000))]},
        {"name": "train --hidden 10,000 × 4096", "argv": [main, "train", "--hidden", ",".join(["4096"] * 10_000)]},
        {"name": "train --save onto a folder (2,000 images, 1 epoch)", "argv": [
            main, "train", "--train-size", "2000", "--epochs", "1", "--save", str(folder / "a-folder.npz")]},
        {"name": "train --json | head -n1", "argv": [main, "train", "--json", "--train-size", "300", "--epochs", "40",
                                                     "--hidden", "8"], "head": True},
        {"name": "predict with stdout closed", "argv": [*predict, str(model)], "close_stdout": True},
        {"name": "window with no display", "argv": [main], "env_drop": ("QT_QPA_PLATFORM", "DISPLAY",
                                                                        "WAYLAND_DISPLAY")},
        {"name": "window: settings JSON 100,000 deep", "argv": ["-c", WINDOW, str(settings_deep)]},
        {"name": "window: settings of 10,000 × 4096 layers", "argv": ["-c", WINDOW, str(settings_wide)]},
    ]


def _settings(path: Path, values: dict) -> None:
    from PySide6.QtCore import QSettings

    store = QSettings(str(path), QSettings.IniFormat)
    for key, value in values.items():
        store.setValue(key, value)
    store.sync()


def run_case(case: dict, tree: Path, cache: Path) -> dict:
    argv = [str(tree / "main.py") if a == str(ROOT / "main.py") else a for a in case["argv"]]
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "SCRATCHNET_CACHE_DIR": str(cache)}
    for name in case.get("env_drop", ()):
        env.pop(name, None)

    def limits() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (ADDRESS_SPACE, ADDRESS_SPACE))
        os.setsid()
        if case.get("close_stdout"):
            os.close(1)

    started = time.perf_counter()
    process = subprocess.Popen([sys.executable, *argv], cwd=tree, env=env, preexec_fn=limits,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
    if case.get("head"):
        process.stdout.readline()
        process.stdout.close()
    ended = "exit"
    usage = None
    deadline = started + TIMEOUT_S
    while True:
        pid, status, usage = os.wait4(process.pid, os.WNOHANG)
        if pid:
            break
        if time.perf_counter() > deadline:
            os.killpg(process.pid, signal.SIGKILL)
            _, status, usage = os.wait4(process.pid, 0)
            ended = "timeout"
            break
        time.sleep(0.02)
    seconds = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    err = process.stderr.read().decode("utf-8", "replace")
    if not case.get("head") and process.stdout and not process.stdout.closed:
        process.stdout.read()
    return {"seconds": seconds, "peak_mb": usage.ru_maxrss / 1024, "ended": ended, "code": process.returncode,
            "traceback": "Traceback" in err, "last": _last_line(err)}


def _last_line(err: str) -> str:
    lines = [line.strip() for line in err.strip().splitlines() if line.strip()]
    text = lines[-1] if lines else ""
    return text if len(text) <= 110 else text[:107] + "..."


def describe(result: dict) -> str:
    if result["ended"] == "timeout":
        return f"**hang**: killed after {TIMEOUT_S} s"
    kind = "traceback: " if result["traceback"] else ""
    return f"exit {result['code']}, {kind}{result['last']}".replace("|", "\\|")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", type=Path, help="a checkout of the code before the fix")
    parser.add_argument("--only", help="run the cases whose name contains this text")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()
    trees = ([("before", args.before)] if args.before else []) + [("after", ROOT)]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        cases = [c for c in build_cases(folder) if not args.only or args.only in c["name"]]
        for case in cases:
            row = {"name": case["name"]}
            for label, tree in trees:
                row[label] = run_case(case, tree, folder / f"cache-{label}")
                print(f"{case['name']} [{label}]: {row[label]['seconds']:.2f} s, {row[label]['peak_mb']:.0f} MB, "
                      f"{describe(row[label])}", file=sys.stderr, flush=True)
            rows.append(row)
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))
    header = "| case | " + " | ".join(f"{label}: time | {label}: peak RSS | {label}: outcome" for label, _ in trees)
    print(header + " |")
    print("|---" * (1 + 3 * len(trees)) + "|")
    for row in rows:
        cells = [row["name"]]
        for label, _ in trees:
            r = row[label]
            cells += [f"{r['seconds']:.2f} s", f"{r['peak_mb']:,.0f} MB", describe(r)]
        print("| " + " | ".join(cells) + " |")


if __name__ == "__main__":
    from tools.private_data import use_private_data_home

    use_private_data_home()  # the runs it trains go to a temporary library, not the user's
    main()
