"""Data augmentation: exact warps against NumPy's own image ops, reproducibility, and the loop hook."""

import numpy as np
import pytest

from scratchnet.augment import Augmenter
from scratchnet.network import mlp
from scratchnet.optimizers import SGD
from scratchnet.training import TrainConfig, train


def _images(n=5, seed=0):
    """(n, 784) float32 random 'digits': noise in the middle 20x20, a zero 4-px border as in MNIST."""
    rng = np.random.default_rng(seed)
    images = np.zeros((n, 28, 28), dtype=np.float32)
    images[:, 4:24, 4:24] = rng.random((n, 20, 20), dtype=np.float32)
    return images.reshape(n, 784)


def _warp(x, angle=0.0, scale=1.0, shift=(0.0, 0.0)):
    n = len(x)
    return Augmenter().warp(x, np.full(n, angle), np.full(n, scale), np.tile(shift, (n, 1)))


def test_identity_warp_returns_the_images():
    x = _images()
    np.testing.assert_array_equal(_warp(x), x)


@pytest.mark.parametrize("down,right", [(1, 0), (0, -2), (2, 1), (-3, -3)])
def test_integer_shift_moves_the_pixels(down, right):
    x = _images()
    expected = np.roll(x.reshape(-1, 28, 28), (down, right), axis=(1, 2)).reshape(-1, 784)
    np.testing.assert_allclose(_warp(x, shift=(down, right)), expected, atol=1e-6)


def test_half_pixel_shift_averages_neighbours():
    x = _images()
    grid = x.reshape(-1, 28, 28)
    expected = (grid + np.roll(grid, 1, axis=2)) / 2
    np.testing.assert_allclose(_warp(x, shift=(0, 0.5)), expected.reshape(-1, 784), atol=1e-6)


def test_quarter_turn_is_a_clockwise_rot90():
    x = _images()
    expected = np.rot90(x.reshape(-1, 28, 28), k=-1, axes=(1, 2)).reshape(-1, 784)
    np.testing.assert_allclose(_warp(x, angle=90), expected, atol=1e-5)


def test_pixels_from_outside_the_image_are_background():
    x = np.ones((1, 784), dtype=np.float32)
    out = _warp(x, shift=(0, 27.5 - 28 + 14)).reshape(28, 28)  # move right by 13.5 px
    assert np.all(out[:, :13] == 0)
    assert np.all(out[:, 14:] == 1)
    assert out[:, 13] == pytest.approx(0.5)
    shrunk = _warp(x, scale=0.5).reshape(28, 28)
    assert shrunk[0, 0] == 0 and shrunk[14, 14] == 1


def test_random_warps_are_bounded_seeded_and_differ_per_image():
    x = _images(64)
    augment = Augmenter(max_shift=2, max_rotation=10, max_scale=0.1)
    a = augment(x, np.random.default_rng(7))
    b = augment(x, np.random.default_rng(7))
    c = augment(x, np.random.default_rng(8))
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    assert a.dtype == np.float32 and a.shape == x.shape
    assert a.min() >= 0 and a.max() <= 1
    # each image keeps roughly its ink (scale within 10%: area within about 21%) and changes
    assert np.all(np.abs(a.sum(1) / x.sum(1) - 1) < 0.25)
    assert np.all(np.abs(a - x).max(1) > 0.1)


@pytest.mark.parametrize("kwargs", [{"max_shift": -1}, {"max_rotation": float("nan")}, {"max_scale": 0.9},
                                    {"side": 1}])
def test_bad_settings_raise(kwargs):
    with pytest.raises(ValueError):
        Augmenter(**kwargs)


def test_wrong_image_size_raises():
    with pytest.raises(ValueError, match="784"):
        Augmenter()(np.zeros((2, 100), dtype=np.float32), np.random.default_rng(0))


def _train_with(augment, seed=0):
    x = _images(256, seed=1)
    y = np.arange(256) % 10
    model = mlp(784, [16], 10, rng=np.random.default_rng(0))
    list(train(model, SGD(0.1), x, y, TrainConfig(epochs=2, batch_size=32, seed=seed), augment=augment))
    return model.state_dict()


def test_training_applies_augmentation_to_every_mini_batch_reproducibly():
    seen = []

    def recording(xb, rng):
        seen.append(xb.shape)
        return Augmenter()(xb, rng)

    plain = _train_with(None)
    first = _train_with(recording)
    assert seen == [(32, 784)] * 16
    again = _train_with(Augmenter())
    other_seed = _train_with(Augmenter(), seed=1)
    for name in plain:
        np.testing.assert_array_equal(first[name], again[name])
    assert not np.array_equal(first["0.W"], plain["0.W"])
    assert not np.array_equal(first["0.W"], other_seed["0.W"])
