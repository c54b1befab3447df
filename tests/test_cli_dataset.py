"""`scratchnet train --dataset PATH` on a learner's own data (issue 17): the layout said, the import
flags, a model of another image size and class count that `predict` and `explain` then use, and bad
data refused with one line and exit code 2."""

from __future__ import annotations

import io
import json
import struct

import numpy as np
import pytest

from cli import run_cli
from cli.train import _ImportProgress
from gui.image_reader import read_grey
from scratchnet import limits
from scratchnet.data import load_dataset
from scratchnet.serialization import load_model_file
from tests.data_files import png_bytes, write_csv

pytestmark = pytest.mark.usefixtures("private_cache")


@pytest.fixture(autouse=True)
def private_data_home(tmp_path_factory, monkeypatch):
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path_factory.mktemp("data-home")))


@pytest.fixture(scope="module")
def digits(mnist):
    """400 train and 100 test MNIST digits as uint8 (N, 28, 28) with their labels."""
    as_bytes = lambda x: np.rint(x * 255).astype(np.uint8).reshape(-1, 28, 28)  # noqa: E731
    return as_bytes(mnist.x_train[:400]), mnist.y_train[:400], as_bytes(mnist.x_test[:100]), mnist.y_test[:100]


@pytest.fixture
def shapes(tmp_path):
    """train/ and test/ folders of three classes of 12x12 images: a bar across, a bar down, a dot."""
    rng = np.random.default_rng(0)
    for split, count in (("train", 20), ("test", 4)):
        for name in ("across", "down", "dot"):
            folder = tmp_path / "shapes" / split / name
            folder.mkdir(parents=True)
            for i in range(count):
                image = rng.integers(0, 40, size=(12, 12), dtype=np.uint8)
                at = rng.integers(2, 10)
                if name == "across":
                    image[at, 1:11] = 250
                elif name == "down":
                    image[1:11, at] = 250
                else:
                    image[at - 1:at + 1, at - 1:at + 1] = 250
                (folder / f"{i}.png").write_bytes(png_bytes(image))
    return tmp_path / "shapes"


def train(capsys, *args):
    code = run_cli(["train", *map(str, args)])
    out, err = capsys.readouterr()
    return code, out, err


def test_csv_folder_trains_and_says_its_layout(tmp_path, capsys, digits):
    x_train, y_train, x_test, y_test = digits
    write_csv(tmp_path / "train.csv", x_train, y_train, header=True)
    write_csv(tmp_path / "test.csv", x_test, y_test, header=True)
    model_path = tmp_path / "m.npz"
    code, out, err = train(capsys, "--dataset", tmp_path, "--epochs", "2", "--hidden", "32", "--json",
                           "--save", model_path)
    assert code == 0, err
    assert f"note: {tmp_path.name}: CSV folder (train.csv + test.csv), header detected; 10 classes, 28x28 images" in err
    done = json.loads(out.splitlines()[-1])
    assert done["event"] == "done" and done["test_accuracy"] > 0.5
    metadata = load_model_file(model_path).metadata
    assert metadata["dataset"] == str(tmp_path) and metadata["class_names"] == [str(d) for d in range(10)]
    assert metadata["data_import"] == {"image_size": None, "held_out": pytest.approx(1 / 7), "seed": 0,
                                       "photo": False, "images": False}


def test_one_csv_with_split_flags(tmp_path, capsys, digits):
    path = write_csv(tmp_path / "digits.csv", digits[0], digits[1])
    code, out, err = train(capsys, "--dataset", path, "--held-out", "0.2", "--split-seed", "3", "--epochs", "1",
                           "--hidden", "16", "--image-size", "14")
    assert code == 0, err
    assert "digits: one CSV split 4/5 : 1/5 (seed 3), no header, 28x28 images resized to 14x14" in err
    assert "network 196-16-10" in out
    assert "321 training, 79 test images" in out  # a fifth of each class, rounded per class


