"""Hostile files and careless environments (issue 19): no hang, no memory blow-up, no traceback.

Every hostile file is built here, small on disk (``hostile_files``). The command-line failures
run in one child process under a 1.5 GB address-space limit and a timeout: each must end with
its own one-line message and exit code, never MemoryError, a hang or a traceback.
"""

from __future__ import annotations

import json
import os
import resource
import stat
import subprocess
import sys
import time
from pathlib import Path

import hostile_files as hostile
import numpy as np
import pytest

from scratchnet import files
from scratchnet.errors import ModelFileError, SaveError
from scratchnet.network import mlp
from scratchnet.serialization import load_model_file, save_model, with_model_suffix

ROOT = Path(__file__).resolve().parents[1]
ADDRESS_SPACE = 1536 << 20
LONG_NAME = "x" * 300 + ".npz"


def limited(address_space: int = ADDRESS_SPACE, file_size: int | None = None):
    """A preexec_fn: cap the child's address space (and the size of any file it writes)."""
    def apply() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (address_space, address_space))
        if file_size is not None:
            resource.setrlimit(resource.RLIMIT_FSIZE, (file_size, file_size))
    return apply


def child_env(tmp_path: Path, **extra) -> dict:
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "SCRATCHNET_CACHE_DIR": str(tmp_path / "cache"), **extra}
    env.pop("SCRATCHNET_DEBUG", None)
    return env


def digit_image(path: Path) -> Path:
    """A 28×28 PNG with a dark vertical stroke on white paper."""
    from PySide6.QtGui import QImage

    pixels = np.full((28, 28), 255, np.uint8)
    pixels[4:24, 12:16] = 0
    image = QImage(pixels.data, 28, 28, 28, QImage.Format.Format_Grayscale8).copy()
    assert image.save(str(path))
    return path


# The driver runs each case through the real entry point (cli.run_cli) in one process, capturing
# its stdout and stderr; anything escaping run_cli is recorded as a traceback.
DRIVER = r"""
import contextlib, io, json, sys, time, traceback
from cli import run_cli
results = []
for argv in json.loads(sys.stdin.read()):
    out, err = io.StringIO(), io.StringIO()
    started = time.perf_counter()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = run_cli(argv)
        except BaseException:
            code = "escaped"
            err.write(traceback.format_exc())
    results.append({"code": code, "out": out.getvalue(), "err": err.getvalue(),
                    "seconds": time.perf_counter() - started})
print(json.dumps(results))
"""


