"""Run folders: what RunWriter writes, what RunStore finds again, and every kind of damage listed
with a warning while the rest loads."""

from __future__ import annotations

import errno
import json
import os
import stat
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

from scratchnet import run_store as run_store_module
from scratchnet.checkpoints import CheckpointError
from scratchnet.run_config import RunConfig, hidden_layers
from scratchnet.run_store import RunStore, RunStoreError, RunWriter, runs_root
from scratchnet.training import train

CONFIG = RunConfig(hidden=hidden_layers(16), optimizer="adam", learning_rate=0.003, batch_size=32, epochs=2,
                   dropout=0.1, train_size=160)


@pytest.fixture(scope="module")
def small(mnist):
    return mnist.x_train[:160], mnist.y_train[:160], mnist.x_test[:100], mnist.y_test[:100]


def _write_run(folder: Path, data, config=CONFIG, name="first", checkpoints=2, **writer_options):
    x, y, xt, yt = data
    model = config.build_model(784, 10)
    writer = RunWriter(folder, config, name=name, model=model, **writer_options)
    logs = []
    for log in train(model, config.build_optimizer(), x, y, config.train_config(), x_test=xt, y_test=yt,
                     checkpoints=checkpoints):
        writer.log(log)
        logs.append(log)
    return writer, logs


