"""The electricity meter (ESME): its place in the framework.

The ESME speaks DLMS COSEM (primer §7.2) from the objects below, served by
``firmware/cosem.py``; the DER use cases every device shares come from ``firmware/``. It has
its identity, firmware version and clock objects; registers, profiles and billing logs
computed from its load model (``esme_metering.py``); credits and debts that act
(``esme_prepayment.py``); event, security and occurrence logs; protected reads; and every
other object GBCS's ESME use cases address, kept as set from its factory state
(``esme_defaults.py``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from gbcs import zcl_se
from gbcs.catalogue import PayloadKind
from gbcs.cosem import OBJECTS
from gbcs.dlms import Data, DataType, Obis
from gbcs.errors import DecodeError
from gbcs.types import EUI64, DlmsDateTime, Role

from ..errors import LinkDown
from ..firmware.alerts import raise_dlms_alert, raise_generic_alert
from ..firmware.command import Command
from ..firmware.cosem import (
    OTHER_REASON,
    TYPE_UNMATCHED,
    AccessFailure,
    CosemObject,
    DataProtectionObject,
    LogObject,
    StoredObject,
    expect,
)
from ..firmware.device import Device
from ..firmware.executors import device_executor
from ..han.clusters import Messaging, Price
from ..han.node import HanNode
from ..store import Transaction
from . import esme_supply as load_switch
from .chf import FirmwareVersionObject, IdentityObject
from .esme_activation import arm_activations, run_due_activations, schedule_activations
from .esme_defaults import FACTORY_DEFAULTS
from .esme_metering import (
    BILLING_ON_CHANGE,
    MeteringProfile,
    MeteringRegister,
    RecordLog,
    RegisterCollection,
    SnapshotLog,
    change_snapshot,
    configure_metering,
    daily_consumption,
    daily_export_read,
    half_hour_export,
    half_hour_import,
    prepayment_snapshot,
    supply_interrupted,
    supply_resumed,
    tariff_snapshot,
    voltage_row,
)
from .esme_prepayment import PREPAYMENT_OBJECTS
from .esme_supply import LoadSwitchScripts

__all__ = ["ESME_OBJECTS", "arm_activations", "configure_metering", "execute", "run_due_activations", "mains_lost", "mains_restored", "publish_message", "publish_price",
           "tamper_detected"]


@dataclass
class DeviceIdObject(CosemObject):
    """0.0.96.1.1.255: the device's own EUI-64 (ECS26e in RTDS)."""

    def get(self, device: Device, tx: Transaction, attribute: int, selection: Data | None) -> Data:
        if attribute != 2:
            return super().get(device, tx, attribute, selection)
        return Data.octet_string(bytes(device.eui))


_NOT_SPECIFIED = b"\xff" * 9  # a date-time whose date and time are all wildcards


