"""A learner's own data (issue 17): every layout, the round trip of MNIST through CSV and PNG
folders, the cache, and each bad input refused with a message naming the file, line or image."""

from __future__ import annotations

import os
import struct
import time
from pathlib import Path

import numpy as np
import pytest

from gui.image_reader import read_grey
from scratchnet import data_import, import_cache, limits
from scratchnet.data import load_dataset
from scratchnet.errors import DatasetError, DatasetTooLarge
from tests.data_files import png_bytes, tiny_images, write_csv, write_png_folders

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


def test_csv_progress_is_counted_in_bytes(tmp_path, small_mnist):
    write_csv(tmp_path / "train.csv", small_mnist[0], small_mnist[1])
    write_csv(tmp_path / "test.csv", small_mnist[2][:100], small_mnist[3][:100])
    calls = []
    load_dataset(tmp_path, progress=lambda done, total: calls.append((done, total)))
    total = sum(f.stat().st_size for f in (tmp_path / "train.csv", tmp_path / "test.csv"))
    assert {t for _, t in calls} == {total} and len(calls) == 2  # one chunk of rows per file
    assert calls[0][0] == pytest.approx((tmp_path / "train.csv").stat().st_size, abs=1)
    assert calls[-1][0] == pytest.approx(total, abs=2)


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
    order_test = np.argsort(y_test, kind="stable")  # test images come back class by class
    # training images in a shuffled order (every class among the first rows): compared as sets
    assert sorted(zip(map(bytes, data.x_train), data.y_train.tolist(), strict=True)) == sorted(
        zip(map(bytes, mnist.x_train[:TRAIN]), mnist.y_train[:TRAIN].tolist(), strict=True))
    assert len(set(data.y_train[:100].tolist())) == 10
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


def test_header_of_numeric_column_names(tmp_path):
    (tmp_path / "n.csv").write_text("label,0,1,2,3\n" + GOOD * 2)
    data = load_dataset(tmp_path / "n.csv", held_out=0.5)
    assert data.layout.endswith("header detected") and len(data.y_train) + len(data.y_test) == 4


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


def test_first_training_rows_of_image_folders_hold_every_class(tmp_path):
    """--train-size N takes the first N rows: they must not all be the first class's (review item 6)."""
    images, labels, names = tiny_images(n_per_class=10, classes=("a", "b", "c"))
    write_png_folders(tmp_path / "set" / "train", images, labels, names)
    write_png_folders(tmp_path / "set" / "test", images[::5], labels[::5], names)
    for path in (tmp_path / "set", tmp_path / "set" / "train"):
        data = load_dataset(path, read_image=read_grey, image_size=8)
        first = data.subset(9).y_train
        assert sorted(set(first.tolist())) == [0, 1, 2], (path, first)
        # the same order every time: the cache and a fresh import agree
        import_cache.clear()
        again = load_dataset(path, read_image=read_grey, image_size=8)
        np.testing.assert_array_equal(again.y_train, data.y_train)
        np.testing.assert_array_equal(again.x_train, data.x_train)


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


@pytest.mark.parametrize(("side", "size"), [(28, 20), (28, 32), (28, 28), (5, 3), (4, 9)])
def test_batch_resize_matches_area_resample_of_each_image(side, size):
    from scratchnet.preprocess import area_resample

    x = np.random.default_rng(side * size).random((7, side * side), dtype=np.float32)
    expected = np.stack([area_resample(row.reshape(side, side), size, size).reshape(-1) for row in x])
    np.testing.assert_allclose(data_import.resize_rows(x, side, size), expected, atol=2e-6)


def test_mnist_resized_to_14x14(mnist):
    small = load_dataset("mnist", image_size=14)
    assert small.image_shape == (14, 14) and small.x_test.shape == (10_000, 196)
    assert small.layout == "IDX files, 28x28 images resized to 14x14"
    first = mnist.x_train[0].reshape(14, 2, 14, 2).mean(axis=(1, 3)).reshape(-1)  # 2x2 blocks
    np.testing.assert_allclose(small.x_train[0], first, atol=1e-6)


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