def test_image_folders_of_12x12_and_3_classes_then_predict_and_explain(shapes, tmp_path, capsys):
    model_path = tmp_path / "shapes.npz"
    code, out, err = train(capsys, "--dataset", shapes, "--image-size", "12", "--epochs", "15", "--hidden", "24",
                           "--augment", "--lr", "0.1", "--save", model_path)
    assert code == 0, err
    assert ("image folders (train/<class>/ + test/<class>/), 72 images to 12x12 grey, plain area resize; "
            "3 classes, 12x12 images") in err
    assert "network 144-24-3" in out and "augmentation: shifts up to 2 px" in out
    loaded = load_model_file(model_path)
    assert loaded.model.input_size == 144 and loaded.metadata["class_names"] == ["across", "dot", "down"]
    assert loaded.metadata["data_import"]["images"] is True

    image = np.full((48, 48), 20, dtype=np.uint8)  # a bar across a bigger image: read by plain resize
    image[20:24, 4:44] = 250
    (tmp_path / "bar.png").write_bytes(png_bytes(image))
    assert run_cli(["predict", str(tmp_path / "bar.png"), "--model", str(model_path), "--json"]) == 0
    top = json.loads(capsys.readouterr().out)["top"]
    assert [t["name"] for t in top][0] == "across"
    grey = read_grey(tmp_path / "bar.png") / np.float32(255)
    from scratchnet.preprocess import area_resample

    expected = loaded.model.predict_proba(area_resample(grey, 12, 12).reshape(1, 144))[0]
    assert top[0]["probability"] == pytest.approx(float(expected.max()), abs=1e-4)

    assert run_cli(["explain", "--test-index", "5", "--model", str(model_path), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    data = load_dataset(shapes, image_size=12, read_image=read_grey)
    assert report["test_label"] == int(data.y_test[5]) and report["dataset"] == "shapes"
    assert report["label_name"] == data.class_names[int(data.y_test[5])]


def test_conv_layers_on_12x12_images(shapes, capsys):
    code, out, err = train(capsys, "--dataset", shapes, "--image-size", "12", "--epochs", "1",
                           "--layers", "conv3x3x4,relu,pool2,flatten")
    assert code == 0, err
    assert "network 1x12x12 -> conv3x3x4 4x10x10" in out


@pytest.mark.parametrize(("args", "fragment"), [
    (["--held-out", "1"], "must be above 0 and below 1"),
    (["--held-out", "0"], "must be above 0 and below 1"),
    (["--image-size", "1"], "must be between 2 and 256 pixels"),
    (["--image-size", "300"], "must be between 2 and 256 pixels"),
    (["--photo", "maybe"], "invalid choice"),
    (["--split-seed", "-1"], "must not be negative"),
])
def test_bad_import_flags(capsys, args, fragment):
    code, out, err = train(capsys, *args)
    assert code == 2 and fragment in err and len(err.strip().splitlines()) == 1


@pytest.mark.parametrize(("text", "fragment"), [
    ("1,0,0,0,255\n0,0,x,0,0\n", "bad.csv, line 2, column 3: 'x' is not a number"),
    ("1,0,0,0,255\n0,0,0\n", "bad.csv, line 2: 3 values, but line 1 has 5"),
    ("", "bad.csv: empty file"),
])
def test_bad_data_exits_2_with_one_line(tmp_path, capsys, text, fragment):
    (tmp_path / "bad.csv").write_text(text)
    code, out, err = train(capsys, "--dataset", tmp_path / "bad.csv")
    assert code == 2 and fragment in err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err and out == ""


def test_bad_image_exits_2(shapes, capsys):
    (shapes / "train" / "dot" / "broken.png").write_text("not an image")
    code, out, err = train(capsys, "--dataset", shapes)
    assert code == 2 and "broken.png: not an image Qt can read" in err and len(err.strip().splitlines()) == 1


def test_corrupt_png_and_bmp_bomb_exit_2_with_one_line_only(shapes, capfd):
    """libpng wrote its own "libpng error: Read Error" line to standard error before the message, and
    a BMP claiming 60,000x60,000 pixels was called corrupt (review item 11)."""
    broken = shapes / "train" / "dot" / "broken.png"
    broken.write_bytes(png_bytes(np.zeros((12, 12), np.uint8))[:60])
    assert run_cli(["train", "--dataset", str(shapes)]) == 2
    out, err = capfd.readouterr()
    assert err.strip().splitlines() == [
        f"scratchnet train: error: {broken}: corrupt image (unable to read image data; libpng error: Read Error)"]
    broken.unlink()
    bomb = shapes / "train" / "dot" / "bomb.bmp"
    info = struct.pack("<IiiHHIIiiII", 40, 60_000, 60_000, 1, 24, 0, 0, 2835, 2835, 0, 0) + bytes(1000)
    bomb.write_bytes(b"BM" + struct.pack("<IHHI", 14 + len(info), 0, 0, 54) + info)
    assert run_cli(["train", "--dataset", str(shapes)]) == 2
    err = capfd.readouterr().err
    assert len(err.strip().splitlines()) == 1
    assert f"{bomb}: its header claims 60,000x60,000 pixels, more than 8,192x8,192: refused before decoding" in err


def test_large_csv_needs_the_flag(tmp_path, capsys, monkeypatch, digits):
    path = write_csv(tmp_path / "digits.csv", digits[0][:70], digits[1][:70])
    monkeypatch.setattr(limits, "MAX_CSV_BYTES", 1000)
    code, out, err = train(capsys, "--dataset", path, "--epochs", "1")
    assert code == 2 and "digits.csv" in err and "GB read without asking" in err
    code, out, err = train(capsys, "--dataset", path, "--epochs", "1", "--allow-large", "--hidden", "8")
    assert code == 0, err


def test_missing_path_is_an_unknown_dataset(tmp_path, capsys):
    code, out, err = train(capsys, "--dataset", tmp_path / "nope.csv")
    assert code == 2 and "unknown dataset" in err and "a .csv, image folders or an .npz" in err


def test_progress_bar_of_an_image_import(shapes):
    stream = io.StringIO()
    bar = _ImportProgress(stream)
    load_dataset(shapes, read_image=read_grey, progress=bar)
    bar.finish()
    frames = stream.getvalue().split("\r")
    assert "reading data [" + "#" * 30 + "] 100%" in frames
    assert any(f.endswith(" 50%") for f in frames) and frames[-1] == ""  # 36 of 72 images
    assert len(frames) == len(set(frames)) + 1  # each frame once (the first split part is empty)
