"""The image layers (Conv2D, MaxPool2D, Flatten, Reshape): forward against plain float64 loops,
gradients against finite differences, one sample against a batch, shapes, model files, and the
training loop with every descent and optimiser."""

import itertools

import numpy as np
import pytest

from scratchnet.conv import Conv2D, Flatten, MaxPool2D, Reshape
from scratchnet.errors import ModelFileError
from scratchnet.gradcheck import check_gradients, check_layer_gradients
from scratchnet.layers import LAYER_TYPES, Dense, ReLU
from scratchnet.losses import SoftmaxCrossEntropy
from scratchnet.network import Sequential
from scratchnet.optimizers import OPTIMIZER_NAMES, make_optimizer
from scratchnet.serialization import load_model, save_model
from scratchnet.training import DESCENTS, TrainConfig, input_form, train


def loop_conv(x, w, b, stride, padding):
    """y[n, o, i, j] = b[o] + sum_{c,u,v} w[o, c, u, v] xp[n, c, i*s + u, j*s + v], element by element."""
    n, c, h, wd = x.shape
    out, _, k, _ = w.shape
    xp = np.zeros((n, c, h + 2 * padding, wd + 2 * padding))
    xp[:, :, padding : padding + h, padding : padding + wd] = x
    oh, ow = (h + 2 * padding - k) // stride + 1, (wd + 2 * padding - k) // stride + 1
    y = np.zeros((n, out, oh, ow))
    for s, o, i, j in itertools.product(range(n), range(out), range(oh), range(ow)):
        total = b[o]
        for ch, u, v in itertools.product(range(c), range(k), range(k)):
            total += w[o, ch, u, v] * xp[s, ch, i * stride + u, j * stride + v]
        y[s, o, i, j] = total
    return y


def loop_pool(x, k, stride):
    n, c, h, wd = x.shape
    oh, ow = (h - k) // stride + 1, (wd - k) // stride + 1
    y = np.zeros((n, c, oh, ow))
    for s, ch, i, j in itertools.product(range(n), range(c), range(oh), range(ow)):
        y[s, ch, i, j] = max(x[s, ch, i * stride + u, j * stride + v] for u in range(k) for v in range(k))
    return y


CONV_CASES = [  # (in, out, kernel, stride, padding, H, W)
    (1, 3, 3, 1, 0, 6, 6),
    (2, 4, 3, 2, 1, 7, 6),
    (3, 2, 5, 1, 2, 5, 7),
    (2, 3, 2, 3, 0, 8, 7),
    (1, 1, 1, 1, 0, 3, 4),
]


