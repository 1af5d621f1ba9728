"""Future-dated activation on the electricity meter: passive values that become active at a
date-time the command sets.

A DLMS command is future-dated through its payload, not its header: it sets an object's
passive copy and an activation date-time — a GBCS extended data object's
``activate_passive_value_time`` (class 9000, attribute 6), an activity calendar's
``activate_passive_calendar_time`` (class 20, attribute 10), a charge's
``unit_charge_activation_time`` (class 113, attribute 7), a passive account's activation time
(class 111 on 0.1.19.0.0.255, attribute 13). A time not yet reached is kept (register
``esme.activations``) with the command's message code and counter; when the meter's clock
reaches it the passive values become active and the meter tells the command's originator
with a future-dated outcome alert (0x00CC, 8F66) naming the command and the activation
attribute, one alert per activation attribute, as RTDS's ECS01a, ECS02, ECS03 and ECS08
alerts show. RTDS's IMMEDIATE commands set the date-time all zero (with deviation
unspecified): that, or a time already passed, activates at once, with no alert; a date-time
of all wildcards (FF) cancels what was pending for that attribute.
"""

from __future__ import annotations

from datetime import datetime

from gbcs.dlms import AccessRequest, AccessResponse, Data, DataType, Obis, RequestKind, decode_apdu
from gbcs.errors import DecodeError
from gbcs.types import DlmsDateTime

from ..firmware.alerts import raise_dlms_alert
from ..firmware.command import Command
from ..firmware.cosem import AccessFailure, CosemObject
from ..firmware.device import Device
from ..store import Transaction
from .esme_metering import record_billing_on_change
from .esme_prepayment import arm_disablement, settle

__all__ = ["FUTURE_DATED_OUTCOME", "arm_activations", "run_due_activations", "schedule_activations"]

FUTURE_DATED_OUTCOME, EXECUTED = 0x00CC, 0x8F66
_PENDING = "esme.activations"

# (class, activation attribute) -> (passive attribute, active attribute) pairs copied on the object itself
_OWN_COPIES = {
    (9000, 6): ((4, 2), (5, 3)),
    (20, 10): ((6, 2), (7, 3), (8, 4), (9, 5)),
    (113, 7): ((6, 5),),
    (111, 13): (),  # the passive account is a separate object (below)
}
# activation objects that activate a passive table elsewhere: (class, passive OBIS, active OBIS, attributes)
_LINKED = {
    "0.0.94.44.128.29": ((11, "0.1.11.0.0.255", "0.0.11.0.0.255", (2,)),),  # tariff special days
    "0.0.94.44.128.30": ((11, "0.1.11.0.1.255", "0.0.11.0.1.255", (2,)),),  # secondary element special days
    "0.0.94.44.128.31": ((11, "0.1.11.0.2.255", "0.0.11.0.2.255", (2,)),),  # non-disablement special days
    "0.0.94.44.128.35": ((11, "0.1.11.0.3.255", "0.0.11.0.3.255", (2,)),),  # ALCS special days
    "0.0.94.44.128.28": ((10, "0.1.12.0.1.255", "0.0.12.0.1.255", (2,)),),  # non-disablement calendar
    "0.0.94.44.128.26": ((10, "0.1.12.0.2.255", "0.0.12.0.2.255", (2,)),),  # ALCS calendar
    "0.1.19.0.0.255": ((111, "0.1.19.0.0.255", "0.0.19.0.0.255", (2, 11)),),  # payment mode and its credit/charge configuration
    # block tariff thresholds of rates 1-8 (register monitors), with ECS01a's threshold activation time
    "0.0.63.1.1.255": tuple((21, f"0.0.16.1.{rate}.255", f"0.0.16.0.{rate}.255", (2,)) for rate in range(11, 19)),
}


def schedule_activations(device: Device, tx: Transaction, command: Command, response: bytes) -> None:
    """After a DLMS command ran: keep (or apply, or cancel) each activation it set."""
    try:
        request, answer = decode_apdu(command.frame.content), decode_apdu(response)
    except DecodeError:
        return
    if not isinstance(request, AccessRequest) or not isinstance(answer, AccessResponse):
        return
    pending = tx.register(device.eui, _PENDING, [])
    for specification, value, result in zip(request.specifications, request.data, answer.results, strict=False):
        key = (specification.class_id, specification.member)
        if specification.kind is not RequestKind.SET or result.result != 0 or key not in _OWN_COPIES:
            continue
        target = [specification.class_id, str(specification.instance), specification.member]
        pending = [entry for entry in pending if entry["target"] != target]  # a newer time replaces an older
        when = _when(value)
        if when is None:
            continue  # every field a wildcard (or no date-time at all): cancelled
        if when is _NOW or when <= device.now:
            _activate(device, tx, target)
            continue
        due = when
        pending.append({"due": due.isoformat(), "target": target, "originator": str(command.frame.originator),
                        "message_code": command.frame.other_information.message_code,
                        "counter": command.frame.originator_counter})  # fmt: skip
        device.clock.call_at(due - device.clock_offset, lambda: run_due_activations(device))
    tx.set_register(device.eui, _PENDING, sorted(pending, key=lambda entry: entry["due"]))


