"""The electricity meter's prepayment: credits (class 112) and charges (class 113) that act.

Amounts are int32 in the currency's 10^-5 units. The token credit (0.0.19.10.0.255) is the
meter balance top-ups and adjustments move (``update_amount`` adds, ``set_amount_to_value``
sets); emergency credit (0.0.19.10.1.255) is granted at its preset amount when invoked. The
charges' ``total_amount_remaining`` (attribute 12) are the debts — time-based debts 1 and 2
(0.0.19.20.1/2.255) and the payment-based debt (0.0.19.20.3.255) — which
``update_total_amount_remaining`` adjusts and ``set_total_amount_remaining`` sets;
``activate_passive_unit_charge`` makes the passive unit charge (a future price) the active
one. Amounts move only through these methods: a set of a credit amount or a debt is refused
(read-write-denied), and a method the class does not define is undefined.

In prepayment mode the meter balance pays for what is used: the active import since the
balance was last set, at the energy charge's first rate (0.0.19.20.0.255, unit charge
scaled by its commodity and price scalers), and the standing charge (0.0.19.20.4.255) per
day. The balance is computed when read (``meter_balance``), never stepped; a timer set for
the moment it will cross the disablement threshold opens the switch then.

In prepayment mode the supply follows the credit: when a change takes the meter balance and
emergency credit below the disablement threshold the load switch opens (output off,
disconnected) and the meter raises 8F0F, "credit below disablement threshold"; when credit
comes back above it the switch is armed (ready for the consumer to reconnect) and the meter
raises 8F32, "supply armed". A credit that would take the meter balance above the maximum
meter balance is refused with 8F47. Alert codes as GBCS's alert table names them (Wireshark's
GBCS dissector reads the same codes); they go to the supplier as generic critical alerts.

Every change of the balances is kept with its time (register ``esme.balance_history``, the
latest ``HISTORY`` changes), so a billing snapshot of a past moment shows the balances of
that moment, not today's.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from gbcs.dlms import Data, DataType, Obis

from ..firmware.alerts import raise_generic_alert
from ..firmware.cosem import (
    OBJECT_UNDEFINED,
    OTHER_REASON,
    READ_WRITE_DENIED,
    AccessFailure,
    StoredObject,
    expect,
    seconds_since_2000,
)
from ..firmware.device import Device
from ..store import Transaction
from . import esme_supply as load_switch
from .esme_defaults import FACTORY_DEFAULTS
from .esme_metering import metering

__all__ = ["HISTORY", "PREPAYMENT_OBJECTS", "ChargeObject", "CreditObject", "arm_disablement", "balances", "balances_at", "meter_balance",
           "settle"]

_EPOCH_2000 = datetime(2000, 1, 1, tzinfo=timezone.utc)


HISTORY = 1000  # balance changes kept for the billing logs (months of daily top-ups)
_HISTORY = "esme.balance_history"


def _int32(value: int) -> Data:
    return Data.integer(DataType.INT32, max(min(value, 2**31 - 1), -(2**31)))


@dataclass
class CreditObject(StoredObject):
    """Credit (class 112): ``current_credit_amount`` (attribute 2) moves by its methods only.
    ``pays``: the token credit, the meter balance that prepayment debits."""

    pays: bool = False

    def get(self, device: Device, tx: Transaction, attribute: int, selection: Data | None) -> Data:
        if attribute == 2 and self.pays:
            return _int32(meter_balance(device, tx))
        return super().get(device, tx, attribute, selection)

    def set(self, device: Device, tx: Transaction, attribute: int, value: Data) -> None:
        if attribute == 2:
            raise AccessFailure(READ_WRITE_DENIED, "a credit amount moves by the credit's methods only")
        super().set(device, tx, attribute, value)

    def action(self, device: Device, tx: Transaction, method: int, parameter: Data) -> Data:
        amount = self.get(device, tx, 2, None).value
        if method == 1:  # update_amount: add (a top-up, or a negative adjustment)
            added = expect(parameter, DataType.INT32).value
            if added > 0 and amount + added > _value(device, tx, 9000, "0.0.94.44.2.20"):
                raise_generic_alert(device, tx, CREDIT_ABOVE_MAXIMUM)
                raise AccessFailure(OTHER_REASON, "the credit would take the meter balance above its maximum")
            amount += added
        elif method == 2:  # set_amount_to_value
            amount = expect(parameter, DataType.INT32).value
        elif method == 3:  # invoke_credit: emergency credit at its preset amount
            expect(parameter, DataType.INT8)
            amount = self.get(device, tx, 9, None).value
        else:
            raise AccessFailure(OBJECT_UNDEFINED, f"method {method}")
        if self.pays:
            settle(device, tx)  # what was used until now is paid for first
        super().set(device, tx, 2, _int32(amount))
        _balances_changed(device, tx, f"{self.instance} method {method}: {parameter.to_json()}")
        return super().action(device, tx, method, parameter)


@dataclass
class ChargeObject(StoredObject):
    """Charge (class 113): ``total_amount_remaining`` (attribute 12, the debt) moves by its
    methods only."""

    def set(self, device: Device, tx: Transaction, attribute: int, value: Data) -> None:
        if attribute == 12:
            raise AccessFailure(READ_WRITE_DENIED, "a debt moves by the charge's methods only")
        super().set(device, tx, attribute, value)

    def action(self, device: Device, tx: Transaction, method: int, parameter: Data) -> Data:
        if method == 2:  # activate_passive_unit_charge
            super().set(device, tx, 5, self.get(device, tx, 6, None))
        elif method in (4, 5):  # update (adjust) or set total_amount_remaining: the debt
            change = expect(parameter, DataType.INT32).value
            remaining = self.get(device, tx, 12, None).value + change if method == 4 else change
            super().set(device, tx, 12, _int32(remaining))
            _balances_changed(device, tx, f"{self.instance} method {method}: {parameter.to_json()}")
        else:
            raise AccessFailure(OBJECT_UNDEFINED, f"method {method}")
        return super().action(device, tx, method, parameter)


def _balances_changed(device: Device, tx: Transaction, why: str, *, disabled_by_use: bool = False) -> bytes | None:
    tx.log_event(device.eui, device.now, "balance", why)
    history = tx.register(device.eui, _HISTORY, [])
    previous = balances_at(tx, device, device.now) if history else (0, 0, 0, 0, 0, 0)
    if disabled_by_use:  # the balance crossed the threshold by use, not by this change
        previous = (_value(device, tx, 9000, "0.0.94.44.128.22"), 0)
    now = balances(tx, device)
    history.append([seconds_since_2000(device.now), *now])
    tx.set_register(device.eui, _HISTORY, history[-HISTORY:])
    alert = _supply_follows_credit(device, tx, previous[0] + previous[1], now[0] + now[1])
    arm_disablement(device, tx)
    return alert


CREDIT_BELOW_DISABLEMENT, SUPPLY_ARMED, CREDIT_ABOVE_MAXIMUM = 0x8F0F, 0x8F32, 0x8F47


def _supply_follows_credit(device: Device, tx: Transaction, before: int, after: int) -> bytes | None:
    """In prepayment mode, open the load switch when credit falls below the disablement
    threshold, arm it when credit comes back above it; the alert raised, if any."""
    mode = _value(device, tx, 111, "0.0.19.0.0.255")[0].value
    if mode != PREPAYMENT:
        return None
    threshold = _value(device, tx, 9000, "0.0.94.44.128.22")
    if after < threshold <= before and load_switch.state(device, tx) != load_switch.DISCONNECTED:
        load_switch.open_switch(device, tx, "credit below the disablement threshold", by="credit")
        tx.log_event(device.eui, device.now, "supply-disabled", "credit below the disablement threshold", code=CREDIT_BELOW_DISABLEMENT)
        return raise_generic_alert(device, tx, CREDIT_BELOW_DISABLEMENT)
    elif before < threshold <= after and load_switch.opened_for_credit(device, tx):
        load_switch.arm(device, tx, "credit above the disablement threshold")
        tx.log_event(device.eui, device.now, "supply-armed", "credit above the disablement threshold", code=SUPPLY_ARMED)
        return raise_generic_alert(device, tx, SUPPLY_ARMED)
    return None


PREPAYMENT = 2  # account mode (class 111 attribute 2's first member): 1 credit, 2 prepayment


def _value(device: Device, tx: Transaction, class_id: int, obis: str):
    """Attribute 2 of one of the meter's stored objects, as set or from its factory state."""
    return _OBJECTS[(class_id, obis)].get(device, tx, 2, None).value