def _dead_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def test_runs_root(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    assert runs_root() == tmp_path / "scratchnet" / "runs"
    monkeypatch.setenv("XDG_DATA_HOME", "relative/path")
    assert runs_root() == Path.home() / ".local" / "share" / "scratchnet" / "runs"
    monkeypatch.delenv("XDG_DATA_HOME")
    assert runs_root() == Path.home() / ".local" / "share" / "scratchnet" / "runs"
    assert RunStore().root == runs_root()


class TestWriteAndRead:
    def test_folder_contents(self, small, tmp_path):
        writer, logs = _write_run(tmp_path / "runs" / "a", small)
        assert writer.problem is None
        folder = tmp_path / "runs" / "a"
        info = json.loads((folder / "run.json").read_text())
        assert info["status"] == "done" and info["name"] == "first" and info["format_version"] == 1
        assert RunConfig.from_dict(info["config"]) == CONFIG and info["dataset"] == "mnist"
        assert info["shapes"]["0.W"] == [784, 16] and info["start"]["updates_per_epoch"] == 5
        lines = [json.loads(line) for line in (folder / "curves.jsonl").read_text().splitlines()]
        assert [r["event"] for r in lines if r["event"] != "batch"] == ["start", "epoch", "epoch", "done"]
        assert all("checkpoint" not in r and "rows" not in r for r in lines)
        rows = (folder / "curves.csv").read_text().splitlines()
        assert rows[0].split(",")[:3] == ["epoch", "loss", "accuracy"] and len(rows) == 3
        epoch_logs = [log for log in logs if log["event"] == "epoch"]
        assert float(rows[2].split(",")[1]) == epoch_logs[1]["loss"]
        names = sorted(p.name for p in (folder / "checkpoints").iterdir())
        ckpt_logs = [log for log in logs if log["event"] == "checkpoint"]
        assert len(names) == len(ckpt_logs) == len(writer.checkpoint_paths) == 5  # 0, 2 inside, 2 ends
        assert names[0] == "e0000-u000000000-s000000000000.npz" and sum(n.endswith("-mid.npz") for n in names) == 2
        assert not [p for p in folder.rglob("*") if p.name.endswith(".tmp")]

    def test_store_reads_it_back(self, small, tmp_path):
        _, logs = _write_run(tmp_path / "a", small)
        [run] = RunStore(tmp_path).list()
        assert (run.id, run.name, run.status, run.config, run.warnings) == ("a", "first", "done", CONFIG, [])
        assert run.size_bytes == sum(p.stat().st_size for p in (tmp_path / "a").rglob("*") if p.is_file())
        assert run.size_bytes > 4 * 784 * 16 * 4 * 3  # four checkpoints with weights and Adam's two buffers
        epochs = run.epoch_logs()
        assert [e["test_accuracy"] for e in epochs] == [log["test_accuracy"] for log in logs if log["event"] == "epoch"]
        infos = run.checkpoints()
        kept = [log["checkpoint"] for log in logs if log["event"] == "checkpoint"]
        assert [(c.epoch, c.update, c.samples_seen, c.mid_epoch) for c in infos] == \
            [(k.epoch, k.update, k.samples_seen, k.mid_epoch) for k in kept]
        back = run.load_checkpoint(3)
        np.testing.assert_array_equal(back.params["0.W"], kept[3].params["0.W"])
        assert run.epoch_checkpoint(2).update == 10 and run.epoch_checkpoint(7) is None
        assert run.check_checkpoints() == []

    def test_list_is_lazy(self, small, tmp_path, monkeypatch):
        _write_run(tmp_path / "a", small)
        monkeypatch.setattr(np, "load", lambda *a, **k: pytest.fail("list() opened a checkpoint"))
        monkeypatch.setattr(run_store_module.StoredRun, "curves", lambda self: pytest.fail("list() read curves"))
        [run] = RunStore(tmp_path).list()
        assert run.status == "done"

    def test_fork_records_its_parent(self, small, tmp_path):
        fork = {"epoch": 1, "update": 5, "samples_seen": 160}
        _write_run(tmp_path / "b", small, name="fork", parent="a", fork=fork)
        run = RunStore(tmp_path).get("b")
        assert (run.parent, run.fork) == ("a", fork)

    def test_existing_run_is_not_overwritten(self, small, tmp_path):
        _write_run(tmp_path / "a", small)
        before = (tmp_path / "a" / "run.json").read_bytes()
        writer = RunWriter(tmp_path / "a", CONFIG, name="again")
        assert "already holds a run" in writer.problem
        writer.finish("done")
        assert (tmp_path / "a" / "run.json").read_bytes() == before


class TestLibrary:
    def test_rename_delete_size_cleanup(self, small, tmp_path):
        store = RunStore(tmp_path)
        for name in ("a", "b", "c"):
            _write_run(tmp_path / name, small, name=name, checkpoints=0)
        for i, name in enumerate("abc"):  # created one after another
            info = json.loads((tmp_path / name / "run.json").read_text())
            info["created"] = f"2026-01-0{i + 1}T00:00:00+00:00"
            (tmp_path / name / "run.json").write_text(json.dumps(info))
        assert store.rename("b", "  my best run ").name == "my best run"
        assert [r.name for r in store.list()] == ["a", "my best run", "c"]
        with pytest.raises(RunStoreError, match="cannot be empty"):
            store.rename("b", " ")
        sizes = {r.id: r.size_bytes for r in store.list()}
        assert store.total_size() == sum(sizes.values())
        assert store.cleanup_plan(store.total_size()) == []
        assert store.cleanup_plan(store.total_size() - 1) == ["a"]
        assert store.cleanup_plan(sizes["c"]) == ["a", "b"]
        assert store.cleanup_plan(0) == ["a", "b", "c"]
        store.delete("a")
        assert [r.id for r in store.list()] == ["b", "c"] and not (tmp_path / "a").exists()
        for bad in ("../x", "..", "", "a/b"):
            with pytest.raises(RunStoreError):
                store.delete(bad)
        with pytest.raises(RunStoreError, match="there is no run"):
            store.rename("zzz", "x")

    def test_running_run_is_not_cleaned_up(self, small, tmp_path):
        store = RunStore(tmp_path)
        writer = RunWriter(tmp_path / "live", CONFIG, name="live")  # this process: still running
        assert writer.problem is None
        [run] = store.list()
        assert run.status == "running" and run.warnings == []
        assert store.cleanup_plan(0) == []

    def test_new_folder(self, tmp_path):
        store = RunStore(tmp_path)
        first = store.new_folder("mnist / adam, lr 0.01")
        assert first.parent == tmp_path and first.name.endswith("-mnist-adam-lr-0-01")
        first.mkdir()
        assert store.new_folder("mnist / adam, lr 0.01").name == first.name + "-2"


class TestZip:
    def test_round_trip(self, small, tmp_path):
        _write_run(tmp_path / "lib" / "a", small, name="exported")
        (tmp_path / "lib" / "a" / ".run.json.abc.tmp").write_text("leftover")
        (tmp_path / "secret").mkdir()
        (tmp_path / "secret" / "key.txt").write_text("not part of the run")
        (tmp_path / "lib" / "a" / "linked").symlink_to(tmp_path / "secret")
        store = RunStore(tmp_path / "lib")
        path = store.export_zip("a", tmp_path / "a.zip")
        with zipfile.ZipFile(path) as zf:
            names = zf.namelist()
        assert "a/run.json" in names and all(n.startswith("a/") for n in names)
        assert not any(n.endswith(".tmp") or "key.txt" in n for n in names)
        other = RunStore(tmp_path / "other")
        run = other.import_zip(path)
        assert (run.id, run.name, run.status, run.warnings) == ("a", "exported", "done", [])
        assert len(run.checkpoints()) == 5
        np.testing.assert_array_equal(run.load_checkpoint(4).params["3.W"],
                                      store.get("a").load_checkpoint(4).params["3.W"])
        assert other.import_zip(path).id == "a-2"  # a second copy gets its own id

    def _zip(self, path, entries, *, link=None):
        with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
            for name, data in entries:
                zf.writestr(name, data)
            if link:
                info = zipfile.ZipInfo(link)
                info.external_attr = (stat.S_IFLNK | 0o777) << 16
                zf.writestr(info, "/etc/passwd")
        return path

    @pytest.mark.parametrize("entries,link,fragment", [
        ([("run/../../evil.txt", "x")], None, "points outside"),
        ([("/etc/evil", "x")], None, "points outside"),
        ([("run/run.json", "{}")], "run/link", "symbolic link"),
        ([("run/curves.csv", b"\0" * (3 << 20))], None, "zip bomb"),
        ([("a/run.json", "{}"), ("b/run.json", "{}")], None, "more than one folder"),
        ([("run/curves.csv", "x")], None, "no run.json"),
        ([("run/run.json", "{}"), ("run/notes.txt", "x")], None, "'run/notes.txt' is not part of a run"),
        ([("run/run.json", "{}"), ("run/checkpoints/a.npz/b.npz", "x")], None, "is not part of a run"),
        ([("run/run.json", "{}"), ("run/other/", "")], None, "folder 'run/other/' is not part of a run"),
        # many entries of 1 MB or less, each under a per-entry limit: the archive's ratio catches them
        ([("run/run.json", "{}")] + [(f"run/checkpoints/{i}.npz", b"\0" * (1 << 20)) for i in range(3)], None,
         "expands [0-9,]+ times: a zip bomb"),
    ])
    def test_refused(self, tmp_path, entries, link, fragment):
        path = self._zip(tmp_path / "bad.zip", entries, link=link)
        store = RunStore(tmp_path / "lib")
        with pytest.raises(RunStoreError, match=fragment):
            store.import_zip(path)
        assert not (tmp_path / "evil.txt").exists() and store.list() == []
        assert not (tmp_path / "lib").exists() or not list((tmp_path / "lib").iterdir())  # nothing half-imported

    def test_limits(self, tmp_path):
        path = self._zip(tmp_path / "many.zip", [(f"run/{i}.txt", "x") for i in range(30)])
        with pytest.raises(RunStoreError, match="30 entries, more than a run holds"):
            RunStore(tmp_path / "lib").import_zip(path, max_files=20)
        path = self._zip(tmp_path / "large.zip", [("run/run.json", os.urandom(4000))])
        with pytest.raises(RunStoreError, match="unpacks to more than"):
            RunStore(tmp_path / "lib").import_zip(path, max_bytes=1000)
        path = self._zip(tmp_path / "damaged.zip", [("run/run.json", "{}"), ("run/curves.csv", os.urandom(5000))])
        data = bytearray(path.read_bytes())
        start = data.index(b"run/curves.csv") + len("run/curves.csv")
        data[start + 100 : start + 120] = b"\xff" * 20  # inside the stored bytes of data.txt
        path.write_bytes(bytes(data))
        with pytest.raises(RunStoreError, match="the zip is damaged"):
            RunStore(tmp_path / "lib").import_zip(path)
        assert [p.name for p in (tmp_path / "lib").iterdir()] == []
        (tmp_path / "not.zip").write_bytes(b"hello")
        with pytest.raises(RunStoreError, match="not a zip file"):
            RunStore(tmp_path / "lib").import_zip(tmp_path / "not.zip")


class TestDamage:
    """Each damaged folder is listed with a warning saying what is wrong; the good one loads."""

    def test_every_kind_of_damage_in_one_library(self, small, tmp_path):
        store = RunStore(tmp_path)
        _write_run(tmp_path / "good", small, name="good")
        _write_run(tmp_path / "template", small, name="template")
        template = tmp_path / "template"

        def copy(name):
            target = tmp_path / name
            subprocess.run(["cp", "-r", str(template), str(target)], check=True)
            return target

        def edit(folder, **changes):
            info = json.loads((folder / "run.json").read_text())
            info.update(changes)
            (folder / "run.json").write_text(json.dumps(info))

        (copy("no-json") / "run.json").unlink()
        half = copy("half-json") / "run.json"
        half.write_bytes(half.read_bytes()[:50])
        leftovers = copy("leftovers")
        (leftovers / "checkpoints" / ".e0003-u000000015-s000000000480.npz.x1y2.tmp").write_bytes(b"PK\3\4half")
        killed = copy("killed")
        edit(killed, status="running", pid=_dead_pid())
        cut_npz = copy("cut-npz") / "checkpoints" / "e0002-u000000010-s000000000320.npz"
        cut_npz.write_bytes(cut_npz.read_bytes()[:1000])
        (copy("nonsense") / "run.json").write_text('{"format_version": 1, "name": 7, "config": {"hidden": "lots"}}')
        (copy("a-list") / "run.json").write_text("[1, 2, 3]")
        edit(copy("newer"), format_version=99)
        edit(copy("reshaped"), config=CONFIG.replace(hidden=hidden_layers(32)).to_dict())
        (template / "run.json").unlink()
        import shutil

        shutil.rmtree(template)

        runs = {run.id: run for run in store.list()}
        assert set(runs) == {"good", "no-json", "half-json", "leftovers", "killed", "cut-npz", "nonsense",
                             "a-list", "newer", "reshaped"}
        assert runs["good"].warnings == [] and runs["good"].config == CONFIG

        def warned(run_id, fragment):
            assert any(fragment in w for w in runs[run_id].warnings), runs[run_id].warnings

        warned("no-json", "run.json is missing")
        warned("half-json", "run.json is not valid JSON")
        warned("leftovers", "temporary file left by a save that was cut short")
        warned("killed", "ended without finishing")
        warned("nonsense", "name is 7, not text")
        warned("nonsense", "the run configuration is not valid: hidden must be a list")
        warned("a-list", "not a JSON object")
        warned("newer", "made by a newer scratchnet (run format 99")
        assert runs["newer"].name == "template" and runs["newer"].config is None
        # checkpoints are opened only when asked
        assert runs["cut-npz"].warnings == [] and runs["reshaped"].warnings == []
        assert any("e0002-u000000010" in w and "cannot be read" in w for w in runs["cut-npz"].check_checkpoints())
        problems = runs["reshaped"].check_checkpoints()
        assert len(problems) == 5 and "parameter '0.W' has shape (784, 16), the run's configuration gives (784, 32)" \
            in problems[0]
        with pytest.raises(CheckpointError, match=r"e0000-u000000000.*'0.W' has shape \(784, 16\)"):
            runs["reshaped"].load_checkpoint(0)
        with pytest.raises(CheckpointError, match="e0002-u000000010.*cut short or corrupt"):
            runs["cut-npz"].load_checkpoint(runs["cut-npz"].checkpoints().index(
                runs["cut-npz"].epoch_checkpoint(2)))
        runs["good"].load_checkpoint(0)
        # the damaged ones can still be deleted, and renamed when run.json is readable
        store.delete("half-json")
        with pytest.raises(RunStoreError, match="cannot be read"):
            store.rename("no-json", "x")
        with pytest.raises(RunStoreError, match="newer scratchnet"):
            store.rename("newer", "x")

    def test_cut_curves_line(self, small, tmp_path):
        _write_run(tmp_path / "a", small)
        with open(tmp_path / "a" / "curves.jsonl", "a") as handle:
            handle.write('{"event": "epoch", "epo')
        run = RunStore(tmp_path).get("a")
        assert len(run.epoch_logs()) == 2
        assert run.warnings == ["curves.jsonl has 1 line that is not a log (cut short or edited)"]

    def test_disk_full(self, small, tmp_path, monkeypatch):
        """Writes fail with ENOSPC after the run started: the writer says so, training goes on."""
        real_append = RunWriter._append
        calls = []

        def append(self, name, text):
            calls.append(name)
            if len(calls) > 3:
                raise OSError(errno.ENOSPC, "No space left on device")
            real_append(self, name, text)

        real_write = run_store_module.write_atomically

        def write(path, action):
            if Path(path).suffix == ".npz" and len(calls) > 3:
                raise OSError(errno.ENOSPC, "No space left on device")
            real_write(path, action)

        monkeypatch.setattr(RunWriter, "_append", append)
        monkeypatch.setattr(run_store_module, "write_atomically", write)
        writer, logs = _write_run(tmp_path / "full", small)
        assert logs[-1]["event"] == "done" and logs[-1]["epochs_completed"] == 2  # training finished
        assert writer.problem == f"cannot save the run in {tmp_path / 'full'}: the disk is full"
        monkeypatch.undo()
        [run] = RunStore(tmp_path).list()
        assert any("not saved completely" in w and "disk is full" in w for w in run.warnings)
        assert len(run.checkpoints()) < 5


def test_folder_size_counts_every_level_and_no_links(tmp_path):
    """A run's size counts files in nested folders too (the window's spill folder, a copy's
    sub-folders), never what a link points at; leftover temporary files are named at any depth."""
    folder = tmp_path / "lib" / "r"
    (folder / "checkpoints" / "deep").mkdir(parents=True)
    (folder / "run.json").write_bytes(b"x" * 100)
    (folder / "checkpoints" / "a.npz").write_bytes(b"x" * 1000)
    (folder / "checkpoints" / "deep" / "b.npz").write_bytes(b"x" * 10_000)
    (folder / "checkpoints" / "deep" / ".c.npz.tmp").write_bytes(b"x" * 5)
    (tmp_path / "outside.bin").write_bytes(b"x" * 50_000)
    (folder / "checkpoints" / "deep" / "link").symlink_to(tmp_path / "outside.bin")
    size, leftovers = run_store_module._folder_size(folder)
    link_size = os.lstat(folder / "checkpoints" / "deep" / "link").st_size
    assert size == 100 + 1000 + 10_000 + 5 + link_size and link_size < 1000
    assert leftovers == [".c.npz.tmp"]