def arm_activations(device: Device) -> int:
    """Arm a timer for every pending activation, and prepayment's disablement (after a
    restart)."""
    with device.store.transaction() as tx:
        arm_disablement(device, tx)
    pending = device.store.read().register(device.eui, _PENDING, [])
    for entry in pending:
        device.clock.call_at(datetime.fromisoformat(entry["due"]) - device.clock_offset, lambda: run_due_activations(device))
    return len(pending)


def run_due_activations(device: Device) -> list[bytes]:
    """Activate what is due, oldest first, each with its 8F66 alert; return the alerts."""
    alerts = []
    with device.store.transaction() as tx:
        pending = tx.register(device.eui, _PENDING, [])
        due = [entry for entry in pending if datetime.fromisoformat(entry["due"]) <= device.now]
        for entry in due:
            _activate(device, tx, entry["target"])
            class_id, obis, attribute = entry["target"]
            detail = (entry["message_code"].to_bytes(2, "big") + entry["counter"].to_bytes(8, "big")
                      + class_id.to_bytes(2, "big") + bytes(Obis(obis)) + attribute.to_bytes(1, "big"))  # fmt: skip
            alerts.append(raise_dlms_alert(device, tx, bytes.fromhex(entry["originator"]), FUTURE_DATED_OUTCOME, EXECUTED,
                                           Data.octet_string(detail)))  # fmt: skip
        tx.set_register(device.eui, _PENDING, [entry for entry in pending if entry not in due])
    if device.alert_sink is not None:
        for alert in alerts:
            device.alert_sink(alert)
    return alerts


_CHANGES_BILLED = (111, 20, 113)  # a change of payment mode or tariff: a billing data log capture


def _activate(device: Device, tx: Transaction, target: list) -> None:
    from .esme import ESME_OBJECTS  # imported here: esme.py imports this module

    objects = {(item.class_id, str(item.instance)): item for item in ESME_OBJECTS}
    class_id, obis, attribute = target
    changes_mode = class_id == 111 or obis == "0.1.19.0.0.255"
    if changes_mode:
        settle(device, tx)  # the balance is paid up to now in the mode now in force
    copies = [(class_id, obis, obis, pairs) for pairs in [_OWN_COPIES[(class_id, attribute)]] if pairs]
    copies += [(linked_class, passive, active, tuple((a, a) for a in attributes))
               for linked_class, passive, active, attributes in _LINKED.get(obis, ())]  # fmt: skip
    for copy_class, passive, active, pairs in copies:
        source, destination = objects.get((copy_class, passive)), objects.get((copy_class, active))
        if source is None or destination is None:
            continue
        for passive_attribute, active_attribute in pairs:
            _copy(device, tx, source, passive_attribute, destination, active_attribute)
    tx.log_event(device.eui, device.now, "activated", f"{class_id}/{obis}/{attribute}")
    if changes_mode:
        arm_disablement(device, tx)
    if class_id in _CHANGES_BILLED:
        record_billing_on_change(tx, device)


def _copy(device: Device, tx: Transaction, source: CosemObject, passive: int, destination: CosemObject, active: int) -> None:
    try:
        destination.set(device, tx, active, source.get(device, tx, passive, None))
    except AccessFailure:
        pass  # a passive value never set leaves the active one as it was


_NOW = object()  # "activate now": RTDS's IMMEDIATE date-time, date and time all zero


def _when(value: Data) -> datetime | object | None:
    """An activation date-time: a moment, ``_NOW``, or None (cancel: wildcards, or no valid
    date-time)."""
    if value.type is not DataType.OCTET_STRING or len(value.value) != 12:
        return None
    if not any(value.value[:9]):
        return _NOW
    try:
        return DlmsDateTime.decode(value.value).to_datetime()
    except DecodeError:
        return None
