"""Tests for scratchnet.data: the IDX reader against malformed files, and data set loading.

Every malformed case must raise DatasetError whose message names the file and the problem.
"""

import gzip
import hashlib
import shutil
import struct
import sys
import time
import tracemalloc
from pathlib import Path

import numpy as np
import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st

from scratchnet import paths
from scratchnet.data import (
    DATASET_NAMES,
    DIGIT_CLASSES,
    FASHION_CLASSES,
    Dataset,
    idx_sha256,
    load_dataset,
    read_idx,
)
from scratchnet.errors import DatasetError

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"
FASHION_DIR = SHARED_DATA / "fashion-mnist"

# IDX type code -> big-endian dtype.
CODES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
STEMS = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte",
         "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")


# --------------------------------------------------------------------------- IDX factory


def idx_header(code: int, dims) -> bytes:
    return bytes([0, 0, code, len(dims)]) + struct.pack(f">{len(dims)}I", *dims)


def idx_bytes(array: np.ndarray, code: int = 0x08) -> bytes:
    """A valid IDX file holding `array`, stored with the dtype of `code`."""
    return idx_header(code, array.shape) + np.asarray(array, dtype=CODES[code]).tobytes()


def sample_images(n: int = 6, seed: int = 0) -> np.ndarray:
    """(n, 28, 28) uint8 images."""
    return np.random.default_rng(seed).integers(0, 256, (n, 28, 28), dtype=np.uint8)


def sample_labels(n: int = 6) -> np.ndarray:
    """(n,) uint8 labels cycling through 0..9."""
    return (np.arange(n) % 10).astype(np.uint8)


def write(path: Path, data: bytes, gz: bool = False) -> Path:
    path.write_bytes(gzip.compress(data, mtime=0) if gz else data)
    return path