@dataclass
class ClockObject(CosemObject):
    """0.0.1.0.0.255, interface class 8 (ECS70): the meter's clock. A preset time with every
    field unspecified means "the hub's time" (the premises clock, which the meter keeps in
    step with over the HAN); ``adjust_to_preset_time`` sets the clock only if the hub's time
    lies inside the preset's validity interval (our reading; RTDS shows success only)."""

    def get(self, device: Device, tx: Transaction, attribute: int, selection: Data | None) -> Data:
        if attribute == 2:
            return Data.octet_string(DlmsDateTime.from_datetime(device.now).encode())
        if attribute == 4:
            return Data.integer(DataType.UINT8, 0)  # status: nothing invalid, doubtful or adjusted
        if attribute == 9:
            return Data.integer(DataType.ENUM, tx.register(device.eui, "clock.base", 5))
        return super().get(device, tx, attribute, selection)

    def set(self, device: Device, tx: Transaction, attribute: int, value: Data) -> None:
        if attribute != 9:
            return super().set(device, tx, attribute, value)
        tx.set_register(device.eui, "clock.base", expect(value, DataType.ENUM).value)

    def action(self, device: Device, tx: Transaction, method: int, parameter: Data) -> Data:
        if method == 5:  # preset_adjusting_time(preset time, validity start, validity end)
            members = expect(parameter, DataType.STRUCTURE).value
            if len(members) != 3 or any(member.type is not DataType.OCTET_STRING or len(member.value) != 12 for member in members):
                raise AccessFailure(TYPE_UNMATCHED, "preset_adjusting_time takes three 12-byte date-times")
            tx.set_register(device.eui, "clock.preset", [member.value.hex() for member in members])
            return Data.null()
        if method == 4:  # adjust_to_preset_time
            preset = tx.register(device.eui, "clock.preset")
            if preset is None:
                raise AccessFailure(OTHER_REASON, "no preset time")
            target, start, end = (bytes.fromhex(item) for item in preset)
            hub_now = device.clock.now()
            start_at, end_at = (_moment(value) for value in (start, end))
            if start_at is not None and end_at is not None and start_at <= hub_now <= end_at:
                device.set_time(tx, hub_now if target[:9] == _NOT_SPECIFIED else (_moment(target) or hub_now))
            tx.set_register(device.eui, "clock.preset", None)
            return Data.null()
        return super().action(device, tx, method, parameter)


def _moment(value: bytes):
    try:
        return DlmsDateTime.decode(value).to_datetime()
    except DecodeError:
        return None


_DAY = timedelta(days=1)
_U32, _U16 = DataType.UINT32, DataType.UINT16

# What the meter measures (esme_metering.py), its prepayment (esme_prepayment.py), its logs.
_MEASURING: list[CosemObject] = [
    MeteringRegister(3, Obis("1.0.1.8.0.255"), quantity="active_import"),
    MeteringRegister(3, Obis("1.0.2.8.0.255"), quantity="active_export"),
    MeteringRegister(3, Obis("1.0.3.8.0.255"), quantity="reactive_import"),
    MeteringRegister(3, Obis("1.0.4.8.0.255"), quantity="reactive_export"),
    RegisterCollection(1, Obis("0.0.94.44.34.10"), collection="import"),
    RegisterCollection(1, Obis("0.0.94.44.34.1"), collection="tou"),
    RegisterCollection(1, Obis("0.0.94.44.34.2"), collection="blocks"),
    MeteringProfile(7, Obis("0.0.99.1.0.255"), row=half_hour_import, capacity=396 * _DAY),  # 13 months
    MeteringProfile(7, Obis("0.0.99.1.1.255"), row=half_hour_export, capacity=92 * _DAY),  # 3 months
    MeteringProfile(7, Obis("0.0.99.1.3.255"), period="day", row=daily_consumption, capacity=731 * _DAY),
    MeteringProfile(7, Obis("0.0.98.1.9.255"), period="day", row=tariff_snapshot, capacity=31 * _DAY),
    MeteringProfile(7, Obis("0.0.98.1.10.255"), period="day", row=daily_export_read, capacity=31 * _DAY),
    MeteringProfile(7, Obis("0.0.98.1.0.255"), period="month", row=tariff_snapshot, capacity=366 * _DAY),
    MeteringProfile(7, Obis("0.0.98.1.1.255"), period="month", row=prepayment_snapshot, capacity=366 * _DAY),
    SnapshotLog(7, Obis("0.0.98.1.2.255"), row=change_snapshot, register=BILLING_ON_CHANGE),
    MeteringProfile(7, Obis("1.0.32.24.0.255"), row=voltage_row(1), capacity=92 * _DAY, settable_period=True),
    MeteringProfile(7, Obis("1.0.52.24.0.255"), row=voltage_row(2), capacity=92 * _DAY, polyphase=True, settable_period=True),
    MeteringProfile(7, Obis("1.0.72.24.0.255"), row=voltage_row(3), capacity=92 * _DAY, polyphase=True, settable_period=True),
    LoadSwitchScripts(9, Obis("0.0.10.0.106.255")),
    RecordLog(7, Obis("0.0.98.1.4.255"), register="esme.debt_payments"),
    RecordLog(7, Obis("0.0.99.98.20.255"), register="esme.boost_log"),
    RecordLog(7, Obis("0.17.99.98.2.255"), register="esme.alcs_log", columns=(_U32, _U16, DataType.ENUM, _U32)),
    LogObject(7, Obis("0.0.99.98.0.255")),
    LogObject(7, Obis("0.0.99.98.1.255"), security=True),
    *(DataProtectionObject(30, Obis(f"0.0.43.2.{n}.255")) for n in range(2, 11)),
    *PREPAYMENT_OBJECTS,
]
_OWN = {(8, "0.0.1.0.0.255"), (1, "0.0.96.1.1.255"), (1, "0.0.96.1.2.255"), (1, "0.0.96.1.4.255"),
        (1, "0.0.96.1.6.255"), (1, "0.0.0.2.1.255"),
        *((item.class_id, str(item.instance)) for item in _MEASURING)}  # fmt: skip
