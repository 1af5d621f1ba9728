"""The device model every emulated device shares: identity, credentials, trust anchor cells,
clock and durable state.

A ``Device`` is a thin view over its rows in the ``Store``: nothing that matters lives only
in memory, so a device loaded again after a restart (``Device.load``) is the same device.
What a device type adds — its COSEM objects or ZCL attributes and its use-case handlers — lives
in ``emulator/devices/<type>.py``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from gbcs.crypto import PrivateKey
from gbcs.errors import CertificateError
from gbcs.keystore import InMemoryKeyStore, KeyStore, KeyUsage
from gbcs.pki import describe_certificate, device_type_name, parse_device_type
from gbcs.types import EUI64, DeviceType, Role

from ..clock import Clock
from ..store import Store, Transaction
from .lifecycle import Event, next_state

__all__ = ["CELL_ROLES", "TOP_UP_CELL_ROLES", "Credentials", "Device", "Identity", "TrustAnchorCell", "cells_from_keystore"]

_METER_CELLS = frozenset({Role.ROOT, Role.RECOVERY, Role.SUPPLIER, Role.NETWORK_OPERATOR,
                          Role.ACCESS_CONTROL_BROKER, Role.TRANSITIONAL_CHANGE_OF_SUPPLIER})  # fmt: skip
# The remote-party roles whose trust anchor cells each device type holds. Our reading of GBCS,
# consistent with RTDS: the WAN provider's cell is the hub's (CS02b wanProviderByWanProvider
# targets the CHF), an ESME has no WAN provider cell (CS02a's ERROR case: trustAnchorNotFound),
# and the load controller replaces its cell on an ESME (CS02g).
CELL_ROLES: dict[DeviceType, frozenset[Role]] = {
    DeviceType.CHF: frozenset({Role.ROOT, Role.RECOVERY, Role.ACCESS_CONTROL_BROKER, Role.WAN_PROVIDER}),
    DeviceType.GPF: _METER_CELLS,
    DeviceType.GSME: _METER_CELLS,
    DeviceType.ESME: _METER_CELLS | {Role.LOAD_CONTROLLER},
    DeviceType.PPMID: frozenset({Role.ROOT, Role.RECOVERY, Role.SUPPLIER, Role.ACCESS_CONTROL_BROKER,
                                 Role.TRANSITIONAL_CHANGE_OF_SUPPLIER}),  # fmt: skip
    DeviceType.HCALCS: frozenset({Role.ROOT, Role.RECOVERY, Role.SUPPLIER, Role.ACCESS_CONTROL_BROKER,
                                  Role.TRANSITIONAL_CHANGE_OF_SUPPLIER}),  # fmt: skip
    DeviceType.IHD: frozenset(),  # HAN only: no remote party addresses a display
}
# The roles whose prepayment top-up cell (a second key-agreement certificate, for UTRNs: primer
# §8.7) each device type holds. RTDS replaces the supplier's on the ESME and the GPF (CS02b
# supplierBySupplier and its hand-over: cellUsage prePaymentTopUp) and reports the ESME's in
# CS02f; the GSME, which takes UTRNs (CS01b), is ours by analogy.
TOP_UP_CELL_ROLES: dict[DeviceType, frozenset[Role]] = {
    DeviceType.ESME: frozenset({Role.SUPPLIER}),
    DeviceType.GSME: frozenset({Role.SUPPLIER}),
    DeviceType.GPF: frozenset({Role.SUPPLIER}),
}
# A top-up cell's certificate is a column of its trust anchor cell, and the running firmware
# version (once CS06 changed it) part of the device's identity row: a reset for redeployment
# keeps both, as GBCS keeps a device's credentials and firmware (store schema version 2).


@dataclass(frozen=True, slots=True)
class Identity:
    """Who a device is. ``variant`` is the HAN/WAN variant (e.g. "single-band 2.4 GHz")."""

    eui: EUI64
    device_type: DeviceType
    manufacturer: str = "smets-emu"
    model: str = "emulated"
    firmware_version: str = "1.0.0"
    variant: str = ""

    @property
    def firmware_version_bytes(self) -> bytes:
        """The 4-byte firmware version GBCS reports (ECS52, CS08): 8 hex digits as written,
        or up to four dotted numbers, one byte each ("1.2.3" → 01 02 03 00)."""
        text = self.firmware_version.strip()
        if len(text) == 8 and all(c in "0123456789abcdefABCDEF" for c in text):
            return bytes.fromhex(text)
        parts = [int(part) & 0xFF for part in text.split(".")[:4] if part.isdigit()]
        return bytes(parts + [0] * (4 - len(parts)))

    def to_json(self) -> dict[str, str]:
        return {"manufacturer": self.manufacturer, "model": self.model,
                "firmware_version": self.firmware_version, "variant": self.variant}  # fmt: skip


@dataclass(frozen=True, slots=True)
class TrustAnchorCell:
    """A remote party the device trusts for one role: its entity identifier and certificates
    (GBCS keeps a digital-signature key for every role, a key-agreement key for some, and for
    the supplier a prepayment top-up key-agreement key, ``top_up``, where the device type
    holds that cell: ``TOP_UP_CELL_ROLES``)."""

    role: Role
    party: EUI64
    ds: x509.Certificate | None = None
    ka: x509.Certificate | None = None
    top_up: x509.Certificate | None = None


@dataclass(frozen=True, slots=True)
class Credentials:
    """The device's own key pairs: private keys (None where the store has none, as for RTDS
    devices) and certificates."""

    ds_key: PrivateKey | None = None
    ka_key: PrivateKey | None = None
    ds_certificate: x509.Certificate | None = None
    ka_certificate: x509.Certificate | None = None

    @classmethod
    def from_keystore(cls, keystore: KeyStore, eui: bytes) -> Credentials:
        return cls(keystore.private_key(eui, KeyUsage.DS), keystore.private_key(eui, KeyUsage.KA),
                   keystore.certificate(eui, KeyUsage.DS), keystore.certificate(eui, KeyUsage.KA))  # fmt: skip


def cells_from_keystore(keystore: KeyStore, parties: dict[Role, bytes] | None = None) -> dict[Role, TrustAnchorCell]:
    """Trust anchor cells from a key store: for each role, the party ``parties`` names, or else
    the store's first party with that role."""
    cells = {}
    for role in Role:
        party = (parties or {}).get(role)
        if party is None:
            candidates = keystore.parties_with_role(role)
            if not candidates:
                continue
            party = candidates[0]
        eui = EUI64(party)
        cells[role] = TrustAnchorCell(role, eui, keystore.certificate(eui, KeyUsage.DS),
                                      keystore.certificate(eui, KeyUsage.KA),
                                      keystore.certificate(eui, KeyUsage.PREPAYMENT_KA))  # fmt: skip
    return cells


