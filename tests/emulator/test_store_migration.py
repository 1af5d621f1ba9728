"""Opening a store file written by schema version 1: it is migrated in place, and what a reset
for redeployment must keep (the top-up cell, the firmware version and image, a pending key
pair) moves out of the registers a reset erases."""

from __future__ import annotations

import hashlib
import sqlite3
from pathlib import Path

import pytest

from emulator.clock import VirtualClock
from emulator.firmware.device import Device
from emulator.pki_store import PkiStore
from emulator.store import SCHEMA_VERSION, Store
from gbcs.types import EUI64, DeviceType, Role
from tests.emulator.firmware.v1_store import write_v1_store
from tests.emulator.helpers import NOW, make_pki

ESME = EUI64("00DB1234567890A0")
IMAGE = {"hash": hashlib.sha256(b"image 0123ABCE").hexdigest(), "version": "0123ABCE"}
PENDING_OLD_FORM = "30" * 4  # version 1 wrote the private key's PKCS#8 hex, a bare string


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> PkiStore:
    return make_pki(tmp_path_factory.mktemp("pki"), {ESME: DeviceType.ESME})


@pytest.fixture
def v1_file(pki: PkiStore, tmp_path: Path) -> Path:
    path = tmp_path / "v1.sqlite"
    write_v1_store(path, pki, ESME, DeviceType.ESME, registers={
        "firmware.version": "0123ABCE", "firmware.image": IMAGE, "credentials.pending.ka": PENDING_OLD_FORM,
        "credentials.pending.ds": None,  # what CS02d left behind once it installed a certificate
        "han.device_log": [{"eui": "00DB1234567890A4", "device_type": 3, "method": 3, "ka_certificate": None}],
    })  # fmt: skip
    return path


def test_a_version_1_file_is_migrated_to_the_current_schema(v1_file: Path) -> None:
    Store(v1_file).close()
    db = sqlite3.connect(v1_file)
    assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 3
    # Version 3: the tables firmware reads device by device are indexed by device.
    indexed = {table for table, columns in db.execute("SELECT tbl_name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL")
               if "(device" in columns}  # fmt: skip
    assert indexed == {"outbox", "event_log", "security_log", "future_command"}
    # No top-up cell is left among the device's own credentials.
    assert [usage for (usage,) in db.execute("SELECT usage FROM credential ORDER BY usage")] == ["ds", "ka"]


def test_the_top_up_cell_moves_into_its_trust_anchor_cell(v1_file: Path, pki: PkiStore) -> None:
    store = Store(v1_file)
    anchors = {role: top_up for role, _, _, _, top_up in store.read().trust_anchors(ESME)}
    supplier_top_up = pki.trust_anchor_cells()[Role.SUPPLIER].top_up
    assert supplier_top_up is not None
    device = Device.load(store, VirtualClock(NOW), ESME)
    assert device.cells[Role.SUPPLIER].top_up == supplier_top_up
    assert all(top_up is None for role, top_up in anchors.items() if role != Role.SUPPLIER)


def test_firmware_version_image_and_pending_key_leave_the_erasable_registers(v1_file: Path) -> None:
    store = Store(v1_file)
    read = store.read()
    assert read.device(ESME)[1]["firmware_version"] == "0123ABCE"
    assert Device.load(store, VirtualClock(NOW), ESME).identity.firmware_version_bytes == bytes.fromhex("0123ABCE")
    assert read.kept_register(ESME, "firmware.image") == IMAGE
    assert read.kept_register(ESME, "credentials.pending.ka") == PENDING_OLD_FORM  # its form kept as written
    assert read.kept_register(ESME, "credentials.pending.ds") is None  # a null was no key pair
    for name in ("firmware.version", "firmware.image", "credentials.pending.ka", "credentials.pending.ds"):
        assert read.register(ESME, name, "absent") == "absent"
    # Consumer data stays where it was.
    assert read.register(ESME, "han.device_log")[0]["eui"] == "00DB1234567890A4"


def test_a_version_1_file_without_a_firmware_register_keeps_the_factory_version(pki: PkiStore, tmp_path: Path) -> None:
    write_v1_store(tmp_path / "v1.sqlite", pki, ESME, DeviceType.ESME, registers={})
    assert Store(tmp_path / "v1.sqlite").read().device(ESME)[1]["firmware_version"] == "1.0.0"


def test_kept_registers_round_trip_and_none_removes() -> None:
    store = Store(":memory:")
    with store.transaction() as tx:
        tx.add_device(ESME, "esme", {}, "commissioned")
        tx.set_kept_register(ESME, "firmware.image", IMAGE)
    assert store.read().kept_register(ESME, "firmware.image") == IMAGE
    with store.transaction() as tx:
        tx.set_kept_register(ESME, "firmware.image", None)
    assert store.read().kept_register(ESME, "firmware.image", "gone") == "gone"
