"""The electricity meter's prepayment: credits (class 112) and charges (class 113) that act.

Amounts are int32 in the currency's 10^-5 units. The token credit (0.0.19.10.0.255) is the
meter balance top-ups and adjustments move (``update_amount`` adds, ``set_amount_to_value``
sets); emergency credit (0.0.19.10.1.255) is granted at its preset amount when invoked. The
charges' ``total_amount_remaining`` (attribute 12) are the debts — time-based debts 1 and 2
(0.0.19.20.1/2.255) and the payment-based debt (0.0.19.20.3.255) — which
``update_total_amount_remaining`` adjusts; ``activate_passive_unit_charge`` makes the passive
unit charge (a future price) the active one.
"""

from __future__ import annotations

from dataclasses import dataclass

from gbcs.dlms import Data, DataType, Obis

from ..firmware.cosem import StoredObject, expect
from ..firmware.device import Device
from ..store import Transaction
from .esme_defaults import FACTORY_DEFAULTS

__all__ = ["ChargeObject", "CreditObject", "balances"]


@dataclass
class CreditObject(StoredObject):
    def action(self, device: Device, tx: Transaction, method: int, parameter: Data) -> Data:
        if method == 1:  # update_amount: add (a top-up, or a negative adjustment)
            self._set_amount(device, tx, self._amount(device, tx) + expect(parameter, DataType.INT32).value)
        elif method == 2:  # set_amount_to_value
            self._set_amount(device, tx, expect(parameter, DataType.INT32).value)
        elif method == 3:  # invoke_credit: emergency credit at its preset amount
            self._set_amount(device, tx, self.get(device, tx, 9, None).value)
        tx.log_event(device.eui, device.now, "credit", f"{self.instance} method {method}: {parameter.to_json()}")
        return super().action(device, tx, method, parameter)

    def _amount(self, device: Device, tx: Transaction) -> int:
        return self.get(device, tx, 2, None).value

    def _set_amount(self, device: Device, tx: Transaction, amount: int) -> None:
        self.set(device, tx, 2, Data.integer(DataType.INT32, max(min(amount, 2**31 - 1), -(2**31))))


@dataclass
class ChargeObject(StoredObject):
    def action(self, device: Device, tx: Transaction, method: int, parameter: Data) -> Data:
        if method == 2:  # activate_passive_unit_charge
            self.set(device, tx, 5, self.get(device, tx, 6, None))
        elif method == 4:  # update_total_amount_remaining: adjust the debt
            remaining = self.get(device, tx, 12, None).value + expect(parameter, DataType.INT32).value
            self.set(device, tx, 12, Data.integer(DataType.INT32, max(min(remaining, 2**31 - 1), -(2**31))))
        tx.log_event(device.eui, device.now, "charge", f"{self.instance} method {method}: {parameter.to_json()}")
        return super().action(device, tx, method, parameter)


def _object(kind: type[StoredObject], class_id: int, obis: str) -> StoredObject:
    return kind(class_id, Obis(obis), defaults=FACTORY_DEFAULTS.get((class_id, obis), {}))


_TOKEN_CREDIT = _object(CreditObject, 112, "0.0.19.10.0.255")
_EMERGENCY_CREDIT = _object(CreditObject, 112, "0.0.19.10.1.255")
_TIME_DEBTS = (_object(ChargeObject, 113, "0.0.19.20.1.255"), _object(ChargeObject, 113, "0.0.19.20.2.255"))
_PAYMENT_DEBT = _object(ChargeObject, 113, "0.0.19.20.3.255")


def balances(tx: Transaction, device: Device) -> tuple[int, int, int, int, int, int]:
    """Meter balance, emergency credit balance, accumulated debt, payment-based debt, time-based
    debts 1 and 2 — what the billing data logs capture."""
    meter, emergency = (item.get(device, tx, 2, None).value for item in (_TOKEN_CREDIT, _EMERGENCY_CREDIT))
    payment = _PAYMENT_DEBT.get(device, tx, 12, None).value
    time_1, time_2 = (item.get(device, tx, 12, None).value for item in _TIME_DEBTS)
    return meter, emergency, payment + time_1 + time_2, payment, time_1, time_2
