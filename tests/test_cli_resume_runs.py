"""`scratchnet resume` on imported data through the real loader (a tiny CSV): the import options
are saved in run.json and reused, so the resumed epochs equal the original run's; flags that a
checkpoint decides are refused; the help shows the run's defaults; damaged files name themselves."""

from __future__ import annotations

import json

import numpy as np
import pytest

from cli import run_cli

pytestmark = pytest.mark.usefixtures("private_cache")
EXACT = ("epoch", "loss", "accuracy", "test_loss", "test_accuracy", "lr")


@pytest.fixture
def csv_path(tmp_path):
    """90 images of 4x4 pixels in 3 classes, each brighter in its own rows, as one CSV."""
    rng = np.random.default_rng(0)
    labels = np.arange(90) % 3
    pixels = rng.integers(0, 120, (90, 16))
    for i, label in enumerate(labels):
        pixels[i, label * 4:label * 4 + 6] += 130
    path = tmp_path / "tiny.csv"
    path.write_text("".join(f"{label},{','.join(map(str, row))}\n" for label, row in zip(labels, pixels, strict=True)))
    return path


def _cli(capsys, *args):
    code = run_cli([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, [json.loads(line) for line in out.splitlines() if line.startswith("{")], err


def _epochs(lines):
    return [{k: line[k] for k in EXACT} for line in lines if "epoch" in line]


TRAIN = ("--hidden", "8", "--epochs", "3", "--batch-size", "16", "--lr", "0.05", "--json")


@pytest.mark.parametrize("options", [("--held-out", "0.3", "--split-seed", "5"), ("--image-size", "6",),
                                     ("--held-out", "0.4", "--image-size", "3", "--photo", "auto")])
def test_imported_data_resume_with_its_own_import_options(capsys, tmp_path, csv_path, options):
    code, lines, err = _cli(capsys, "train", "--dataset", csv_path, *options, *TRAIN, "--run-dir", tmp_path / "run")
    assert code == 0, err
    saved = json.loads((tmp_path / "run" / "run.json").read_text())["data_import"]
    given = dict(zip(options[::2], options[1::2], strict=True))
    assert saved["held_out"] == float(given.get("--held-out", 1 / 7))
    assert saved["seed"] == int(given.get("--split-seed", 0))
    assert saved["image_size"] == (int(given["--image-size"]) if "--image-size" in given else None)
    assert saved["photo"] == {"auto": "auto", None: False}[given.get("--photo")]
    code, resumed, err = _cli(capsys, "resume", tmp_path / "run", "--from-epoch", "1", "--json",
                              "--run-dir", tmp_path / "fork")
    assert code == 0, err
    assert len(_epochs(lines)) == 3 and _epochs(resumed) == _epochs(lines)[1:]
    # the fork saves the same options, so it resumes the same way in turn
    assert json.loads((tmp_path / "fork" / "run.json").read_text())["data_import"] == saved
    code, again, err = _cli(capsys, "resume", tmp_path / "fork", "--from-epoch", "2", "--json")
    assert code == 0, err
    assert _epochs(again) == _epochs(lines)[2:]


def test_import_flags_given_on_resume_override_the_saved_ones(capsys, tmp_path, csv_path):
    code, lines, err = _cli(capsys, "train", "--dataset", csv_path, "--held-out", "0.3", *TRAIN,
                            "--run-dir", tmp_path / "run")
    assert code == 0, err
    code, resumed, err = _cli(capsys, "resume", tmp_path / "run", "--from-epoch", "1", "--json",
                              "--held-out", "0.5")
    assert code == 0, err
    assert [e["epoch"] for e in _epochs(resumed)] == [2, 3]
    assert _epochs(resumed)[0]["test_loss"] != _epochs(lines)[1]["test_loss"]  # another test split


def test_seed_init_checkpoints_and_seconds(capsys, tmp_path, csv_path):
    code, _, err = _cli(capsys, "train", "--dataset", csv_path, *TRAIN, "--checkpoints", "2")
    assert code == 0 and "--checkpoints applies only with --run-dir" in err
    code, lines, err = _cli(capsys, "train", "--dataset", csv_path, *TRAIN, "--run-dir", tmp_path / "run")
    assert code == 0 and "--checkpoints applies only" not in err
    for flag, value in (("--seed", "5"), ("--init", "xavier")):
        code, out, err = _cli(capsys, "resume", tmp_path / "run", "--from-epoch", "1", flag, value)
        assert code == 2 and out == []
        assert f"{flag} cannot be used with resume: the weights and random generators come from the checkpoint" \
               in err
    code, resumed, err = _cli(capsys, "resume", tmp_path / "run", "--from-epoch", "1", "--json")
    assert code == 0, err
    done = resumed[-1]
    assert done["event"] == "done" and 0 <= done["seconds"] <= done["wall_seconds"]
    assert done["run_seconds"] > done["seconds"]  # epoch 1's training time counts in the run's, not here


def test_help_shows_the_runs_defaults_not_trains(capsys):
    assert run_cli(["resume", "--help"]) == 0
    text = " ".join(capsys.readouterr().out.split())
    assert "default mnist" not in text and "default 5" not in text and "default 1/7" not in text
    assert "--epochs EPOCHS train up to epoch N in all (default: the run's)" in text
    assert "--seed SEED not with resume" in text
    assert text.count("(default: the run's)") >= 15


def test_window_only_data_and_bad_saved_options_exit_1(capsys, tmp_path, csv_path):
    code, _, err = _cli(capsys, "train", "--dataset", csv_path, *TRAIN, "--run-dir", tmp_path / "run")
    assert code == 0, err
    info = json.loads((tmp_path / "run" / "run.json").read_text())
    (tmp_path / "run" / "run.json").write_text(json.dumps(info | {"data_import": {"held_out": 2}}))
    code, _, err = _cli(capsys, "resume", tmp_path / "run", "--from-epoch", "1")
    assert code == 1 and "run.json: data_import is" in err
    (tmp_path / "run" / "run.json").write_text(json.dumps(info | {"data_import": info["data_import"] | {"seed": -1}}))
    code, _, err = _cli(capsys, "resume", tmp_path / "run", "--from-epoch", "1")
    assert code == 1 and "run.json: data_import seed is -1" in err
    for name in ("my-digits", "mnist+my-digits"):
        mine = info | {"dataset": name, "config": info["config"] | {"dataset": name}}
        (tmp_path / "run" / "run.json").write_text(json.dumps(mine))
        code, out, err = _cli(capsys, "resume", tmp_path / "run", "--from-epoch", "1")
        assert code == 1 and out == []
        assert f"the run trained on the window's '{name}', which the command line does not load" in err


def test_damaged_checkpoint_contents_name_the_file(capsys, tmp_path, csv_path):
    code, _, err = _cli(capsys, "train", "--dataset", csv_path, *TRAIN, "--run-dir", tmp_path / "run")
    assert code == 0, err
    path = next((tmp_path / "run" / "checkpoints").glob("e0001-*[0-9].npz"))
    with np.load(path) as data:
        arrays = {k: data[k] for k in data.files}
    meta = json.loads(str(arrays["checkpoint.json"][()]))
    for change in ({"epoch_state": "junk"}, {"rng_state": {"0": {"bit_generator": "PCG64", "state": "x"}}},
                   {"optimizer": {"steps": "x", "name": "sgd"}}):
        np.savez(path, **(arrays | {"checkpoint.json": np.array(json.dumps(meta | change))}))
        code, out, err = _cli(capsys, "resume", tmp_path / "run", "--from-epoch", "1")
        assert code == 1 and out == []
        assert err.startswith(f"scratchnet resume: {path}: ") and "please report" not in err


def test_a_note_when_the_data_changed_since_the_run(capsys, tmp_path, csv_path):
    code, lines, err = _cli(capsys, "train", "--dataset", csv_path, *TRAIN, "--run-dir", tmp_path / "run")
    assert code == 0, err
    key = json.loads((tmp_path / "run" / "run.json").read_text())["data_key"]
    assert isinstance(key, str) and len(key) == 24
    code, resumed, err = _cli(capsys, "resume", tmp_path / "run", "--from-epoch", "1", "--json")
    assert code == 0 and "data read now differ" not in err and _epochs(resumed) == _epochs(lines)[1:]
    rows = csv_path.read_text().splitlines()
    rows[0] = "1" + rows[0][1:]  # one label edited
    csv_path.write_text("\n".join(rows) + "\n")
    code, resumed, err = _cli(capsys, "resume", tmp_path / "run", "--from-epoch", "1", "--json")
    assert code == 0 and "note: the data read now differ from the data the run trained on" in err
    code, resumed, err = _cli(capsys, "resume", tmp_path / "run", "--from-epoch", "1", "--json", "--held-out", "0.5")
    assert code == 0 and "data read now differ" not in err  # read another way on purpose: no note


def test_a_run_trained_with_one_blas_thread_resumes_with_one(capsys, tmp_path, monkeypatch, mnist):
    """The window's mini-batch runs train with one BLAS thread (gui.worker.blas_limit_for) and say so
    in run.json; one thread sums in another order than two, so `resume` takes the same limit."""
    import cli.resume
    import cli.train
    from scratchnet.threads import blas_thread_limit

    small = type(mnist)(mnist.name, mnist.x_train[:1024], mnist.y_train[:1024], mnist.x_test[:300],
                        mnist.y_test[:300], mnist.class_names)
    monkeypatch.setattr(cli.train, "load_dataset", lambda name, **options: small)
    args = ("--hidden", "256", "--epochs", "3", "--batch-size", "128", "--json")
    with blas_thread_limit(1):  # as the window trains
        code, lines, err = _cli(capsys, "train", *args, "--run-dir", tmp_path / "run")
    assert code == 0, err
    info_path = tmp_path / "run" / "run.json"
    info = json.loads(info_path.read_text())
    info["blas_threads"] = 1  # what the window's RunWriter writes (tested in test_gui_run_library)
    info_path.write_text(json.dumps(info))
    limits = []
    monkeypatch.setattr(cli.resume, "blas_thread_limit", lambda n: limits.append(n) or blas_thread_limit(n))
    code, resumed, err = _cli(capsys, "resume", tmp_path / "run", "--from-epoch", "1", "--json",
                              "--run-dir", tmp_path / "fork")
    assert code == 0, err
    assert limits == [1]
    assert _epochs(resumed) == _epochs(lines)[1:]
    assert json.loads((tmp_path / "fork" / "run.json").read_text())["blas_threads"] == 1
