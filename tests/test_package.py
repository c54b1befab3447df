"""The PyInstaller bundle: build it, then run its self-test (marked `package`; ~1-2 minutes)."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

pytestmark = [pytest.mark.package, pytest.mark.slow]


@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    pytest.importorskip("PyInstaller")
    if shutil.which("objdump") is None:
        pytest.skip("PyInstaller needs binutils (objdump): `make test` installs it as root")
    work = tmp_path_factory.mktemp("pyinstaller")
    dist = work / "dist"
    result = subprocess.run(
        [sys.executable, "-m", "PyInstaller", "--noconfirm", "--log-level", "WARN", "--workpath", str(work / "build"),
         "--distpath", str(dist), "scratchnet.spec"],
        cwd=ROOT, capture_output=True, text=True, timeout=900,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return dist / "scratchnet"


def test_bundle_carries_data_icons_and_licences(bundle):
    internal = bundle / "_internal"
    assert (bundle / "scratchnet").is_file()
    for name in ("train-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz", "SHA256SUMS.uncompressed", "README.md"):
        assert (internal / "resources" / "mnist" / name).is_file(), name
    assert (internal / "resources" / "icons" / "scratchnet.svg").is_file()
    assert (internal / "LICENSE").is_file()
    assert not (internal / "torch").exists()


def test_bundle_self_test_passes_offline_and_offscreen(bundle, tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    env.update(QT_QPA_PLATFORM="offscreen", HOME=str(tmp_path), SCRATCHNET_CACHE_DIR=str(tmp_path / "cache"))
    result = subprocess.run([str(bundle / "scratchnet"), "--self-test"], capture_output=True, text=True, env=env,
                            cwd=tmp_path, timeout=300)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["ok"] and report["frozen"]


def test_bundle_cli_rejects_bad_arguments(bundle):
    result = subprocess.run([str(bundle / "scratchnet"), "train", "--lr", "-1"], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 2 and "greater than 0" in result.stderr