def test_cache_keeps_the_most_recently_used_entries_within_its_cap(tmp_path, monkeypatch):
    """The cache no longer grows without limit (review item 11): each store removes the least
    recently used entries until the rest fit in MAX_BYTES, and never the entry just written."""
    paths = [write_csv(tmp_path / f"{i}.csv", np.full((6, 2, 2), i), np.array([0, 1] * 3)) for i in range(4)]

    def entries():
        return sorted(import_cache.cache_dir().glob("*.npz"), key=lambda p: p.stat().st_mtime_ns)

    load_dataset(paths[0])
    size = entries()[0].stat().st_size
    monkeypatch.setattr(import_cache, "MAX_BYTES", int(size * 2.5))  # room for two entries
    load_dataset(paths[1])
    first, second = entries()
    os.utime(first, ns=(1, 1))
    os.utime(second, ns=(2, 2))
    load_dataset(paths[0])  # from the cache: used again, so now the newest of the two
    assert first.stat().st_mtime_ns > 2
    load_dataset(paths[2])  # a third entry: the least recently used (paths[1]'s) goes
    assert not second.exists() and first.exists() and len(entries()) == 2
    monkeypatch.setattr(import_cache, "MAX_BYTES", 1)  # smaller than any entry: the new one stays
    third = load_dataset(paths[3])
    assert len(entries()) == 1 and third.x_train.max() == pytest.approx(3 / 255)


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
    (GOOD + "99999999999999999999,0,0,0,0\n", "line 3, column 1: the label is too large: labels must be whole "
                                               "numbers smaller than 2**53"),
    (GOOD + "-99999999999999999999,0,0,0,0\n", "line 3, column 1: the label is too large"),
    (GOOD + "9007199254740992,0,0,0,0\n", "line 3, column 1: the label is too large"),
    (GOOD + "1e300,0,0,0,0\n", "line 3, column 1: label 1e+300: labels must be whole numbers smaller than 2**53"),
    ("", "empty file"),
    ("\n \n", "empty file"),
    ("label,a,b,c,d\n", "header line and no data rows"),
    ("1,0,0,0\n0,1,1,1\n", "3 pixels per row is not a square image"),
    (",label,0,1,2,3\n0,1,0,0,0,255\n1,0,255,0,0,0\n", "5 pixels per row is not a square image (e.g. 784 = "
                                                       "28 x 28): every row is a label then the pixels of a "
                                                       "square image (one column too many: an index column"),
    ("1,0,0,0,0\n1,1,1,1,1\n", "only class '1'"),
])
def test_bad_csv_content_is_named_by_line(tmp_path, text, expected):
    assert expected in csv_error(tmp_path, text)


def test_largest_exact_label_is_kept(tmp_path):
    path = tmp_path / "big-labels.csv"
    path.write_text(GOOD + "9007199254740991,0,0,0,0\n")
    assert load_dataset(path).class_names == ["0", "1", "9007199254740991"]


def test_bad_row_is_reported_from_its_chunk_without_building_the_table(tmp_path, monkeypatch):
    """A bad pixel or label is refused as soon as the chunk of rows holding it is parsed: the rows
    after it are never parsed, and no table of every row is built (a float64 copy of a 60,000-row
    file took seconds)."""
    rows = np.tile(np.array([[1, 0, 0, 0, 255], [0, 255, 0, 0, 0]]), (5_000, 1))
    text = "\n".join(",".join(map(str, r)) for r in rows.tolist())
    parsed = []
    real = data_import._parse_numbers
    monkeypatch.setattr(data_import, "_parse_numbers", lambda chunk, count: parsed.append(count) or real(chunk, count))
    for bad, expected in (("1,0,300,0,0", "line 10, column 3: pixel 300 is outside 0-255"),
                          ("1.5,0,0,0,0", "line 10, column 1: label 1.5 is not a whole number")):
        parsed.clear()
        lines = text.split("\n")
        lines[9] = bad
        path = tmp_path / "bad.csv"
        path.write_text("\n".join(lines) + "\n")
        with pytest.raises(DatasetError, match=expected):
            data_import.read_csv(path)
        assert parsed == [data_import._ROWS_PER_CHUNK * 5]  # the first chunk only, of 3


