"""Folders and files only their owner may read: 0700 and 0600 whatever the process's umask.

The data folder holds the database and the signing secret; no other account on the machine
needs to read either. Modes are set at creation (a file is opened with 0600 rather than
chmod-ed after it was written), so there is no moment when it is readable by others."""

from __future__ import annotations

import os
from pathlib import Path

DIR_MODE = 0o700
FILE_MODE = 0o600


def private_dir(path: Path) -> None:
    """Make `path` and any missing parents; the folders made here get 0700 (existing ones are
    left as the operator set them)."""
    missing = [p for p in (path, *path.parents) if not p.exists()]
    for folder in reversed(missing):
        folder.mkdir(mode=DIR_MODE, exist_ok=True)
        folder.chmod(DIR_MODE)  # mkdir's mode passes through the umask


def private_file(path: Path) -> None:
    """Create `path` empty with 0600 if it does not exist yet (SQLite gives its -wal and -shm
    files the mode of the database file)."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    except FileExistsError:
        return
    os.fchmod(fd, FILE_MODE)  # the umask may have taken bits off the owner's too
    os.close(fd)


def write_private(path: Path, text: str) -> None:
    """Write a new file that only its owner can read, from the first byte on."""
    private_dir(path.parent)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    os.fchmod(fd, FILE_MODE)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
