"""A learner's own data (issue 17): every layout, the round trip of MNIST through CSV and PNG
folders, the cache, and each bad input refused with a message naming the file, line or image."""

from __future__ import annotations

import os
import struct
import time
import zlib
from pathlib import Path

import numpy as np
import pytest

from gui.image_reader import read_grey
from scratchnet import data_import, import_cache, limits
from scratchnet.data import load_dataset
from scratchnet.errors import DatasetError, DatasetTooLarge

TRAIN, TEST = 2_000, 500


@pytest.fixture(autouse=True)
def private_data_home(tmp_path_factory, monkeypatch):
    """The import cache lives in this test's own folder."""
    folder = tmp_path_factory.mktemp("data-home")
    monkeypatch.setenv("XDG_DATA_HOME", str(folder))
    return folder


@pytest.fixture(scope="module")
def small_mnist(mnist):
    """The bundled MNIST's first 2,000 train and 500 test images as uint8 (N, 28, 28) and labels."""
    to_bytes = lambda x: np.rint(x * 255).astype(np.uint8).reshape(-1, 28, 28)  # noqa: E731
    return (to_bytes(mnist.x_train[:TRAIN]), mnist.y_train[:TRAIN],
            to_bytes(mnist.x_test[:TEST]), mnist.y_test[:TEST])


# --------------------------------------------------------------------------- writers


def write_csv(path: Path, images: np.ndarray, labels: np.ndarray, header: bool = False) -> Path:
    rows = np.column_stack([labels, images.reshape(len(images), -1)]).astype(np.int64)
    lines = [",".join(["label", *(f"pixel{i}" for i in range(rows.shape[1] - 1))])] if header else []
    lines += [",".join(map(str, row)) for row in rows.tolist()]
    path.write_text("\n".join(lines) + "\n")
    return path


def png_bytes(grey: np.ndarray, width: int | None = None, height: int | None = None) -> bytes:
    """A greyscale 8-bit PNG of ``grey`` (H, W) uint8; ``width``/``height`` override the header's."""
    h, w = grey.shape

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    ihdr = struct.pack(">IIBBBBB", width or w, height or h, 8, 0, 0, 0, 0)
    raw = b"".join(b"\0" + row.tobytes() for row in grey)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")


def write_png_folders(root: Path, images: np.ndarray, labels: np.ndarray, names=None) -> Path:
    for i, (image, label) in enumerate(zip(images, labels, strict=True)):
        folder = root / (names[label] if names else str(label))
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{i:05d}.png").write_bytes(png_bytes(image))
    return root


def tiny_images(n_per_class=6, classes=("cat", "dog"), side=8, seed=0):
    """Distinct random images per class: (images uint8 (N, side, side), labels, class names)."""
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, size=(n_per_class * len(classes), side, side), dtype=np.uint8)
    labels = np.repeat(np.arange(len(classes)), n_per_class)
    return images, labels, list(classes)


# --------------------------------------------------------------------------- round trips


def test_mnist_as_csv_folder_loads_back_identical(tmp_path, small_mnist, mnist):
    x_train, y_train, x_test, y_test = small_mnist
    write_csv(tmp_path / "train.csv", x_train, y_train, header=True)
    write_csv(tmp_path / "test.csv", x_test, y_test)
    data = load_dataset(tmp_path)
    np.testing.assert_array_equal(data.x_train, mnist.x_train[:TRAIN])
    np.testing.assert_array_equal(data.y_train, mnist.y_train[:TRAIN])
    np.testing.assert_array_equal(data.x_test, mnist.x_test[:TEST])
    np.testing.assert_array_equal(data.y_test, mnist.y_test[:TEST])
    assert data.class_names == [str(d) for d in range(10)]
    assert data.image_shape == (28, 28)
    assert data.layout == ("CSV folder (train.csv + test.csv), header detected in the train file")
    assert data.name == tmp_path.name


