"""Tests for scratchnet.download against a local HTTP server on 127.0.0.1 only.

The server serves the Fashion-MNIST copy in ../shared/data beside the checkout, either as is or
damaged in one way per test.
"""

import contextlib
import gzip
import http.server
import threading
from pathlib import Path

import numpy as np
import pytest

from scratchnet.data import FASHION_CLASSES, load_dataset
from scratchnet.download import download_dataset
from scratchnet.errors import DatasetError

FASHION_DIR = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "fashion-mnist"
FILES = ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
         "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")

pytestmark = pytest.mark.skipif(
    not all((FASHION_DIR / f).is_file() for f in FILES),
    reason=f"Fashion-MNIST copy to serve not found at {FASHION_DIR}",
)


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    """Serves FASHION_DIR; subclasses damage the responses."""

    requests: list

    def __init__(self, *args, **kwargs):
        super().__init__(*args, directory=str(FASHION_DIR), **kwargs)

    def log_message(self, *args):
        pass

    def send_head(self):
        self.requests.append(self.path)
        return super().send_head()


class BadLabelsHandler(QuietHandler):
    """Serves t10k-labels as a valid gzip of a payload with one label changed."""

    def do_GET(self):
        if not self.path.endswith("t10k-labels-idx1-ubyte.gz"):
            return super().do_GET()
        self.requests.append(self.path)
        payload = bytearray(gzip.decompress((FASHION_DIR / FILES[3]).read_bytes()))
        payload[100] = (payload[100] + 1) % 10
        self.send_bytes(gzip.compress(bytes(payload)))

    def send_bytes(self, body: bytes, length: int | None = None):
        self.send_response(200)
        self.send_header("Content-Length", str(length or len(body)))
        self.end_headers()
        self.wfile.write(body)


