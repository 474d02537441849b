"""meshkit.files: named files are regular and bounded before a byte is read; secret files
are private from the moment they exist."""

from __future__ import annotations

import os
import stat
from collections.abc import Callable
from pathlib import Path

import pytest

from meshkit.files import UnreadableFileError, read_limited, require_regular_file, write_private
from meshkit.local import index


def test_read_limited_reads_a_regular_file(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_bytes(b"x" * 100)
    assert read_limited(path, limit=100) == b"x" * 100
    assert require_regular_file(path) == path


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        (lambda p: os.mkfifo(p), "is a named pipe (FIFO), not a regular file"),
        (lambda p: p.mkdir(), "is a directory, not a regular file"),
        (lambda p: p.write_bytes(b"x" * 101), "is larger than 100 bytes"),
        (lambda p: None, "no such file"),
    ],
)
def test_read_limited_refuses_before_reading(
    tmp_path: Path, make: Callable[[Path], object], reason: str
) -> None:
    path = tmp_path / "thing.yaml"
    make(path)
    with pytest.raises(UnreadableFileError) as info:
        read_limited(path, limit=100)  # a FIFO without a writer would block a plain open
    assert info.value.reason.startswith(reason)
    assert str(info.value).startswith(f"{path}: ")


def test_devices_are_refused() -> None:
    with pytest.raises(UnreadableFileError, match="is a character device"):
        read_limited("/dev/zero", limit=1 << 20)
    with pytest.raises(UnreadableFileError, match="is a character device"):
        require_regular_file("/dev/null")


def _write_index_credentials(path: Path, text: str) -> None:
    index._write_private(path, text)  # the local package index's password files


@pytest.mark.parametrize("write", [write_private, _write_index_credentials])
def test_secret_files_are_private_from_creation(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, write: Callable[[Path, str], None]
) -> None:
    path = tmp_path / "secret"
    path.write_text("old")
    path.chmod(0o644)
    modes: list[int] = []
    real_open = os.open

    def spy(name: str | os.PathLike[str], flags: int, mode: int = 0o777, **kw: object) -> int:
        fd = real_open(name, flags, mode, **kw)  # type: ignore[arg-type]
        if Path(name) == path:
            modes.append(stat.S_IMODE(os.fstat(fd).st_mode))
        return fd

    monkeypatch.setattr(os, "open", spy)
    write(path, "s3cret")
    monkeypatch.undo()
    assert modes == [0o600]  # already 0600 when the file was opened for the secret
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.read_text() == "s3cret"
