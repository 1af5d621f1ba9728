"""What the emulator tests share: a moment to start clocks at, the default test PKI's
parties by role, and a PKI store with the devices a test needs."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

from emulator.clock import VirtualClock
from emulator.firmware.device import Credentials, Device, Identity
from emulator.pki_store import DEFAULT_PARTIES, PkiStore
from emulator.store import Store
from gbcs.types import EUI64, DeviceType

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=timezone.utc)
PARTIES = {party.role: party.eui for party in DEFAULT_PARTIES}


def make_pki(directory: Path, devices: dict[EUI64, DeviceType]) -> PkiStore:
    """A test PKI valid from the day before ``NOW``, with credentials for ``devices``."""
    store = PkiStore.create(directory / "store", now=NOW - timedelta(days=1))
    for eui, device_type in devices.items():
        store.issue_device(eui, device_type)
    return store


def make_device(pki: PkiStore, eui: EUI64, device_type: DeviceType, directory: Path) -> Device:
    """A device provisioned from ``pki`` (its credentials, the PKI's cells), with its own
    store file in ``directory`` and a virtual clock at ``NOW``."""
    return Device.create(Store(directory / f"{eui}.sqlite"), VirtualClock(NOW), Identity(eui, device_type),
                         Credentials.from_keystore(pki.keystore(), eui), pki.trust_anchor_cells())  # fmt: skip
