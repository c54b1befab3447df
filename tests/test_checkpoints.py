"""Checkpoints: capture and restore, files, the schedule of updates, the memory budget, and exact
resume of ``train`` for every descent and optimiser, with dropout and with augmentation."""

from __future__ import annotations

import json
import math
import zipfile

import numpy as np
import pytest

from scratchnet.checkpoints import (
    FORMAT_VERSION,
    Checkpoint,
    CheckpointError,
    CheckpointMemory,
    capture,
    checkpoint_updates,
    load_checkpoint,
    restore,
    save_checkpoint,
)
from scratchnet.optimizers import OPTIMIZER_NAMES
from scratchnet.run_config import RunConfig, hidden_layers
from scratchnet.training import DESCENTS, run_generators, train

EXACT_KEYS = ("loss", "accuracy", "test_loss", "test_accuracy")


@pytest.fixture(scope="module")
def small(mnist):
    """240 training images and 200 test images: a few milliseconds an epoch."""
    data = mnist.subset(240)
    return data.x_train, data.y_train, mnist.x_test[:200], mnist.y_test[:200]


def _run(config: RunConfig, data, *, checkpoints=None, resume=None):
    x, y, xt, yt = data
    model = config.build_model(x.shape[1], 10)
    optimizer = config.build_optimizer()
    logs = list(train(model, optimizer, x, y, config.train_config(), x_test=xt, y_test=yt,
                      augment=config.build_augmenter(), checkpoints=checkpoints, resume=resume))
    return logs, model


def _epochs(logs):
    return {log["epoch"]: tuple(log[k] for k in EXACT_KEYS) for log in logs if log["event"] == "epoch"}


def _checkpoints(logs):
    return [log["checkpoint"] for log in logs if log["event"] == "checkpoint"]


def _config(descent, optimizer, **changes):
    lr = {"sgd": 0.05, "momentum": 0.02, "nesterov": 0.02, "rmsprop": 0.001, "adam": 0.002}[optimizer]
    return RunConfig(hidden=hidden_layers(24), descent=descent, optimizer=optimizer, learning_rate=lr,
                     batch_size=32, epochs=3, seed=3, **changes)