def test_mnist_named_csv_pair_without_header(tmp_path, small_mnist):
    x_train, y_train, x_test, y_test = small_mnist
    write_csv(tmp_path / "mnist_train.csv", x_train[:100], y_train[:100])
    write_csv(tmp_path / "mnist_test.csv", x_test[:50], y_test[:50])
    assert data_import.find_layout(tmp_path) == data_import.CSV_FOLDER
    data = load_dataset(tmp_path)
    assert data.layout == "CSV folder (mnist_train.csv + mnist_test.csv), no header"
    assert (len(data.y_train), len(data.y_test)) == (100, 50)


def test_mnist_as_png_folders_loads_back_identical(tmp_path, small_mnist, mnist):
    x_train, y_train, x_test, y_test = small_mnist
    write_png_folders(tmp_path / "train", x_train, y_train)
    write_png_folders(tmp_path / "test", x_test, y_test)
    calls = []
    data = load_dataset(tmp_path, read_image=read_grey, progress=lambda done, total: calls.append((done, total)))
    order_train = np.argsort(y_train, kind="stable")  # images come back class by class
    order_test = np.argsort(y_test, kind="stable")
    np.testing.assert_array_equal(data.x_train, mnist.x_train[:TRAIN][order_train])
    np.testing.assert_array_equal(data.y_train, mnist.y_train[:TRAIN][order_train])
    np.testing.assert_array_equal(data.x_test, mnist.x_test[:TEST][order_test])
    np.testing.assert_array_equal(data.y_test, mnist.y_test[:TEST][order_test])
    assert data.layout == ("image folders (train/<class>/ + test/<class>/), 2,500 images to 28x28 grey, "
                           "plain area resize")
    assert calls[-1] == (2_500, 2_500) and len(calls) >= 100
    assert all(a[0] < b[0] for a, b in zip(calls, calls[1:], strict=False))


# --------------------------------------------------------------------------- each layout


def test_one_csv_is_split_stratified_and_seeded(tmp_path, small_mnist):
    x, y = small_mnist[0][:700], small_mnist[1][:700]
    path = write_csv(tmp_path / "digits.csv", x, y)
    data = load_dataset(path)
    assert data.layout == "one CSV split 6/7 : 1/7 (seed 0), no header"
    assert data.name == "digits"
    assert len(data.y_test) == sum(round(np.sum(y == c) / 7) for c in range(10))
    for c in range(10):  # every class keeps its share in test
        assert abs(np.sum(data.y_test == c) - np.sum(y == c) / 7) <= 1
    again = load_dataset(path)
    np.testing.assert_array_equal(again.x_test, data.x_test)
    other = load_dataset(path, held_out=0.2, seed=3)
    assert other.layout == "one CSV split 4/5 : 1/5 (seed 3), no header"
    assert not np.array_equal(np.sort(other.y_test), np.sort(data.y_test)) or len(other.y_test) != len(data.y_test)
    # every row lands in exactly one split
    all_rows = np.concatenate([data.x_train, data.x_test]) * 255
    assert sorted(map(bytes, np.rint(all_rows).astype(np.uint8))) == sorted(map(bytes, x.reshape(700, -1)))


def test_csv_of_20x20_images_and_labels_mapped_from_sorted_values(tmp_path):
    rng = np.random.default_rng(1)
    images = rng.integers(0, 256, size=(60, 20, 20))
    labels = np.tile([3, 7, 12], 20)
    path = write_csv(tmp_path / "few.csv", images, labels, header=True)
    data = load_dataset(path, held_out=0.25)
    assert data.image_shape == (20, 20) and data.x_train.shape[1] == 400
    assert data.class_names == ["3", "7", "12"]
    assert set(data.y_train.tolist()) == {0, 1, 2}
    assert data.layout.endswith("header detected")


def test_csv_with_decimal_pixels_and_resize(tmp_path):
    lines = ["1," + ",".join(["127.5"] * 16), "0," + ",".join(["0.0"] * 16)] * 4
    (tmp_path / "f.csv").write_text("\n".join(lines))
    data = load_dataset(tmp_path / "f.csv", held_out=0.5)
    assert data.image_shape == (4, 4)
    ones = np.concatenate([data.x_train[data.y_train == 1], data.x_test[data.y_test == 1]])
    np.testing.assert_allclose(ones, 0.5)
    big = load_dataset(tmp_path / "f.csv", held_out=0.5, image_size=8)
    assert big.image_shape == (8, 8) and big.x_train.shape[1] == 64
    assert "4x4 images resized to 8x8" in big.layout


