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

Every change of the balances is kept with its time (register ``esme.balance_history``, the
latest ``HISTORY`` changes), so a billing snapshot of a past moment shows the balances of
that moment, not today's.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from gbcs.dlms import Data, DataType, Obis

from ..firmware.cosem import (
    OBJECT_UNDEFINED,
    READ_WRITE_DENIED,
    AccessFailure,
    StoredObject,
    expect,
    seconds_since_2000,
)
from ..firmware.device import Device
from ..store import Transaction
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
            amount += expect(parameter, DataType.INT32).value
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
    history.append([seconds_since_2000(device.now), *balances(tx, device)])
    tx.set_register(device.eui, _HISTORY, history[-HISTORY:])


def _object(kind: type[StoredObject], class_id: int, obis: str) -> StoredObject:
    return kind(class_id, Obis(obis), defaults=FACTORY_DEFAULTS.get((class_id, obis), {}))


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