class FlippedBytesHandler(BadLabelsHandler):
    """Serves train-labels with bytes flipped inside the deflate stream."""

    def do_GET(self):
        if not self.path.endswith("train-labels-idx1-ubyte.gz"):
            return QuietHandler.do_GET(self)
        self.requests.append(self.path)
        body = bytearray((FASHION_DIR / FILES[1]).read_bytes())
        body[len(body) // 2:len(body) // 2 + 8] = bytes(8)
        self.send_bytes(bytes(body))


class DroppingHandler(BadLabelsHandler):
    """Promises the whole train-images file, sends its first 1 MiB, then hangs up."""

    def do_GET(self):
        self.requests.append(self.path)
        body = (FASHION_DIR / FILES[0]).read_bytes()
        self.send_bytes(body[: 1 << 20], length=len(body))
        self.close_connection = True


class EndlessHandler(BadLabelsHandler):
    """Announces no length (or ``announced`` bytes) and sends zeros until the client hangs up."""

    announced = None

    def do_GET(self):
        self.requests.append(self.path)
        self.send_response(200)
        if self.announced is not None:
            self.send_header("Content-Length", str(self.announced))
        self.end_headers()
        with contextlib.suppress(OSError):
            for _ in range(1 << 12):
                self.wfile.write(bytes(1 << 16))
        self.close_connection = True


class HugeLengthHandler(EndlessHandler):
    announced = 1 << 40


class NotFoundHandler(QuietHandler):
    def do_GET(self):
        self.requests.append(self.path)
        self.send_error(404, "Not Found")


@contextlib.contextmanager
def serve(handler_class):
    """Run `handler_class` on a free port of 127.0.0.1; yield (base_url, list of paths asked)."""
    requests = []
    handler = type("Handler", (handler_class,), {"requests": requests})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/", requests
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@pytest.fixture
def cache(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("SCRATCHNET_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("SCRATCHNET_FASHION_DIR", raising=False)
    return tmp_path / "cache"


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


class TestSuccessfulDownload:
    def test_download_then_load(self, cache):
        calls = []
        with serve(QuietHandler) as (url, requests):
            folder = download_dataset("fashion-mnist", base_url=url,
                                      progress=lambda *a: calls.append(a))
            assert folder == cache / "fashion-mnist"
            assert leftovers(folder) == sorted(FILES)
            data = load_dataset("fashion-mnist")
            assert data.class_names == list(FASHION_CLASSES) and len(data.class_names) == 10
            assert data.x_train.shape == (60000, 784) and data.x_test.shape == (10000, 784)
            assert data.x_train.dtype == np.float32 and data.y_train.dtype == np.int64

            # Progress: per file, done bytes rise to the file size, which is the total.
            for name in FILES:
                seen = [(done, total) for done, total, f in calls if f == name]
                dones = [done for done, _ in seen]
                size = (FASHION_DIR / name).stat().st_size
                assert dones == sorted(dones) and dones[0] == 0 and dones[-1] == size
                assert {total for _, total in seen} == {size}
            assert len(calls) > 400  # streamed in chunks, not in one read

            # A second call finds the verified files and fetches nothing.
            asked = len(requests)
            download_dataset("fashion-mnist", base_url=url)
            assert len(requests) == asked == 4


class TestFailedDownload:
    def test_checksum_mismatch_leaves_nothing(self, cache):
        with serve(BadLabelsHandler) as (url, _), pytest.raises(DatasetError) as info:
            download_dataset("fashion-mnist", base_url=url)
        assert "t10k-labels-idx1-ubyte.gz: checksum mismatch" in str(info.value)
        assert leftovers(cache / "fashion-mnist") == []

    def test_corrupt_gzip_leaves_nothing(self, cache):
        with serve(FlippedBytesHandler) as (url, _), pytest.raises(DatasetError) as info:
            download_dataset("fashion-mnist", base_url=url)
        assert "train-labels-idx1-ubyte.gz: downloaded file is damaged" in str(info.value)
        assert leftovers(cache / "fashion-mnist") == []

    def test_connection_dropped_midway(self, cache):
        with serve(DroppingHandler) as (url, _), pytest.raises(DatasetError) as info:
            download_dataset("fashion-mnist", base_url=url)
        assert "train-images-idx3-ubyte.gz" in str(info.value)
        assert leftovers(cache / "fashion-mnist") == []

    def test_an_endless_response_is_cut_at_the_cap(self, cache, monkeypatch):
        monkeypatch.setattr("scratchnet.download.MAX_DOWNLOAD_BYTES", 1 << 20)
        with serve(EndlessHandler) as (url, _), pytest.raises(DatasetError) as info:
            download_dataset("fashion-mnist", base_url=url)
        assert "the server sent more than the 1,048,576 bytes expected" in str(info.value)
        assert leftovers(cache / "fashion-mnist") == []

    def test_an_announced_terabyte_is_refused_before_reading(self, cache):
        with serve(HugeLengthHandler) as (url, _), pytest.raises(DatasetError) as info:
            download_dataset("fashion-mnist", base_url=url)
        assert "announces 1,099,511,627,776 bytes" in str(info.value)
        assert leftovers(cache / "fashion-mnist") == []

    def test_not_found(self, cache):
        with serve(NotFoundHandler) as (url, _), pytest.raises(DatasetError, match="HTTP 404"):
            download_dataset("fashion-mnist", base_url=url)
        assert leftovers(cache / "fashion-mnist") == []

    def test_nothing_listening(self, cache):
        with serve(QuietHandler) as (url, _):
            pass  # the port is free again once the server is closed
        with pytest.raises(DatasetError, match="download failed"):
            download_dataset("fashion-mnist", base_url=url, timeout=5)
        assert leftovers(cache / "fashion-mnist") == []

    def test_cancel_from_progress_callback(self, cache):
        class Cancelled(Exception):
            pass

        def progress(done, total, filename):
            if done > 1 << 20:
                raise Cancelled

        with serve(QuietHandler) as (url, _), pytest.raises(Cancelled):
            download_dataset("fashion-mnist", base_url=url, progress=progress)
        assert leftovers(cache / "fashion-mnist") == []

    def test_unknown_data_set(self, cache):
        with pytest.raises(DatasetError, match="no download known"):
            download_dataset("cifar-10", base_url="http://127.0.0.1:9/")


def test_explicit_destination(tmp_path, cache):
    with serve(QuietHandler) as (url, _):
        folder = download_dataset(base_url=url.rstrip("/"), dest=tmp_path / "elsewhere",
                                  progress=lambda *a: None)
    assert folder == tmp_path / "elsewhere"
    assert leftovers(folder) == sorted(FILES)
    assert leftovers(cache) == []
