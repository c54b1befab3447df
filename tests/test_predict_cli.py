"""`scratchnet predict IMAGE`: real MNIST digits saved as image files are read back correctly,
whichever the polarity; bad input exits with a one-line message."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from cli import run_cli
from cli.predict import DEFAULT_MODEL_NAME
from scratchnet.network import mlp
from scratchnet.serialization import save_model

ROOT = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.usefixtures("private_cache")


@pytest.fixture(scope="module")
def clear_digits(mnist, saved_digit_model):
    """Test digits of two different classes that the model reads confidently as 28×28 images."""
    model, _ = saved_digit_model
    probabilities = model.predict_proba(mnist.x_test[:200])
    confident = np.flatnonzero(
        (probabilities.argmax(axis=1) == mnist.y_test[:200]) & (probabilities.max(axis=1) > 0.95)
    )
    first = confident[0]
    second = next(i for i in confident if mnist.y_test[i] != mnist.y_test[first])
    return [(mnist.x_test[i].reshape(28, 28), int(mnist.y_test[i])) for i in (first, second)]


def save_grey(path: Path, grey: np.ndarray) -> Path:
    """Write (H, W) grey levels in [0, 1] as an 8-bit image file (format from the suffix)."""
    from PySide6.QtGui import QImage

    pixels = np.ascontiguousarray(np.round(grey * 255), dtype=np.uint8)
    height, width = pixels.shape
    image = QImage(pixels.data, width, height, width, QImage.Format.Format_Grayscale8).copy()
    assert image.save(str(path))
    return path


def save_colour(path: Path, ink: np.ndarray, ink_rgb, paper_rgb) -> Path:
    """Write ink (H, W) in [0, 1] as colour ``ink_rgb`` on ``paper_rgb`` (0-255 triples)."""
    from PySide6.QtGui import QImage

    rgb = (1 - ink[..., None]) * np.array(paper_rgb) + ink[..., None] * np.array(ink_rgb)
    pixels = np.ascontiguousarray(np.round(rgb), dtype=np.uint8)
    height, width = ink.shape
    image = QImage(pixels.data, width, height, 3 * width, QImage.Format.Format_RGB888).copy()
    assert image.save(str(path))
    return path


def upscaled(digit: np.ndarray) -> np.ndarray:
    """A 28×28 digit on a 320×320 page: 2 pixels of margin, each pixel a 10×10 block."""
    return np.kron(np.pad(digit, 2), np.ones((10, 10), dtype=np.float32))


def predict(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(ROOT / "main.py"), "predict", *map(str, args)],
        check=False, capture_output=True, text=True, env=os.environ.copy(), timeout=300,
    )


def parse_lines(stdout: str) -> list[tuple[str, float]]:
    """'7  98.2%' lines -> [('7', 98.2), ...]."""
    rows = []
    for line in stdout.splitlines():
        name, percent = line.rsplit(maxsplit=1)
        assert percent.endswith("%"), line
        rows.append((name.strip(), float(percent[:-1])))
    return rows


# --------------------------------------------------------------------------- reading digits


@pytest.mark.parametrize("polarity", ["white_on_black", "black_on_white"])
def test_top_class_is_the_label(tmp_path, saved_digit_model, clear_digits, polarity):
    _, model_path = saved_digit_model
    for digit, label in clear_digits:
        page = upscaled(digit) if polarity == "white_on_black" else 1 - upscaled(digit)
        image = save_grey(tmp_path / f"{polarity}-{label}.png", page)
        result = predict(image, "--model", model_path)
        assert result.returncode == 0, result.stderr
        rows = parse_lines(result.stdout)
        assert len(rows) == 3
        assert rows[0][0] == str(label)
        percents = [p for _, p in rows]
        assert percents == sorted(percents, reverse=True) and sum(percents) <= 100.05


def test_colour_jpeg_is_read_by_its_luminance(tmp_path, saved_digit_model, clear_digits, capsys):
    _, model_path = saved_digit_model
    digit, label = clear_digits[0]
    image = save_colour(tmp_path / "blue-on-yellow.jpg", upscaled(digit), (20, 30, 140), (250, 240, 170))
    assert run_cli(["predict", str(image), "--model", str(model_path), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["top"][0]["class"] == label
    assert report["top"][0]["name"] == str(label)
    probabilities = [entry["probability"] for entry in report["top"]]
    assert len(probabilities) == 3 and probabilities == sorted(probabilities, reverse=True)


def test_cli_matches_the_engine_path(tmp_path, saved_digit_model, clear_digits, capsys):
    """The CLI's probabilities are those of prepare_drawing + predict_proba on the same ink."""
    from scratchnet.preprocess import prepare_drawing

    model, model_path = saved_digit_model
    digit, _ = clear_digits[1]
    image = save_grey(tmp_path / "digit.png", 1 - upscaled(digit))
    assert run_cli(["predict", str(image), "--model", str(model_path), "--json"]) == 0
    top = json.loads(capsys.readouterr().out)["top"]
    expected = model.predict_proba(prepare_drawing(np.round(upscaled(digit) * 255) / 255)[None])[0]
    for entry in top:
        assert entry["probability"] == pytest.approx(float(expected[entry["class"]]), abs=1e-4)


