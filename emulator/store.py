"""Durable device state: one SQLite file per premises or fleet (standard library ``sqlite3``).

Rule: whatever a response or alert depends on — an accepted counter, a log entry, a queued
frame — commits in the same transaction as the frame that leaves, before it leaves
(``Store.transaction``). A rejected command rolls its transaction back and leaves the
device's state as it was; its security-log entry commits in a transaction of its own.

Durability level: WAL with ``synchronous=NORMAL``. A commit then survives the process being
killed (``kill -9``), which is what "a killed process never reuses a counter" needs; it may
lose the last commits on a power cut of the host (SQLite's documentation on WAL), which an
emulator can accept. ``synchronous=FULL`` would add an fsync per command.

Schema versions are numbered files ``emulator/schema/vN.sql`` applied in order behind
``PRAGMA user_version``, each in one transaction: a file of an older version is migrated when
it is opened.

A reset for redeployment erases consumer data only (``erase_consumer_data``): device state
that is identity or security — credentials, trust anchor cells (the prepayment top-up cell
too), counters, the security log, the firmware version, a firmware image held and a key pair
awaiting its certificate — lives in tables it does not touch (``kept_register`` for the last
two, schema version 2).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from importlib import resources
from pathlib import Path
from typing import Any

from gbcs.types import EUI64

from .errors import StoreError

__all__ = ["LogEntry", "Store", "Transaction"]

SCHEMA_VERSION = 3


def _log_filter(eui: EUI64, start: datetime | None, end: datetime | None, coded: str | None) -> tuple[str, list[Any]]:
    """A log query's WHERE clause. Times are stored as UTC ISO 8601, which sorts as text."""
    where, parameters = ["device = ?"], [str(eui)]
    if start is not None:
        where.append("at >= ?")
        parameters.append(start.isoformat())
    if end is not None:
        where.append("at <= ?")
        parameters.append(end.isoformat())
    if coded is not None:
        where.append(f"{coded} IS NOT NULL")
    return " AND ".join(where), parameters


def _counter_text(counter: int) -> str:
    return f"{counter:016X}"


@dataclass(frozen=True, slots=True)
class LogEntry:
    """One row of a device's security or event log."""

    at: str
    event: str
    code: int | None
    detail: str
    originator: str | None = None
    message_code: int | None = None
    counter: int | None = None


