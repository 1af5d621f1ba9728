"""The Communications Hub Function: its COSEM objects and the use cases it serves.

The CHF speaks DLMS COSEM to the WAN (primer §7.2). Its objects, as RTDS addresses them:

=====================  =====  =================================================================
OBIS                   class  what
=====================  =====  =================================================================
0.0.30.3.0.255         104    CHF device log (ZigBee network control): joining, join timeout,
                              active devices; register, unregister, backup and restore (CCS01,
                              CCS02, CCS03, CCS05/CCS04, CCS06, CCS07)
0.0.30.3.1.255         104    a second device log that CCS07 backs up alongside (in RTDS it
                              holds the GPF and a PPMID); its GBCS name is unconfirmed
0.0.99.98.0.255        7      CHF event log (ECS35c)
0.0.99.98.1.255        7      CHF security log (ECS35d)
0.0.96.1.4.255         1      model type (ECS26n)
0.0.96.1.6.255         1      manufacturer identifier (ECS26n)
0.0.0.2.1.255          1      firmware version (ECS52)
0.0.94.44.10.0         1      sub-GHz configuration (DBCH03, DBCH04)
0.0.94.44.10.1         1      sub-GHz channel scan request (DBCH05)
0.0.94.44.10.2         1      operating sub-GHz channel (DBCH01)
=====================  =====  =================================================================

Device log state lives in registers of the store, so it survives restarts. A join's link key
is derived from its install code by ZigBee's AES-MMO hash (zigpy's ``aes_mmo_hash``); RTDS's
CCS03/CCS07 keys are test values not derived from its CCS01 install code.

CS02a and CS02b are served by ``emulator/firmware/credentials.py``. Not yet served: the other
DER use cases, and the alerts that follow a command (DBCH09 after DBCH04).
"""

from __future__ import annotations

from dataclasses import dataclass

from zigpy.util import aes_mmo_hash

from gbcs.dlms import BitString, Data, DataType, Obis, decode_data, encode_data
from gbcs.reader import Reader
from gbcs.types import EUI64, DlmsDateTime

from ..firmware.cosem import (
    OTHER_REASON,
    TYPE_UNMATCHED,
    AccessFailure,
    CosemObject,
    LogObject,
    expect,
)
from ..firmware.device import Device
from ..firmware.executors import device_executor
from ..store import Transaction

__all__ = ["CHF_OBJECTS", "DeviceLogEntry", "add_to_device_log", "device_log", "execute"]

_U8, _U16, _I8 = DataType.UINT8, DataType.UINT16, DataType.INT8


@dataclass(frozen=True, slots=True)
class DeviceLogEntry:
    eui: EUI64
    device_type: int | None  # GBCS DeviceType code; None when restored from a backup
    link_key: bytes

    def to_json(self) -> dict:
        return {"eui": str(self.eui), "device_type": self.device_type, "link_key": self.link_key.hex().upper()}

    @classmethod
    def from_json(cls, value: dict) -> DeviceLogEntry:
        return cls(EUI64(value["eui"]), value["device_type"], bytes.fromhex(value["link_key"]))


def device_log(tx: Transaction, device: Device, log: str = "chf.device_log") -> list[DeviceLogEntry]:
    return [DeviceLogEntry.from_json(entry) for entry in tx.register(device.eui, log, [])]


def add_to_device_log(tx: Transaction, device: Device, eui: EUI64, device_type: int, install_code: bytes,
                      *, log: str = "chf.device_log") -> None:  # fmt: skip
    """Put a device on a CHF device log (replacing an entry for the same EUI-64), with the link
    key ZigBee derives from its install code."""
    entry = DeviceLogEntry(EUI64(eui), device_type, aes_mmo_hash(install_code).serialize())
    _save_log(tx, device, log, [item for item in device_log(tx, device, log) if item.eui != entry.eui] + [entry])
    tx.log_event(device.eui, device.now, "device-log-added", f"{entry.eui} type {device_type}")


def _save_log(tx: Transaction, device: Device, log: str, entries: list[DeviceLogEntry]) -> None:
    tx.set_register(device.eui, log, [entry.to_json() for entry in entries])


def _eui(value: Data) -> EUI64:
    expect(value, DataType.OCTET_STRING)
    if len(value.value) != 8:
        raise AccessFailure(OTHER_REASON, f"an EUI-64 is 8 bytes, not {len(value.value)}")
    return EUI64(value.value)