def test_default_model_is_trained_once_into_the_cache(tmp_path, clear_digits):
    digit, label = clear_digits[0]
    image = save_grey(tmp_path / "digit.png", upscaled(digit))
    first = predict(image)
    assert first.returncode == 0, first.stderr
    assert "training" in first.stderr and "saved" in first.stderr
    assert (tmp_path / "cache" / DEFAULT_MODEL_NAME).is_file()
    assert parse_lines(first.stdout)[0][0] == str(label)
    second = predict(image)
    assert second.returncode == 0 and second.stderr == ""
    assert second.stdout == first.stdout


# --------------------------------------------------------------------------- failures


def test_missing_image_exits_1_with_one_line(tmp_path, saved_digit_model):
    result = predict(tmp_path / "nope.png", "--model", saved_digit_model[1])
    assert result.returncode == 1
    assert result.stdout == ""
    assert len(result.stderr.splitlines()) == 1 and "nope.png" in result.stderr
    assert "Traceback" not in result.stderr


def test_missing_argument_exits_2_with_one_line():
    result = predict()
    assert result.returncode == 2
    assert len(result.stderr.splitlines()) == 1 and "image" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("args", [["--model"], ["a.png", "--colour"], ["a.png", "b.png"]])
def test_invalid_arguments_exit_2(capsys, args):
    assert run_cli(["predict", *args]) == 2
    assert len(capsys.readouterr().err.splitlines()) == 1


def _run_failing(capsys, *args) -> str:
    assert run_cli(["predict", *map(str, args)]) == 1
    out, err = capsys.readouterr()
    assert out == "" and len(err.splitlines()) == 1
    return err


def test_file_that_is_not_an_image(tmp_path, saved_digit_model, capsys):
    text = tmp_path / "notes.png"
    text.write_text("not a picture")
    message = _run_failing(capsys, text, "--model", saved_digit_model[1])
    assert "notes.png: not an image format this app reads" in message


def test_folder_instead_of_an_image(tmp_path, saved_digit_model, capsys):
    assert "folder" in _run_failing(capsys, tmp_path, "--model", saved_digit_model[1])


def test_blank_image(tmp_path, saved_digit_model, capsys):
    blank = save_grey(tmp_path / "blank.png", np.full((50, 60), 0.9))
    assert "no ink" in _run_failing(capsys, blank, "--model", saved_digit_model[1])


def test_unreadable_model_file(tmp_path, clear_digits, capsys):
    image = save_grey(tmp_path / "digit.png", upscaled(clear_digits[0][0]))
    broken = tmp_path / "broken.npz"
    broken.write_bytes(b"PK\x03\x04 truncated")
    assert "broken.npz" in _run_failing(capsys, image, "--model", broken)
    assert "missing.npz" in _run_failing(capsys, image, "--model", tmp_path / "missing.npz")


def test_model_for_other_inputs(tmp_path, clear_digits, capsys):
    image = save_grey(tmp_path / "digit.png", upscaled(clear_digits[0][0]))
    other = tmp_path / "other.npz"
    save_model(mlp(101, [8], 10, rng=np.random.default_rng(0)), other)
    assert "takes 101 inputs, not a square image" in _run_failing(capsys, image, "--model", other)


def test_model_of_10x10_images_reads_the_digit_at_its_size(tmp_path, clear_digits, capsys):
    """A model trained on 10x10 images (issue 17) sees the drawing pad's 28x28 digit area-resized."""
    from scratchnet.preprocess import area_resample, ink_from_grey, prepare_drawing

    grey = upscaled(clear_digits[0][0])
    image = save_grey(tmp_path / "digit.png", grey)
    model = mlp(100, [8], 3, rng=np.random.default_rng(0))
    path = tmp_path / "small.npz"
    save_model(model, path, metadata={"class_names": ["a", "b", "c"]})
    assert run_cli(["predict", str(image), "--model", str(path), "--json"]) == 0
    top = json.loads(capsys.readouterr().out)["top"]
    digit = prepare_drawing(ink_from_grey(np.round(grey * 255) / 255)).reshape(28, 28)
    expected = model.predict_proba(area_resample(digit, 10, 10).reshape(1, 100))[0]
    assert [t["name"] for t in top] == [["a", "b", "c"][k] for k in np.argsort(expected)[::-1]]
    assert top[0]["probability"] == pytest.approx(float(expected.max()), abs=1e-4)
