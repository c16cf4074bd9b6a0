"""Every file the suite reads or writes, opened here: the rules for files live in one place.

- Results files are JSON Lines that only ever grow: a record is appended as one write, flushed and
  fsynced; a write that fails (a full disk, a file-size limit) is cut back to what was there, so
  the file never ends in a fragment the suite wrote. A fragment left by a kill is moved to a side
  file (``FILE.truncated-TIMESTAMP``) before appending, found by reading the file's end only.
- Files are read as streams, line by line, each line at most ``MAX_LINE`` bytes, as UTF-8: a device
  that never ends or a binary file is one error line, not a memory blow-up or a traceback.
- The suite writes only regular files: it refuses to replace a device, a FIFO or a symbolic link,
  and writes a report only into an empty directory or one holding a report it wrote before.
- Every ``OSError`` becomes one :class:`~longdep_bench.system.errors.BenchError` line naming the file: exit
  2 for what the user asked (a path that cannot be a results file, a directory that is not ours),
  3 for what the machine refused (:class:`~longdep_bench.system.errors.EnvironmentFailure`: no space, a
  file-size limit, no permission).
"""

from __future__ import annotations

import errno
import fcntl
import hashlib
import os
import stat
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import IO

from longdep_bench.system.errors import BenchError, EnvironmentFailure

MAX_LINE = 16 * 1024 * 1024  # bytes: a results line holds one record (a few kB); longer is not a results file
TAIL_CHUNK = 64 * 1024  # bytes read backwards to find a file's last line


def _why(exc: OSError) -> str:
    return exc.strerror or str(exc)


def failure(action: str, path: str, exc: OSError) -> BenchError:
    """One line for an OSError on ``path``: an EnvironmentFailure (exit 3) where the machine refused
    (no space, a size limit, no permission, a read-only file system), a BenchError (exit 2) else."""
    machine = exc.errno in (errno.ENOSPC, errno.EFBIG, errno.EDQUOT, errno.EACCES, errno.EPERM, errno.EROFS, errno.EIO)
    kind = EnvironmentFailure if machine else BenchError
    return kind(f"cannot {action} {path}: {_why(exc)}")


def _kind(mode: int) -> str:
    for test, name in ((stat.S_ISDIR, "a directory"), (stat.S_ISCHR, "a character device"),
                       (stat.S_ISBLK, "a block device"), (stat.S_ISFIFO, "a FIFO"), (stat.S_ISSOCK, "a socket"),
                       (stat.S_ISLNK, "a symbolic link")):
        if test(mode):
            return name
    return "not a regular file"


def regular_or_absent(path: str, action: str) -> bool:
    """Whether ``path`` exists (as a regular file); a BenchError when it is anything else (a device,
    a FIFO, a directory, a symbolic link), which the suite never reads as results nor replaces."""
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        return False
    except OSError as exc:
        raise failure(action, path, exc) from None
    if not stat.S_ISREG(mode):
        raise BenchError(f"cannot {action} {path}: it is {_kind(mode)}, not a regular file")
    return True


def read_lines(path: str, what: str = "file") -> Iterator[tuple[int, str]]:
    """(line number, text) for each line of a regular UTF-8 file, streamed; the last line may lack
    its newline (the caller decides whether that is a truncation). One BenchError line for a file
    that is missing, not regular, not UTF-8 or has a line longer than ``MAX_LINE``."""
    if not regular_or_absent(path, f"read {what}"):
        raise BenchError(f"cannot read {what} {path}: no such file")
    try:
        handle = open(path, "rb")
    except OSError as exc:
        raise failure(f"read {what}", path, exc) from None
    with handle:
        number = 0
        while True:
            try:
                raw = handle.readline(MAX_LINE + 1)
            except OSError as exc:
                raise failure(f"read {what}", path, exc) from None
            if not raw:
                return
            number += 1
            if len(raw) > MAX_LINE:
                raise BenchError(f"{path}:{number}: line longer than {MAX_LINE // (1024 * 1024)} MiB: not a {what}")
            try:
                yield number, raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise BenchError(f"{path}:{number}: not UTF-8 text (byte {exc.start + 1}): not a {what}") from None