def _object(kind: type[StoredObject], class_id: int, obis: str) -> StoredObject:
    return kind(class_id, Obis(obis), defaults=FACTORY_DEFAULTS.get((class_id, obis), {}))


# the objects the prepayment rules read (the same registers as the meter's own objects)
_OBJECTS = {(class_id, obis): _object(StoredObject, class_id, obis)
            for class_id, obis in ((9000, "0.0.94.44.2.20"), (9000, "0.0.94.44.128.22"), (111, "0.0.19.0.0.255"))}


_TOKEN_CREDIT = CreditObject(112, Obis("0.0.19.10.0.255"), defaults=FACTORY_DEFAULTS[(112, "0.0.19.10.0.255")], pays=True)
_ENERGY_CHARGE = _object(ChargeObject, 113, "0.0.19.20.0.255")
_STANDING_CHARGE = _object(ChargeObject, 113, "0.0.19.20.4.255")
_SETTLED = "esme.balance_settled"  # when the stored meter balance was last brought up to date
_EMERGENCY_CREDIT = _object(CreditObject, 112, "0.0.19.10.1.255")
_TIME_DEBTS = (_object(ChargeObject, 113, "0.0.19.20.1.255"), _object(ChargeObject, 113, "0.0.19.20.2.255"))
_PAYMENT_DEBT = _object(ChargeObject, 113, "0.0.19.20.3.255")

