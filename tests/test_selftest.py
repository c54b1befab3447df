"""`scratchnet --self-test` in the source tree: passes here, and names the check that fails."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _self_test(root: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(root / "main.py"), "--self-test"], capture_output=True, text=True,
                          cwd=root, timeout=120)


def test_self_test_passes_and_prints_one_json_line():
    result = _self_test(ROOT)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 1
    report = json.loads(lines[0])
    assert report["ok"] is True
    assert [c["check"] for c in report["checks"]] == ["data", "train", "window", "predict"]
    assert all(c["ok"] and c["seconds"] >= 0 for c in report["checks"])


def _copy_tree(tmp_path: Path) -> Path:
    """A copy of the source tree that the self-test runs from, to break on purpose."""
    tree = tmp_path / "tree"
    tree.mkdir()
    shutil.copy(ROOT / "main.py", tree)
    for name in ("cli", "gui", "scratchnet", "resources"):
        shutil.copytree(ROOT / name, tree / name, ignore=shutil.ignore_patterns("__pycache__"))
    return tree


def test_self_test_names_the_failed_check(tmp_path):
    tree = _copy_tree(tmp_path)
    labels = tree / "resources" / "mnist" / "t10k-labels-idx1-ubyte.gz"
    labels.chmod(0o644)
    labels.write_bytes(labels.read_bytes()[:100])
    result = _self_test(tree)
    assert result.returncode == 1
    report = json.loads(result.stdout.strip())
    assert report["ok"] is False and report["checks"][-1]["check"] == "data"
    assert "'data' check" in result.stderr and "t10k-labels" in result.stderr


def test_self_test_fails_when_the_icons_are_missing(tmp_path):
    tree = _copy_tree(tmp_path)
    shutil.rmtree(tree / "resources" / "icons")
    result = _self_test(tree)
    assert result.returncode == 1
    report = json.loads(result.stdout.strip())
    assert Path(report["resources"]) == (tree / "resources").resolve()
    assert Path(report["package"]).resolve() == (tree / "scratchnet").resolve()
    assert [c["check"] for c in report["checks"]] == ["data", "train", "window"]
    assert "'window' check" in result.stderr and "no icon" in result.stderr