class TestExactResume:
    """Resumed from a checkpoint, the epochs after it equal the original run's, bit for bit."""

    def test_batches_large_enough_for_several_blas_threads(self, mnist, monkeypatch):
        """From 64 rows the updates use the BLAS default, whose sums differ in the last bits from one
        thread's: the count comes from the batch size alone, never from timing, so a run repeats
        and resumes exactly (a timing probe made 2 of 4 resumes differ)."""
        from scratchnet import threads

        counts = []
        use = threads.BlasThreads._use
        monkeypatch.setattr(threads.BlasThreads, "_use", lambda self, n: (counts.append(n), use(self, n)))
        data = mnist.subset(1024)
        small = (data.x_train, data.y_train, mnist.x_test[:500], mnist.y_test[:500])
        config = RunConfig(hidden=hidden_layers(256), optimizer="momentum", learning_rate=0.02, batch_size=128,
                           epochs=3, seed=3)
        logs, _ = _run(config, small, checkpoints=0)
        again, _ = _run(config, small)
        assert _epochs(again) == _epochs(logs)
        after_one = next(c for c in _checkpoints(logs) if c.epoch == 1)
        resumed, _ = _run(config, small, resume=after_one)
        assert _epochs(resumed) == {e: _epochs(logs)[e] for e in (2, 3)}
        assert set(counts) == {0}  # the BLAS default all along: no probe with one thread


    @pytest.mark.parametrize("descent", DESCENTS)
    @pytest.mark.parametrize("optimizer", OPTIMIZER_NAMES)
    def test_every_descent_and_optimiser(self, small, descent, optimizer):
        config = _config(descent, optimizer, dropout=0.2)
        logs, model = _run(config, small, checkpoints=4)
        original = _epochs(logs)
        ckpts = _checkpoints(logs)
        after_one = next(c for c in ckpts if c.epoch == 1 and not c.mid_epoch)
        resumed_logs, resumed = _run(config, small, resume=after_one)
        assert _epochs(resumed_logs) == {e: original[e] for e in (2, 3)}
        for name, value in model.parameters().items():
            np.testing.assert_array_equal(resumed.parameters()[name], value)
        start = resumed_logs[0]
        assert (start["first_epoch"], start["first_update"]) == (2, after_one.update)
        assert start["samples_seen"] == after_one.samples_seen == 240
        assert resumed_logs[-1]["epochs_completed"] == 3

    @pytest.mark.parametrize("descent", ("mini", "sgd"))
    def test_from_inside_an_epoch(self, small, descent):
        """A mid-epoch checkpoint gives the same epoch log for the epoch it is in."""
        config = _config(descent, "adam", dropout=0.3)
        logs, _ = _run(config, small, checkpoints=6)
        original = _epochs(logs)
        mid = [c for c in _checkpoints(logs) if c.mid_epoch and c.epoch == 1]
        assert mid, "a 3-epoch run keeps checkpoints inside its epochs"
        resumed_logs, _ = _run(config, small, resume=mid[0])
        assert _epochs(resumed_logs) == {e: original[e] for e in (2, 3)}
        assert resumed_logs[0]["first_update"] == mid[0].update > 240 // config.train_config().batch_size_for(240)

    def test_augmented(self, small):
        config = _config("mini", "momentum", augment=True)
        logs, _ = _run(config, small, checkpoints=2)
        original = _epochs(logs)
        resumed_logs, _ = _run(config, small, resume=_checkpoints(logs)[-2])  # the end of epoch 2
        assert _checkpoints(logs)[-2].epoch == 2
        assert _epochs(resumed_logs) == {3: original[3]}

    def test_schedule_keeps_the_run_length(self, small):
        config = _config("mini", "sgd", schedule="cosine")
        logs, _ = _run(config, small, checkpoints=0)
        lrs = [log["lr"] for log in logs if log["event"] == "epoch"]
        resumed_logs, _ = _run(config, small, resume=_checkpoints(logs)[1])
        assert [log["lr"] for log in resumed_logs if log["event"] == "epoch"] == lrs[1:]

    def test_resume_through_a_file(self, small, tmp_path):
        config = _config("mini", "nesterov", dropout=0.1)
        logs, _ = _run(config, small, checkpoints=0)
        path = tmp_path / "epoch-1.npz"
        save_checkpoint(_checkpoints(logs)[1], path)
        resumed_logs, _ = _run(config, small, resume=load_checkpoint(path))
        assert _epochs(resumed_logs) == {e: v for e, v in _epochs(logs).items() if e > 1}

    def test_fork_with_another_optimiser_starts_its_state_afresh(self, small):
        config = _config("mini", "adam")
        logs, _ = _run(config, small, checkpoints=0)
        fork = config.replace(optimizer="momentum", learning_rate=0.01, batch_size=16)
        resumed_logs, _ = _run(fork, small, resume=_checkpoints(logs)[1])
        epochs = _epochs(resumed_logs)
        assert sorted(epochs) == [2, 3] and all(math.isfinite(v) for v in epochs[3])
        assert resumed_logs[0]["batch_size"] == 16


