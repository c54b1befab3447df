"""The wheel: `python -m build` makes an sdist and a wheel, and the wheel alone makes a working scratchnet.

The wheel is installed into a fresh virtual environment in a temporary folder, and `scratchnet
--self-test` runs there from an unrelated folder. To stay fast and offline after the build, that
environment sees the heavy third-party packages the wheel depends on (NumPy, PySide6, pyqtgraph...)
through a folder of links to this environment's copies, listed from the wheel's own metadata; pip
installs the wheel with `--no-index`, so it must find every declared dependency there, and
scratchnet itself comes only from the wheel. (15-35 s here; the build fetches setuptools from PyPI
or pip's cache into its isolated build environment.)
"""

import email.parser
import importlib.metadata
import json
import os
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]

pytestmark = [pytest.mark.wheel, pytest.mark.slow]


@pytest.fixture(scope="module")
def dist(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    # The default build makes the sdist, then the wheel from that sdist: both must be whole.
    result = subprocess.run([sys.executable, "-m", "build", "--outdir", str(out), str(ROOT)], cwd=ROOT,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    return out


@pytest.fixture(scope="module")
def wheel(dist) -> Path:
    (path,) = dist.glob("scratchnet-*.whl")
    return path


def _requirements(metadata: str) -> list[Requirement]:
    """The Requires-Dist entries that apply here (no extras asked for)."""
    message = email.parser.Parser().parsestr(metadata)
    requirements = [Requirement(line) for line in message.get_all("Requires-Dist") or []]
    return [r for r in requirements if r.marker is None or r.marker.evaluate({"extra": ""})]


def _link_dependencies(wheel: Path, folder: Path) -> list[str]:
    """Link this environment's copies of the wheel's dependencies, and theirs, into `folder`; their names."""
    with zipfile.ZipFile(wheel) as archive:
        (name,) = [n for n in archive.namelist() if n.endswith(".dist-info/METADATA")]
        pending = _requirements(archive.read(name).decode())
    folder.mkdir()
    linked: list[str] = []
    while pending:
        requirement = pending.pop()
        distribution = importlib.metadata.distribution(requirement.name)
        key = canonicalize_name(distribution.metadata["Name"])
        if key in linked:
            continue
        assert requirement.specifier.contains(distribution.version, prereleases=True), (
            f"the wheel needs {requirement}, this environment has {distribution.version}")
        linked.append(key)
        tops = {Path(f).parts[0] for f in distribution.files or [] if not str(f).startswith("..")}
        assert tops, f"{key} {distribution.version} has no RECORD of its files to link"
        for top in tops - {"__pycache__"}:
            source = Path(distribution.locate_file(top))
            if source.exists() and not (folder / top).exists():
                (folder / top).symlink_to(source)
        pending += _requirements(str(distribution.metadata))
    return linked


@pytest.fixture(scope="module")
def installed(wheel, tmp_path_factory) -> Path:
    """A fresh venv with the wheel installed; its folder."""
    root = tmp_path_factory.mktemp("installed")
    venv = root / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    site = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
                          capture_output=True, text=True, check=True).stdout.strip()
    linked = _link_dependencies(wheel, root / "dependencies")
    assert {"numpy", "pyside6-essentials", "shiboken6", "pyqtgraph", "threadpoolctl"} <= set(linked)
    Path(site, "dependencies.pth").write_text(f"{root / 'dependencies'}\n")
    result = subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "--no-index",
                             "--no-cache-dir", str(wheel)], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    return venv


def test_build_makes_an_sdist_and_a_wheel_that_carry_the_resources(dist, wheel):
    (sdist,) = dist.glob("scratchnet-*.tar.gz")
    with tarfile.open(sdist) as archive:
        in_sdist = {name.split("/", 1)[1] for name in archive.getnames() if "/" in name}
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
    resources = {p.relative_to(ROOT).as_posix() for p in (ROOT / "resources").rglob("*") if p.is_file()}
    assert "resources/mnist/train-images-idx3-ubyte.gz" in resources
    assert resources <= in_sdist
    assert {f"scratchnet/{name}" for name in resources} <= names
    sources = {p.relative_to(ROOT).as_posix() for folder in ("scratchnet", "gui", "cli") for p in
               (ROOT / folder).rglob("*.py")}
    info = "-".join(wheel.name.split("-")[:2]) + ".dist-info"
    assert {f"{info}/licenses/LICENSE", f"{info}/licenses/resources/mnist/README.md"} <= names
    assert sources | {"main.py"} <= names, sorted((sources | {"main.py"}) - names)  # pyproject lists packages by hand


def test_installed_wheel_passes_the_self_test_from_an_unrelated_folder(installed, tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV"))}
    env.update(QT_QPA_PLATFORM="offscreen", HOME=str(tmp_path), SCRATCHNET_CACHE_DIR=str(tmp_path / "cache"))
    result = subprocess.run([str(installed / "bin" / "scratchnet"), "--self-test"], capture_output=True, text=True,
                            cwd=elsewhere, env=env, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["ok"] and not report["frozen"]
    assert [c["check"] for c in report["checks"]] == ["data", "train", "window", "predict"]
    package = Path(report["package"])
    assert package.is_relative_to(installed) and not package.is_relative_to(ROOT), package
    assert Path(report["resources"]) == package / "resources"
