"""`scratchnet train --run-dir` and `scratchnet resume`: the resumed epochs print exactly the
original run's lines, for every descent and optimiser, with dropout and with augmentation; bad
run folders and damaged checkpoints give one line and exit code 1."""

from __future__ import annotations

import json

import pytest

import cli.train
from cli import run_cli
from scratchnet.optimizers import OPTIMIZER_NAMES
from scratchnet.run_store import RunStore
from scratchnet.training import DESCENTS

pytestmark = pytest.mark.usefixtures("private_cache")
EXACT = ("epoch", "loss", "accuracy", "test_loss", "test_accuracy", "lr")  # all but the timings
SMALL = ["--train-size", "96", "--hidden", "12", "--batch-size", "32", "--epochs", "3", "--json"]


@pytest.fixture(autouse=True)
def bundled_mnist_once(mnist, monkeypatch):
    """Each command in this process reads the session's MNIST (the same data) with its test set
    cut to 500 images, so that the 40 commands here stay fast."""
    small = type(mnist)(mnist.name, mnist.x_train, mnist.y_train, mnist.x_test[:500], mnist.y_test[:500],
                        mnist.class_names)
    monkeypatch.setattr(cli.train, "load_dataset", lambda name, **options: small)


def _cli(capsys, *args):
    code = run_cli(list(args))
    out, err = capsys.readouterr()
    return code, [json.loads(line) for line in out.splitlines() if line.startswith("{")], err


def _epochs(lines):
    return [{k: line[k] for k in EXACT} for line in lines if "epoch" in line]


def _same_after_resume(capsys, tmp_path, *flags, from_epoch=1):
    code, lines, err = _cli(capsys, "train", *SMALL, *flags, "--run-dir", str(tmp_path / "run"))
    assert code == 0, err
    code, resumed, err = _cli(capsys, "resume", str(tmp_path / "run"), "--from-epoch", str(from_epoch), "--json")
    assert code == 0, err
    original = _epochs(lines)
    assert len(original) == 3
    assert _epochs(resumed) == original[from_epoch:]
    assert resumed[-1]["event"] == "done" and resumed[-1]["epochs"] == 3
    return lines, resumed


@pytest.mark.parametrize("descent", DESCENTS)
@pytest.mark.parametrize("optimizer", OPTIMIZER_NAMES)
def test_every_descent_and_optimiser(capsys, tmp_path, descent, optimizer):
    lr = {"rmsprop": "0.001", "adam": "0.002"}.get(optimizer, "0.02")
    _same_after_resume(capsys, tmp_path, "--descent", descent, "--optimizer", optimizer, "--lr", lr)


def test_dropout(capsys, tmp_path):
    _same_after_resume(capsys, tmp_path, "--dropout", "0.3", "--optimizer", "nesterov", from_epoch=2)


def test_augmentation(capsys, tmp_path):
    _same_after_resume(capsys, tmp_path, "--augment", "--optimizer", "adam", "--lr", "0.002")


def test_from_the_initial_weights_with_a_schedule(capsys, tmp_path):
    _same_after_resume(capsys, tmp_path, "--schedule", "cosine", "--dropout", "0.1", from_epoch=0)


def test_overrides_and_a_fork_folder(capsys, tmp_path):
    code, lines, _ = _cli(capsys, "train", *SMALL, "--run-dir", str(tmp_path / "run"), "--checkpoints", "0")
    assert code == 0
    assert len(list((tmp_path / "run" / "checkpoints").iterdir())) == 4  # 0 and every epoch's end
    code, resumed, err = _cli(capsys, "resume", str(tmp_path / "run"), "--from-epoch", "2", "--epochs", "5",
                              "--lr", "0.01", "--optimizer", "adam", "--json", "--run-dir", str(tmp_path / "fork"))
    assert code == 0, err
    assert [e["epoch"] for e in _epochs(resumed)] == [3, 4, 5]
    assert all(e["lr"] == 0.01 for e in _epochs(resumed))
    assert _epochs(resumed)[0] != _epochs(lines)[2]
    fork = RunStore(tmp_path).get("fork")
    assert (fork.parent, fork.fork["epoch"], fork.fork["update"]) == ("run", 2, 6)
    assert fork.config.epochs == 5 and fork.config.optimizer == "adam" and fork.status == "done"
    assert [c.epoch for c in fork.checkpoints() if not c.mid_epoch] == [3, 4, 5]
    assert [e["epoch"] for e in fork.epoch_logs()] == [3, 4, 5]