def cli_cases(folder: Path) -> list[tuple[str, list[str], int, str]]:
    """(name, argv, exit code, fragment of the one-line message) for every CLI failure."""
    image = digit_image(folder / "digit.png")
    layers = hostile.LAYERS

    def model(name, doc=None, weights=None) -> str:
        return str(hostile.model_file(folder, name, doc, weights))

    predict = ["predict", str(image), "--model"]
    (folder / "link-to-zero").symlink_to("/dev/zero")
    (folder / "a-file").write_bytes(b"")
    (folder / "a-folder.npz").mkdir()
    os.mkfifo(folder / "fifo.npz")
    os.mkfifo(folder / "fifo.png")
    os.mkfifo(folder / "fifo-save.npz")
    dense = dict(layers[0])
    return [
        ("model: FIFO", [*predict, str(folder / "fifo.npz")], 1, "fifo.npz: is a pipe (FIFO), not a regular file"),
        ("model: /dev/zero", [*predict, "/dev/zero"], 1, "zero: is a device, not a regular file"),
        ("model: symlink to /dev/zero", [*predict, str(folder / "link-to-zero")], 1, "is a device"),
        ("model: zip bomb in the config", [*predict, str(hostile.config_zip_bomb(folder, checksum=False))], 1,
         "the config entry holds 2,147,48"),
        ("model: npy header of 1 TiB", [*predict, str(hostile.npy_header_of_one_tib(folder))], 1,
         "weight '0.W' has shape (262144, 1048576), expected (784, 10)"),
        ("model: zip bomb in a weight", [*predict, str(hostile.weight_zip_bomb(folder, checksum=False))], 1,
         "entry '0.W' declares 31,360 bytes of data but holds 2,147,5"),
        ("model: 10 million layers", [*predict, str(hostile.ten_million_layers(folder, checksum=False))], 1,
         "the config entry holds 180,000,"),
        ("model: 1,001 layers", [*predict, model("layers.npz", hostile.document(layers + [{"type": "ReLU"}] * 1000))],
         1, "1,001 layers is more than a model file may hold"),
        ("model: JSON nested 100,000 deep", [*predict, str(hostile.deep_json(folder))], 1, "nested too deeply"),
        ("model: type is a list", [*predict, model("list.npz", hostile.document([{**dense, "type": ["Dense"]}]))],
         1, "layer 0 has unknown type ['Dense']"),
        ("model: extra key on Dense", [*predict, model("extra.npz", hostile.document([{**dense, "colour": 1}]))],
         1, "layer 0 (Dense) has unknown setting 'colour'"),
        ("model: alpha on ReLU", [*predict, model("alpha.npz", hostile.document(
            layers + [{"type": "ReLU", "alpha": 0.1}]))], 1, "layer 1 (ReLU) has unknown setting 'alpha'"),
        ("model: Dropout without rate", [*predict, model("rate.npz", hostile.document(
            layers + [{"type": "Dropout"}]))], 1, "layer 1 (Dropout) has no 'rate'"),
        ("model: encrypted entry", [*predict, model("encrypted.npz", weights=[
            hostile.stored("0.W.npy", hostile.npy(np.zeros((784, 10), np.float32)), flags=1),
            hostile.stored("0.b.npy", hostile.npy(np.zeros(10, np.float32)))])], 1, "entry '0.W' is encrypted"),
        ("model: compression method 99", [*predict, model("method99.npz", weights=[
            hostile.stored("0.W.npy", hostile.npy(np.zeros((784, 10), np.float32)), method=99),
            hostile.stored("0.b.npy", hostile.npy(np.zeros(10, np.float32)))])], 1, "zip compression method 99"),
        ("model: float64 1e300", [*predict, model("huge.npz", weights=hostile.weight_entries(
            np.full((784, 10), 1e300)))], 1, "weight '0.W' holds NaN or infinite values (as float32)"),
        ("model: 300-character name", [*predict, str(folder / LONG_NAME)], 1, "the file name is too long"),
        ("image: FIFO", ["predict", str(folder / "fifo.png")], 1, "fifo.png: is a pipe (FIFO)"),
        ("image: 8000×8000 blank PNG", ["predict", str(hostile.png(folder / "big.png", 8000, 8000))], 1,
         "big.png: no ink found"),
        ("image: 20000×20000 PNG", ["predict", str(hostile.png(folder / "huge.png", 20000, 20000, rows=False))],
         1, "20,000×20,000 pixels is larger than the 67,108,864 pixels accepted"),
        ("image: svgz", ["predict", str(hostile.svgz(folder / "drawing.svgz"))], 1, "is an SVG drawing"),
        ("image: 300-character name", ["predict", str(folder / (LONG_NAME + ".png"))], 1,
         "the file name is too long"),
        ("image: a folder", ["predict", str(folder / "a-folder.npz")], 1, "is a folder"),
        ("default model: corrupt", ["predict", str(image)], 1,
         f"the cached default model {folder / 'cache' / 'default-model.npz'} cannot be used"),
        ("IDX: 30000×30000 images", ["train", "--dataset", str(hostile.idx_folder(
            folder / "idx-wide", (2, 30000, 30000)))], 2, "larger than the 1,048,576 pixels accepted"),
        ("IDX: 10 million images", ["train", "--dataset", str(hostile.idx_folder(
            folder / "idx-many", (10_000_000, 28, 28)))], 2, "more than the 268,435,456 accepted"),
        ("train: 10,000 hidden layers", ["train", "--hidden", ",".join(["4096"] * 10_000)], 2,
         "10,000 hidden layers is too many"),
        ("train: 168 billion parameters", ["train", "--hidden", "4096,4096,4096"], 2, "parameters is too many"),
        ("save: parent is a file", ["train", "--save", str(folder / "a-file" / "m.npz")], 1, "is not a folder"),
        ("save: destination is a folder", ["train", "--save", str(folder / "a-folder.npz")], 1,
         "it is a folder, not a regular file"),
        ("save: destination is a FIFO", ["train", "--save", str(folder / "fifo-save.npz")], 1,
         "it is a pipe (FIFO), not a regular file"),
        ("save: missing folder", ["train", "--save", str(folder / "nowhere" / "m.npz")], 1, "does not exist"),
        ("save: 300-character name", ["train", "--save", str(folder / LONG_NAME)], 1, "the file name is too long"),
        ("fashion-mnist not downloaded", ["train", "--dataset", "fashion-mnist"], 1,
         "scratchnet train --dataset fashion-mnist --download"),
    ]