def test_class_folders_alone_are_split(tmp_path):
    images, labels, names = tiny_images(n_per_class=7, classes=("b_dog", "a_cat", "c_owl"))
    write_png_folders(tmp_path / "pets", images, labels, names)
    (tmp_path / "pets" / "README.txt").write_text("ignored")
    (tmp_path / "pets" / "a_cat" / "notes.txt").write_text("ignored too")
    assert data_import.find_layout(tmp_path / "pets") == data_import.CLASS_FOLDERS
    data = load_dataset(tmp_path / "pets", read_image=read_grey, image_size=8)
    assert data.class_names == ["a_cat", "b_dog", "c_owl"]  # sorted folder names
    assert len(data.y_test) == 3 and len(data.y_train) == 18
    assert data.layout == ("image folders (<class>/ split 6/7 : 1/7 (seed 0)), 21 images to 8x8 grey, "
                           "plain area resize")
    # a_cat's images are those written for label 1 ("a_cat" in names)
    cats = np.concatenate([data.x_train[data.y_train == 0], data.x_test[data.y_test == 0]])
    expected = np.divide(images[labels == 1].reshape(7, -1), np.float32(255), dtype=np.float32)
    assert sorted(map(bytes, cats)) == sorted(map(bytes, expected))


def test_images_of_any_size_and_colour_become_the_chosen_size(tmp_path, qapp):
    from PySide6.QtGui import QColor, QImage

    for name, colour in (("red", QColor(255, 0, 0)), ("white", QColor(255, 255, 255))):
        folder = tmp_path / "train" / name
        folder.mkdir(parents=True)
        for i, (w, h, fmt) in enumerate(((60, 40, "png"), (33, 33, "jpg"), (10, 90, "bmp"))):
            image = QImage(w, h, QImage.Format.Format_RGB32)
            image.fill(colour)
            assert image.save(str(folder / f"{i}.{fmt}"))
    (tmp_path / "test" / "red").mkdir(parents=True)
    image.save(str(tmp_path / "test" / "red" / "x.png"))
    data = load_dataset(tmp_path, read_image=read_grey, image_size=20)
    assert data.x_train.shape == (6, 400) and data.image_shape == (20, 20)
    red = data.x_train[data.y_train == data.class_names.index("red")]
    np.testing.assert_allclose(red, 76 / 255, atol=2 / 255)  # Qt's grey of pure red
    np.testing.assert_allclose(data.x_train[data.y_train == data.class_names.index("white")], 1.0)
    assert data.y_test.tolist() == [data.class_names.index("red")]


def test_photo_preprocessing_centres_dark_ink_on_light_paper(tmp_path):
    paper = np.full((80, 60), 230, dtype=np.uint8)
    paper[10:30, 5:15] = 20  # a dark blob off-centre
    for name in ("a", "b"):
        folder = tmp_path / name
        folder.mkdir()
        for i in range(3):
            (folder / f"{i}.png").write_bytes(png_bytes(paper))
    plain = load_dataset(tmp_path, read_image=read_grey, held_out=0.34)
    photo = load_dataset(tmp_path, read_image=read_grey, held_out=0.34, photo=True)
    auto = load_dataset(tmp_path, read_image=read_grey, held_out=0.34, photo="auto")
    assert plain.x_train[0].mean() > 0.7  # light paper stays light
    digit = photo.x_train[0].reshape(28, 28)
    assert digit[0].max() == 0 and digit.max() == pytest.approx(1.0)  # ink bright, paper black
    mass = digit.sum()
    centre = (digit.sum(axis=1) @ np.arange(28) / mass, digit.sum(axis=0) @ np.arange(28) / mass)
    assert centre == pytest.approx((14, 14), abs=0.6)
    np.testing.assert_array_equal(auto.x_train, photo.x_train)
    assert "photo preprocessing for 6 of 6" in auto.layout and photo.layout.endswith("photo preprocessing")