def test_text_output(capsys, tmp_path):
    code, _, _ = _cli(capsys, "train", *SMALL[:-1], "--run-dir", str(tmp_path / "run"))
    assert code == 0
    code = run_cli(["resume", str(tmp_path / "run"), "--from-epoch", "1"])
    out, err = capsys.readouterr()
    assert code == 0 and "epoch   2/3" in out and "epoch   3/3" in out and "epoch   1/3" not in out


class TestBadInput:
    @pytest.fixture
    def run_dir(self, capsys, tmp_path):
        code, _, err = _cli(capsys, "train", *SMALL, "--run-dir", str(tmp_path / "run"), "--checkpoints", "0")
        assert code == 0, err
        return tmp_path / "run"

    def _fails(self, capsys, *args, code=1):
        got = run_cli(list(args))
        out, err = capsys.readouterr()
        assert got == code and out == ""
        assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
        return err.strip()

    def test_damaged_checkpoint(self, capsys, run_dir):
        path = run_dir / "checkpoints" / "e0001-u000000003-s000000000096.npz"
        path.write_bytes(path.read_bytes()[:700])
        err = self._fails(capsys, "resume", str(run_dir), "--from-epoch", "1")
        assert err.startswith(f"scratchnet resume: {path}: ") and "cut short or corrupt" in err

    def test_checkpoint_of_another_shape(self, capsys, run_dir):
        info = json.loads((run_dir / "run.json").read_text())
        info["config"]["hidden"] = [{"width": 13, "activation": "relu"}]
        (run_dir / "run.json").write_text(json.dumps(info))
        err = self._fails(capsys, "resume", str(run_dir), "--from-epoch", "1")
        assert "e0001-u000000003" in err and "'0.W' has shape (784, 12), the run's configuration gives (784, 13)" in err

    def test_missing_epoch_and_folder(self, capsys, run_dir, tmp_path):
        err = self._fails(capsys, "resume", str(run_dir), "--from-epoch", "7")
        assert "no checkpoint at the end of epoch 7 (epochs kept: 0, 1, 2, 3)" in err
        err = self._fails(capsys, "resume", str(tmp_path / "nothing"), "--from-epoch", "1")
        assert "no such run folder" in err

    def test_nonsense_run_json(self, capsys, run_dir):
        (run_dir / "run.json").write_text("{nonsense")
        assert "run.json is not valid JSON" in self._fails(capsys, "resume", str(run_dir), "--from-epoch", "1")
        (run_dir / "run.json").write_text(json.dumps({"format_version": 9}))
        assert "newer scratchnet" in self._fails(capsys, "resume", str(run_dir), "--from-epoch", "1")

    def test_usage_errors(self, capsys, run_dir):
        err = self._fails(capsys, "resume", str(run_dir), "--from-epoch", "1", "--hidden", "20", code=2)
        assert "the options change the saved network" in err and "'0.W'" in err
        err = self._fails(capsys, "train", *SMALL, "--run-dir", str(run_dir), code=2)
        assert "already holds a run" in err
        assert "required" in self._fails(capsys, "resume", str(run_dir), code=2)


def test_disk_full_keeps_training(capsys, tmp_path, monkeypatch):
    """The run folder's writes fail with ENOSPC after it was created: one note, training finishes."""
    import errno

    from scratchnet.run_store import RunWriter

    def full(self, name, text):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(RunWriter, "_append", full)
    code, lines, err = _cli(capsys, "train", *SMALL, "--run-dir", str(tmp_path / "run"))
    assert code == 0 and len(_epochs(lines)) == 3 and lines[-1]["event"] == "done"
    assert err.count("the disk is full; training goes on without saving the run") == 1
    monkeypatch.undo()
    [run] = RunStore(tmp_path).list()
    assert any("disk is full" in w for w in run.warnings)