# the meter's credit and charge objects (esme.py serves these very instances)
PREPAYMENT_OBJECTS: list[StoredObject] = [
    _TOKEN_CREDIT, _EMERGENCY_CREDIT, _object(CreditObject, 112, "0.0.19.10.2.255"),
    _ENERGY_CHARGE, *_TIME_DEBTS, _PAYMENT_DEBT, _STANDING_CHARGE, _object(ChargeObject, 113, "0.0.19.20.5.255"),
]


def balances_at(tx: Transaction, device: Device, moment: datetime) -> tuple[int, ...]:
    """The balances in force at ``moment`` (the factory's zeros before any change), the meter
    balance debited for what was used since, in prepayment mode."""
    at = seconds_since_2000(moment)
    earlier = [entry for entry in tx.register(device.eui, _HISTORY, []) if entry[0] <= at]
    if not earlier:
        return (0, 0, 0, 0, 0, 0)
    when, meter, *rest = earlier[-1]
    settled = tx.register(device.eui, _SETTLED)
    if settled is not None and _prepayment(device, tx):
        meter -= _cost(device, tx, _EPOCH_2000 + timedelta(seconds=max(when, settled)), moment)
    return (meter, *rest)


def meter_balance(device: Device, tx: Transaction, at: datetime | None = None) -> int:
    """The meter balance now (or at ``at``): as last set, less what was used since, in
    prepayment mode."""
    stored = StoredObject.get(_TOKEN_CREDIT, device, tx, 2, None).value
    settled = tx.register(device.eui, _SETTLED)
    if settled is None or not _prepayment(device, tx):
        return stored
    return stored - _cost(device, tx, _EPOCH_2000 + timedelta(seconds=settled), at or device.now)


def settle(device: Device, tx: Transaction) -> None:
    """Bring the stored meter balance up to date (before it changes, or the mode does), and
    set the timer for the moment it will cross the disablement threshold."""
    if _prepayment(device, tx):
        StoredObject.set(_TOKEN_CREDIT, device, tx, 2, _int32(meter_balance(device, tx)))
    tx.set_register(device.eui, _SETTLED, seconds_since_2000(device.now))
    arm_disablement(device, tx)