def write_dataset(folder: Path, n_train=6, n_test=4, gz=True, labels=None, skip=()) -> Path:
    """Write the four standard IDX files of a small data set into `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    suffix = ".gz" if gz else ""
    content = {
        STEMS[0]: idx_bytes(sample_images(n_train)),
        STEMS[1]: idx_bytes(sample_labels(n_train) if labels is None else labels),
        STEMS[2]: idx_bytes(sample_images(n_test, seed=1)),
        STEMS[3]: idx_bytes(sample_labels(n_test)),
    }
    for stem, data in content.items():
        if stem not in skip:
            write(folder / f"{stem}{suffix}", data, gz)
    return folder


def assert_idx_error(path: Path, *words: str) -> str:
    with pytest.raises(DatasetError) as info:
        read_idx(path)
    message = str(info.value)
    assert path.name in message
    for word in words:
        assert word in message, message
    return message


IMAGE_FILE = idx_bytes(np.arange(3 * 4 * 5, dtype=np.uint8).reshape(3, 4, 5))  # 16 + 60 bytes


# --------------------------------------------------------------------------- good files


class TestRoundTrip:
    @pytest.mark.parametrize("gz", [False, True], ids=["raw", "gzip"])
    @pytest.mark.parametrize("code", sorted(CODES), ids=[hex(c) for c in sorted(CODES)])
    def test_each_dtype_code(self, tmp_path, code, gz):
        values = np.arange(-12, 12).reshape(2, 3, 4) * 3
        expected = values.astype(CODES[code])
        path = write(tmp_path / "a.idx", idx_bytes(expected, code), gz)
        array = read_idx(path)
        assert array.shape == (2, 3, 4)
        assert array.dtype == np.dtype(CODES[code]).newbyteorder("=")
        assert array.dtype.isnative
        np.testing.assert_array_equal(array, expected)

    def test_one_dimension(self, tmp_path):
        path = write(tmp_path / "labels", idx_bytes(sample_labels(7)))
        np.testing.assert_array_equal(read_idx(path), sample_labels(7))

    def test_gzip_told_by_magic_not_name(self, tmp_path):
        gz_named_raw = write(tmp_path / "raw.gz", IMAGE_FILE)
        raw_named_gz = write(tmp_path / "packed.idx", IMAGE_FILE, gz=True)
        np.testing.assert_array_equal(read_idx(gz_named_raw), read_idx(raw_named_gz))

    def test_returned_array_is_writable(self, tmp_path):
        array = read_idx(write(tmp_path / "a", IMAGE_FILE, gz=True))
        array[0, 0, 0] = 7

    def test_idx_sha256_hashes_decompressed_bytes(self, tmp_path):
        path = write(tmp_path / "a.gz", IMAGE_FILE, gz=True)
        assert idx_sha256(path) == hashlib.sha256(IMAGE_FILE).hexdigest()


# --------------------------------------------------------------------------- malformed files

HEADER_LEN = 16
PAYLOAD_LEN = len(IMAGE_FILE) - HEADER_LEN


class TestTruncation:
    # 16 header cuts x 2 containers = 32 cases; 60 payload cuts x 2 = 120 cases.
    @pytest.mark.parametrize("gz", [False, True], ids=["raw", "gzip"])
    @pytest.mark.parametrize("cut", range(HEADER_LEN))
    def test_truncated_in_header(self, tmp_path, cut, gz):
        path = write(tmp_path / "train-images-idx3-ubyte", IMAGE_FILE[:cut], gz)
        assert_idx_error(path, "empty file" if cut == 0 else "truncated header")

    @pytest.mark.parametrize("gz", [False, True], ids=["raw", "gzip"])
    @pytest.mark.parametrize("cut", range(HEADER_LEN, len(IMAGE_FILE)))
    def test_truncated_in_payload(self, tmp_path, cut, gz):
        path = write(tmp_path / "train-images-idx3-ubyte", IMAGE_FILE[:cut], gz)
        held = cut - HEADER_LEN
        assert_idx_error(
            path, f"truncated payload: header declares {PAYLOAD_LEN} bytes, file holds {held}"
        )

    @pytest.mark.parametrize("gz", [False, True], ids=["raw", "gzip"])
    @pytest.mark.parametrize("extra", [b"\0", b"garbage", bytes(1000)])
    def test_trailing_bytes(self, tmp_path, extra, gz):
        path = write(tmp_path / "t10k-images-idx3-ubyte", IMAGE_FILE + extra, gz)
        assert_idx_error(path, "trailing garbage")


class TestHeaderFields:
    @pytest.mark.parametrize("gz", [False, True], ids=["raw", "gzip"])
    @pytest.mark.parametrize("magic", [b"\x01\x00", b"\x00\x01", b"\xff\xff", b"PK"])
    def test_wrong_magic(self, tmp_path, magic, gz):
        path = write(tmp_path / "x.idx", magic + IMAGE_FILE[2:], gz)
        assert_idx_error(path, "not an IDX file")

    @pytest.mark.parametrize("code", [0x00, 0x07, 0x0A, 0x0F, 0x10, 0xFF])
    def test_wrong_dtype_code(self, tmp_path, code):
        path = write(tmp_path / "x.idx", IMAGE_FILE[:2] + bytes([code]) + IMAGE_FILE[3:])
        assert_idx_error(path, "unknown IDX data type code", f"0x{code:02x}")

    @pytest.mark.parametrize("gz", [False, True], ids=["raw", "gzip"])
    def test_zero_dimensions(self, tmp_path, gz):
        path = write(tmp_path / "x.idx", bytes([0, 0, 8, 0]) + b"\x05", gz)
        assert_idx_error(path, "0 dimensions")

    @pytest.mark.parametrize("axis", range(3))
    def test_dimension_of_size_zero(self, tmp_path, axis):
        dims = [3, 4, 5]
        dims[axis] = 0
        path = write(tmp_path / "x.idx", idx_header(8, dims))
        assert_idx_error(path, f"dimension {axis} is 0")

    @pytest.mark.parametrize("gz", [False, True], ids=["raw", "gzip"])
    @pytest.mark.parametrize("code", [0x08, 0x0E])
    def test_dimension_product_overflows(self, tmp_path, code, gz):
        path = write(tmp_path / "x.idx", idx_header(code, [2**31 - 1] * 3) + bytes(64), gz)
        assert_idx_error(path, "larger than the 1,048,576 pixels accepted")

    @pytest.mark.parametrize("gz", [False, True], ids=["raw", "gzip"])
    def test_huge_claim_fails_fast_without_allocating(self, tmp_path, gz):
        # 2**40 bytes declared, 100 held: must fail before allocating anything that size.
        path = write(tmp_path / "train-images-idx3-ubyte.gz",
                     idx_header(8, [2**20, 2**10, 2**10]) + bytes(100), gz)
        tracemalloc.start()
        start = time.perf_counter()
        try:
            message = assert_idx_error(path, f"{2**40:,} bytes", "more than the 268,435,456 accepted")
        finally:
            _, peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()
        assert time.perf_counter() - start < 1.0
        assert peak < 16 * 2**20, f"peak {peak} bytes for: {message}"


class TestGzipContainer:
    @staticmethod
    def packed() -> bytes:
        # Random pixels compress poorly, so the middle of this gzip is deflate data.
        return gzip.compress(idx_bytes(sample_images(20)), mtime=0)

    @pytest.mark.parametrize("where", [0.25, 0.5, 0.75, 0.99])
    def test_flipped_bytes_in_stream(self, tmp_path, where):
        data = bytearray(self.packed())
        at = int(len(data) * where)
        data[at:at + 4] = bytes(b ^ 0xA5 for b in data[at:at + 4])
        assert_idx_error(write(tmp_path / "train-images-idx3-ubyte.gz", bytes(data)))

    def test_flipped_crc_is_corrupt(self, tmp_path):
        data = bytearray(self.packed())
        data[-8] ^= 0xFF  # CRC32 of the payload
        assert_idx_error(write(tmp_path / "t.gz", bytes(data)), "corrupt gzip stream")

    @pytest.mark.parametrize("cut", [3, 10, 11, 100, 5000, -9, -1])
    def test_truncated_stream(self, tmp_path, cut):
        data = self.packed()[:cut]
        assert_idx_error(write(tmp_path / "t10k-labels-idx1-ubyte.gz", data), "corrupt gzip")

    def test_empty_gzip(self, tmp_path):
        assert_idx_error(write(tmp_path / "e.gz", b"", gz=True), "empty file")

    def test_garbage_after_gzip_member(self, tmp_path):
        path = write(tmp_path / "g.gz", self.packed() + b"not gzip at all")
        assert_idx_error(path, "corrupt gzip")

    def test_bare_gzip_magic(self, tmp_path):
        assert_idx_error(write(tmp_path / "m.gz", b"\x1f\x8b"), "corrupt gzip")


class TestFileSystem:
    def test_empty_file(self, tmp_path):
        assert_idx_error(write(tmp_path / "train-labels-idx1-ubyte", b""), "empty file")

    def test_directory_instead_of_file(self, tmp_path):
        folder = tmp_path / "train-images-idx3-ubyte.gz"
        folder.mkdir()
        assert_idx_error(folder, "is a folder")

    def test_missing_file(self, tmp_path):
        assert_idx_error(tmp_path / "nothing-here.gz", "file not found")


# --------------------------------------------------------------------------- data set checks


class TestDatasetValidation:
    def load_error(self, folder: Path) -> str:
        with pytest.raises(DatasetError) as info:
            load_dataset(str(folder))
        return str(info.value)

    def test_image_and_label_counts_disagree(self, tmp_path):
        folder = write_dataset(tmp_path / "d", n_train=6, labels=sample_labels(5))
        message = self.load_error(folder)
        assert "train-images-idx3-ubyte.gz" in message and "train-labels-idx1-ubyte.gz" in message
        assert "6 images" in message and "5 labels" in message

    @pytest.mark.parametrize("bad", [10, 255])
    def test_label_out_of_range(self, tmp_path, bad):
        labels = sample_labels(6)
        labels[3] = bad
        message = self.load_error(write_dataset(tmp_path / "d", labels=labels))
        assert "train-labels-idx1-ubyte.gz" in message and f"label {bad} out of range" in message

    def test_images_must_be_3d(self, tmp_path):
        folder = write_dataset(tmp_path / "d", gz=False)
        write(folder / STEMS[2], idx_bytes(np.zeros((4, 784), np.uint8)))
        assert "t10k-images-idx3-ubyte" in self.load_error(folder)

    def test_labels_must_be_uint8(self, tmp_path):
        folder = write_dataset(tmp_path / "d", gz=False)
        write(folder / STEMS[3], idx_bytes(sample_labels(4), code=0x0C))
        message = self.load_error(folder)
        assert "t10k-labels-idx1-ubyte" in message and "uint8" in message

    @pytest.mark.parametrize("stem", STEMS)
    def test_folder_missing_one_file(self, tmp_path, stem):
        message = self.load_error(write_dataset(tmp_path / "d", skip=(stem,)))
        assert f"missing {stem}[.gz]" in message
        assert [s for s in STEMS if s in message] == [stem]

    def test_missing_folder(self, tmp_path):
        assert "not found" in self.load_error(tmp_path / "nope")

    def test_malformed_file_in_folder_is_named(self, tmp_path):
        folder = write_dataset(tmp_path / "d")
        (folder / f"{STEMS[1]}.gz").write_bytes(b"\x1f\x8b\x08\x00junk")
        assert f"{STEMS[1]}.gz" in self.load_error(folder)


class TestDatasetFolder:
    def test_raw_and_gzip_files_mixed(self, tmp_path):
        folder = write_dataset(tmp_path / "digits", gz=False)
        for stem in STEMS[:2]:
            raw = folder / stem
            write(folder / f"{stem}.gz", raw.read_bytes(), gz=True)
            raw.unlink()
        data = load_dataset(folder)
        assert data.name == "digits"
        assert data.class_names == list(DIGIT_CLASSES)
        assert data.x_train.shape == (6, 784) and data.x_test.shape == (4, 784)
        assert data.image_shape == (28, 28)

    def test_pixels_scaled_and_types(self, tmp_path):
        data = load_dataset(write_dataset(tmp_path / "d"))
        assert data.x_train.dtype == np.float32 and data.x_train.flags.c_contiguous
        assert data.y_train.dtype == np.int64
        np.testing.assert_allclose(data.x_train, sample_images(6).reshape(6, -1) / 255, atol=1e-7)
        np.testing.assert_array_equal(data.y_test, sample_labels(4))

    def test_fashion_named_folder_gets_fashion_classes(self, tmp_path):
        data = load_dataset(write_dataset(tmp_path / "my-Fashion-copy"))
        assert data.class_names == list(FASHION_CLASSES)

    def test_subset_keeps_first_samples_and_test_split(self, tmp_path):
        data = load_dataset(write_dataset(tmp_path / "d"))
        small = data.subset(4)
        assert isinstance(small, Dataset)
        np.testing.assert_array_equal(small.x_train, data.x_train[:4])
        np.testing.assert_array_equal(small.y_train, data.y_train[:4])
        assert small.x_test is data.x_test and small.x_train.flags.c_contiguous

    @pytest.mark.parametrize("size", [0, -1, 7])
    def test_subset_rejects_bad_size(self, tmp_path, size):
        data = load_dataset(write_dataset(tmp_path / "d"))
        with pytest.raises(ValueError, match="train_size"):
            data.subset(size)


@pytest.fixture(scope="module")
def mnist():
    return load_dataset("mnist")


class TestBundledMnist:
    def test_shapes_types_and_values(self, mnist):
        assert DATASET_NAMES == ("mnist", "fashion-mnist")
        assert mnist.name == "mnist" and mnist.class_names == list(DIGIT_CLASSES)
        assert mnist.x_train.shape == (60000, 784) and mnist.x_test.shape == (10000, 784)
        assert mnist.y_train.shape == (60000,) and mnist.y_test.shape == (10000,)
        assert mnist.x_train.dtype == np.float32 and mnist.x_train.flags.c_contiguous
        assert 0.0 <= mnist.x_train.min() and mnist.x_train.max() <= 1.0
        assert set(np.unique(mnist.y_train)) == set(range(10))
        assert mnist.y_train[0] == 5

    def test_a_verified_copy_is_not_hashed_again(self, mnist, monkeypatch):
        """Once its files passed their SHA-256 check in this process, loading the bundled MNIST reads
        them without hashing (the speed is in benchmarks/startup.py, not a timed test)."""
        from scratchnet import data

        asked = []
        pending = data._BUNDLED_MNIST.pending
        monkeypatch.setattr(data._BUNDLED_MNIST, "pending",
                            lambda folder, files: asked.append(out := pending(folder, files)) or out)
        again = load_dataset("mnist")
        assert asked == [{}]  # no file left to verify
        np.testing.assert_array_equal(again.x_train[:100], mnist.x_train[:100])


class TestBundledChecksum:
    """The bundled-copy check, run on a tiny stand-in for resources/mnist."""

    @staticmethod
    def fake_resources(root: Path) -> Path:
        folder = write_dataset(root / "mnist")
        lines = [f"{idx_sha256(folder / f'{s}.gz')}  {s}\n" for s in STEMS]
        (folder / "SHA256SUMS.uncompressed").write_text("".join(lines))
        return root

    def test_intact_copy_loads(self, tmp_path):
        data = load_dataset("mnist", resources_dir=self.fake_resources(tmp_path))
        assert data.name == "mnist" and len(data.y_train) == 6

    def test_corrupt_copy_is_refused(self, tmp_path):
        root = self.fake_resources(tmp_path)
        labels = sample_labels(4)
        labels[0] = 9  # still a valid IDX file, just not the one the sums describe
        write(root / "mnist" / f"{STEMS[3]}.gz", idx_bytes(labels), gz=True)
        with pytest.raises(DatasetError, match=f"bundled MNIST is corrupt: .*{STEMS[3]}.gz "
                                               "checksum mismatch; reinstall"):
            load_dataset("mnist", resources_dir=root)

    def test_file_replaced_after_verification_is_checked_again(self, tmp_path):
        root = self.fake_resources(tmp_path)
        load_dataset("mnist", resources_dir=root)
        images = sample_images(6)
        images[0, 0, 0] ^= 1
        write(root / "mnist" / f"{STEMS[0]}.gz", idx_bytes(images), gz=True)
        with pytest.raises(DatasetError, match="checksum mismatch"):
            load_dataset("mnist", resources_dir=root)

    def test_missing_sums_file(self, tmp_path):
        root = self.fake_resources(tmp_path)
        (root / "mnist" / "SHA256SUMS.uncompressed").unlink()
        with pytest.raises(DatasetError, match="SHA256SUMS.uncompressed"):
            load_dataset("mnist", resources_dir=root)

    def test_real_copy_matches_shared_sums(self):
        shipped = paths.resources_dir() / "mnist" / "SHA256SUMS.uncompressed"
        assert shipped.is_file()
        if (SHARED_DATA / "mnist").is_dir():
            shared = (SHARED_DATA / "mnist" / "SHA256SUMS.uncompressed").read_text()
            assert shipped.read_text() == shared


class TestFashion:
    @pytest.fixture(autouse=True)
    def empty_cache(self, tmp_path, monkeypatch):
        monkeypatch.setenv("SCRATCHNET_CACHE_DIR", str(tmp_path / "cache"))
        monkeypatch.delenv("SCRATCHNET_FASHION_DIR", raising=False)

    def test_not_downloaded_says_how_to_get_it(self):
        with pytest.raises(DatasetError, match=r"scratchnet train --dataset fashion-mnist --download"):
            load_dataset("fashion-mnist")

    def test_env_var_folder(self, tmp_path, monkeypatch):
        monkeypatch.setenv("SCRATCHNET_FASHION_DIR", str(write_dataset(tmp_path / "f")))
        data = load_dataset("fashion-mnist")
        assert data.name == "fashion-mnist" and data.class_names == list(FASHION_CLASSES)

    def test_cache_preferred_over_env_var(self, tmp_path, monkeypatch):
        write_dataset(tmp_path / "cache" / "fashion-mnist", n_train=3)
        monkeypatch.setenv("SCRATCHNET_FASHION_DIR", str(write_dataset(tmp_path / "f")))
        assert len(load_dataset("fashion-mnist").y_train) == 3

    @pytest.mark.skipif(not FASHION_DIR.is_dir(), reason=f"shared data not found at {FASHION_DIR}")
    def test_shared_folder_loads_by_path(self):
        data = load_dataset(str(FASHION_DIR))
        assert data.class_names == list(FASHION_CLASSES)
        assert data.x_train.shape == (60000, 784) and data.x_test.shape == (10000, 784)
        assert data.y_train.max() == 9


class TestPaths:
    def test_resources_dir_in_checkout(self):
        assert paths.resources_dir() == REPO / "resources"

    def test_resources_dir_when_installed_from_the_wheel(self, monkeypatch, tmp_path):
        package = tmp_path / "site-packages" / "scratchnet"
        (package / "resources").mkdir(parents=True)
        monkeypatch.setattr(paths, "__file__", str(package / "paths.py"))
        assert paths.resources_dir() == package / "resources"

    def test_resources_dir_when_frozen(self, monkeypatch, tmp_path):
        monkeypatch.setattr(sys, "frozen", True, raising=False)
        monkeypatch.setattr(sys, "_MEIPASS", str(tmp_path), raising=False)
        assert paths.resources_dir() == tmp_path / "resources"

    def test_user_cache_dir_overrides(self, monkeypatch, tmp_path):
        monkeypatch.delenv("SCRATCHNET_CACHE_DIR", raising=False)
        monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
        assert paths.user_cache_dir() == tmp_path / "scratchnet"
        monkeypatch.setenv("SCRATCHNET_CACHE_DIR", str(tmp_path / "x"))
        assert paths.user_cache_dir() == tmp_path / "x"
        assert paths.ignored_cache_settings() == []

    def test_a_relative_cache_dir_is_ignored_like_a_relative_xdg_cache_home(self, monkeypatch, tmp_path):
        monkeypatch.setenv("HOME", str(tmp_path))
        monkeypatch.setenv("XDG_CACHE_HOME", "rel-xdg")
        monkeypatch.setenv("SCRATCHNET_CACHE_DIR", "rel-cache")
        assert paths.user_cache_dir() == tmp_path / ".cache" / "scratchnet"
        notes = paths.ignored_cache_settings()
        assert len(notes) == 2
        assert notes[0].startswith("$SCRATCHNET_CACHE_DIR='rel-cache' is a relative path and is ignored")
        assert notes[1].startswith("$XDG_CACHE_HOME='rel-xdg' is a relative path and is ignored")
        assert all(str(tmp_path / ".cache" / "scratchnet") in note for note in notes)


# --------------------------------------------------------------------------- property test


def base_idx_files():
    """Small valid IDX files: (decompressed bytes, gzip or not)."""
    def build(code, shape, seed):
        count = int(np.prod(shape))
        values = np.random.default_rng(seed).integers(-100, 100, count).reshape(shape)
        return idx_bytes(values.astype(CODES[code]), code)

    shapes = st.lists(st.integers(1, 4), min_size=1, max_size=3).map(tuple)
    files = st.builds(build, st.sampled_from(sorted(CODES)), shapes, st.integers(0, 2**16))
    return st.tuples(files, st.booleans())


mutation = st.one_of(
    st.tuples(st.just("flip"), st.integers(0, 10**4), st.integers(1, 255)),
    st.tuples(st.just("truncate"), st.integers(0, 10**4)),
    st.tuples(st.just("insert"), st.integers(0, 10**4), st.binary(min_size=1, max_size=8)),
    st.tuples(st.just("field"), st.integers(0, 3),
              st.sampled_from([0, 1, 2, 3, 0xFF, 2**16, 2**31 - 1, 2**32 - 1])),
    st.tuples(st.just("byte"), st.integers(0, 3), st.integers(0, 255)),
)


def mutate(data: bytes, change) -> bytes:
    data = bytearray(data)
    kind, at = change[0], change[1] % (len(data) + 1)
    if kind == "flip" and data:
        data[at % len(data)] ^= change[2]
    elif kind == "truncate":
        del data[at:]
    elif kind == "insert":
        data[at:at] = change[2]
    elif kind == "field":
        # Rewrite one 4-byte header field: the magic or one of the first dimensions.
        data[4 * change[1]:4 * change[1] + 4] = struct.pack(">I", change[2])
    elif kind == "byte":
        data[change[1]:change[1] + 1] = bytes([change[2]])
    return bytes(data)


def expected_from_header(data: bytes):
    """Shape, big-endian dtype and payload bytes as the (decompressed) file's header declares."""
    if data[:2] == b"\x1f\x8b":
        data = gzip.decompress(data)
    ndim = data[3]
    shape = struct.unpack(f">{ndim}I", data[4:4 + 4 * ndim])
    return shape, np.dtype(CODES[data[2]]), data[4 + 4 * ndim:]


@settings(max_examples=300, deadline=None)
@given(
    base=base_idx_files(),
    changes=st.lists(mutation, min_size=1, max_size=3),
    after_gzip=st.booleans(),
)
def test_mutated_files_are_read_or_refused(tmp_path_factory, base, changes, after_gzip):
    data, gz = base
    if gz and after_gzip:
        data = gzip.compress(data, mtime=0)
    for change in changes:
        data = mutate(data, change)
    if gz and not after_gzip:
        data = gzip.compress(data, mtime=0)
    path = tmp_path_factory.mktemp("prop") / "mutant-idx"
    path.write_bytes(data)
    try:
        array = read_idx(path)
    except DatasetError as exc:
        assert path.name in str(exc)
        event(f"refused: {str(exc).split(': ')[1].split(' (')[0][:40]}")
        return
    finally:
        shutil.rmtree(path.parent)
    # A mutant that is still a valid file may be read, but must match its own header.
    event("read")
    shape, dtype, payload = expected_from_header(data)
    assert isinstance(array, np.ndarray)
    assert array.shape == shape
    assert array.dtype == dtype.newbyteorder("=") and array.dtype.isnative
    assert array.astype(dtype).tobytes() == payload