def test_npz_layout(tmp_path):
    rng = np.random.default_rng(2)
    x_train = rng.integers(0, 256, size=(30, 16, 16), dtype=np.uint8)
    y_train = np.arange(30) % 3 + 5
    x_test, y_test = x_train[:6], y_train[:6]
    np.savez(tmp_path / "set.npz", x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test)
    data = load_dataset(tmp_path / "set.npz")
    assert data.image_shape == (16, 16) and data.class_names == ["5", "6", "7"]
    np.testing.assert_array_equal(data.x_train, np.divide(x_train.reshape(30, -1), np.float32(255), dtype=np.float32))
    np.testing.assert_array_equal(data.y_test, y_test - 5)
    named = tmp_path / "named.npz"
    np.savez(named, x_train=x_train / 255.0, y_train=y_train - 5, x_test=x_test / 255.0, y_test=y_test - 5,
             class_names=np.array(["circle", "square", "star"]))
    data = load_dataset(named)
    assert data.class_names == ["circle", "square", "star"] and data.layout.startswith("npz")
    np.testing.assert_allclose(data.x_train, x_train.reshape(30, -1) / 255, atol=1e-7)


def test_idx_folder_still_loads(tmp_path, mnist):
    import shutil

    from scratchnet import paths

    for f in (paths.resources_dir() / "mnist").glob("*-ubyte.gz"):
        shutil.copy(f, tmp_path / f.name)
    assert data_import.find_layout(tmp_path) == data_import.IDX
    data = load_dataset(tmp_path)
    assert data.layout == "IDX files" and len(data.y_train) == len(mnist.y_train)
    np.testing.assert_array_equal(data.x_test, mnist.x_test)


def test_stratified_split_keeps_one_of_each_class_in_train():
    labels = np.array([0] * 10 + [1] * 2 + [2])
    train, test = data_import.stratified_split(labels, 0.5, seed=0)
    assert sorted(labels[test].tolist()) == [0, 0, 0, 0, 0, 1]
    assert np.intersect1d(train, test).size == 0 and len(train) + len(test) == 13
    assert np.array_equal(test, np.sort(test))
    assert data_import.split_text(1 / 7) == "6/7 : 1/7"
    assert data_import.split_text(0.123) == "88% : 12%"


# --------------------------------------------------------------------------- cache


def test_second_open_comes_from_the_cache(tmp_path, small_mnist, private_data_home):
    x_train, y_train, x_test, y_test = small_mnist
    write_csv(tmp_path / "train.csv", x_train, y_train)
    write_csv(tmp_path / "test.csv", x_test, y_test)
    first = load_dataset(tmp_path)
    entries = list(import_cache.cache_dir().glob("*.npz"))
    assert len(entries) == 1 and import_cache.cache_dir() == private_data_home / "scratchnet" / "cache"
    began = time.perf_counter()
    second = load_dataset(tmp_path)
    assert time.perf_counter() - began < 1.0
    np.testing.assert_array_equal(second.x_train, first.x_train)
    assert second.layout == first.layout and second.class_names == first.class_names
    # another option is another entry; a damaged entry is ignored and rebuilt
    load_dataset(tmp_path, image_size=14)
    assert len(list(import_cache.cache_dir().glob("*.npz"))) == 2
    entries[0].write_bytes(b"PK\x03\x04 damaged")
    third = load_dataset(tmp_path)
    np.testing.assert_array_equal(third.x_test, first.x_test)
    assert entries[0].stat().st_size > 1000


def test_cache_entry_follows_the_content(tmp_path):
    path = write_csv(tmp_path / "a.csv", np.full((6, 2, 2), 9), np.array([0, 1] * 3))
    assert load_dataset(path, held_out=0.34).x_train.max() == pytest.approx(9 / 255)
    write_csv(path, np.full((6, 2, 2), 200), np.array([0, 1] * 3))
    assert load_dataset(path, held_out=0.34).x_train.max() == pytest.approx(200 / 255)
    assert len(list(import_cache.cache_dir().glob("*.npz"))) == 2


# --------------------------------------------------------------------------- bad input


def csv_error(tmp_path, text: str | bytes, name="bad.csv") -> str:
    path = tmp_path / name
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    began = time.perf_counter()
    with pytest.raises(DatasetError) as caught:
        load_dataset(path)
    assert time.perf_counter() - began < 2.0
    assert not list(import_cache.cache_dir().glob("*.npz"))  # nothing kept of a failed import
    message = str(caught.value)
    assert str(path) in message
    return message


