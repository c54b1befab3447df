"""Optional download of data sets that are not bundled (Fashion-MNIST), with verification.

Files are streamed into `<name>.part` files, verified, and only then renamed into place, so the
destination folder holds either a complete, verified data set or what it held before.
"""

from __future__ import annotations

import http.client
import os
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from pathlib import Path

from scratchnet import paths
from scratchnet.data import IDX_FILES, idx_sha256
from scratchnet.errors import DatasetError

FASHION_MNIST_URL = "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"

# SHA-256 of the decompressed IDX bytes. The .gz bytes differ between mirrors (Debian repacks
# them, for one), while the payload is the same everywhere: these sums match the uncompressed
# MD5s Zalando publishes (train-images f4a8712d7a061bf5bd6d2ca38dc4d50a, and so on).
EXPECTED_SHA256 = {
    "fashion-mnist": {
        "train-images-idx3-ubyte.gz":
            "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
        "train-labels-idx1-ubyte.gz":
            "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
        "t10k-images-idx3-ubyte.gz":
            "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
        "t10k-labels-idx1-ubyte.gz":
            "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
    },
}
DEFAULT_URLS = {"fashion-mnist": FASHION_MNIST_URL}

_CHUNK = 1 << 16
# No data set file we know is larger (Fashion-MNIST's training images: 26 MB); a server that sends
# more, or announces more, is refused before the disk fills.
MAX_DOWNLOAD_BYTES = 64 << 20

ProgressCallback = Callable[[int, int, str], None]


def download_dataset(
    name: str = "fashion-mnist",
    base_url: str | None = None,
    dest: str | os.PathLike | None = None,
    progress: ProgressCallback | None = None,
    timeout: float = 30.0,
) -> Path:
    """Download the four IDX .gz files of `name` into `dest` and return that folder.

    dest defaults to `paths.user_cache_dir() / name`, where `load_dataset(name)` looks.
    progress(done_bytes, total_bytes, filename) is called as each file streams in; total_bytes
    is 0 when the server does not send a length. The callback may raise to cancel the download.
    Files already present and verified are not fetched again.
    Raises DatasetError on a network error, a checksum mismatch or a malformed file; partial
    files are removed on any failure.
    """
    if name not in EXPECTED_SHA256:
        raise DatasetError(
            f"{name}: no download known; choose one of {', '.join(EXPECTED_SHA256)}"
        )
    expected = EXPECTED_SHA256[name]
    base_url = base_url or DEFAULT_URLS[name]
    if not base_url.endswith("/"):
        base_url += "/"
    folder = Path(dest) if dest is not None else paths.user_cache_dir() / name
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DatasetError(f"{folder}: cannot create download folder ({exc.strerror})") from None

    filenames = [f"{stem}.gz" for stem in IDX_FILES.values()]
    todo = [f for f in filenames if not _is_verified(folder / f, expected[f])]
    parts = [folder / f"{f}.part" for f in todo]
    try:
        for filename, part in zip(todo, parts, strict=True):
            url = urllib.parse.urljoin(base_url, filename)
            _fetch(url, part, filename, progress, timeout)
            try:
                actual = idx_sha256(part)
            except DatasetError as exc:
                problem = str(exc).removeprefix(f"{part}: ")
                raise DatasetError(
                    f"{filename}: downloaded file is damaged: {problem} ({url})"
                ) from None
            if actual != expected[filename]:
                raise DatasetError(
                    f"{filename}: checksum mismatch after download from {url}: "
                    f"expected {expected[filename]}, got {actual}"
                )
        for filename, part in zip(todo, parts, strict=True):
            try:
                os.replace(part, folder / filename)
            except OSError as exc:
                raise DatasetError(f"{folder / filename}: cannot write ({exc})") from None
    except BaseException:
        # Network errors, bad files and cancellation from `progress` all leave no .part behind.
        for part in parts:
            part.unlink(missing_ok=True)
        raise
    return folder


def _is_verified(path: Path, expected_sha256: str) -> bool:
    if not path.is_file():
        return False
    try:
        return idx_sha256(path) == expected_sha256
    except DatasetError:
        return False


def _fetch(url: str, part: Path, filename: str, progress, timeout: float) -> None:
    """Stream `url` into the file `part`, reporting progress. Raises DatasetError on failure."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response, open(part, "wb") as out:
            total = int(response.headers.get("Content-Length") or 0)
            if total > MAX_DOWNLOAD_BYTES:
                raise DatasetError(f"{filename}: the server announces {total:,} bytes, more than the "
                                   f"{MAX_DOWNLOAD_BYTES:,} expected of a data set file ({url})")
            done = 0
            if progress is not None:
                progress(0, total, filename)
            while chunk := response.read(_CHUNK):
                out.write(chunk)
                done += len(chunk)
                if done > MAX_DOWNLOAD_BYTES:
                    raise DatasetError(f"{filename}: the server sent more than the {MAX_DOWNLOAD_BYTES:,} bytes "
                                       f"expected of a data set file ({url})")
                if progress is not None:
                    progress(done, total, filename)
    except urllib.error.HTTPError as exc:
        raise DatasetError(
            f"{filename}: download failed: HTTP {exc.code} {exc.reason} ({url})"
        ) from None
    except (OSError, http.client.HTTPException, ValueError) as exc:
        # URLError, timeouts, refused or reset connections, IncompleteRead, a bad URL.
        reason = getattr(exc, "reason", None) or exc or type(exc).__name__
        raise DatasetError(f"{filename}: download failed: {reason} ({url})") from None
    if total and done != total:
        raise DatasetError(
            f"{filename}: download incomplete: received {done} of {total} bytes ({url})"
        )
