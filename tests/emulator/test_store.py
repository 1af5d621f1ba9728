"""The SQLite store: schema versions, atomic transactions, 64-bit counters, bad files."""

from __future__ import annotations

import sqlite3
from datetime import datetime, timezone
from pathlib import Path

import pytest

from emulator.errors import StoreError
from emulator.store import SCHEMA_VERSION, Store
from gbcs.types import EUI64

DEVICE = EUI64("00DB123456789001")
PARTY = EUI64("90B3D51F30010000")
AT = datetime(2026, 1, 1, tzinfo=timezone.utc)


def new_store(path: Path | str = ":memory:") -> Store:
    store = Store(path)
    with store.transaction() as tx:
        tx.add_device(DEVICE, "esme", {"model": "m"}, "commissioned")
    return store


def test_a_new_file_gets_the_current_schema(tmp_path: Path) -> None:
    new_store(tmp_path / "s.sqlite").close()
    db = sqlite3.connect(tmp_path / "s.sqlite")
    assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_a_raise_rolls_the_whole_transaction_back() -> None:
    store = new_store()
    with pytest.raises(RuntimeError), store.transaction() as tx:
        tx.accept_counter(DEVICE, PARTY, 5)
        tx.log_event(DEVICE, AT, "x", "y")
        raise RuntimeError("rejected")
    read = store.read()
    assert read.last_counter(DEVICE, PARTY) is None and read.event_log(DEVICE) == []


def test_counters_are_unsigned_64_bit() -> None:
    store = new_store()
    with store.transaction() as tx:
        tx.accept_counter(DEVICE, PARTY, 2**64 - 1)
        assert tx.next_own_counter(DEVICE) == 1
        assert tx.next_own_counter(DEVICE, at_least=2**63) == 2**63
        assert tx.next_own_counter(DEVICE) == 2**63 + 1
    assert store.read().last_counter(DEVICE, PARTY) == 2**64 - 1


def test_registers_logs_outbox_and_schedule_round_trip(tmp_path: Path) -> None:
    store = new_store(tmp_path / "s.sqlite")
    with store.transaction() as tx:
        tx.set_register(DEVICE, "balance", {"pence": -150})
        tx.log_security(DEVICE, AT, "replayed", "counter 3 <= 5", alert_code=0x8F53, originator=PARTY,
                        message_code=1, counter=3)  # fmt: skip
        first = tx.record_sent(DEVICE, AT, "response", b"\xdf\x09")
        tx.schedule(DEVICE, AT, b"\xdd\x00")
    store.close()
    store = Store(tmp_path / "s.sqlite")
    read = store.read()
    assert read.register(DEVICE, "balance") == {"pence": -150}
    assert read.register(DEVICE, "missing", 7) == 7
    entry = read.security_log(DEVICE)[0]
    assert (entry.event, entry.code, entry.originator, entry.counter) == ("replayed", 0x8F53, str(PARTY), 3)
    assert read.outbox(DEVICE, unsent_only=True) == [(first, str(DEVICE), "response", b"\xdf\x09")]
    with store.transaction() as tx:
        tx.mark_sent(first)
    assert store.read().outbox(unsent_only=True) == []
    assert [frame for _, _, frame in store.read().scheduled(DEVICE)] == [b"\xdd\x00"]


def test_a_file_that_is_not_a_store_is_a_clear_error(tmp_path: Path) -> None:
    garbage = tmp_path / "garbage.sqlite"
    garbage.write_bytes(b"this is not a database" * 100)
    with pytest.raises(StoreError, match="cannot open store"):
        Store(garbage)


def test_a_store_from_a_newer_version_is_refused(tmp_path: Path) -> None:
    new_store(tmp_path / "s.sqlite").close()
    db = sqlite3.connect(tmp_path / "s.sqlite")
    db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    db.commit()
    db.close()
    with pytest.raises(StoreError, match="schema version"):
        Store(tmp_path / "s.sqlite")


def test_a_log_is_read_by_time_range_and_code_in_the_database() -> None:
    from datetime import timedelta

    store = Store(":memory:")
    moment = datetime(2026, 12, 1, 12, 0, tzinfo=timezone.utc)
    with store.transaction() as tx:
        tx.add_device(DEVICE, "ESME", {}, "commissioned")
        for seconds, code in ((0, 1), (0.5, None), (59.75, 2), (60, 3), (3600, 4)):
            tx.log_event(DEVICE, moment + timedelta(seconds=seconds), "e", "", code=code)
            tx.log_security(DEVICE, moment + timedelta(seconds=seconds), "s", "", alert_code=code)
    read = store.read()
    minute = {"start": moment, "end": moment + timedelta(seconds=59, microseconds=999_999)}
    assert [entry.code for entry in read.event_log(DEVICE, **minute)] == [1, None, 2]
    assert [entry.code for entry in read.event_log(DEVICE, **minute, coded=True)] == [1, 2]
    assert [entry.code for entry in read.security_log(DEVICE, start=moment + timedelta(seconds=60), coded=True)] == [3, 4]
    assert len(read.event_log(DEVICE)) == 5
    assert [entry.code for entry in read.event_log(DEVICE, coded=True, newest=2)] == [3, 4]  # the newest, oldest first


def test_a_batch_commits_its_transactions_once_and_undoes_only_the_one_that_raised(tmp_path: Path) -> None:
    store = new_store(tmp_path / "s.sqlite")
    other = Store(tmp_path / "s.sqlite")  # another connection sees only what is committed
    with store.batch():
        with store.transaction() as tx:
            tx.accept_counter(DEVICE, PARTY, 5)
        with pytest.raises(RuntimeError), store.transaction() as tx:
            tx.log_event(DEVICE, AT, "undone", "raised")
            raise RuntimeError("rejected")
        with store.transaction() as tx:
            tx.log_event(DEVICE, AT, "kept", "after the one that raised")
        assert other.read().last_counter(DEVICE, PARTY) is None  # not yet committed
    assert other.read().last_counter(DEVICE, PARTY) == 5
    assert [entry.event for entry in other.read().event_log(DEVICE)] == ["kept"]


def test_a_batch_that_raises_keeps_nothing() -> None:
    store = new_store()
    with pytest.raises(RuntimeError), store.batch():
        with store.transaction() as tx:
            tx.accept_counter(DEVICE, PARTY, 5)
        raise RuntimeError("the batch fails")
    assert store.read().last_counter(DEVICE, PARTY) is None
    with store.transaction() as tx:  # and the store works as before
        tx.accept_counter(DEVICE, PARTY, 6)
    assert store.read().last_counter(DEVICE, PARTY) == 6


def test_a_batch_inside_a_transaction_is_refused() -> None:
    store = new_store()
    with pytest.raises(StoreError), store.transaction(), store.batch():
        pass
    with store.transaction() as tx:  # the store is usable afterwards
        tx.accept_counter(DEVICE, PARTY, 1)
    assert store.read().last_counter(DEVICE, PARTY) == 1