_HUB_ONLY = ("0.0.30.3.", "0.0.94.44.10.")  # the CHF's device logs and sub-GHz objects


def _stored_objects() -> list[CosemObject]:
    """Every other object GBCS's ESME use cases address (``gbcs.cosem.OBJECTS``, and the
    phase 2 and 3 voltage thresholds of a polyphase meter): kept as set, from the factory
    defaults."""
    addresses = {*OBJECTS, *((1, f"1.0.{phase}.{kind}.0.4") for phase in (52, 72) for kind in (31, 35))}
    return [StoredObject(class_id, Obis(obis), defaults=FACTORY_DEFAULTS.get((class_id, obis), {}))
            for (class_id, obis) in sorted(addresses)
            if (class_id, obis) not in _OWN and not obis.startswith(_HUB_ONLY)]  # fmt: skip


ESME_OBJECTS: list[CosemObject] = [
    ClockObject(8, Obis("0.0.1.0.0.255")),
    DeviceIdObject(1, Obis("0.0.96.1.1.255")),
    IdentityObject(1, Obis("0.0.96.1.2.255"), field="variant"),
    IdentityObject(1, Obis("0.0.96.1.4.255"), field="model"),
    IdentityObject(1, Obis("0.0.96.1.6.255"), field="manufacturer"),
    FirmwareVersionObject(1, Obis("0.0.0.2.1.255")),
    *_MEASURING,
    *_stored_objects(),
]


# DLMS use cases from the objects above; the security credentials use cases every device shares.
_serve = device_executor("ESME", ESME_OBJECTS)


def execute(device: Device, tx: Transaction, command: Command) -> bytes:
    """Serve the command; a DLMS command's future-dated activations are kept (or applied)."""
    response = _serve(device, tx, command)
    if command.use_case.payload is PayloadKind.DLMS:
        schedule_activations(device, tx, command, response)
    return response


def publish_message(node: HanNode, displays: list[EUI64], message_id: int, text: str, *, start_time: int = 0,
                    duration_in_minutes: int = 0xFFFF) -> None:  # fmt: skip
    """Send a message to the consumer to every display (ZSE Messaging DisplayMessage; a start
    time of 0 means now, a duration of 0xFFFF until changed). A display out of reach misses it."""
    for display in displays:
        try:
            node.send(display, Messaging, "display_message", to_client=True, message_id=message_id, message_control=0,
                      start_time=start_time, duration_in_minutes=duration_in_minutes,
                      message=zcl_se.Octets(text.encode("latin-1")))  # fmt: skip
        except LinkDown:
            continue


