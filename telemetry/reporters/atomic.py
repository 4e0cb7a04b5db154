"""Atomic file writes: a reader (jq in a later step, a crash) never sees half a file.

The data goes to a temporary file in the target's directory (same filesystem,
so ``os.replace`` is a rename), is fsynced, renamed over the target, and the
directory is fsynced so the rename itself survives a power loss.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any


def atomic_write_bytes(path: Path, data: bytes, mode: int = 0o644) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp_name, mode)
        os.replace(tmp_name, path)
    except BaseException:
        # Never leave a stray temporary behind, whatever interrupted us.
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp_name)
        raise
    _fsync_dir(path.parent)


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: Path, value: Any) -> None:
    # ensure_ascii=False keeps non-ASCII log lines readable; the file is UTF-8.
    text = json.dumps(value, indent=2, ensure_ascii=False, allow_nan=False) + "\n"
    atomic_write_text(path, text)


def _fsync_dir(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        # Some filesystems (and tmpfs variants) refuse fsync on directories.
        pass
    finally:
        os.close(fd)