def read_text(path: str, what: str = "file", limit: int = MAX_LINE) -> str:
    """A whole small UTF-8 file (at most ``limit`` bytes), with the same one-line errors as :func:`read_lines`."""
    if not regular_or_absent(path, f"read {what}"):
        raise BenchError(f"cannot read {what} {path}: no such file")
    try:
        with open(path, "rb") as handle:
            raw = handle.read(limit + 1)
    except OSError as exc:
        raise failure(f"read {what}", path, exc) from None
    if len(raw) > limit:
        raise BenchError(f"cannot read {what} {path}: larger than {limit // (1024 * 1024)} MiB")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BenchError(f"{path}: not UTF-8 text (byte {exc.start + 1}): not a {what}") from None


def _sync_directory(path: str) -> None:
    """fsync the directory holding ``path``, so that a file just created survives a crash."""
    try:
        descriptor = os.open(os.path.dirname(os.path.abspath(path)), os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(descriptor)
    except OSError:
        pass
    finally:
        os.close(descriptor)


def set_aside_truncated_tail(path: str) -> str | None:
    """If the file's last line was cut by an interrupted write, move that fragment to a side file.

    Only the file's end is read. A fragment that starts like a record (``{``) is saved as
    ``PATH.truncated-TIMESTAMP`` (never dropped) and removed from the results file, whose complete
    records stay as they are; any other unterminated end is refused (not a results file). Returns
    the side file, or None.
    """
    if not regular_or_absent(path, "append to"):
        return None
    try:
        with open(path, "rb+") as handle:
            size = handle.seek(0, os.SEEK_END)
            keep = _last_line_start(handle, size)
            if keep == size:
                return None
            handle.seek(keep)
            fragment = handle.read(min(size - keep, MAX_LINE + 1))
            if not fragment.startswith(b"{") or len(fragment) > MAX_LINE:
                raise BenchError(f"{path} ends with {size - keep:,} bytes without a newline that are not a cut "
                                 "record: not a results file")
            side = f"{path}.truncated-{datetime.now(UTC).strftime('%Y%m%dT%H%M%S%f')}"
            _write_new(side, fragment)
            handle.truncate(keep)
            handle.flush()
            os.fsync(handle.fileno())
            return side
    except OSError as exc:
        raise failure("repair", path, exc) from None


def _last_line_start(handle: IO[bytes], size: int) -> int:
    """Where the last line starts when it has no newline (else ``size``): reads backwards in chunks."""
    if size == 0:
        return 0
    handle.seek(size - 1)
    if handle.read(1) == b"\n":
        return size
    end = size
    while end > 0:
        begin = max(0, end - TAIL_CHUNK)
        handle.seek(begin)
        chunk = handle.read(end - begin)
        newline = chunk.rfind(b"\n")
        if newline >= 0:
            return begin + newline + 1
        end = begin
    return 0


def _write_new(path: str, data: bytes) -> None:
    """Create ``path`` (which must not exist) with ``data``, synced; nothing is left if that fails."""
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
    except BaseException:
        _remove(path)
        raise
    _sync_directory(path)


def _remove(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass


class Appender:
    """A results file open for appending whole lines: each is written with unbuffered writes and
    fsynced; a failed write is cut back, so the file holds only complete lines."""

    def __init__(self, path: str):
        self.path = path
        created = not regular_or_absent(path, "write results to")
        try:
            self.descriptor = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        except OSError as exc:
            raise failure("write results to", path, exc) from None
        if created:
            _sync_directory(path)

    def append(self, line: str) -> None:
        """Append one line (it gets its newline here); an EnvironmentFailure when the disk refuses."""
        data = memoryview((line + "\n").encode("utf-8"))
        try:
            before = os.fstat(self.descriptor).st_size
        except OSError as exc:
            raise failure("append to", self.path, exc) from None
        try:
            while data:
                data = data[os.write(self.descriptor, data):]
            os.fsync(self.descriptor)
        except OSError as exc:
            self._cut_back(before)
            raise failure("append to", self.path, exc) from None

    def _cut_back(self, size: int) -> None:
        """Remove what a failed write left after ``size`` bytes (best effort: the file keeps its records)."""
        try:
            os.ftruncate(self.descriptor, size)
            os.fsync(self.descriptor)
        except OSError:
            pass

    def close(self) -> None:
        """Close the file (its lines are already on disk)."""
        try:
            os.close(self.descriptor)
        except OSError:
            pass


CLAIMS = 1 << 62  # claims are byte-range locks this far beyond any results file's end: its content is untouched


class Claims:
    """Runs in flight, claimed by advisory byte-range locks on the results file (one byte per run,
    far beyond its end), so that sweeps sharing a file never train the same run at once. A claim
    ends when it is released or when the process holding it dies."""

    def __init__(self, results: Appender):
        self.descriptor = results.descriptor

    def _offset(self, key: str) -> int:
        return CLAIMS + int(hashlib.sha256(key.encode()).hexdigest()[:12], 16)

    def take(self, key: str) -> bool:
        """Claim ``key``; False when another process holds it."""
        try:
            fcntl.lockf(self.descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB, 1, self._offset(key), os.SEEK_SET)
        except OSError as exc:
            if exc.errno in (errno.EACCES, errno.EAGAIN):
                return False
            return True  # a file system without locks: every sweep runs its own runs, as before
        return True

    def release(self, key: str) -> None:
        """Give ``key`` back."""
        try:
            fcntl.lockf(self.descriptor, fcntl.LOCK_UN, 1, self._offset(key), os.SEEK_SET)
        except OSError:
            pass


def file_size(path: str) -> int:
    """The size of a file in bytes (one line for an error)."""
    try:
        return os.stat(path).st_size
    except OSError as exc:
        raise failure("read", path, exc) from None


class Follower:
    """Reads what others append to a file, through one descriptor kept open: closing any descriptor
    of a file drops every POSIX lock the process holds on it (the claims), so none is opened and
    closed while a sweep runs."""

    def __init__(self, path: str, offset: int, what: str = "file"):
        self.path, self.offset, self.what = path, offset, what
        try:
            self.descriptor = os.open(path, os.O_RDONLY)
        except OSError as exc:
            raise failure(f"read {what}", path, exc) from None

    def new_lines(self) -> list[str]:
        """The complete lines appended since the last call."""
        chunks = []
        position = self.offset
        try:
            while chunk := os.pread(self.descriptor, TAIL_CHUNK, position):
                chunks.append(chunk)
                position += len(chunk)
        except OSError as exc:
            raise failure(f"read {self.what}", self.path, exc) from None
        data = b"".join(chunks)
        complete = data[:data.rfind(b"\n") + 1]
        self.offset += len(complete)
        try:
            return complete.decode("utf-8").splitlines(keepends=True)
        except UnicodeDecodeError:
            raise BenchError(f"{self.path}: lines appended meanwhile are not UTF-8: not a {self.what}") from None

    def close(self) -> None:
        """Stop following (this releases the process's claims on the file)."""
        try:
            os.close(self.descriptor)
        except OSError:
            pass


@contextmanager
def replacing(path: str, what: str = "file") -> Iterator[IO[bytes]]:
    """Write a whole file atomically: yields a temporary file next to ``path`` that replaces it when
    the block ends without error; on any error or interrupt the temporary file is removed and an
    existing ``path`` stays as it was. Refuses a ``path`` that exists and is not a regular file."""
    regular_or_absent(path, f"write {what}")
    directory = os.path.dirname(os.path.abspath(path))
    try:
        descriptor, temporary = tempfile.mkstemp(prefix=".longdep-bench-", suffix=".tmp", dir=directory)
    except OSError as exc:
        raise failure(f"write {what}", path, exc) from None
    try:
        with os.fdopen(descriptor, "wb") as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except OSError as exc:
        _remove(temporary)
        raise failure(f"write {what}", path, exc) from None
    except BaseException:
        _remove(temporary)
        raise
    _sync_directory(path)


def write_text(path: str, text: str, what: str = "file") -> None:
    """Replace ``path`` with ``text`` (UTF-8) atomically."""
    with replacing(path, what) as handle:
        handle.write(text.encode("utf-8"))


def report_directory(directory: str, is_ours: Callable[[str], bool], report_name: str) -> None:
    """Make sure a report may be written into ``directory``: created if missing; an existing one must
    be empty or hold a report the suite wrote (``is_ours(path of its report)``); else one line."""
    try:
        os.makedirs(directory, exist_ok=True)
    except FileExistsError:
        raise BenchError(f"cannot write a report into {directory}: it is not a directory") from None
    except OSError as exc:
        raise failure("create report directory", directory, exc) from None
    try:
        entries = os.listdir(directory)
    except OSError as exc:
        raise failure("list report directory", directory, exc) from None
    report = os.path.join(directory, report_name)
    if entries and not (report_name in entries and is_ours(report)):
        raise BenchError(f"{directory} holds files that are not a longdep-bench report ({report_name} missing or "
                         "not ours); give an empty or new directory, or one a report was written to")
    if not os.access(directory, os.W_OK):
        raise EnvironmentFailure(f"cannot write a report into {directory}: permission denied")
