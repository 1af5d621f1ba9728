"""A store file as schema version 1 wrote it (emulator/schema/v1.sql, read from the repository),
for tests that open one with today's code: the rows the version 1 firmware wrote for a device
provisioned from a PKI, written with plain SQL.

Version 1 kept a trust anchor cell's prepayment top-up certificate as a credential row of
usage ``top-up-cell.<role>`` (one per cell, NULL where the cell has none), the firmware version
CS06 activated in the register ``firmware.version``, the held image in ``firmware.image`` and
a pending key pair in ``credentials.pending.<usage>``: registers, which a reset erases.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from emulator.firmware.device import CELL_ROLES, TOP_UP_CELL_ROLES
from emulator.pki_store import PkiStore
from gbcs.keystore import KeyUsage
from gbcs.pki import device_type_name
from gbcs.types import EUI64, DeviceType

V1_SQL = Path(__file__).resolve().parents[3] / "emulator" / "schema" / "v1.sql"


def _der(certificate: x509.Certificate | None) -> bytes | None:
    return None if certificate is None else certificate.public_bytes(serialization.Encoding.DER)


def write_v1_store(path: Path, pki: PkiStore, eui: EUI64, device_type: DeviceType, *,
                   registers: dict[str, Any], lifecycle: str = "commissioned") -> None:  # fmt: skip
    """Write ``path`` as a version 1 store holding one device provisioned from ``pki``, with
    ``registers`` (name -> JSON value) as version 1 stored them."""
    keystore = pki.keystore()
    db = sqlite3.connect(path)
    db.executescript(V1_SQL.read_text())
    identity = {"manufacturer": "smets-emu", "model": "emulated", "firmware_version": "1.0.0", "variant": ""}
    db.execute("INSERT INTO device VALUES (?, ?, ?, ?, ?)",
               (str(eui), device_type_name(device_type), json.dumps(identity, sort_keys=True), lifecycle, f"{5:016X}"))  # fmt: skip
    for usage, key_usage in (("ds", KeyUsage.DS), ("ka", KeyUsage.KA)):
        key = keystore.private_key(eui, key_usage)
        key_der = key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption())  # fmt: skip
        db.execute("INSERT INTO credential VALUES (?, ?, ?, ?)", (str(eui), usage, key_der, _der(keystore.certificate(eui, key_usage))))
    top_up_roles = TOP_UP_CELL_ROLES.get(device_type, frozenset())
    for role, cell in pki.trust_anchor_cells().items():
        if role not in CELL_ROLES[device_type]:
            continue
        db.execute("INSERT INTO trust_anchor VALUES (?, ?, ?, ?, ?)", (str(eui), int(role), str(cell.party), _der(cell.ds), _der(cell.ka)))
        top_up = cell.top_up if role in top_up_roles else None
        db.execute("INSERT INTO credential VALUES (?, ?, ?, ?)", (str(eui), f"top-up-cell.{int(role)}", None, _der(top_up)))
        db.execute("INSERT INTO anti_replay VALUES (?, ?, ?)", (str(eui), str(cell.party), f"{40:016X}"))
    db.execute("INSERT INTO security_log (device, at, event, detail) VALUES (?, ?, ?, ?)",
               (str(eui), "2026-11-30T12:00:00+00:00", "key-pair-generated", "written by version 1"))  # fmt: skip
    for name, value in registers.items():
        db.execute("INSERT INTO register VALUES (?, ?, ?)", (str(eui), name, json.dumps(value)))
    db.execute("PRAGMA user_version = 1")
    db.commit()
    db.close()
