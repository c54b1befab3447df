"""Reading and writing user-named files without hanging, blowing up memory or leaking a traceback.

Reading: only regular files are opened (a FIFO, a terminal, ``/dev/zero`` or a folder is refused
with a message instead of blocking or being read forever), opened non-blocking so that even a
FIFO swapped in after the check cannot hang, and read with a size cap.

Writing: ``check_destination`` refuses what cannot become the file (a folder, a device, a missing
or read-only folder) by creating and removing the temporary file there, so a command can fail
before it trains rather than after. ``write_atomically`` writes a temporary file beside the
target and renames it over it: the old file stays intact on any failure. Symbolic links are
followed (the file they point to is replaced), and the new file keeps the old file's mode, or
gets the usual mode under the user's umask.

Every failure is raised as the caller's error class, with a one-line message naming the user's
path (never the temporary file) and the reason in plain words.
"""

from __future__ import annotations

import contextlib
import errno
import math
import os
import stat
import tempfile
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

import numpy as np

from .errors import SaveError

_KINDS = (
    (stat.S_ISDIR, "a folder"),
    (stat.S_ISFIFO, "a pipe (FIFO)"),
    (stat.S_ISCHR, "a device"),
    (stat.S_ISBLK, "a device"),
    (stat.S_ISSOCK, "a socket"),
)
_NPY_HEADER_BYTES = 10_000


def os_reason(exc: OSError) -> str:
    """The plain reason of an OSError, without the path or the temporary file's name."""
    if exc.errno == errno.ENAMETOOLONG:
        return "the file name is too long"
    if exc.errno == errno.ENOSPC:
        return "the disk is full"
    if exc.errno == errno.EFBIG:
        return "the file is too large for this system's limits"
    if exc.errno == errno.EROFS:
        return "the file system is read-only"
    if exc.errno in (errno.EACCES, errno.EPERM):
        return "permission denied"
    return (exc.strerror or str(exc) or type(exc).__name__).lower()


def kind_of(mode: int) -> str | None:
    """'a folder', 'a device', … for anything that is not a regular file; None for one."""
    return next((name for test, name in _KINDS if test(mode)), None if stat.S_ISREG(mode) else "not a regular file")


def open_regular(path: str | os.PathLike, error: type[Exception], label: str | None = None) -> BinaryIO:
    """Open ``path`` (symbolic links followed) for reading if it is a regular file, else raise
    ``error("label: reason")``. Never blocks: the open is non-blocking and checked afterwards."""
    label = label if label is not None else Path(path).name or str(path)
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0))
    except FileNotFoundError:
        raise error(f"{label}: file not found") from None
    except IsADirectoryError:
        raise error(f"{label}: is a folder, not a file") from None
    except OSError as exc:
        raise error(f"{label}: cannot be read ({os_reason(exc)})") from None
    try:
        kind = kind_of(os.fstat(fd).st_mode)
        if kind is not None:
            raise error(f"{label}: is {kind}, not a regular file")
        if hasattr(os, "set_blocking"):
            os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def read_regular(path: str | os.PathLike, max_bytes: int, error: type[Exception], label: str | None = None) -> bytes:
    """The bytes of a regular file of at most ``max_bytes``; anything else raises ``error``."""
    label = label if label is not None else Path(path).name or str(path)
    with open_regular(path, error, label) as handle:
        try:
            size = os.fstat(handle.fileno()).st_size
            if size > max_bytes:
                raise error(f"{label}: {size:,} bytes is larger than the {max_bytes:,} bytes accepted")
            data = handle.read(max_bytes + 1)
        except OSError as exc:
            raise error(f"{label}: cannot be read ({os_reason(exc)})") from None
    if len(data) > max_bytes:  # the file grew while it was read
        raise error(f"{label}: larger than the {max_bytes:,} bytes accepted")
    return data