def test_every_cli_failure_ends_with_its_own_message_under_a_memory_limit(tmp_path):
    cases = cli_cases(tmp_path)
    (tmp_path / "cache").mkdir()
    (tmp_path / "cache" / "default-model.npz").write_bytes(b"PK\x03\x04 not a model")
    started = time.perf_counter()
    result = subprocess.run([sys.executable, "-c", DRIVER], input=json.dumps([argv for _, argv, _, _ in cases]),
                            capture_output=True, text=True, cwd=ROOT, timeout=240, preexec_fn=limited(),
                            env=child_env(tmp_path, SCRATCHNET_FASHION_DIR=""))
    assert result.returncode == 0, result.stderr[-3000:]
    outcomes = json.loads(result.stdout)
    failures = []
    for (name, _argv, code, fragment), outcome in zip(cases, outcomes, strict=True):
        err = outcome["err"]
        ok = (outcome["code"] == code and fragment in err and "Traceback" not in err and "MemoryError" not in err
              and len(err.strip().splitlines()) == 1 and outcome["seconds"] < 20)
        if not ok:
            failures.append(f"{name}: exit {outcome['code']} after {outcome['seconds']:.1f} s: {err.strip()[-600:]}")
    assert not failures, "\n".join(failures)
    assert time.perf_counter() - started < 240


def test_class_names_are_printed_with_control_characters_escaped(tmp_path, capsys):
    from cli import run_cli

    path = tmp_path / "m.npz"
    save_model(mlp(784, [8], 10, rng=np.random.default_rng(0)), path,
               {"class_names": [f"\x1b[31mred{k}\x07\n" for k in range(10)]})
    assert run_cli(["predict", str(digit_image(tmp_path / "d.png")), "--model", str(path)]) == 0
    out = capsys.readouterr().out
    assert "\x1b" not in out and "\x07" not in out and len(out.splitlines()) == 3
    assert "\\x1b[31mred" in out and "\\x07\\n" in out


# --------------------------------------------------------------------------- environments


def test_a_closed_pipe_ends_train_quietly(tmp_path):
    """`train --json | head -n1`: the reader leaves after one line, train stops without a traceback."""
    process = subprocess.Popen([sys.executable, str(ROOT / "main.py"), "train", "--json", "--train-size", "300",
                                "--epochs", "40", "--hidden", "8"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               env=child_env(tmp_path), cwd=ROOT)
    first = process.stdout.readline()
    process.stdout.close()
    _, err = process.communicate(timeout=120)
    assert json.loads(first)["epoch"] == 1
    assert process.returncode == 1 and b"Traceback" not in err and b"BrokenPipe" not in err


def test_predict_with_stdout_closed_runs_without_a_traceback(tmp_path):
    model = tmp_path / "m.npz"
    save_model(mlp(784, [8], 10, rng=np.random.default_rng(0)), model)
    result = subprocess.run([sys.executable, str(ROOT / "main.py"), "predict", str(digit_image(tmp_path / "d.png")),
                             "--model", str(model)], preexec_fn=lambda: os.close(1), stderr=subprocess.PIPE,
                            env=child_env(tmp_path), timeout=120, text=True)
    assert result.returncode == 0 and "Traceback" not in result.stderr and "AttributeError" not in result.stderr


def test_no_display_is_explained_instead_of_aborting(tmp_path):
    env = child_env(tmp_path)
    for name in ("QT_QPA_PLATFORM", "DISPLAY", "WAYLAND_DISPLAY"):
        env.pop(name, None)
    result = subprocess.run([sys.executable, str(ROOT / "main.py")], capture_output=True, text=True, env=env,
                            timeout=60)
    assert result.returncode == 1
    assert "no display found" in result.stderr and "QT_QPA_PLATFORM=offscreen" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_save_larger_than_the_file_size_limit_fails_in_one_line_and_keeps_the_old_file(tmp_path):
    """RLIMIT_FSIZE (file too large): the one-line message names the user's path, not the temporary file."""
    path = tmp_path / "model.npz"
    path.write_bytes(b"old")
    result = subprocess.run([sys.executable, str(ROOT / "main.py"), "train", "--train-size", "200", "--epochs", "1",
                             "--hidden", "16", "--save", str(path)], capture_output=True, text=True,
                            env=child_env(tmp_path), timeout=120, preexec_fn=limited(file_size=20_000))
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert f"cannot save to {path}: the file is too large" in result.stderr and ".tmp" not in result.stderr
    assert path.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir() if p.name != "cache"] == ["model.npz"]


