"""Atomic file writes and checksums, shared by results, checkpoints, caches and downloads.

Every write goes to a temporary file in the destination folder, is flushed to disk (``fsync``) and
renamed into place, so a reader never sees a half-written file and an interrupted run or a full
disk loses nothing already on disk (Decision X11). A failed write raises ``OSError`` naming the
destination and saying that its previous version is kept.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterator


def _current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


_FILE_MODE = 0o666 & ~_current_umask()  # what open() would give; mkstemp alone gives 0600


@contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it onto ``path`` if the block succeeds."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    os.chmod(tmp_path, _FILE_MODE)
    try:
        yield tmp_path
        _fsync(tmp_path)
        os.replace(tmp_path, path)
        fsync_dir(path.parent)
    except OSError as err:
        raise write_error(path, err) from err
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


def write_error(path: Path, err: OSError) -> OSError:
    """``err`` re-raised with ``path`` in its message and what is left on disk (same errno)."""
    if str(path) in str(err):
        return err
    kept = "its previous version is kept" if path.exists() else "nothing was written"
    hint = "; free some space and rerun" if err.errno in (errno.ENOSPC, errno.EDQUOT) else ""
    return type(err)(err.errno, f"could not write {path} ({err.strerror or err}); {kept}{hint}")


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_dir(folder: Path) -> None:
    """Make a rename durable (best effort: some file systems refuse fsync on a folder)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    """Atomically write ``data`` to ``path``."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
    return Path(path)


def write_text(path: str | os.PathLike, text: str) -> Path:
    """Atomically write UTF-8 ``text`` to ``path``."""
    return write_bytes(path, text.encode("utf-8"))


def write_json(path: str | os.PathLike, obj: Any) -> Path:
    """Atomically write ``obj`` as indented JSON (NaN is refused: results never hold NaN)."""
    return write_text(path, json.dumps(obj, indent=2, sort_keys=True, allow_nan=False, default=str) + "\n")


def sha256_file(path: str | os.PathLike, chunk: int = 1 << 20,
                on_chunk: Callable[[int], Any] | None = None) -> str:
    """Hex SHA-256 of a file, read in chunks; ``on_chunk(n_bytes)`` after each (e.g. a progress bar)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(chunk), b""):
            h.update(block)
            if on_chunk is not None:
                on_chunk(len(block))
    return h.hexdigest()
