"""The electricity meter's load switch: the supply to the premises, opened and closed.

The disconnect control object (class 70, 0.0.96.3.10.255) holds the switch's output state
(attribute 2, true when supply flows) and control state (attribute 3: 0 disconnected, 1
connected, 2 ready for reconnection, i.e. armed: the consumer closes it at the meter). The
supplier works it through the disconnect scripts (class 9, 0.0.10.0.106.255, ``execute``):
script 51 closes it (ECS42), 52 opens it (ECS43), 54 arms it (ECS44), as RTDS's commands
select them. Prepayment opens and arms it too (``esme_prepayment.py``), and the switch
remembers who opened it: credit coming back arms only a switch that lack of credit opened,
never one the supplier opened. An armed switch closes when the consumer presses the meter's
button (``consumer_closes``; ``Premises.press_meter_button``).

While the switch is open — or the mains is lost — nothing is consumed: the load model's
half-hours without supply are left out of every register and profile (``esme_metering.py``).
"""

from __future__ import annotations

from dataclasses import dataclass

from gbcs.dlms import Data, DataType, Obis

from ..firmware.cosem import OBJECT_UNDEFINED, OTHER_REASON, AccessFailure, StoredObject, expect
from ..firmware.device import Device
from ..store import Transaction
from .esme_defaults import FACTORY_DEFAULTS
from .esme_metering import supply_interrupted, supply_resumed

__all__ = ["ARM", "CLOSE", "MAINS_LOST", "OPEN", "LoadSwitchScripts", "arm", "close", "consumer_closes", "is_closed",
           "open_switch", "opened_for_credit"]

CLOSE, OPEN, ARM = 51, 52, 54  # the disconnect scripts' selectors
DISCONNECTED, CONNECTED, READY_FOR_RECONNECTION = 0, 1, 2
_SWITCH = StoredObject(70, Obis("0.0.96.3.10.255"), defaults=FACTORY_DEFAULTS[(70, "0.0.96.3.10.255")])
MAINS_LOST = "supply.outage_start"  # when the mains outage in progress began (esme.py)


def is_closed(device: Device, tx: Transaction) -> bool:
    return bool(_SWITCH.get(device, tx, 2, None).value)


def state(device: Device, tx: Transaction) -> int:
    return _SWITCH.get(device, tx, 3, None).value


_OPENED_BY = "esme.load_switch.opened_by"  # "credit" or "supplier"


def open_switch(device: Device, tx: Transaction, why: str, *, by: str = "supplier") -> None:
    _SWITCH.set(device, tx, 2, Data.boolean(False))
    _SWITCH.set(device, tx, 3, Data.integer(DataType.ENUM, DISCONNECTED))
    tx.set_register(device.eui, _OPENED_BY, by)
    supply_interrupted(tx, device)
    tx.log_event(device.eui, device.now, "load-switch-opened", why)


def opened_for_credit(device: Device, tx: Transaction) -> bool:
    return state(device, tx) == DISCONNECTED and tx.register(device.eui, _OPENED_BY) == "credit"


def consumer_closes(device: Device, tx: Transaction) -> bool:
    """The consumer presses the button of an armed meter: the supply comes back. False when
    the switch was not armed (a disconnected meter stays off)."""
    if state(device, tx) != READY_FOR_RECONNECTION:
        return False
    close(device, tx, "closed by the consumer")
    return True


def close(device: Device, tx: Transaction, why: str) -> None:
    _SWITCH.set(device, tx, 2, Data.boolean(True))
    _SWITCH.set(device, tx, 3, Data.integer(DataType.ENUM, CONNECTED))
    if tx.register(device.eui, MAINS_LOST) is None:
        supply_resumed(tx, device)
    tx.log_event(device.eui, device.now, "load-switch-closed", why)


def arm(device: Device, tx: Transaction, why: str) -> None:
    """Ready for reconnection: still open, until the consumer closes it at the meter."""
    if is_closed(device, tx):
        return  # arming a closed switch leaves it closed
    _SWITCH.set(device, tx, 3, Data.integer(DataType.ENUM, READY_FOR_RECONNECTION))
    tx.log_event(device.eui, device.now, "load-switch-armed", why)


@dataclass
class LoadSwitchScripts(StoredObject):
    """The disconnect script table (class 9): ``execute`` (method 1) runs a script by selector."""

    def action(self, device: Device, tx: Transaction, method: int, parameter: Data) -> Data:
        if method != 1:
            raise AccessFailure(OBJECT_UNDEFINED, f"method {method}")
        selector = expect(parameter, DataType.UINT16).value
        if selector == CLOSE:
            close(device, tx, "remotely closed")
        elif selector == OPEN:
            open_switch(device, tx, "remotely opened")
        elif selector == ARM:
            arm(device, tx, "remotely armed")
        else:
            raise AccessFailure(OTHER_REASON, f"no disconnect script {selector}")
        return super().action(device, tx, method, parameter)