@dataclass
class Device:
    """One emulated device. Build with ``Device.create`` (persists it) or ``Device.load``.

    ``peer_private_keys`` is for conformance replay only: RTDS holds no device key-agreement
    private keys, so a device built from RTDS cannot compute the ECDH secret of a MAC; given the
    remote parties' private keys, the same secret is computed from their side instead, and
    every outcome that relied on it says so (``Outcome.mac_from_peer``).
    """

    identity: Identity
    store: Store
    clock: Clock
    credentials: Credentials
    cells: dict[Role, TrustAnchorCell]
    lifecycle: str
    peer_private_keys: KeyStore | None = None
    # Replay only: accept a certification path whose Root OCA the Root cell does not hold
    # (RTDS holds no Root OCA certificate), noting it in the outcome.
    trust_path_without_root: bool = False
    # Where the device's alerts go once queued (its transport: the WAN for the hub, the
    # tunnel for a meter); None leaves them in the outbox.
    alert_sink: Callable[[bytes], None] | None = field(default=None, repr=False)
    # The hub's view of its HAN: when a device was last heard (set by the premises; None
    # where the device runs without a HAN, as in replay).
    han_last_heard: Callable[[EUI64], datetime | None] | None = field(default=None, repr=False)
    _keystore: InMemoryKeyStore | None = field(default=None, repr=False)
    # Set when a transaction changed what this object holds in memory (cells, credentials,
    # lifecycle): a rollback must then reload it (``reload``).
    changed_in_memory: bool = field(default=False, repr=False)
    clock_offset: timedelta = field(default=timedelta(0), repr=False)

    @property
    def eui(self) -> EUI64:
        return self.identity.eui

    @property
    def now(self) -> datetime:
        """The device's own time: the premises clock (the hub's time) plus the device's
        offset, which a clock-set command (ECS70, GCS28) changes."""
        return self.clock.now() + self.clock_offset

    def set_time(self, tx: Transaction, moment: datetime) -> None:
        """Set the device's clock to ``moment`` (durable with ``tx``)."""
        self.clock_offset = moment - self.clock.now()
        tx.set_register(self.eui, "clock.offset_seconds", self.clock_offset.total_seconds())
        tx.log_event(self.eui, self.now, "clock-set", moment.isoformat())
        self.changed_in_memory = True

    @classmethod
    def create(cls, store: Store, clock: Clock, identity: Identity, credentials: Credentials,
               cells: dict[Role, TrustAnchorCell], *, lifecycle: str = "pre-installed",
               peer_private_keys: KeyStore | None = None) -> Device:  # fmt: skip
        """Persist a new device and return it. Cells of roles its type does not hold
        (``CELL_ROLES``, ``TOP_UP_CELL_ROLES``) are left out."""
        top_up_roles = TOP_UP_CELL_ROLES.get(identity.device_type, frozenset())
        cells = {role: cell if role in top_up_roles else replace(cell, top_up=None)
                 for role, cell in cells.items() if role in CELL_ROLES[identity.device_type]}  # fmt: skip
        with store.transaction() as tx:
            tx.add_device(identity.eui, device_type_name(identity.device_type), identity.to_json(), lifecycle)
            _save_credentials(tx, identity.eui, credentials)
            for cell in cells.values():
                _save_cell(tx, identity.eui, cell)
        return cls(identity, store, clock, credentials, dict(cells), lifecycle, peer_private_keys)

    @classmethod
    def load(cls, store: Store, clock: Clock, eui: bytes, *, peer_private_keys: KeyStore | None = None) -> Device:
        """The device ``eui`` as its store holds it.

        Raises:
            KeyError: the store has no such device.
        """
        eui = EUI64(eui)
        read = store.read()
        row = read.device(eui)
        if row is None:
            raise KeyError(f"no device {eui} in the store")
        device_type, identity_json, lifecycle = row
        identity = Identity(eui, parse_device_type(device_type), **identity_json)
        credentials = _load_credentials(read, eui)
        cells = {Role(role): TrustAnchorCell(Role(role), party, _certificate(ds), _certificate(ka), _certificate(top_up))
                 for role, party, ds, ka, top_up in read.trust_anchors(eui)}  # fmt: skip
        device = cls(identity, store, clock, credentials, cells, lifecycle, peer_private_keys)
        device.clock_offset = timedelta(seconds=read.register(eui, "clock.offset_seconds", 0))
        return device

    def reload(self) -> None:
        """Read cells, credentials and lifecycle again from the store: after a transaction
        rolled back, what this object holds in memory may be ahead of what was committed."""
        fresh = Device.load(self.store, self.clock, self.eui)
        self.cells, self.credentials, self.lifecycle = fresh.cells, fresh.credentials, fresh.lifecycle
        self.identity = fresh.identity
        self.clock_offset = fresh.clock_offset
        self._keystore = None
        self.changed_in_memory = False

    def cell_of(self, party: bytes) -> TrustAnchorCell | None:
        """The cell that holds ``party``, if any. A party in several cells acts in the role its
        certificate names: at hand-over the Access Control Broker also holds the supplier's
        and network operator's cells (RTDS 6.21), yet remains the ACB."""
        holding = [cell for cell in self.cells.values() if cell.party == party]
        if len(holding) < 2:
            return holding[0] if holding else None  # the usual case: no certificate to read
        for cell in holding:
            if cell.ds is not None and _certificate_role(cell.ds) is cell.role:
                return cell
        return holding[0] if holding else None

    def keystore(self) -> InMemoryKeyStore:
        """The device's own keys and its cells' public keys, for the codec's checks."""
        if self._keystore is None:
            keystore = InMemoryKeyStore()
            for usage, key, certificate in (
                (KeyUsage.DS, self.credentials.ds_key, self.credentials.ds_certificate),
                (KeyUsage.KA, self.credentials.ka_key, self.credentials.ka_certificate),
            ):
                if certificate is not None:
                    keystore.add_certificate(self.eui, usage, certificate)
                if key is not None:
                    keystore.add_private_key(self.eui, usage, key)
            for cell in self.cells.values():
                for usage, certificate in ((KeyUsage.DS, cell.ds), (KeyUsage.KA, cell.ka)):
                    if certificate is not None:
                        keystore.add_certificate(cell.party, usage, certificate)
            self._keystore = keystore
        return self._keystore

    def keystore_with_peer(self, peer: bytes, ka_certificate: x509.Certificate) -> InMemoryKeyStore:
        """The device's own keys and one HAN peer's key-agreement certificate (a device
        commanding it over the HAN MACs with their two key-agreement pairs)."""
        keystore = InMemoryKeyStore()
        if self.credentials.ka_certificate is not None:
            keystore.add_certificate(self.eui, KeyUsage.KA, self.credentials.ka_certificate)
        if self.credentials.ka_key is not None:
            keystore.add_private_key(self.eui, KeyUsage.KA, self.credentials.ka_key)
        keystore.add_certificate(peer, KeyUsage.KA, ka_certificate)
        return keystore

    def replace_cell(self, tx: Transaction, cell: TrustAnchorCell) -> None:
        _save_cell(tx, self.eui, cell)
        self.cells[cell.role] = cell
        self._keystore = None
        self.changed_in_memory = True

    def replace_credential(self, tx: Transaction, usage: str, key: PrivateKey, certificate: x509.Certificate) -> None:
        """Install a new key pair and certificate for ``usage`` (``ds`` or ``ka``)."""
        tx.set_credential(self.eui, usage, _key_der(key), _der(certificate))
        if usage == "ds":
            self.credentials = Credentials(key, self.credentials.ka_key, certificate, self.credentials.ka_certificate)
        else:
            self.credentials = Credentials(self.credentials.ds_key, key, self.credentials.ds_certificate, certificate)
        self._keystore = None
        self.changed_in_memory = True

    def set_firmware_version(self, tx: Transaction, version: str) -> None:
        """Run firmware ``version`` from now on (CS06 activated it; durable with ``tx``). The
        version is identity, which a reset for redeployment keeps."""
        identity = replace(self.identity, firmware_version=version)
        tx.set_identity(self.eui, identity.to_json())
        tx.log_event(self.eui, self.now, "firmware-activated", f"{self.identity.firmware_version} -> {version}")
        self.identity = identity
        self.changed_in_memory = True

    def transition(self, tx: Transaction, event: Event) -> None:
        """Move through the lifecycle table (``lifecycle.py``); a reset for redeployment
        erases consumer data: registers, the event log, queued frames and future-dated
        commands. Identity (the firmware version), credentials, trust anchor cells, counters
        (a reset must not reopen replays), the security log and kept registers stay.

        Raises:
            IllegalTransition: the event is not possible in the current state.
        """
        state = next_state(self.lifecycle, event)
        if event is Event.RESET_FOR_REDEPLOYMENT:
            tx.erase_consumer_data(self.eui)
        tx.set_lifecycle(self.eui, state.value)
        tx.log_event(self.eui, self.now, "lifecycle", f"{self.lifecycle} -> {state.value} ({event.value})")
        self.lifecycle = state.value
        self.changed_in_memory = True