@dataclass
class DeviceLogObject(CosemObject):
    """ZigBee network control (class 104) holding a device log."""

    log: str = "chf.device_log"

    def get(self, device: Device, tx: Transaction, attribute: int, selection: Data | None) -> Data:
        if attribute == 2:
            return Data.boolean(tx.register(device.eui, f"{self.log}.joining", False))
        if attribute == 3:
            return Data.integer(_U16, tx.register(device.eui, f"{self.log}.join_timeout", 0))
        if attribute == 4:
            return Data.array(*(_active_device(device, entry) for entry in device_log(tx, device, self.log)))
        return super().get(device, tx, attribute, selection)

    def set(self, device: Device, tx: Transaction, attribute: int, value: Data) -> None:
        if attribute == 2:
            tx.set_register(device.eui, f"{self.log}.joining", bool(expect(value, DataType.BOOLEAN).value))
        elif attribute == 3:
            tx.set_register(device.eui, f"{self.log}.join_timeout", expect(value, _U16).value)
        else:
            super().set(device, tx, attribute, value)

    def action(self, device: Device, tx: Transaction, method: int, parameter: Data) -> Data:
        entries = device_log(tx, device, self.log)
        if method == 1:  # register_device: structure(EUI-64, device type, install code, enum)
            members = expect(parameter, DataType.STRUCTURE).value
            if len(members) < 3:
                raise AccessFailure(OTHER_REASON, "register_device needs EUI-64, device type and install code")
            eui, install_code = _eui(members[0]), expect(members[2], DataType.OCTET_STRING).value
            add_to_device_log(tx, device, eui, expect(members[1], DataType.ENUM).value, install_code, log=self.log)
            return Data.null()
        if method == 2:  # unregister_device(EUI-64)
            eui = _eui(parameter)
            if all(entry.eui != eui for entry in entries):
                raise AccessFailure(OTHER_REASON, f"{eui} is not on the device log")
            _save_log(tx, device, self.log, [entry for entry in entries if entry.eui != eui])
            tx.log_event(device.eui, device.now, "device-log-removed", str(eui))
            return Data.null()
        if method == 4:  # backup_pan: (date-time, extended PAN id, [(EUI-64, link key)])
            return Data.structure(
                Data.octet_string(DlmsDateTime.from_datetime(device.now).encode()),
                Data.octet_string(bytes(_extended_pan_id(tx, device))),
                Data.array(*(Data.structure(Data.octet_string(bytes(entry.eui)), Data.octet_string(entry.link_key))
                             for entry in entries)),  # fmt: skip
            )
        if method == 5:  # restore_pan: (extended PAN id, [(EUI-64, link key)])
            members = expect(parameter, DataType.STRUCTURE).value
            if len(members) != 2:
                raise AccessFailure(OTHER_REASON, "restore_pan needs the extended PAN id and the devices")
            pan_id = expect(members[0], DataType.OCTET_STRING).value
            restored = []
            for item in expect(members[1], DataType.ARRAY).value:
                pair = expect(item, DataType.STRUCTURE).value
                if len(pair) != 2:
                    raise AccessFailure(OTHER_REASON, "each restored device is (EUI-64, link key)")
                known = {entry.eui: entry.device_type for entry in entries}
                eui = _eui(pair[0])
                restored.append(DeviceLogEntry(eui, known.get(eui), expect(pair[1], DataType.OCTET_STRING).value))
            tx.set_register(device.eui, "chf.extended_pan_id", pan_id.hex().upper())
            _save_log(tx, device, self.log, restored)
            tx.log_event(device.eui, device.now, "device-log-restored", f"{len(restored)} devices")
            return Data.null()
        return super().action(device, tx, method, parameter)


def _extended_pan_id(tx: Transaction, device: Device) -> bytes:
    # The CHF forms the HAN; its extended PAN id defaults to its own EUI-64 (we chose).
    return bytes.fromhex(tx.register(device.eui, "chf.extended_pan_id", str(device.eui)))


def _active_device(device: Device, entry: DeviceLogEntry) -> Data:
    """One device log entry with its HAN communication statistics, in CCS06's shape in RTDS:
    EUI-64, status flags, three signal levels, three counters, last communication, five
    counters. The last communication is what the HAN saw (``Device.han_last_heard``;
    unspecified if never heard); the simulated HAN has no radio signal or retry statistics, so
    the other fields hold constant values (RTDS does not say what they mean field by field)."""
    heard = None if device.han_last_heard is None else device.han_last_heard(entry.eui)
    last = DlmsDateTime.from_datetime(heard).encode() if heard is not None else b"\xff" * 9 + b"\x80\x00\xff"
    return Data.structure(
        Data.octet_string(bytes(entry.eui)),
        Data(DataType.BIT_STRING, BitString(8, b"\x80")),
        Data.integer(_I8, -40), Data.integer(_I8, -50), Data.integer(_I8, -90),
        Data.integer(_U8, 0), Data.integer(_U8, 0), Data.integer(_U8, 0),
        Data.octet_string(last),
        Data.integer(_U8, 0), Data.integer(_U8, 0), Data.integer(_U8, 100), Data.integer(_U8, 0), Data.integer(_U8, 0),
    )  # fmt: skip