def _prepayment(device: Device, tx: Transaction) -> bool:
    return _value(device, tx, 111, "0.0.19.0.0.255")[0].value == PREPAYMENT


def _rate(charge: StoredObject, device: Device, tx: Transaction) -> tuple[int, int]:
    """(charge of the first rate, scale): a charge's unit cost as a fraction of 10^scale."""
    scalers, _, table = charge.get(device, tx, 5, None).value
    commodity_scale, price_scale = (member.value for member in scalers.value)
    first = table.value[0].value[1].value if table.value else 0
    return first, commodity_scale - (price_scale + 5)  # balances are in 10^-5 of the currency


def _cost(device: Device, tx: Transaction, start: datetime, end: datetime) -> int:
    """What the energy used and the standing charge cost between two moments."""
    if end <= start:
        return 0
    meter = metering(tx, device)
    energy, scale = _rate(_ENERGY_CHARGE, device, tx)
    standing, standing_scale = _rate(_STANDING_CHARGE, device, tx)
    used = meter.active_import(end) - meter.active_import(start)
    days = int((end - start).total_seconds()) // 86400
    return _scaled(used * energy, scale) + _scaled(days * standing, standing_scale)


def _scaled(value: int, scale: int) -> int:
    return value // 10**scale if scale >= 0 else value * 10**-scale


def arm_disablement(device: Device, tx: Transaction) -> None:
    """Set a timer for the half-hour the balance (with emergency credit) will fall below the
    disablement threshold, if it will within a year (found by bisection: the balance only
    falls); the timer re-checks when it fires, so one set before a top-up does nothing."""
    if not _prepayment(device, tx) or load_switch.state(device, tx) == load_switch.DISCONNECTED:
        return
    threshold = _value(device, tx, 9000, "0.0.94.44.128.22")
    emergency = _EMERGENCY_CREDIT.get(device, tx, 2, None).value
    now = device.now
    if meter_balance(device, tx, now) + emergency < threshold:
        return  # already below: a change of balance handles it
    if _rate(_ENERGY_CHARGE, device, tx)[0] < 0 or _rate(_STANDING_CHARGE, device, tx)[0] < 0:
        return  # a balance that can grow by itself has no single crossing to find

    def above(half_hours: int) -> bool:
        return meter_balance(device, tx, now + timedelta(minutes=30 * half_hours)) + emergency >= threshold

    low, high = 0, 366 * 48  # above at low; search the first half-hour below (the balance only falls)
    if above(high):
        return
    while high - low > 1:
        middle = (low + high) // 2
        low, high = (middle, high) if above(middle) else (low, middle)
    device.clock.call_at(now + timedelta(minutes=30 * high) - device.clock_offset, lambda: _disablement_due(device))


def _disablement_due(device: Device) -> None:
    alert = None
    with device.store.transaction() as tx:
        threshold = _value(device, tx, 9000, "0.0.94.44.128.22")
        available = meter_balance(device, tx) + _EMERGENCY_CREDIT.get(device, tx, 2, None).value
        if _prepayment(device, tx) and available < threshold and load_switch.state(device, tx) != load_switch.DISCONNECTED:
            settle(device, tx)
            alert = _balances_changed(device, tx, "credit used up", disabled_by_use=True)
    if alert is not None and device.alert_sink is not None:
        device.alert_sink(alert)


def balances(tx: Transaction, device: Device) -> tuple[int, int, int, int, int, int]:
    """Meter balance, emergency credit balance, accumulated debt, payment-based debt, time-based
    debts 1 and 2 — what the billing data logs capture."""
    meter, emergency = (item.get(device, tx, 2, None).value for item in (_TOKEN_CREDIT, _EMERGENCY_CREDIT))
    payment = _PAYMENT_DEBT.get(device, tx, 12, None).value
    time_1, time_2 = (item.get(device, tx, 12, None).value for item in _TIME_DEBTS)
    return meter, emergency, payment + time_1 + time_2, payment, time_1, time_2
