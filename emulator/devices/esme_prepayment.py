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
from datetime import datetime

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

__all__ = ["HISTORY", "ChargeObject", "CreditObject", "balances", "balances_at"]


HISTORY = 1000  # balance changes kept for the billing logs (months of daily top-ups)
_HISTORY = "esme.balance_history"


def _int32(value: int) -> Data:
    return Data.integer(DataType.INT32, max(min(value, 2**31 - 1), -(2**31)))


@dataclass
class CreditObject(StoredObject):
    """Credit (class 112): ``current_credit_amount`` (attribute 2) moves by its methods only."""

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


def _balances_changed(device: Device, tx: Transaction, why: str) -> None:
    tx.log_event(device.eui, device.now, "balance", why)
    history = tx.register(device.eui, _HISTORY, [])
    previous = history[-1][1:] if history else (0, 0, 0, 0, 0, 0)
    now = balances(tx, device)
    history.append([seconds_since_2000(device.now), *now])
    tx.set_register(device.eui, _HISTORY, history[-HISTORY:])
    _supply_follows_credit(device, tx, previous[0] + previous[1], now[0] + now[1])


CREDIT_BELOW_DISABLEMENT, SUPPLY_ARMED, CREDIT_ABOVE_MAXIMUM = 0x8F0F, 0x8F32, 0x8F47


def _supply_follows_credit(device: Device, tx: Transaction, before: int, after: int) -> None:
    """In prepayment mode, open the load switch when credit falls below the disablement
    threshold, arm it when credit comes back above it."""
    mode = _value(device, tx, 111, "0.0.19.0.0.255")[0].value
    if mode != PREPAYMENT:
        return
    threshold = _value(device, tx, 9000, "0.0.94.44.128.22")
    if after < threshold <= before and load_switch.state(device, tx) != load_switch.DISCONNECTED:
        load_switch.open_switch(device, tx, "credit below the disablement threshold")
        tx.log_event(device.eui, device.now, "supply-disabled", "credit below the disablement threshold", code=CREDIT_BELOW_DISABLEMENT)
        raise_generic_alert(device, tx, CREDIT_BELOW_DISABLEMENT)
    elif before < threshold <= after and load_switch.state(device, tx) == load_switch.DISCONNECTED:
        load_switch.arm(device, tx, "credit above the disablement threshold")
        tx.log_event(device.eui, device.now, "supply-armed", "credit above the disablement threshold", code=SUPPLY_ARMED)
        raise_generic_alert(device, tx, SUPPLY_ARMED)


PREPAYMENT = 2  # account mode (class 111 attribute 2's first member): 1 credit, 2 prepayment


def _value(device: Device, tx: Transaction, class_id: int, obis: str):
    """Attribute 2 of one of the meter's stored objects, as set or from its factory state."""
    return _OBJECTS[(class_id, obis)].get(device, tx, 2, None).value


def _object(kind: type[StoredObject], class_id: int, obis: str) -> StoredObject:
    return kind(class_id, Obis(obis), defaults=FACTORY_DEFAULTS.get((class_id, obis), {}))


# the objects the prepayment rules read (the same registers as the meter's own objects)
_OBJECTS = {(class_id, obis): _object(StoredObject, class_id, obis)
            for class_id, obis in ((9000, "0.0.94.44.2.20"), (9000, "0.0.94.44.128.22"), (111, "0.0.19.0.0.255"))}


_TOKEN_CREDIT = _object(CreditObject, 112, "0.0.19.10.0.255")
_EMERGENCY_CREDIT = _object(CreditObject, 112, "0.0.19.10.1.255")
_TIME_DEBTS = (_object(ChargeObject, 113, "0.0.19.20.1.255"), _object(ChargeObject, 113, "0.0.19.20.2.255"))
_PAYMENT_DEBT = _object(ChargeObject, 113, "0.0.19.20.3.255")


def balances_at(tx: Transaction, device: Device, moment: datetime) -> tuple[int, ...]:
    """The balances in force at ``moment`` (the factory's zeros before any change)."""
    at = seconds_since_2000(moment)
    earlier = [entry for entry in tx.register(device.eui, _HISTORY, []) if entry[0] <= at]
    return tuple(earlier[-1][1:]) if earlier else (0, 0, 0, 0, 0, 0)


def balances(tx: Transaction, device: Device) -> tuple[int, int, int, int, int, int]:
    """Meter balance, emergency credit balance, accumulated debt, payment-based debt, time-based
    debts 1 and 2 — what the billing data logs capture."""
    meter, emergency = (item.get(device, tx, 2, None).value for item in (_TOKEN_CREDIT, _EMERGENCY_CREDIT))
    payment = _PAYMENT_DEBT.get(device, tx, 12, None).value
    time_1, time_2 = (item.get(device, tx, 12, None).value for item in _TIME_DEBTS)
    return meter, emergency, payment + time_1 + time_2, payment, time_1, time_2