def test_binary_file_named_csv(tmp_path):
    assert "not a text file (binary data: a zero byte at byte 0)" in csv_error(tmp_path, bytes(range(256)) * 40)
    png = png_bytes(np.zeros((8, 8), np.uint8))
    assert "not a text file" in csv_error(tmp_path, png, name="picture.csv")
    assert "looks like UTF-16 text" in csv_error(tmp_path, GOOD.encode("utf-16"), name="excel.csv")


def test_semicolons_and_byte_order_mark(tmp_path):
    assert "separated by ';': save the file with commas" in csv_error(tmp_path, "1;0;0;0;0\n0;1;1;1;1\n")
    (tmp_path / "bom.csv").write_bytes(b"\xef\xbb\xbf" + (GOOD * 2).encode())
    data = load_dataset(tmp_path / "bom.csv", held_out=0.5)
    assert data.class_names == ["0", "1"] and len(data.y_train) + len(data.y_test) == 4


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


def test_image_folders_too_large_for_memory_ask_first(class_folders, monkeypatch):
    monkeypatch.setattr(limits, "MAX_IMAGE_FOLDER_BYTES", 12 * 8 * 8 * 4 - 1)
    with pytest.raises(DatasetTooLarge, match=r"12 images of 8x8 take 0\.0 GB in memory"):
        load_dataset(class_folders, read_image=read_grey, image_size=8)
    assert load_dataset(class_folders, read_image=read_grey, image_size=8, allow_large=True).num_classes == 2
    assert load_dataset(class_folders, read_image=read_grey, image_size=7).image_shape == (7, 7)


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


def bmp_header(width: int, height: int) -> bytes:
    """A 24-bit BMP's file and BITMAPINFOHEADER claiming ``width`` x ``height``, then a few pixels."""
    info = struct.pack("<IiiHHIIiiII", 40, width, height, 1, 24, 0, 0, 2835, 2835, 0, 0)
    body = info + bytes(1000)
    return b"BM" + struct.pack("<IHHI", 14 + len(body), 0, 0, 54) + body


def test_bmp_header_claiming_60000_by_60000_pixels_is_refused_before_decoding(class_folders):
    """Qt's BMP reader gives no size for it: it was called a corrupt image (review item 11)."""
    bad = class_folders / "cat" / "zz.bmp"
    bad.write_bytes(bmp_header(60_000, -60_000))
    message = image_error(class_folders)
    assert f"{bad}: its header claims 60,000x60,000 pixels" in message and "before decoding" in message
    small = class_folders / "cat" / "small.bmp"
    small.write_bytes(bmp_header(8, 8)[:54] + bytes(8 * 8 * 3))
    assert read_grey(small).shape == (8, 8)


def test_corrupt_png_prints_nothing_and_says_why(class_folders, capfd):
    """libpng writes "libpng error: Read Error" to the process's standard error itself: that line
    belongs in the message, not on the terminal before it (review item 11)."""
    from PySide6.QtCore import qInstallMessageHandler, qWarning
    from PySide6.QtGui import QImage

    bad = class_folders / "dog" / "zz.png"
    bad.write_bytes(png_bytes(np.zeros((8, 8), np.uint8))[:60])
    image = QImage(32, 32, QImage.Format.Format_RGB32)
    image.fill(0xFF336699)
    assert image.save(str(class_folders / "whole.jpg"))
    jpeg = class_folders / "dog" / "cut.jpg"
    jpeg.write_bytes((class_folders / "whole.jpg").read_bytes()[:300])
    heard = []
    before = qInstallMessageHandler(lambda kind, context, message: heard.append(message))
    try:
        for _ in range(2):  # the second time too: the capture is reused
            with pytest.raises(DatasetError, match="corrupt image .*libpng error: Read Error"):
                read_grey(bad)
            out, err = capfd.readouterr()
            assert "libpng" not in out + err
        # libjpeg's complaints come through Qt's message handler, at the header already
        with pytest.raises(DatasetError, match="corrupt image .*Invalid JPEG file structure"):
            read_grey(jpeg)
        qWarning("a warning after reading")  # the handler that was there before is back
    finally:
        qInstallMessageHandler(before)
    assert heard == ["a warning after reading"]


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
    import zipfile

    header = {"descr": "<f4", "fortran_order": False, "shape": (1 << 20, 1 << 20)}
    with zipfile.ZipFile(tmp_path / "tib.npz", "w") as archive:  # a header claiming 4 TiB in 200 bytes
        for key in ("x_train", "y_train", "x_test", "y_test"):
            with archive.open(f"{key}.npy", "w") as member:
                np.lib.format.write_array_header_1_0(member, header)
    began = time.perf_counter()
    with pytest.raises(DatasetError, match=r"entry 'x_train' declares 4,398,046,511,104 bytes of data but holds 0"):
        load_dataset(tmp_path / "tib.npz")
    assert time.perf_counter() - began < 2.0
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
    (tmp_path / "empty" / "train.csv").write_text(GOOD)
    with pytest.raises(DatasetError, match=r"train\.csv found: give one CSV file itself as the data, or name the pair"):
        load_dataset(tmp_path / "empty")
    (tmp_path / "loose").mkdir()
    for i in range(3):
        (tmp_path / "loose" / f"{i}.png").write_bytes(png_bytes(np.zeros((4, 4), np.uint8)))
    with pytest.raises(DatasetError, match="3 images found loose: put each class's images in a folder"):
        load_dataset(tmp_path / "loose")


