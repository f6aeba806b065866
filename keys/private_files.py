"""Files and directories only their owner may read: the data directory and its secrets.

A deployment's directory holds names, ID numbers, party salts, webhook secrets and
encrypted keys, so it is 0700 and its secret files 0600. ``private_directory`` and
``private_file`` create them so, and tighten what an older release left readable
(logging each change once, so an operator sees that the files were exposed).
"""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

DIRECTORY_MODE = 0o700
FILE_MODE = 0o600
# SQLite's companions of a database file: it gives them the database file's own mode
# when it creates them, but ones left by an older release keep theirs.
SQLITE_SUFFIXES = ("", "-wal", "-shm", "-journal")

log = logging.getLogger(__name__)


def _tighten(path: Path, mode: int) -> None:
    try:
        current = stat.S_IMODE(path.stat().st_mode)
    except FileNotFoundError:
        return
    if current & ~mode:
        os.chmod(path, current & mode)
        log.warning("%s was mode %04o; now %04o", path, current, current & mode)


def private_directory(path: Path) -> Path:
    """``path`` as a directory only its owner may enter (created 0700, tightened if not)."""
    path.mkdir(mode=DIRECTORY_MODE, parents=True, exist_ok=True)
    _tighten(path, DIRECTORY_MODE)
    return path


def private_file(path: Path) -> Path:
    """Tighten an existing file to 0600 (nothing happens if it does not exist)."""
    _tighten(path, FILE_MODE)
    return path


def create_private_file(path: Path) -> Path:
    """Create ``path`` empty with mode 0600 unless it exists; tighten it if it does."""
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE))
    except FileExistsError:
        _tighten(path, FILE_MODE)
    return path


def private_sqlite(path: Path) -> Path:
    """An SQLite database file (and its -wal, -shm, -journal) readable by its owner only.

    Created empty at 0600 before SQLite opens it, so that the files SQLite creates
    beside it inherit that mode.
    """
    create_private_file(path)
    for suffix in SQLITE_SUFFIXES[1:]:
        _tighten(path.with_name(path.name + suffix), FILE_MODE)
    return path