class TestCheckpointLogs:
    def test_positions(self, small):
        config = _config("mini", "sgd")
        logs, _ = _run(config, small, checkpoints=5)
        ckpts = _checkpoints(logs)
        updates = [c.update for c in ckpts]
        assert updates == checkpoint_updates(3, 8, 5) == sorted(set(updates))
        assert updates[0] == 0 and {8, 16, 24} <= set(updates)
        epoch_ends = [c for c in ckpts if not c.mid_epoch]
        assert [c.epoch for c in epoch_ends] == [0, 1, 2, 3]
        # the epoch-end checkpoint comes right after its epoch's log
        for i, log in enumerate(logs):
            if log["event"] == "epoch":
                assert logs[i + 1]["event"] == "checkpoint" and logs[i + 1]["epoch"] == log["epoch"]
        assert all(c.samples_seen == c.update * 32 - (c.update // 8) * 16 for c in ckpts)  # 240 = 7 x 32 + 16

    def test_no_checkpoints_by_default(self, small):
        logs, _ = _run(_config("mini", "sgd"), small)
        assert not _checkpoints(logs) and logs[0]["checkpoint_updates"] == []
        assert (logs[0]["first_epoch"], logs[0]["first_update"], logs[0]["seconds"]) == (1, 0, 0.0)

    def test_schedule(self):
        assert checkpoint_updates(3, 10, 0) == [0, 10, 20, 30]
        marks = checkpoint_updates(5, 100, 20)
        assert {0, 100, 200, 300, 400, 500} <= set(marks) and 20 <= len(marks) <= 26
        assert checkpoint_updates(12, 5, 20) == list(range(0, 61, 5))  # long runs: epoch ends only
        assert checkpoint_updates(2, 1, 20) == [0, 1, 2]  # full batch: one update an epoch


def _epoch_state(samples):
    """A well-formed mid-epoch state (what the training loop saves)."""
    return {"order_rng": np.random.default_rng(3).bit_generator.state, "samples": samples, "loss_sum": 1.5,
            "correct": 2, "updates": 1, "seconds": 0.25}


def _checkpoint(scale=1.0, update=1, mid=False):
    config = RunConfig(hidden=hidden_layers(8), optimizer="adam", dropout=0.5, epochs=1)
    model = config.build_model(16, 3)
    optimizer = config.build_optimizer()
    rng = np.random.default_rng(1)
    x = np.random.default_rng(0).random((20, 16), dtype=np.float32) * scale
    logs = list(train(model, optimizer, x, np.arange(20) % 3, config.train_config()))
    assert logs[-1]["event"] == "done"
    return capture(model, optimizer, run_generators(model, rng), epoch=1, update=update, samples_seen=20,
                   seconds=0.5, epoch_state=_epoch_state(8) if mid else None), model, optimizer, rng


class TestCaptureRestore:
    def test_round_trip(self):
        ckpt, model, optimizer, rng = _checkpoint()
        assert set(ckpt.params) == {"0.W", "0.b", "3.W", "3.b"}
        assert {"0.W/exp_avg", "0.W/exp_avg_sq"} <= set(ckpt.optimizer_state)
        assert ckpt.optimizer_state["steps"] == 1 and ckpt.optimizer_state["name"] == "adam"
        assert len(ckpt.rng_state) == 2  # the loop's and the dropout layer's
        draws = [g.random(3) for g in run_generators(model, rng)]
        for p in model.parameters().values():
            p += 1
        optimizer.state["0.W"]["exp_avg"] += 1
        optimizer.steps = 7
        restore(ckpt, model, optimizer, run_generators(model, rng))
        for name, value in model.parameters().items():
            np.testing.assert_array_equal(value, ckpt.params[name])
        np.testing.assert_array_equal(optimizer.state["0.W"]["exp_avg"], ckpt.optimizer_state["0.W/exp_avg"])
        assert optimizer.steps == 1
        assert [g.random(3).tolist() for g in run_generators(model, rng)] == [d.tolist() for d in draws]
        assert ckpt.nbytes >= 3 * (16 * 8 + 8 + 8 * 3 + 3) * 4

    def test_copies(self):
        ckpt, model, optimizer, _ = _checkpoint()
        before = ckpt.params["0.W"].copy()
        model.parameters()["0.W"] += 1
        optimizer.state["0.W"]["exp_avg"] += 1
        np.testing.assert_array_equal(ckpt.params["0.W"], before)

    def test_mismatch_names_the_key(self):
        ckpt, _, optimizer, rng = _checkpoint()
        other = RunConfig(hidden=hidden_layers(9), dropout=0.5).build_model(16, 3)
        weights = dict(other.parameters())
        with pytest.raises(ValueError, match=r"'0.W' has shape \(16, 8\) in the checkpoint.*\(16, 9\)"):
            restore(ckpt, other, optimizer, run_generators(other, rng))
        np.testing.assert_array_equal(other.parameters()["0.W"], weights["0.W"])  # nothing changed
        deeper = RunConfig(hidden=hidden_layers(8, 8)).build_model(16, 3)
        with pytest.raises(ValueError, match="no parameter '2.W'"):
            restore(ckpt, deeper, optimizer, run_generators(deeper, rng))
        with pytest.raises(ValueError, match="2 random generators, the run has 1"):
            restore(ckpt, RunConfig(hidden=hidden_layers(8), dropout=0.5).build_model(16, 3), optimizer, [rng])


class TestFiles:
    def test_round_trip(self, tmp_path):
        ckpt, *_ = _checkpoint(mid=True)
        path = tmp_path / "c.npz"
        save_checkpoint(ckpt, path)
        back = load_checkpoint(path)
        assert back.position() == ckpt.position() and back.seconds == 0.5 and back.lr == ckpt.lr
        assert back.rng_state == json.loads(json.dumps(ckpt.rng_state)) and back.epoch_state == json.loads(
            json.dumps(_epoch_state(8)))
        for name, value in ckpt.params.items():
            np.testing.assert_array_equal(back.params[name], value)
        for key, value in ckpt.optimizer_state.items():
            np.testing.assert_array_equal(back.optimizer_state[key], value)
        assert not list(tmp_path.glob("*.tmp"))
        with zipfile.ZipFile(path) as zf:  # plain arrays, nothing pickled
            assert all(name.endswith(".npy") for name in zf.namelist())
        np.load(path, allow_pickle=False)

    def test_damaged_files_name_the_file(self, tmp_path):
        ckpt, *_ = _checkpoint()
        good = tmp_path / "good.npz"
        save_checkpoint(ckpt, good)
        data = good.read_bytes()
        cut = tmp_path / "cut.npz"
        cut.write_bytes(data[: len(data) // 2])
        noise = tmp_path / "noise.npz"
        noise.write_bytes(b"\x00garbage" * 50)
        for path, fragment in ((cut, "cut short or corrupt"), (noise, "cut short or corrupt"),
                               (tmp_path / "absent.npz", "no such file")):
            with pytest.raises(CheckpointError, match=fragment) as info:
                load_checkpoint(path)
            assert str(info.value).startswith(f"{path}: ")

    def test_missing_array_and_newer_version(self, tmp_path):
        ckpt, *_ = _checkpoint()
        with np.load(_saved(ckpt, tmp_path / "a.npz")) as data:
            arrays = {k: data[k] for k in data.files}
        meta = json.loads(str(arrays["checkpoint.json"][()]))
        np.savez(tmp_path / "missing.npz", **{k: v for k, v in arrays.items() if k != "param/3.b"})
        with pytest.raises(CheckpointError, match="parameter '3.b' is missing"):
            load_checkpoint(tmp_path / "missing.npz")
        meta["format_version"] = FORMAT_VERSION + 1
        np.savez(tmp_path / "newer.npz", **(arrays | {"checkpoint.json": np.array(json.dumps(meta))}))
        with pytest.raises(CheckpointError, match="format version 2 is newer"):
            load_checkpoint(tmp_path / "newer.npz")
        np.savez(tmp_path / "nonsense.npz", **(arrays | {"checkpoint.json": np.array("[1, 2")}))
        with pytest.raises(CheckpointError, match="not a valid checkpoint"):
            load_checkpoint(tmp_path / "nonsense.npz")

    @pytest.mark.parametrize(("change", "fragment"), [
        (lambda m: m["rng_state"]["0"].update(state="x"), "random generator 0 is not a valid PCG64 state"),
        (lambda m: m["rng_state"]["0"]["state"].update(state=-5), "random generator 0 is not a valid PCG64"),
        (lambda m: m["rng_state"].update({"1": "junk"}), "random generator 1 is not a generator's state"),
        (lambda m: m["rng_state"]["0"].update(bit_generator="Nope"), "names no known generator"),
        (lambda m: m.update(epoch_state="junk"), "epoch_state is not a JSON object"),
        (lambda m: m.update(epoch_state={"order": [1, 2, 3]}), "epoch_state order_rng is None"),
        (lambda m: m["epoch_state"].update(seconds="soon"), "epoch_state seconds is 'soon'"),
        (lambda m: m["epoch_state"]["order_rng"].update(state=7), "epoch_state order_rng is not a valid"),
        (lambda m: m["optimizer"].update(steps="x"), "the optimiser's steps is 'x', not a count"),
        (lambda m: m.update(epoch=-3), "epoch is -3, not a count"),
        (lambda m: m.update(epoch=2), "its name says epoch 1, update 5, but it holds epoch 2"),
        (lambda m: m.update(seconds="x"), "seconds and lr must be numbers"),
    ])
    def test_damaged_contents_name_the_file(self, tmp_path, change, fragment):
        """Whatever the JSON inside says, loading raises a CheckpointError naming the file: never
        a TypeError, KeyError or OverflowError later in restore or the training loop."""
        ckpt, *_ = _checkpoint(update=5, mid=True)
        name = "e0001-u000000005-s000000000020-mid.npz"
        good = load_checkpoint(_saved(ckpt, tmp_path / name))
        assert good.epoch == 1 and good.update == 5
        with np.load(tmp_path / name) as data:
            arrays = {k: data[k] for k in data.files}
        meta = json.loads(str(arrays["checkpoint.json"][()]))
        change(meta)
        np.savez(tmp_path / name, **(arrays | {"checkpoint.json": np.array(json.dumps(meta))}))
        with pytest.raises(CheckpointError, match=fragment) as info:
            load_checkpoint(tmp_path / name)
        assert str(info.value).startswith(f"{tmp_path / name}: ")


def _saved(ckpt, path):
    save_checkpoint(ckpt, path)
    return path


def _sized(update, nbytes, mid=True):
    """A checkpoint of about ``nbytes``."""
    params = {"0.W": np.full(nbytes // 4 - 256, update, dtype=np.float32)}
    return Checkpoint(epoch=update // 10, update=update, samples_seen=update, seconds=0.0, params=params,
                      rng_state={}, epoch_state=_epoch_state(1) if mid else None)


class TestMemory:
    def test_spills_oldest_beyond_the_budget(self, tmp_path):
        memory = CheckpointMemory(budget_bytes=10_000)
        for u in range(6):
            memory.add("a", _sized(u, 3000), spill_dir=tmp_path / "a")
            assert memory.nbytes <= 10_000
        assert memory.list("a") == [(0, u, u) for u in range(6)]
        assert sorted(p.name for p in (tmp_path / "a").iterdir()) == [f"spill-{u:09d}.npz" for u in range(3)]
        for u in range(6):  # scrubbing reads back spilled ones without growing
            assert memory.get("a", u).params["0.W"][0] == u
            assert memory.nbytes <= 10_000

    def test_shared_between_runs_and_drop(self, tmp_path):
        memory = CheckpointMemory(budget_bytes=10_000)
        memory.add("a", _sized(0, 3000))
        memory.add("a", _sized(10, 3000, mid=False))
        memory.add("b", _sized(1, 3000), spill_dir=tmp_path / "b")
        memory.add("b", _sized(2, 3000), spill_dir=tmp_path / "b")
        # "a"'s mid-epoch one had no folder to go to: forgotten; its epoch end stays
        assert memory.list("a") == [(1, 10, 10)] and len(memory.list("b")) == 2
        assert memory.nbytes <= 10_000
        memory.drop("b")
        assert memory.list("b") == [] and memory.nbytes == memory.get("a", 0).nbytes

    def test_epoch_ends_that_cannot_be_spilled_stay_beyond_the_budget(self, tmp_path):
        """As documented: a run always keeps its epoch ends, so when none can be written (no
        folder, or a full disk) memory passes the budget by them; mid-epoch ones are forgotten."""
        memory = CheckpointMemory(budget_bytes=10_000)
        blocked = tmp_path / "file"
        blocked.write_text("a file where the spill folder should be")
        for u in range(5):
            memory.add("a", _sized(u * 10, 3000, mid=False), spill_dir=blocked / "spill")
        memory.add("a", _sized(55, 3000))
        assert memory.list("a") == [(u, u * 10, u * 10) for u in range(5)] + [(5, 55, 55)]
        memory.add("a", _sized(56, 3000))  # the earlier mid-epoch one cannot stay: forgotten
        assert [p[1] for p in memory.list("a")] == [0, 10, 20, 30, 40, 56]
        assert memory.nbytes == 6 * _sized(0, 3000).nbytes > memory.budget_bytes
        assert memory.get("a", 0).params["0.W"][0] == 0


def test_divergence_after_a_mid_epoch_resume(small):
    """A fork that diverges keeps the last finite weights; the updates it counts include the
    parent's updates of that epoch."""
    from scratchnet.errors import TrainingDiverged

    config = _config("mini", "sgd")
    logs, _ = _run(config, small, checkpoints=6)
    mid = next(c for c in _checkpoints(logs) if c.mid_epoch and c.epoch == 1)
    done_in_epoch = mid.update - 8
    x, y, xt, yt = small
    fork = config.replace(optimizer="momentum", learning_rate=1e30)
    model = fork.build_model(784, 10)
    with np.errstate(all="ignore"), pytest.raises(TrainingDiverged) as info:
        for _ in train(model, fork.build_optimizer(), x * np.float32(1e4), y, fork.train_config(), resume=mid):
            pass
    assert info.value.epoch == 2 and info.value.kept_updates_in_epoch >= done_in_epoch > 0
    assert all(np.isfinite(p).all() for p in model.parameters().values())


def test_memory_reads_back_a_saved_file_without_writing_it_again(tmp_path):
    memory = CheckpointMemory(budget_bytes=5_000)
    first = _sized(0, 3000)
    save_checkpoint(first, tmp_path / "saved.npz")
    memory.add("a", first, saved=tmp_path / "saved.npz")
    memory.add("a", _sized(1, 3000), spill_dir=tmp_path / "spill")
    assert memory.nbytes <= 5_000 and not (tmp_path / "spill").exists()
    assert memory.get("a", 0).params["0.W"][0] == 0 and memory.list("a") == [(0, 0, 0), (0, 1, 1)]