@dataclass
class ValueObject(CosemObject):
    """A data object (class 1) whose value (attribute 2) is stored as encoded A-XDR in a
    register, with a default and, if settable, the shape a set must have."""

    register: str = ""
    default: Data = Data.null()
    settable: bool = False
    readable: bool = True

    def get(self, device: Device, tx: Transaction, attribute: int, selection: Data | None) -> Data:
        if attribute != 2 or not self.readable:
            return super().get(device, tx, attribute, selection)
        stored = tx.register(device.eui, self.register)
        return self.default if stored is None else decode_data(Reader(bytes.fromhex(stored)))

    def set(self, device: Device, tx: Transaction, attribute: int, value: Data) -> None:
        if attribute != 2 or not self.settable:
            return super().set(device, tx, attribute, value)
        if _shape(value) != _shape(self.default):
            raise AccessFailure(TYPE_UNMATCHED, "the value does not have the object's type")
        tx.set_register(device.eui, self.register, encode_data(value).hex().upper())
        tx.log_event(device.eui, device.now, "value-set", f"{self.instance} = {value.to_json()}")


def _shape(value: Data) -> object:
    if value.type in (DataType.STRUCTURE, DataType.ARRAY):
        return (value.type, tuple(_shape(member) for member in value.value))
    return value.type


@dataclass
class IdentityObject(CosemObject):
    """Model type or manufacturer identifier, from the device's identity."""

    field: str = "model"

    def get(self, device: Device, tx: Transaction, attribute: int, selection: Data | None) -> Data:
        if attribute != 2:
            return super().get(device, tx, attribute, selection)
        return Data.octet_string(getattr(device.identity, self.field).encode("latin-1", "replace"))


@dataclass
class FirmwareVersionObject(CosemObject):
    """0.0.0.2.1.255: the firmware version, 4 bytes (ECS52 reads it from the ESME or the hub)."""

    def get(self, device: Device, tx: Transaction, attribute: int, selection: Data | None) -> Data:
        if attribute != 2:
            return super().get(device, tx, attribute, selection)
        return Data.octet_string(device.identity.firmware_version_bytes)


def _sub_ghz_configuration() -> Data:
    # The shape of DBCH03/DBCH04's sub-GHz configuration in RTDS (four channel bit-strings and
    # eleven limits); the values are our defaults.
    channel = lambda n: Data(DataType.BIT_STRING, BitString(32, bytes((0xE0 + 8 * n, 0, 0, 1))))  # noqa: E731
    return Data.structure(
        channel(0), channel(1), channel(2), channel(3),
        Data.integer(_U16, 100), Data.integer(_U16, 150), Data.integer(_U8, 3), Data.integer(_U16, 5),
        Data.integer(_U8, 5), Data.integer(_U8, 8), Data.integer(_U16, 4000), Data.integer(_U8, 100),
        Data.integer(_U16, 60), Data.integer(_U16, 3600), Data.integer(_U16, 1800),
    )  # fmt: skip


CHF_OBJECTS: list[CosemObject] = [
    DeviceLogObject(104, Obis("0.0.30.3.0.255")),
    DeviceLogObject(104, Obis("0.0.30.3.1.255"), log="chf.device_log.1"),
    LogObject(7, Obis("0.0.99.98.0.255")),
    LogObject(7, Obis("0.0.99.98.1.255"), security=True),
    IdentityObject(1, Obis("0.0.96.1.4.255"), field="model"),
    IdentityObject(1, Obis("0.0.96.1.6.255"), field="manufacturer"),
    FirmwareVersionObject(1, Obis("0.0.0.2.1.255")),
    ValueObject(1, Obis("0.0.94.44.10.0"), register="chf.sub_ghz_configuration",
                default=_sub_ghz_configuration(), settable=True),
    ValueObject(1, Obis("0.0.94.44.10.1"), register="chf.sub_ghz_scan_request",
                default=Data.integer(_U8, 0), settable=True, readable=False),
    ValueObject(1, Obis("0.0.94.44.10.2"), register="chf.sub_ghz_channel",
                default=Data(DataType.BIT_STRING, BitString(32, b"\xe0\x00\x00\x01"))),
]  # fmt: skip


# DLMS use cases from the objects above; the security credentials use cases every device shares.
execute = device_executor("CHF", CHF_OBJECTS)