def publish_price(node: HanNode, displays: list[EUI64], *, price: int, trailing_digits: int = 2, currency: int = 826,
                  rate_label: str = "STANDARD", issuer_event_id: int = 1, now: int = 0) -> None:  # fmt: skip
    """Publish the current price to every display (ZSE Price PublishPrice: ``price`` in units of
    10^-``trailing_digits`` of the currency, ISO 4217 826 = GBP, per kWh)."""
    for display in displays:
        try:
            node.send(display, Price, "publish_price", to_client=True, provider_id=0, rate_label=zcl_se.Octets(rate_label.encode()),
                      issuer_event_id=issuer_event_id, current_time=now, unit_of_measure=0, currency=currency,
                      price_trailing_digit_and_price_tier=trailing_digits << 4 | 1,
                      number_of_price_tiers_and_register_tier=0x11, start_time=0, duration_in_minutes=0xFFFF, price=price)  # fmt: skip
        except LinkDown:
            continue


# -- supply outages (ECS80) -------------------------------------------------------------------

SUPPLY_RESTORED, SUPPLY_RESTORED_AFTER_LONG_OUTAGE = 0x8F35, 0x8F36
LONG_OUTAGE = timedelta(minutes=3)  # GBCS's three-minute rule
OUTAGE_ALERT_ROLES = (Role.NETWORK_OPERATOR, Role.SUPPLIER)  # who hears of a restoration, in this order
_OUTAGE = load_switch.MAINS_LOST


def mains_lost(device: Device, tx: Transaction) -> None:
    """The meter loses its mains supply: it remembers when (durably, as its NVM would)."""
    if tx.register(device.eui, _OUTAGE) is None:
        tx.set_register(device.eui, _OUTAGE, device.now.isoformat())
        supply_interrupted(tx, device)
        tx.log_event(device.eui, device.now, "supply-lost", "mains supply lost")


def mains_restored(device: Device, tx: Transaction) -> list[bytes]:
    """The supply returns: the meter alerts the network operator and the supplier (ECS80,
    0x0067), one alert each with its own counter — 8F36 after an outage of three minutes or
    more, 8F35 after a shorter one — with the outage's start and end, as RTDS's ECS80 alert
    (to the network operator) carries them. Returns the alerts (none: there was no outage).

    RTDS records the alert to the network operator only; the supplier is told too because
    both are accountable for the consumer's supply (we chose; see README, "Power outages")."""
    started = tx.register(device.eui, _OUTAGE)
    if started is None:
        return []
    tx.set_register(device.eui, _OUTAGE, None)
    if load_switch.is_closed(device, tx):
        supply_resumed(tx, device)
    start = datetime.fromisoformat(started)
    code = SUPPLY_RESTORED_AFTER_LONG_OUTAGE if device.now - start >= LONG_OUTAGE else SUPPLY_RESTORED
    tx.log_event(device.eui, device.now, "supply-restored", f"after {device.now - start}", code=code)
    recipients = [device.cells[role].party for role in OUTAGE_ALERT_ROLES if role in device.cells]
    return [raise_dlms_alert(device, tx, recipient, 0x0067, code,
                             Data.octet_string(DlmsDateTime.from_datetime(start).encode()),
                             Data.octet_string(DlmsDateTime.from_datetime(device.now).encode()))  # fmt: skip
            for recipient in recipients]


# -- tamper --------------------------------------------------------------------------------------

UNAUTHORISED_PHYSICAL_ACCESS = 0x8F3F


def tamper_detected(device: Device, tx: Transaction) -> bytes | None:
    """The meter's cover is opened: it logs the event and alerts the supplier with the generic
    critical alert 8F3F, "unauthorised physical access - tamper detect" (None: no supplier)."""
    tx.log_event(device.eui, device.now, "tamper", "unauthorised physical access", code=UNAUTHORISED_PHYSICAL_ACCESS)
    return raise_generic_alert(device, tx, UNAUTHORISED_PHYSICAL_ACCESS)