GOOD = "1,0,0,0,255\n0,255,0,0,0\n"


@pytest.mark.parametrize(("text", "expected"), [
    (GOOD + "1,0,0,0\n", "line 3: 4 values, but line 1 has 5"),
    (GOOD + "1,0,x,0,0\n", "line 3, column 3: 'x' is not a number"),
    (GOOD + "1,0,,0,0\n", "line 3, column 3: is empty"),
    (GOOD + "1,0,0,0,256\n", "line 3, column 5: pixel 256 is outside 0-255"),
    (GOOD + "1,0,-1,0,0\n", "line 3, column 3: pixel -1 is outside 0-255"),
    (GOOD + "1.5,0,0,0,0\n", "line 3, column 1: label 1.5 is not a whole number"),
    (GOOD + "1,0,1 2,0,0\n", "line 3, column 3: '1 2' is not a number"),
    (GOOD + "1,0,nan,0,0\n", "line 3, column 3: 'nan' is not a number"),
    ("", "empty file"),
    ("\n \n", "empty file"),
    ("label,a,b,c,d\n", "header line and no data rows"),
    ("1,0,0,0\n0,1,1,1\n", "3 pixels per row is not a square image"),
    ("1,0,0,0,0\n1,1,1,1,1\n", "only class '1'"),
])
def test_bad_csv_content_is_named_by_line(tmp_path, text, expected):
    assert expected in csv_error(tmp_path, text)


def test_binary_file_named_csv(tmp_path):
    assert "not a text file (binary data" in csv_error(tmp_path, bytes(range(256)) * 40)


def test_more_than_100_classes(tmp_path):
    rows = "\n".join(f"{label},0,0,0,0" for label in range(101))
    assert "101 classes, more than the 100 accepted" in csv_error(tmp_path, rows)


def test_test_label_missing_from_train(tmp_path):
    (tmp_path / "train.csv").write_text(GOOD)
    (tmp_path / "test.csv").write_text("1,0,0,0,0\n7,0,0,0,0\n")
    with pytest.raises(DatasetError, match=r"test\.csv, line 2: label 7 is not among the train labels \(0, 1\)"):
        load_dataset(tmp_path)


def test_csv_over_the_size_limit_asks_first(tmp_path, monkeypatch):
    big = tmp_path / "big.csv"
    with open(big, "wb") as handle:  # a sparse file: 3 GB on paper, nothing on disk
        handle.truncate(3 << 30)
    began = time.perf_counter()
    with pytest.raises(DatasetTooLarge, match=r"big\.csv: 3\.0 GB is more than the 2 GB"):
        load_dataset(big)
    assert time.perf_counter() - began < 2.0
    monkeypatch.setattr(limits, "MAX_CSV_BYTES", 20)
    small = tmp_path / "small.csv"
    small.write_text(GOOD * 3)
    with pytest.raises(DatasetTooLarge):
        load_dataset(small)
    assert load_dataset(small, allow_large=True, held_out=0.5).num_classes == 2


def image_error(root: Path, **kwargs) -> str:
    began = time.perf_counter()
    with pytest.raises(DatasetError) as caught:
        load_dataset(root, read_image=read_grey, **kwargs)
    assert time.perf_counter() - began < 2.0
    assert not list(import_cache.cache_dir().glob("*.npz"))
    return str(caught.value)


@pytest.fixture
def class_folders(tmp_path):
    images, labels, names = tiny_images()
    return write_png_folders(tmp_path / "set", images, labels, names)


def test_corrupt_image(class_folders):
    bad = class_folders / "dog" / "zz.png"
    bad.write_bytes(png_bytes(np.zeros((8, 8), np.uint8))[:60])
    assert f"{bad}: corrupt image" in image_error(class_folders)


def test_text_named_png(class_folders):
    bad = class_folders / "cat" / "zz.png"
    bad.write_text("hello, I am not a picture\n")
    assert f"{bad}: not an image Qt can read" in image_error(class_folders)