def test_image_reader_refuses_what_could_hang_or_explode(tmp_path, class_folders):
    fifo = class_folders / "cat" / "pipe.png"
    os.mkfifo(fifo)
    with pytest.raises(DatasetError, match=r"pipe\.png: is a pipe \(FIFO\), not a regular file"):
        read_grey(fifo)
    data = load_dataset(class_folders, read_image=read_grey, image_size=8)  # the FIFO is skipped, not read
    assert len(data.y_train) + len(data.y_test) == 12
    svg = tmp_path / "drawing.png"
    svg.write_text('<svg xmlns="http://www.w3.org/2000/svg" width="9" height="9"><rect width="9" height="9"/></svg>')
    with pytest.raises(DatasetError, match="not an image Qt can read|is an SVG drawing"):
        read_grey(svg)


def test_image_reader_grey_of_colour_and_transparency(tmp_path, qapp):
    from PySide6.QtGui import QColor, QImage

    image = QImage(4, 2, QImage.Format.Format_ARGB32)
    image.fill(QColor(0, 0, 255, 255))
    image.setPixelColor(0, 0, QColor(0, 0, 0, 0))  # fully transparent: white paper
    image.setPixelColor(1, 0, QColor(0, 255, 0))
    assert image.save(str(tmp_path / "c.png"))
    grey = read_grey(tmp_path / "c.png")
    assert grey.dtype == np.uint8 and grey.shape == (2, 4)
    assert grey[0, :2].tolist() == [255, 150] and grey[1, 0] == 29  # BT.601: green 150, blue 29


def test_window_worker_trains_12x12_data_with_augmentation(tmp_path):
    """The window's training worker builds the network and the augmenter for the data's image size."""
    from gui import worker as gui_worker
    from gui.datasets import DatasetCache
    from gui.run_controller import RunSpec
    from scratchnet.control import TrainingControl
    from scratchnet.run_config import RunConfig, hidden_layers

    images, labels, names = tiny_images(n_per_class=20, classes=("a", "b", "c"), side=12)
    data = load_dataset(write_png_folders(tmp_path / "set", images, labels, names), image_size=12,
                        read_image=read_grey)
    spec = RunSpec(RunConfig(dataset="set", hidden=hidden_layers(8), augment=True, epochs=1))
    worker = gui_worker.TrainingWorker(spec, TrainingControl(), DatasetCache(lambda name: data))
    done, failed = [], []
    worker.finished.connect(done.append)
    worker.failed.connect(failed.append)
    worker.run()  # in this thread: the signals reach the lambdas directly
    assert not failed and len(done) == 1
    assert done[0]["model"].input_size == 144 and done[0]["model"].output_size == 3


@pytest.mark.parametrize(("options", "fragment"), [
    ({"image_size": 1}, "image_size must be a whole number from 2 to 256"),
    ({"held_out": 1.0}, "held_out must be a share between 0 and 1"),
    ({"seed": -1}, "seed must be a whole number of at least 0"),
    ({"photo": "yes"}, "photo must be False, True or 'auto'"),
])
def test_bad_options_are_value_errors(options, fragment):
    with pytest.raises(ValueError, match=fragment):
        load_dataset("mnist", **options)
