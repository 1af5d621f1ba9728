"""The files a running emulator keeps beside its store: a lock that gives one process a
state directory (or a fleet's shard), and the virtual time it resumes from after a restart."""

from __future__ import annotations

import fcntl
import json
from datetime import datetime, timezone
from pathlib import Path
from typing import IO

from .errors import ConfigError, StoreError

__all__ = ["hold_lock", "save_time", "saved_time"]


def hold_lock(path: Path, what: str) -> IO[str]:
    """Lock ``path`` for this process (closing the file returns it).

    Raises:
        StoreError: the file cannot be made.
        ConfigError: another process holds ``what``.
    """
    try:
        lock = open(path, "a+")  # noqa: SIM115 - held as long as the caller runs
    except OSError as error:
        raise StoreError(f"cannot use {path}: {error.strerror}") from None
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        lock.close()
        raise ConfigError(f"another smets-emu process is running {what}") from None
    return lock


def saved_time(path: Path) -> datetime | None:
    """The virtual time kept in ``path`` (None: none kept yet).

    Raises:
        StoreError: the file is unreadable.
    """
    try:
        return datetime.fromisoformat(json.loads(path.read_text())["now"]).astimezone(timezone.utc)
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise StoreError(f"{path} is unreadable ({error}); remove it to start the clock afresh") from None


def save_time(path: Path, moment: datetime) -> None:
    """Keep ``moment`` in ``path``, whole or not at all (written aside, then renamed)."""
    staging = path.with_suffix(".tmp")
    staging.write_text(json.dumps({"now": moment.isoformat()}))
    staging.replace(path)