def test_header_claiming_60000_by_60000_pixels_is_refused_before_decoding(class_folders):
    bad = class_folders / "cat" / "zz.png"
    bad.write_bytes(png_bytes(np.zeros((4, 4), np.uint8), width=60_000, height=60_000))
    message = image_error(class_folders)
    assert f"{bad}: its header claims 60,000x60,000 pixels" in message and "before decoding" in message


def test_class_folder_with_no_images(class_folders):
    (class_folders / "emu").mkdir()
    (class_folders / "emu" / "readme.txt").write_text("no pictures yet")
    assert f"{class_folders / 'emu'}: class folder 'emu' holds no images" in image_error(class_folders)


def test_test_class_missing_from_train(tmp_path):
    images, labels, names = tiny_images()
    write_png_folders(tmp_path / "train", images, labels, names)
    write_png_folders(tmp_path / "test", images[:4], labels[:4], ["owl", "dog"])
    assert "test class 'owl' has no train folder (train classes: cat, dog)" in image_error(tmp_path)


def test_symlink_loop(class_folders):
    os.symlink("..", class_folders / "cat" / "again")
    message = image_error(class_folders)
    assert f"{class_folders / 'cat' / 'again'}" in message and "symbolic link loop" in message


def test_self_symlink_loop(class_folders):
    os.symlink("loop", class_folders / "dog" / "loop")
    assert "symbolic link loop" in image_error(class_folders)


def test_too_few_and_too_many_class_folders(tmp_path):
    images, labels, _ = tiny_images(n_per_class=1, classes=[f"c{i:03d}" for i in range(101)], side=2)
    write_png_folders(tmp_path / "many", images, labels, [f"c{i:03d}" for i in range(101)])
    assert "101 class folders, more than the 100 classes accepted" in image_error(tmp_path / "many")
    images, labels, names = tiny_images(classes=("only",))
    write_png_folders(tmp_path / "one", images, labels, names)
    assert "only class 'only': a classifier needs at least 2" in image_error(tmp_path / "one")


def test_image_folder_without_a_reader_says_so(class_folders):
    with pytest.raises(DatasetError, match="needs an image reader"):
        load_dataset(class_folders)


@pytest.mark.parametrize(("arrays", "expected"), [
    ({"x_train": np.zeros((2, 4, 4))}, "missing y_train, x_test, y_test"),
    ({"x_train": np.zeros((4, 3, 5)), "y_train": np.arange(4) % 2, "x_test": np.zeros((1, 16)),
      "y_test": np.zeros(1)}, "x_train must be square images"),
    ({"x_train": np.full((4, 16), 300), "y_train": np.arange(4) % 2, "x_test": np.zeros((1, 16)),
      "y_test": np.zeros(1)}, "values from 300 to 300"),
    ({"x_train": np.zeros((4, 16)), "y_train": np.arange(4) % 2 + 0.5, "x_test": np.zeros((1, 16)),
      "y_test": np.zeros(1)}, "not whole numbers"),
])
def test_bad_npz(tmp_path, arrays, expected):
    np.savez(tmp_path / "bad.npz", **arrays)
    with pytest.raises(DatasetError, match=expected):
        load_dataset(tmp_path / "bad.npz")


def test_pickled_npz_is_never_unpickled(tmp_path):
    np.savez(tmp_path / "p.npz", x_train=np.array([{"a": 1}], dtype=object), y_train=np.zeros(1),
             x_test=np.zeros((1, 4)), y_test=np.zeros(1))
    with pytest.raises(DatasetError, match="never unpickled"):
        load_dataset(tmp_path / "p.npz")
    (tmp_path / "junk.npz").write_bytes(b"not a zip at all")
    with pytest.raises(DatasetError, match="not a valid .npz"):
        load_dataset(tmp_path / "junk.npz")


def test_unknown_paths(tmp_path):
    with pytest.raises(DatasetError, match="not found"):
        load_dataset(tmp_path / "nothing-here")
    (tmp_path / "notes.txt").write_text("hi")
    with pytest.raises(DatasetError, match="expected a .csv, a .npz or a folder"):
        load_dataset(tmp_path / "notes.txt")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DatasetError, match="no data found"):
        load_dataset(tmp_path / "empty")
