"""My digits: the store of the learner's own digits, and the data sets fine-tuning trains on."""

from __future__ import annotations

import numpy as np
import pytest

from scratchnet.data import Dataset, read_idx
from scratchnet.errors import DatasetError
from scratchnet.my_digits import (
    IMAGES_FILE,
    LABELS_FILE,
    MyDigits,
    fine_tune_dataset,
    mixed_training_set,
    my_digits_dataset,
    split_held_out,
    store_folder,
)


def digit(value: float) -> np.ndarray:
    image = np.zeros(784, np.float32)
    image[300:340] = value
    return image


def test_store_lives_in_the_data_home(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    assert store_folder() == tmp_path / "scratchnet" / "my-digits"
    monkeypatch.delenv("XDG_DATA_HOME")
    assert store_folder().parts[-4:] == (".local", "share", "scratchnet", "my-digits")


def test_add_saves_idx_files_at_once_and_reads_back(tmp_path):
    store = MyDigits(tmp_path)
    assert len(store) == 0 and store.problem is None
    assert store.add(digit(1.0), 7) == 0
    assert store.add(digit(0.5), 3) == 1
    images, labels = read_idx(tmp_path / IMAGES_FILE), read_idx(tmp_path / LABELS_FILE)
    assert images.shape == (2, 28, 28) and images.dtype == np.uint8
    assert labels.tolist() == [7, 3]
    assert images[0].reshape(-1)[300] == 255 and images[1].reshape(-1)[300] == 128
    assert not list(tmp_path.glob("*.tmp"))  # written through a temporary file, then replaced
    again = MyDigits(tmp_path)
    assert again.labels.tolist() == [7, 3]
    np.testing.assert_array_equal(again.images, images)
    np.testing.assert_allclose(again.inputs()[0], digit(1.0))
    assert again.counts()[[3, 7]].tolist() == [1, 1]


def test_delete_and_relabel_are_saved(tmp_path):
    store = MyDigits(tmp_path)
    for label in (1, 2, 3):
        store.add(digit(label / 4), label)
    store.delete(1)
    store.relabel(1, 9)
    again = MyDigits(tmp_path)
    assert again.labels.tolist() == [1, 9]
    assert again.images[1].reshape(-1)[300] == round(3 / 4 * 255)


@pytest.mark.parametrize("label", [-1, 10, 2.5, True, "3"])
def test_bad_labels_are_refused(tmp_path, label):
    store = MyDigits(tmp_path)
    with pytest.raises(ValueError, match="digit 0-9"):
        store.add(digit(1.0), label)
    assert len(store) == 0 and not (tmp_path / IMAGES_FILE).exists()


def test_bad_index_and_bad_digit_are_refused(tmp_path):
    store = MyDigits(tmp_path)
    store.add(digit(1.0), 1)
    with pytest.raises(IndexError, match="holds 1"):
        store.delete(1)
    with pytest.raises(ValueError, match="784"):
        store.add(np.zeros(100), 1)
    with pytest.raises(ValueError, match="finite"):
        store.add(np.full(784, np.nan), 1)
    assert MyDigits(tmp_path).labels.tolist() == [1]


@pytest.mark.parametrize("damage", ["truncated", "mismatch", "missing", "garbage"])
def test_damaged_store_is_reported_and_kept_aside(tmp_path, damage):
    store = MyDigits(tmp_path)
    store.add(digit(1.0), 4)
    store.add(digit(1.0), 5)
    images, labels = tmp_path / IMAGES_FILE, tmp_path / LABELS_FILE
    if damage == "truncated":
        images.write_bytes(images.read_bytes()[:-10])
    elif damage == "mismatch":
        labels.write_bytes(labels.read_bytes()[:-1].replace(b"\x00\x00\x00\x02", b"\x00\x00\x00\x01"))
    elif damage == "missing":
        labels.unlink()
    else:
        images.write_bytes(b"not an idx file at all")
    damaged = MyDigits(tmp_path)
    assert len(damaged) == 0
    assert "could not be read" in damaged.problem and "damaged-" in damaged.problem
    aside = [path for path in tmp_path.iterdir() if path.name.startswith("damaged-")]
    assert len(aside) == 1 and (aside[0] / IMAGES_FILE).exists()
    damaged.add(digit(1.0), 6)  # the store starts again, empty
    assert MyDigits(tmp_path).labels.tolist() == [6]


def test_held_out_split_is_stratified_and_seeded():
    labels = np.repeat(np.arange(10), 8)
    train, held = split_held_out(labels, 0.25, seed=3)
    assert len(held) == 20 and len(train) == 60
    assert np.bincount(labels[held]).tolist() == [2] * 10
    assert sorted([*train, *held]) == list(range(80))
    again = split_held_out(labels, 0.25, seed=3)
    assert held.tolist() == again[1].tolist()
    assert held.tolist() != split_held_out(labels, 0.25, seed=4)[1].tolist()
    # a label with a single digit keeps it for training
    train, held = split_held_out(np.array([0, 1, 1]), 0.5)
    assert train.tolist() == [0, 2] or train.tolist() == [0, 1]
    assert len(held) == 1


def test_mixed_training_set_has_the_chosen_share():
    x = np.zeros((900, 4), np.float32)
    y = np.zeros(900, np.int64)
    x_mine = np.ones((7, 4), np.float32)
    y_mine = np.arange(7)
    mixed_x, mixed_y = mixed_training_set(x, y, x_mine, y_mine, 0.10)
    assert len(mixed_y) == 1000  # 900 of MNIST and 100 of mine: 10%
    mine = mixed_x[:, 0] == 1
    assert mine.sum() == 100 and np.all(mixed_y[~mine] == 0)
    assert sorted(np.bincount(mixed_y[mine]).tolist()) == [14] * 5 + [15] * 2  # each as evenly as can be
    # spread evenly: every 64 rows in order hold 6 or 7 of mine, and a shuffled batch 10% on average
    assert {int(mine[start:start + 64].sum()) for start in range(0, 1000 - 64, 64)} <= {6, 7}
    rng = np.random.default_rng(0)
    shares = [np.mean(mine[rng.permutation(1000)[:64]]) for _ in range(400)]
    assert abs(np.mean(shares) - 0.10) < 0.01
    with pytest.raises(ValueError, match="share"):
        mixed_training_set(x, y, x_mine, y_mine, 1.0)


def test_fine_tune_dataset_mixes_mnist_and_holds_mine_out(mnist, tmp_path):
    store = MyDigits(tmp_path)
    for label in range(10):
        for _ in range(4):
            store.add(digit(1.0), label)
    base = mnist.subset(900)
    data = fine_tune_dataset(base, store, share=0.10, held_out=0.25)
    assert isinstance(data.dataset, Dataset)
    assert len(data.y_held) == 10 and data.mine_trained == 30
    assert len(data.dataset.y_train) == 1000
    np.testing.assert_array_equal(data.dataset.x_test, mnist.x_test)
    mine = np.all(data.dataset.x_train[:, 300:340] == 1.0, axis=1)
    assert mine.sum() == 100
    np.testing.assert_array_equal(data.dataset.x_train[~mine], base.x_train)
    np.testing.assert_array_equal(data.dataset.y_train[~mine], base.y_train)
    with pytest.raises(DatasetError, match="empty"):
        fine_tune_dataset(base, MyDigits(tmp_path / "none"))


def test_my_digits_alone_as_a_dataset(tmp_path):
    store = MyDigits(tmp_path)
    with pytest.raises(DatasetError, match="at least 2"):
        my_digits_dataset(store)
    store.add(digit(0.5), 0)
    store.add(digit(0.75), 1)
    with pytest.raises(DatasetError, match="none can be held out"):
        my_digits_dataset(store)
    for label in (0, 0, 0, 1, 1, 1):
        store.add(digit(0.5 + label / 4), label)
    data = my_digits_dataset(store, held_out=0.25)
    assert (len(data.y_train), len(data.y_test)) == (6, 2)
    assert data.class_names[:2] == ["0", "1"] and data.x_train.dtype == np.float32


class Killed(Exception):
    """Stands for the app being killed at that point."""


@pytest.mark.parametrize("renames_done, expected", [
    (0, [1, 2]),     # killed before the commit mark: the old pair stays
    (1, [1, 2, 3]),  # the mark made, no file in place yet: the next read finishes the change
    (2, [1, 2, 3]),  # killed between the two files: the next read finishes the change
])
def test_a_kill_mid_save_leaves_the_old_pair_or_the_new_one(tmp_path, monkeypatch, renames_done, expected):
    import os

    store = MyDigits(tmp_path)
    store.add(digit(0.25), 1)
    store.add(digit(0.5), 2)
    real_replace, calls = os.replace, []

    def replace(source, target):
        if len(calls) == renames_done:
            raise Killed
        calls.append(target)
        real_replace(source, target)

    monkeypatch.setattr(os, "replace", replace)
    with pytest.raises(Killed):
        store.add(digit(0.75), 3)
    monkeypatch.setattr(os, "replace", real_replace)
    again = MyDigits(tmp_path)
    assert again.problem is None and again.labels.tolist() == expected
    assert len(again.images) == len(expected)
    assert sorted(path.name for path in tmp_path.iterdir()) == [IMAGES_FILE, LABELS_FILE]