@pytest.mark.parametrize("case", CONV_CASES)
def test_conv_forward_equals_the_plain_loop(case):
    cin, cout, k, s, p, h, w = case
    rng = np.random.default_rng(1)
    conv = Conv2D(cin, cout, k, stride=s, padding=p, dtype=np.float64, rng=rng)
    conv.params["b"][:] = rng.standard_normal(cout)
    x = rng.standard_normal((3, cin, h, w))
    y = conv.forward(x)
    expected = loop_conv(x, conv.params["W"], conv.params["b"], s, p)
    assert y.shape == expected.shape == (3, *conv.output_shape((cin, h, w)))
    np.testing.assert_allclose(y, expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("case", CONV_CASES)
def test_conv_gradients_match_finite_differences(case):
    cin, cout, k, s, p, h, w = case
    rng = np.random.default_rng(2)
    conv = Conv2D(cin, cout, k, stride=s, padding=p, dtype=np.float64, rng=rng)
    conv.params["b"][:] = rng.standard_normal(cout)
    errors = check_layer_gradients(conv, rng.standard_normal((2, cin, h, w)))
    assert set(errors) == {"input", "W", "b"}
    assert max(errors.values()) < 1e-7, errors


@pytest.mark.parametrize("k,stride,h,w", [(2, 2, 6, 6), (2, 2, 7, 5), (3, 2, 7, 8), (3, 1, 5, 5), (2, 3, 8, 7)])
def test_pool_forward_equals_the_loop_and_gradients_match(k, stride, h, w):
    rng = np.random.default_rng(3)
    pool = MaxPool2D(k, stride)
    x = rng.standard_normal((2, 3, h, w))  # distinct values: the maximum of each window is unique
    np.testing.assert_array_equal(pool.forward(x), loop_pool(x, k, stride))
    errors = check_layer_gradients(pool, x)
    assert errors["input"] < 1e-7, errors


def test_pool_routes_overlapping_windows_gradients_and_ties_to_the_first_maximum():
    pool = MaxPool2D(2, 1)
    x = np.array([[[[0.0, 5.0, 0.0], [1.0, 1.0, 1.0]]]])  # the 5 is the maximum of both windows
    assert pool.forward(x).tolist() == [[[[5.0, 5.0]]]]
    grad = pool.backward(np.array([[[[1.0, 2.0]]]]))
    assert grad.tolist() == [[[[0.0, 3.0, 0.0], [0.0, 0.0, 0.0]]]]
    tie = MaxPool2D(2)
    assert tie.forward(np.ones((1, 1, 2, 2))).tolist() == [[[[1.0]]]]
    assert tie.backward(np.ones((1, 1, 1, 1))).tolist() == [[[[1.0, 0.0], [0.0, 0.0]]]]


def test_flatten_and_reshape_are_c_order_and_invert():
    x = np.arange(2 * 3 * 4 * 5, dtype=np.float64).reshape(2, 3, 4, 5)
    flat = Flatten().forward(x)
    np.testing.assert_array_equal(flat, x.reshape(2, 60))  # torch.flatten(x, 1)
    reshape = Reshape((3, 4, 5))
    np.testing.assert_array_equal(reshape.forward(flat), x)
    np.testing.assert_array_equal(reshape.backward(x), flat)
    for layer, inp in ((Flatten(), x), (Reshape((3, 4, 5)), flat)):
        assert check_layer_gradients(layer, inp)["input"] < 1e-7


def test_image_layers_keep_the_samples_innermost_and_any_input_layout_gives_the_same_numbers():
    """Conv2D and MaxPool2D hand on (N, C, H, W) views of (C, H, W, N) arrays; the layer above reads
    them without a copy (Flatten: a view), and an ordinary (N, C, H, W) array gives the same numbers."""
    rng = np.random.default_rng(3)
    x = rng.standard_normal((5, 2, 7, 6))
    x_last = np.ascontiguousarray(x.transpose(1, 2, 3, 0)).transpose(3, 0, 1, 2)  # same values, N innermost
    grad = rng.standard_normal((5, 3, 3, 3))
    results = []
    for inp in (x, x_last):
        conv, pool, flat = Conv2D(2, 3, 3, padding=1, dtype=np.float64, rng=np.random.default_rng(1)), MaxPool2D(2), \
            Flatten()
        y = conv.forward(inp, training=True)
        assert y.shape == (5, 3, 7, 6) and y.transpose(1, 2, 3, 0).flags.c_contiguous
        pooled = pool.forward(y, training=True)
        assert pooled.transpose(1, 2, 3, 0).flags.c_contiguous
        flat_y = flat.forward(pooled)
        assert flat_y.shape == (5, 27) and np.shares_memory(flat_y, pooled)
        np.testing.assert_array_equal(flat_y, pooled.reshape(5, 27))
        grad_pool = flat.backward(grad.reshape(5, 27))
        np.testing.assert_array_equal(grad_pool, grad)
        grad_x = conv.backward(pool.backward(grad_pool))
        results.append((y, grad_x, conv.grads["W"].copy()))
    for a, b in zip(*results, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-13, atol=1e-13)
    np.testing.assert_allclose(results[0][0], loop_conv(x, conv.params["W"], conv.params["b"], 1, 1), rtol=1e-10)


def tiny_stack(dtype=np.float32, seed=0):
    rng = np.random.default_rng(seed)
    return Sequential([
        Reshape((1, 9, 8)),
        Conv2D(1, 3, 3, padding=1, dtype=dtype, rng=rng), ReLU(), MaxPool2D(2),
        Conv2D(3, 4, 2, stride=1, dtype=dtype, rng=rng), ReLU(), MaxPool2D(2, 1),
        Flatten(), Dense(4 * 2 * 2, 6, dtype=dtype, rng=rng), ReLU(), Dense(6, 3, dtype=dtype, rng=rng),
    ])


def test_a_whole_stack_gradients_match_finite_differences():
    model = tiny_stack(np.float64, seed=4)
    rng = np.random.default_rng(5)
    for layer in model.layers:
        if "b" in layer.params:
            layer.params["b"][:] = rng.uniform(0.05, 0.2, layer.params["b"].shape)  # keep ReLUs on
    x = rng.uniform(0, 1, (3, 72))
    errors = check_gradients(model, SoftmaxCrossEntropy(), x, np.array([0, 2, 1]))
    assert {"input", "1.W", "1.b", "4.W", "4.b", "8.W", "10.W"} <= set(errors)
    assert max(errors.values()) < 1e-6, errors


def test_one_sample_equals_its_row_of_a_batch():
    model = tiny_stack(np.float64)
    x = np.random.default_rng(6).uniform(0, 1, (4, 72))
    batch = model.forward(x)
    np.testing.assert_allclose(model.forward(x[2]), batch[2], rtol=1e-12)
    grad_sample = model.backward(np.ones(3))
    model.forward(x)
    grad_batch = model.backward(np.ones((4, 3)))
    np.testing.assert_allclose(grad_sample, grad_batch[2], rtol=1e-12)


def test_shapes_name_the_layer_that_does_not_fit():
    model = tiny_stack()
    assert model.input_size == 72 and model.output_size == 3 and model.is_image_network
    assert model.shapes()[1:5] == [(1, 9, 8), (3, 9, 8), (3, 9, 8), (3, 4, 4)]
    too_big = Sequential([Reshape((1, 4, 4)), Conv2D(1, 2, 5), Flatten(), Dense(2, 2)])
    with pytest.raises(ValueError, match=r"layer 1 \(Conv2D 5x5x2\): Conv2D kernel 5x5 is larger than its input 1x4x4"):
        too_big.shapes()
    wrong_dense = Sequential([Reshape((1, 6, 6)), Conv2D(1, 2, 3), Flatten(), Dense(10, 2)])
    with pytest.raises(ValueError, match=r"layer 3 \(Dense 2\): Dense takes 10 features but receives 32"):
        wrong_dense.shapes()


def test_registered_and_round_trip_through_config_and_file(tmp_path):
    assert {"Conv2D", "MaxPool2D", "Flatten", "Reshape"} <= set(LAYER_TYPES)
    model = tiny_stack()
    rebuilt = Sequential.from_config(model.get_config())
    assert rebuilt.get_config() == model.get_config()
    assert Sequential.from_config(model.get_config(), dtype=np.float64).layers[1].params["W"].dtype == np.float64
    path = tmp_path / "conv.npz"
    save_model(model, path)
    loaded = load_model(path)
    assert loaded.get_config() == model.get_config()
    x = np.random.default_rng(7).uniform(0, 1, (5, 72)).astype(np.float32)
    np.testing.assert_array_equal(loaded.forward(x), model.forward(x))
    assert loaded.parameters()["1.W"].shape == (3, 1, 3, 3)


def test_a_model_file_whose_image_layers_do_not_fit_is_refused(tmp_path):
    model = Sequential([Reshape((1, 4, 4)), Conv2D(1, 2, 5, padding=1), Flatten(), Dense(9, 2)])
    path = tmp_path / "bad.npz"
    save_model(model, path)
    message = "do not fit together: layer 3 .Dense 2.: Dense takes 9 features but receives 8"
    with pytest.raises(ModelFileError, match=message):
        load_model(path)


@pytest.mark.parametrize("descent", DESCENTS)
@pytest.mark.parametrize("optimizer", OPTIMIZER_NAMES)
def test_training_runs_every_descent_and_optimiser_with_dense_inputs(descent, optimizer):
    rng = np.random.default_rng(8)
    x = rng.uniform(0, 1, (40, 72)).astype(np.float32)
    x[:, :30] = 0  # mostly zero: a Dense-first network would take sparse columns
    y = (x[:, 40:].sum(axis=1) > np.median(x[:, 40:].sum(axis=1))).astype(np.int64) + (x[:, 70] > 0.5)
    model = tiny_stack()
    before = model.state_dict()
    opt = make_optimizer(optimizer, 0.01 if optimizer in ("adam", "rmsprop") else 0.05)
    logs = list(train(model, opt, x, y, TrainConfig(descent=descent, batch_size=8, epochs=2, seed=1),
                      x_test=x, y_test=y))
    assert logs[0]["input_form"] == "dense"
    assert input_form(model, opt, x, descent) == "dense"
    done = logs[-1]
    assert done["event"] == "done" and np.isfinite(done["test_loss"])
    after = model.state_dict()
    assert all(not np.array_equal(before[k], after[k]) for k in ("1.W", "4.W", "8.W"))


@pytest.mark.parametrize("chunk,cache_samples,band_columns,path", [
    (64, 256, 4096, "cached"), (2, 256, 4096, "cached"), (2, 0, 4096, "rebuilt"), (3, 4, 4096, "rebuilt"),
    (64, 256, 1, "cached"), (2, 0, 9, "rebuilt"), (64, 256, 40, "cached")])
def test_chunks_bands_and_rebuilt_columns_give_the_plain_numbers(chunk, cache_samples, band_columns, path):
    """The speed options of Conv2D against the plain loop (forward) and one whole-batch run
    (gradients), in float64: only the order of float sums may change. Bands of 1, 9 or 40
    columns are one output row (4x4 outputs x 5 samples: 20 columns a row in one chunk, 8 in a chunk
    of 2) or two."""
    rng = np.random.default_rng(9)
    plain = Conv2D(2, 3, 3, stride=2, padding=1, dtype=np.float64, rng=np.random.default_rng(1))
    fast = Conv2D(2, 3, 3, stride=2, padding=1, dtype=np.float64, rng=np.random.default_rng(1), chunk=chunk,
                  cache_samples=cache_samples, band_columns=band_columns)
    fast.params["b"][:] = plain.params["b"][:] = rng.standard_normal(3)
    x = rng.standard_normal((5, 2, 7, 8))
    y = fast.forward(x, training=True)
    np.testing.assert_allclose(y, loop_conv(x, plain.params["W"], plain.params["b"], 2, 1), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(y, plain.forward(x, training=True), rtol=1e-12, atol=1e-12)
    grad_y = rng.standard_normal(y.shape)
    np.testing.assert_allclose(fast.backward(grad_y), plain.backward(grad_y), rtol=1e-12, atol=1e-12)
    assert fast.last_path == path and plain.last_path == "cached"
    for key in ("W", "b"):
        np.testing.assert_allclose(fast.grads[key], plain.grads[key], rtol=1e-12, atol=1e-12)
    fast.forward(x, training=True)
    fast.backward(grad_y, accumulate=True)
    np.testing.assert_allclose(fast.grads["W"], 2 * plain.grads["W"], rtol=1e-12, atol=1e-12)
    assert fast.backward(grad_y, input_grad=False) is None


def test_a_network_of_images_trains_with_one_blas_thread(monkeypatch):
    """Its products are one sample's: one BLAS thread, whatever the batch size (threads.py)."""
    from scratchnet import threads

    chosen = []
    original = threads.BlasThreads.__init__

    def spy(self, batch_size, small_products=False, adaptive=False):
        original(self, batch_size, small_products, adaptive)
        chosen.append((small_products, self.candidates))

    monkeypatch.setattr(threads.BlasThreads, "__init__", spy)
    x = np.random.default_rng(0).uniform(0, 1, (128, 72)).astype(np.float32)
    y = np.arange(128) % 3
    list(train(tiny_stack(), make_optimizer("momentum", 0.01), x, y, TrainConfig(batch_size=128, epochs=1)))
    assert chosen[0][0] is True
    assert chosen[0][1] in ((1,), (0,))  # (0,): no BLAS library found to limit
    assert threads.threads_for_batch(128, small_products=True) == (1,) and threads.threads_for_batch(128) == (0,)
    assert threads.threads_for_batch(128, adaptive=True) == (0, 1)


@pytest.mark.parametrize("layer, change, fragment", [
    (1, {"kernel_size": 10**9}, "invalid kernel_size"),
    (1, {"kernel_size": True}, "invalid kernel_size"),
    (1, {"padding": -1}, "invalid padding"),
    (1, {"dtype": "float16"}, "unsupported dtype"),
    (1, {"bogus": 1}, "unknown setting 'bogus'"),
    (3, {"stride": 0}, "invalid stride"),
    (0, {"shape": [1, 9, "8"]}, "invalid shape"),
    (0, {"shape": [1 << 20, 1 << 20]}, "invalid shape"),
])
def test_model_files_with_bad_image_layer_settings_are_refused(tmp_path, layer, change, fragment):
    import json

    model = tiny_stack()
    document = {"format": "scratchnet-model", "version": 1, "model": model.get_config(), "metadata": {}}
    document["model"]["layers"][layer].update(change)
    path = tmp_path / "m.npz"
    np.savez(path, __config__=np.frombuffer(json.dumps(document).encode(), dtype=np.uint8), **model.state_dict())
    with pytest.raises(ModelFileError, match=fragment):
        load_model(path)


def test_worker_threads_give_the_same_bits_and_run_only_with_one_blas_thread(monkeypatch):
    """Conv2D's bands on two threads of its own: the same numbers, bit for bit, as on one (the bands'
    dL/dW are summed in band order); used only while BLAS runs one thread (threads.py)."""
    from scratchnet import conv as conv_module
    from scratchnet import threads

    if not threads._blas_libraries():
        pytest.skip("no BLAS library that threadpoolctl can limit")
    used = []
    original = conv_module._executor
    monkeypatch.setattr(conv_module, "_executor", lambda workers: used.append(workers) or original(workers))
    rng = np.random.default_rng(12)
    x = rng.standard_normal((40, 3, 11, 10)).astype(np.float32)
    grad = rng.standard_normal((40, 5, 9, 8)).astype(np.float32)
    results = {}
    for workers in (1, 2):
        layer = Conv2D(3, 5, 3, padding=0, rng=np.random.default_rng(2), band_columns=600, workers=workers)
        # 9 rows of 8 x 40 columns: 2,880 columns, in 6 bands of about 600 wanted, so 2 rows a band
        assert layer._bands(9, 8, 40) == [(0, 2), (2, 4), (4, 6), (6, 8), (8, 9)]
        with threads.blas_thread_limit(1):
            assert threads.blas_single_threaded()
            y = layer.forward(x, training=True).copy()
            grad_x = layer.backward(grad).copy()
        results[workers] = (y, grad_x, layer.grads["W"].copy(), layer.grads["b"].copy())
        assert used == ([] if workers == 1 else [2, 2, 2])  # forward bands, backward bands, col2im halves
    for one, two in zip(results[1], results[2], strict=True):
        np.testing.assert_array_equal(one, two)
    np.testing.assert_allclose(results[2][0], loop_conv(x.astype(np.float64), layer.params["W"], layer.params["b"],
                                                        1, 0), rtol=1e-5, atol=1e-5)
    used.clear()
    layer.forward(x)  # BLAS back at its default: its own threads, so no workers
    assert not threads.blas_single_threaded() and used == []


def test_the_convolutional_preset_is_the_configuration_measured_in_benchmarks():
    """benchmarks/PRESETS.md and RESULTS.md measured exactly this (99.46-99.47% after 8 epochs on 2 Dec 2026):
    a change here needs a new measurement (`scratchnet train --preset convolutional`)."""
    from scratchnet.presets import PRESETS

    config = PRESETS["convolutional"].config
    assert config.layers == ("conv5x5x16", "relu", "pool2", "conv5x5x32", "relu", "pool2", "flatten", "dense128",
                             "relu")
    assert (config.descent, config.batch_size, config.optimizer, config.learning_rate, config.momentum,
            config.schedule, config.epochs, config.augment, config.init) == \
        ("mini", 64, "momentum", 0.02, 0.9, "cosine", 8, True, "he")
    model = config.build_model(784, 10)
    assert model.param_count() == 80_202
    assert [type(layer).__name__ for layer in model.layers][:2] == ["Reshape", "Conv2D"]


@pytest.mark.parametrize("k, stride", [(2, None), (3, 2)])
def test_pool_workers_give_the_same_bits(monkeypatch, k, stride):
    """MaxPool2D's two halves of the channels on the workers: per-element maths, the same numbers."""
    from scratchnet import conv as conv_module
    from scratchnet import threads

    if not threads._blas_libraries():
        pytest.skip("no BLAS library that threadpoolctl can limit")
    used = []
    original = conv_module._executor
    monkeypatch.setattr(conv_module, "_executor", lambda workers: used.append(workers) or original(workers))
    rng = np.random.default_rng(13)
    x = np.maximum(rng.standard_normal((64, 6, 28, 27)), 0).astype(np.float32)  # ReLU'd: many ties at 0
    results = []
    for workers in (1, 2):
        pool = MaxPool2D(k, stride, workers=workers)
        with threads.blas_thread_limit(1):
            y = pool.forward(x, training=True).copy()
            grad_x = pool.backward(np.ones_like(y)).copy()
        results.append((y, grad_x))
    assert used == [2, 2]  # forward and backward, 6x13x13x64 outputs or more: two halves
    for one, two in zip(*results, strict=True):
        np.testing.assert_array_equal(one, two)
    np.testing.assert_array_equal(results[1][0], loop_pool(x, k, stride or k))
    assert results[1][1].sum() == y.size  # every window's gradient of 1 went to exactly one input


def test_a_network_of_images_is_evaluated_in_small_batches(monkeypatch):
    """evaluate(), predict() and predict_proba() bound an image network's batches
    (IMAGE_EVAL_BATCH), whatever batch size is asked: its activations are many times its inputs.
    The numbers do not depend on it."""
    from scratchnet import network, training

    model = tiny_stack(np.float64)
    rng = np.random.default_rng(14)
    x, y = rng.uniform(0, 1, (70, 72)), rng.integers(0, 3, 70)
    whole = training.evaluate(model, x, y, batch_size=8192)
    whole_p, whole_labels = model.predict_proba(x), model.predict(x)
    sizes = []
    forward = model.forward
    monkeypatch.setattr(model, "forward", lambda inputs, training=False: sizes.append(len(inputs)) or
                        forward(inputs, training))
    monkeypatch.setattr(network, "IMAGE_EVAL_BATCH", 32)
    small = training.evaluate(model, x, y, batch_size=8192)
    assert sizes == [32, 32, 6]
    assert small[1] == whole[1] and small[0] == pytest.approx(whole[0], rel=1e-12)
    np.testing.assert_allclose(model.predict_proba(x), whole_p, rtol=1e-12)
    np.testing.assert_array_equal(model.predict(x), whole_labels)
    assert sizes == [32, 32, 6] * 3


def test_the_workers_are_kept_only_where_measured_faster():
    """WorkerChoice alternates workers and one thread for PROBES calls each (starting with the
    workers), keeps the faster by the median, and probes again after REPROBE_SECONDS."""
    from scratchnet.conv import WorkerChoice
    from scratchnet.threads import REPROBE_SECONDS

    choice = WorkerChoice()
    ways = []
    for call in range(2 * WorkerChoice.PROBES):
        parallel = choice.parallel(now=call)
        ways.append(parallel)
        choice.record(parallel, 0.006 if parallel else 0.004, now=call)  # loaded: one thread wins
    assert ways == [True, False] * WorkerChoice.PROBES
    assert choice.chosen is False and not choice.parallel(now=10)
    choice.record(True, 0.001, now=10)  # ignored once chosen
    assert choice.chosen is False
    later = 10 + REPROBE_SECONDS + 1
    assert choice.parallel(now=later) and choice.chosen is None  # probes again, workers first
    for call in range(2 * WorkerChoice.PROBES):
        parallel = choice.parallel(now=later + call)
        choice.record(parallel, 0.002 if parallel else 0.004, now=later + call)  # quiet: two threads win
    assert choice.chosen is True and choice.parallel(now=later + 9)