def test_an_unwritable_destination_fails_before_training(tmp_path, capsys, monkeypatch):
    from cli import run_cli

    def read_only(*args, **kwargs):
        raise OSError(30, "Read-only file system")

    monkeypatch.setattr(files.tempfile, "mkstemp", read_only)
    started = time.perf_counter()
    assert run_cli(["train", "--epochs", "50", "--save", str(tmp_path / "m.npz")]) == 1
    out, err = capsys.readouterr()
    assert err == f"scratchnet train: cannot save to {tmp_path / 'm.npz'}: the file system is read-only\n"
    assert "epoch" not in out and time.perf_counter() - started < 5


# --------------------------------------------------------------------------- saving


@pytest.fixture
def small():
    return mlp(4, [3], 2, rng=np.random.default_rng(0))


def test_a_new_file_gets_the_usual_mode_under_the_umask(tmp_path, small):
    for mask, mode in ((0o022, 0o644), (0o027, 0o640)):
        old = os.umask(mask)
        try:
            save_model(small, tmp_path / f"m{mask:o}.npz")
        finally:
            os.umask(old)
        assert stat.S_IMODE((tmp_path / f"m{mask:o}.npz").stat().st_mode) == mode


def test_overwriting_keeps_the_old_files_mode(tmp_path, small):
    path = tmp_path / "m.npz"
    save_model(small, path)
    path.chmod(0o604)
    save_model(small, path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o604


def test_a_symlink_destination_is_written_through(tmp_path, small):
    (tmp_path / "real").mkdir()
    target = tmp_path / "real" / "m.npz"
    target.write_bytes(b"old")
    link = tmp_path / "link.npz"
    link.symlink_to(target)
    save_model(small, link)
    assert link.is_symlink() and load_model_file(target).model.get_config() == small.get_config()
    assert sorted(p.name for p in (tmp_path / "real").iterdir()) == ["m.npz"]


def test_devices_and_fifos_are_refused_as_destinations(tmp_path, small):
    with pytest.raises(SaveError, match="cannot save to /dev/null: it is a device, not a regular file"):
        files.check_destination("/dev/null")
    fifo = hostile.fifo(tmp_path / "f.npz")
    with pytest.raises(SaveError, match="it is a pipe"):
        save_model(small, fifo)
    assert stat.S_ISFIFO(fifo.stat().st_mode)


def test_the_model_suffix_is_added_when_missing():
    assert with_model_suffix("/tmp/digits") == Path("/tmp/digits.npz")
    assert with_model_suffix("/tmp/digits.NPZ") == Path("/tmp/digits.NPZ")
    assert with_model_suffix("/tmp/v1.2") == Path("/tmp/v1.2.npz")


def test_reading_a_fifo_returns_at_once(tmp_path):
    fifo = hostile.fifo(tmp_path / "m.npz")
    started = time.perf_counter()
    with pytest.raises(ModelFileError, match="is a pipe"):
        load_model_file(fifo)  # would block in open() if it waited for a writer
    assert time.perf_counter() - started < 1


def test_an_image_that_exists_but_cannot_be_read_says_why(tmp_path, capsys, monkeypatch):
    """Not Qt's "File not found": the real reason (root reads everything, so the refusal is simulated)."""
    from cli import run_cli

    image = digit_image(tmp_path / "locked.png")
    real_open = os.open

    def denied(path, *args, **kwargs):
        if str(path) == str(image):
            raise PermissionError(13, "Permission denied", str(path))
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr(files.os, "open", denied)
    assert run_cli(["predict", str(image)]) == 1
    assert capsys.readouterr().err == "scratchnet predict: locked.png: cannot be read (permission denied)\n"


def test_a_relative_cache_dir_is_ignored_with_a_note(tmp_path, capsys, monkeypatch):
    from cli import run_cli

    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    monkeypatch.setenv("SCRATCHNET_CACHE_DIR", "relative/cache")
    assert run_cli(["predict", str(tmp_path / "missing.png")]) == 1
    err = capsys.readouterr().err.splitlines()
    assert err[0] == (f"note: $SCRATCHNET_CACHE_DIR='relative/cache' is a relative path and is ignored; "
                      f"the cache is {tmp_path / '.cache' / 'scratchnet'}")
    assert err[1] == "scratchnet predict: missing.png: file not found"