def is_folder(path: str | os.PathLike) -> bool:
    """Path.is_dir that answers False instead of raising (a name too long, a folder denied)."""
    try:
        return Path(path).is_dir()
    except (OSError, ValueError):
        return False


def read_npy_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo, error: type[Exception], label: str,
                    check: Callable[[str, tuple, np.dtype], None]) -> np.ndarray:
    """One ``.npy`` entry of an .npz archive, its header read and checked before its data: ``check(key,
    shape, dtype)`` raises for what the caller refuses (objects, a wrong shape), and the bytes the
    header implies must be exactly the bytes the entry holds, so a small file cannot make this
    allocate more than it holds. Failures raise ``error("label: ...")``."""
    key = info.filename.removesuffix(".npy")
    with archive.open(info) as member:
        version = np.lib.format.read_magic(member)
        if version == (1, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_1_0(member, _NPY_HEADER_BYTES)
        elif version == (2, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_2_0(member, _NPY_HEADER_BYTES)
        else:
            raise error(f"{label}: entry {key!r} has unsupported .npy version {version}")
        check(key, shape, dtype)
        nbytes = math.prod(shape) * dtype.itemsize
        held = info.file_size - member.tell()
        if nbytes != held:
            raise error(f"{label}: entry {key!r} declares {nbytes:,} bytes of data but holds {held:,}")
        data = member.read(nbytes)
    if len(data) != nbytes:
        raise error(f"{label}: entry {key!r} is truncated")
    return np.frombuffer(data, dtype=dtype).reshape(shape, order="F" if fortran else "C")


# --------------------------------------------------------------------------- writing


def check_destination(path: str | os.PathLike) -> Path:
    """The file that saving to ``path`` will really replace (symbolic links followed), after
    checking it can be written: create and remove the temporary file beside it. Raises SaveError."""
    target = _resolve(path)
    with _save_errors(path):
        fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
        os.close(fd)
        os.unlink(tmp_name)
    return target


def write_atomically(path: str | os.PathLike, write: Callable[[BinaryIO], None]) -> None:
    """Call ``write(handle)`` on a temporary file beside ``path``'s target and rename it into place.
    Raises SaveError naming ``path``; the previous file, if any, is then unchanged."""
    target = _resolve(path)
    mode = _mode_for(target)
    with _save_errors(path):
        fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
        try:
            with os.fdopen(fd, "wb") as handle:
                write(handle)
                handle.flush()
                os.fsync(handle.fileno())
            os.chmod(tmp_name, mode)
            os.replace(tmp_name, target)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp_name)
            raise


def _resolve(path: str | os.PathLike) -> Path:
    """The real target of ``path``; refuses a destination that exists but is not a regular file."""
    with _save_errors(path):
        target = Path(os.path.realpath(path))
        try:
            mode = os.stat(target).st_mode
        except (FileNotFoundError, NotADirectoryError):
            mode = None
        parent = target.parent
        if not parent.exists():
            raise SaveError(f"cannot save to {path}: folder {parent} does not exist")
        if not parent.is_dir():
            raise SaveError(f"cannot save to {path}: {parent} is not a folder")
    if mode is not None and (kind := kind_of(mode)) is not None:
        raise SaveError(f"cannot save to {path}: it is {kind}, not a regular file")
    return target


def _mode_for(target: Path) -> int:
    """The existing file's permission bits, or 0o666 under the umask for a new file."""
    try:
        return stat.S_IMODE(os.stat(target).st_mode)
    except OSError:
        mask = os.umask(0o022)
        os.umask(mask)
        return 0o666 & ~mask


@contextlib.contextmanager
def _save_errors(path: str | os.PathLike):
    try:
        yield
    except SaveError:
        raise
    except OSError as exc:
        raise SaveError(f"cannot save to {path}: {os_reason(exc)}") from None


__all__ = ["open_regular", "read_regular", "read_npy_member", "is_folder", "check_destination", "write_atomically",
           "os_reason"]