class Store:
    """A store file. Open it once per process and share it among that premises' devices.

    Args:
        path: the SQLite file (created if missing), or ``":memory:"`` for a throwaway store.

    Raises:
        StoreError: the file cannot be opened, is not a store, or is from a newer version.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = path
        self._batched = False  # inside batch(): transactions are savepoints
        try:
            self._db = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute("PRAGMA foreign_keys=ON")
            self._migrate()
        except sqlite3.DatabaseError as error:
            raise StoreError(f"cannot open store {path}: {error}") from None

    def _migrate(self) -> None:
        version = self._db.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise StoreError(f"store {self.path} has schema version {version}; this version reads up to {SCHEMA_VERSION}")
        for next_version in range(version + 1, SCHEMA_VERSION + 1):
            script = resources.files("emulator.schema").joinpath(f"v{next_version}.sql").read_text()
            self._db.executescript(f"BEGIN IMMEDIATE;\n{script}\nPRAGMA user_version = {next_version};\nCOMMIT;")

    def close(self) -> None:
        self._db.close()

    @contextmanager
    def transaction(self) -> Iterator[Transaction]:
        """One atomic unit: commits when the block ends, rolls back if it raises.

        Raises:
            StoreError: the database failed (locked, full, damaged) — the transaction is
                rolled back.
        """
        if self._batched:
            with self._savepoint() as tx:
                yield tx
            return
        try:
            self._db.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as error:
            raise StoreError(f"store {self.path}: cannot begin a transaction: {error}") from error
        try:
            yield Transaction(self._db)
        except sqlite3.Error as error:
            self._rollback()
            raise StoreError(f"store {self.path}: {error}") from error
        except BaseException:
            self._rollback()
            raise
        try:
            self._db.execute("COMMIT")
        except sqlite3.Error as error:
            self._rollback()
            raise StoreError(f"store {self.path}: cannot commit: {error}") from error

    @contextmanager
    def batch(self) -> Iterator[None]:
        """Many transactions committed as one: each ``transaction()`` inside is a savepoint
        (atomic as ever: one that raises is undone alone), and the batch commits when the
        block ends — or, if the block raises, none of it does. For work whose results leave
        only after the batch (a storm restoring a hundred premises, whose alerts the WAN reads
        from the store afterwards): one commit instead of hundreds. A batch inside a batch is
        the same batch; a batch inside a ``transaction()`` is refused (StoreError).

        Raises:
            StoreError: the database failed; nothing of the batch is kept.
        """
        if self._batched:
            yield  # already in one
            return
        with self.transaction():
            self._batched = True
            try:
                yield
            finally:
                self._batched = False

    @contextmanager
    def _savepoint(self) -> Iterator[Transaction]:
        try:
            self._db.execute("SAVEPOINT batched")
        except sqlite3.Error as error:
            raise StoreError(f"store {self.path}: cannot begin a transaction in the batch: {error}") from error
        try:
            yield Transaction(self._db)
        except sqlite3.Error as error:
            self._undo_savepoint()
            raise StoreError(f"store {self.path}: {error}") from error
        except BaseException:
            self._undo_savepoint()
            raise
        try:
            self._db.execute("RELEASE batched")
        except sqlite3.Error as error:
            raise StoreError(f"store {self.path}: {error}") from error

    def _undo_savepoint(self) -> None:
        if not self._db.in_transaction:
            return  # SQLite rolled the whole batch back itself (a full disk, an I/O error)
        try:
            self._db.execute("ROLLBACK TO batched")
            self._db.execute("RELEASE batched")
        except sqlite3.Error:
            pass  # the batch's own rollback follows, as the error goes up

    def _rollback(self) -> None:
        try:
            self._db.execute("ROLLBACK")
        except sqlite3.Error:
            pass  # no transaction left to roll back (SQLite rolled it back itself)

    def read(self) -> Transaction:
        """Queries outside a write transaction (each sees the last commit)."""
        return Transaction(self._db)


class Transaction:
    """The queries and updates device firmware makes, inside ``Store.transaction``."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    # -- devices -----------------------------------------------------------------------------

    def add_device(self, eui: EUI64, device_type: str, identity: dict[str, Any], lifecycle: str) -> None:
        self._db.execute("INSERT INTO device (eui, device_type, identity, lifecycle, own_counter) VALUES (?, ?, ?, ?, ?)",
                         (str(eui), device_type, json.dumps(identity, sort_keys=True), lifecycle, _counter_text(0)))  # fmt: skip

    def device(self, eui: EUI64) -> tuple[str, dict[str, Any], str] | None:
        """``(device_type, identity, lifecycle)`` or None."""
        row = self._db.execute("SELECT device_type, identity, lifecycle FROM device WHERE eui = ?", (str(eui),)).fetchone()
        return None if row is None else (row[0], json.loads(row[1]), row[2])

    def remove_device(self, eui: EUI64) -> None:
        """Forget a device and everything it holds (its rows in every table go with it)."""
        self._db.execute("DELETE FROM device WHERE eui = ?", (str(eui),))

    def set_identity(self, eui: EUI64, identity: dict[str, Any]) -> None:
        """Replace the device's identity (e.g. its firmware version, once CS06 activated one)."""
        self._db.execute("UPDATE device SET identity = ? WHERE eui = ?", (json.dumps(identity, sort_keys=True), str(eui)))

    def set_lifecycle(self, eui: EUI64, lifecycle: str) -> None:
        self._db.execute("UPDATE device SET lifecycle = ? WHERE eui = ?", (lifecycle, str(eui)))

    def erase_consumer_data(self, eui: EUI64) -> None:
        """What a reset for redeployment removes: registers, the event log, queued frames and
        future-dated commands. Identity (the firmware version), credentials, cells, counters,
        the security log and kept registers stay."""
        for table in ("register", "event_log", "outbox", "future_command"):
            self._db.execute(f"DELETE FROM {table} WHERE device = ?", (str(eui),))

    def next_own_counter(self, eui: EUI64, at_least: int = 0) -> int:
        """The device's next originator counter (for alerts and its own commands): strictly
        greater than every one it used before, and at least ``at_least``."""
        row = self._db.execute("SELECT own_counter FROM device WHERE eui = ?", (str(eui),)).fetchone()
        counter = max(int(row[0], 16) + 1, at_least)
        self._db.execute("UPDATE device SET own_counter = ? WHERE eui = ?", (_counter_text(counter), str(eui)))
        return counter

    # -- credentials and trust anchors ------------------------------------------------------------

    def set_credential(self, eui: EUI64, usage: str, private_key: bytes | None, certificate: bytes | None) -> None:
        self._db.execute("INSERT OR REPLACE INTO credential VALUES (?, ?, ?, ?)",
                         (str(eui), usage, private_key, certificate))  # fmt: skip

    def credentials(self, eui: EUI64) -> dict[str, tuple[bytes | None, bytes | None]]:
        rows = self._db.execute("SELECT usage, private_key, certificate FROM credential WHERE device = ?", (str(eui),))
        return {usage: (key, certificate) for usage, key, certificate in rows}

    def set_trust_anchor(self, eui: EUI64, role: int, party: EUI64, ds: bytes | None, ka: bytes | None,
                         top_up: bytes | None = None) -> None:  # fmt: skip
        """Store a trust anchor cell: its party and DER certificates (``top_up``: the
        prepayment top-up key-agreement certificate, where the cell has one)."""
        self._db.execute("INSERT OR REPLACE INTO trust_anchor (device, role, party, ds_certificate, ka_certificate, "
                         "top_up_certificate) VALUES (?, ?, ?, ?, ?, ?)", (str(eui), int(role), str(party), ds, ka, top_up))  # fmt: skip

    def trust_anchors(self, eui: EUI64) -> list[tuple[int, EUI64, bytes | None, bytes | None, bytes | None]]:
        """``(role, party, ds, ka, top_up)`` for each cell, by role."""
        rows = self._db.execute("SELECT role, party, ds_certificate, ka_certificate, top_up_certificate FROM trust_anchor "
                                "WHERE device = ? ORDER BY role", (str(eui),))  # fmt: skip
        return [(role, EUI64(party), ds, ka, top_up) for role, party, ds, ka, top_up in rows]

    # -- anti-replay -----------------------------------------------------------------------------

    def last_counter(self, eui: EUI64, party: EUI64) -> int | None:
        row = self._db.execute("SELECT last_counter FROM anti_replay WHERE device = ? AND party = ?",
                               (str(eui), str(party))).fetchone()  # fmt: skip
        return None if row is None else int(row[0], 16)

    def accept_counter(self, eui: EUI64, party: EUI64, counter: int) -> None:
        self._db.execute("INSERT OR REPLACE INTO anti_replay VALUES (?, ?, ?)", (str(eui), str(party), _counter_text(counter)))

    # -- logs ------------------------------------------------------------------------------------

    def log_security(self, eui: EUI64, at: datetime, event: str, detail: str, *, alert_code: int | None = None,
                     originator: EUI64 | None = None, message_code: int | None = None,
                     counter: int | None = None) -> None:  # fmt: skip
        self._db.execute(
            "INSERT INTO security_log (device, at, event, alert_code, originator, message_code, counter, detail) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (str(eui), at.isoformat(), event, alert_code, None if originator is None else str(originator),
             message_code, None if counter is None else _counter_text(counter), detail),
        )  # fmt: skip

    def security_log(self, eui: EUI64, *, start: datetime | None = None, end: datetime | None = None,
                     coded: bool = False, newest: int | None = None) -> list[LogEntry]:  # fmt: skip
        """The device's security log, oldest first; ``start``/``end`` (inclusive), ``coded``
        (entries with a GBCS alert code only) and ``newest`` (the last N) filter it in the
        database."""
        where, parameters = _log_filter(eui, start, end, "alert_code" if coded else None)
        rows = self._db.execute("SELECT * FROM (SELECT id, at, event, alert_code, detail, originator, message_code, counter "
                                f"FROM security_log WHERE {where} ORDER BY id DESC LIMIT ?) ORDER BY id",
                                [*parameters, -1 if newest is None else newest])  # fmt: skip
        rows = (row[1:] for row in rows)
        return [LogEntry(at, event, code, detail, originator, message_code, None if counter is None else int(counter, 16))
                for at, event, code, detail, originator, message_code, counter in rows]  # fmt: skip

    def log_event(self, eui: EUI64, at: datetime, event: str, detail: str, *, code: int | None = None) -> None:
        self._db.execute("INSERT INTO event_log (device, at, event, code, detail) VALUES (?, ?, ?, ?, ?)",
                         (str(eui), at.isoformat(), event, code, detail))  # fmt: skip

    def event_log(self, eui: EUI64, *, start: datetime | None = None, end: datetime | None = None,
                  coded: bool = False, newest: int | None = None) -> list[LogEntry]:  # fmt: skip
        """The device's event log, oldest first, filtered as ``security_log``."""
        where, parameters = _log_filter(eui, start, end, "code" if coded else None)
        rows = self._db.execute(f"SELECT * FROM (SELECT id, at, event, code, detail FROM event_log WHERE {where} "
                                "ORDER BY id DESC LIMIT ?) ORDER BY id", [*parameters, -1 if newest is None else newest])  # fmt: skip
        return [LogEntry(at, event, code, detail) for _, at, event, code, detail in rows]

    # -- registers -------------------------------------------------------------------------------

    def register(self, eui: EUI64, name: str, default: Any = None) -> Any:
        row = self._db.execute("SELECT value FROM register WHERE device = ? AND name = ?", (str(eui), name)).fetchone()
        return default if row is None else json.loads(row[0])

    def set_register(self, eui: EUI64, name: str, value: Any) -> None:
        self._db.execute("INSERT OR REPLACE INTO register VALUES (?, ?, ?)", (str(eui), name, json.dumps(value)))

    def kept_register(self, eui: EUI64, name: str, default: Any = None) -> Any:
        """A named value a reset for redeployment keeps (not consumer data)."""
        row = self._db.execute("SELECT value FROM kept_register WHERE device = ? AND name = ?", (str(eui), name)).fetchone()
        return default if row is None else json.loads(row[0])

    def set_kept_register(self, eui: EUI64, name: str, value: Any) -> None:
        """Set a kept named value; None removes it."""
        if value is None:
            self._db.execute("DELETE FROM kept_register WHERE device = ? AND name = ?", (str(eui), name))
        else:
            self._db.execute("INSERT OR REPLACE INTO kept_register VALUES (?, ?, ?)", (str(eui), name, json.dumps(value)))

    # -- future-dated commands and the outbox ----------------------------------------------------

    def schedule(self, eui: EUI64, due: datetime, frame: bytes) -> int:
        cursor = self._db.execute("INSERT INTO future_command (device, due, frame) VALUES (?, ?, ?)",
                                  (str(eui), due.isoformat(), frame))  # fmt: skip
        return int(cursor.lastrowid or 0)

    def scheduled(self, eui: EUI64) -> list[tuple[int, str, bytes]]:
        rows = self._db.execute("SELECT id, due, frame FROM future_command WHERE device = ? ORDER BY due, id", (str(eui),))
        return list(rows)

    def unschedule(self, command_id: int) -> None:
        self._db.execute("DELETE FROM future_command WHERE id = ?", (command_id,))

    def record_sent(self, eui: EUI64, at: datetime, kind: str, frame: bytes) -> int:
        cursor = self._db.execute("INSERT INTO outbox (device, at, kind, frame) VALUES (?, ?, ?, ?)",
                                  (str(eui), at.isoformat(), kind, frame))  # fmt: skip
        return int(cursor.lastrowid or 0)

    def outbox(self, eui: EUI64 | None = None, *, unsent_only: bool = False) -> list[tuple[int, str, str, bytes]]:
        """``(id, device, kind, frame)`` in the order they were queued."""
        query = "SELECT id, device, kind, frame FROM outbox WHERE 1 = 1"
        parameters: list[Any] = []
        if eui is not None:
            query += " AND device = ?"
            parameters.append(str(eui))
        if unsent_only:
            query += " AND sent = 0"
        return list(self._db.execute(query + " ORDER BY id", parameters))

    def unsent(self, *, after: int = 0, limit: int = 1000) -> list[tuple[int, str, bytes]]:
        """Every device's unsent frames, ``(id, device, frame)`` in the order queued, from the
        id after ``after``: what a fleet's shared WAN connection sends, a batch at a time."""
        return list(self._db.execute("SELECT id, device, frame FROM outbox WHERE sent = 0 AND id > ? ORDER BY id LIMIT ?",
                                     (after, limit)))  # fmt: skip

    def unsent_count(self) -> int:
        return int(self._db.execute("SELECT count(*) FROM outbox WHERE sent = 0").fetchone()[0])

    def mark_sent(self, outbox_id: int) -> None:
        self._db.execute("UPDATE outbox SET sent = 1 WHERE id = ?", (outbox_id,))

    def devices_with_register(self, name: str) -> list[str]:
        """The devices (EUI-64 text) whose register ``name`` holds a value other than null
        (registers are JSON text)."""
        return [row[0] for row in self._db.execute(
            "SELECT device FROM register WHERE name = ? AND value != 'null'", (name,))]  # fmt: skip