def _der(certificate: x509.Certificate | None) -> bytes | None:
    return None if certificate is None else certificate.public_bytes(serialization.Encoding.DER)


def _certificate_role(certificate: x509.Certificate) -> Role | None:
    try:
        return describe_certificate(certificate).role
    except CertificateError:
        return None


def _save_cell(tx: Transaction, eui: EUI64, cell: TrustAnchorCell) -> None:
    tx.set_trust_anchor(eui, cell.role, cell.party, _der(cell.ds), _der(cell.ka), _der(cell.top_up))


def _certificate(der: bytes | None) -> x509.Certificate | None:
    return None if der is None else x509.load_der_x509_certificate(der)


def _key_der(key: PrivateKey | None) -> bytes | None:
    if key is None:
        return None
    return key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())  # fmt: skip


def _save_credentials(tx: Transaction, eui: EUI64, credentials: Credentials) -> None:
    tx.set_credential(eui, "ds", _key_der(credentials.ds_key), _der(credentials.ds_certificate))
    tx.set_credential(eui, "ka", _key_der(credentials.ka_key), _der(credentials.ka_certificate))


def _load_credentials(tx: Transaction, eui: EUI64) -> Credentials:
    rows = tx.credentials(eui)

    def key(usage: str) -> PrivateKey | None:
        der = rows.get(usage, (None, None))[0]
        return None if der is None else serialization.load_der_private_key(der, password=None)  # type: ignore[return-value]

    return Credentials(key("ds"), key("ka"), _certificate(rows.get("ds", (None, None))[1]),
                       _certificate(rows.get("ka", (None, None))[1]))  # fmt: skip
