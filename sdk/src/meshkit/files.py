"""Files a person names, and files that hold secrets.

- ``read_limited`` / ``require_regular_file``: a FIFO or a device given where a file is
  expected (``/dev/zero``, a named pipe) would block or never end, and a huge file would
  fill the memory; these refuse anything but a regular file before reading a byte, and a
  file over the limit, with a message naming the file, what it is and the limit.
- ``write_private``: a file readable by its owner only (mode 0600) from the moment it
  exists, never by a ``chmod`` after the secret is written.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from meshkit.errors import MeshkitError

MIB = 1024 * 1024


class UnreadableFileError(MeshkitError):
    """A named file that is missing, not a regular file, or too large; ``reason`` says which."""

    def __init__(self, path: str | os.PathLike[str], reason: str) -> None:
        super().__init__(f"{os.fspath(path)}: {reason}")
        self.path = os.fspath(path)
        self.reason = reason


def _kind(mode: int) -> str:
    kinds = (
        (stat.S_ISDIR, "a directory"),
        (stat.S_ISFIFO, "a named pipe (FIFO)"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISSOCK, "a socket"),
    )
    return next((name for test, name in kinds if test(mode)), "not a regular file")


def _size(n: int) -> str:
    return f"{n / MIB:.0f} MiB" if n >= MIB else f"{n:,} bytes"


def require_regular_file(path: str | os.PathLike[str]) -> Path:
    """``path`` if it is a regular file (symbolic links followed); ``UnreadableFileError``."""
    try:
        mode = Path(path).stat().st_mode
    except FileNotFoundError:
        raise UnreadableFileError(path, "no such file") from None
    except OSError as exc:
        raise UnreadableFileError(path, f"cannot read the file: {exc.strerror or exc}") from None
    if not stat.S_ISREG(mode):
        raise UnreadableFileError(path, f"is {_kind(mode)}, not a regular file")
    return Path(path)


def read_limited(path: str | os.PathLike[str], *, limit: int) -> bytes:
    """The bytes of a regular file of at most ``limit`` bytes; ``UnreadableFileError``.

    The file is opened without blocking (a FIFO with no writer would block the open) and
    checked on the open descriptor, so it cannot be swapped between check and read.
    """
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0)
    try:
        fd = os.open(path, flags)
    except FileNotFoundError:
        raise UnreadableFileError(path, "no such file") from None
    except OSError as exc:
        raise UnreadableFileError(path, f"cannot read the file: {exc.strerror or exc}") from None
    try:
        st = os.fstat(fd)
    except OSError:
        os.close(fd)
        raise
    too_large = f"is larger than {_size(limit)}, the most this command reads"
    if not stat.S_ISREG(st.st_mode) or st.st_size > limit:
        os.close(fd)
        if not stat.S_ISREG(st.st_mode):
            raise UnreadableFileError(path, f"is {_kind(st.st_mode)}, not a regular file")
        raise UnreadableFileError(path, too_large)
    with os.fdopen(fd, "rb") as fh:
        try:
            data = fh.read(limit + 1)
        except OSError as exc:
            raise UnreadableFileError(path, f"cannot read the file: {exc.strerror}") from None
    if len(data) > limit:  # it grew while we read it
        raise UnreadableFileError(path, too_large)
    return data


def write_private(path: str | os.PathLike[str], text: str) -> None:
    """Write ``text`` to a new file of mode 0600, replacing ``path`` if it exists.

    An existing file is removed first, so its mode (perhaps 0644) never applies to the new
    text; the new file is created exclusively with mode 0600 (less under a stricter umask).
    """
    Path(path).unlink(missing_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)
