"""The electricity meter (ESME): its place in the framework.

The ESME speaks DLMS COSEM (primer §7.2) from the objects below, served by
``firmware/cosem.py``; the security credentials use cases come from
``firmware/credentials.py``. The breadth of the ESME's use cases (tariffs, prepayment,
registers, profiles, logs, supply control) is the next step; this file holds its identity
objects (ECS26e reads them in RTDS) so that it already answers over the HAN.
"""

from __future__ import annotations

from dataclasses import dataclass

from gbcs.catalogue import PayloadKind
from gbcs.dlms import Data, Obis

from ..errors import Unsupported
from ..firmware.command import Command
from ..firmware.cosem import CosemObject, execute_access_request
from ..firmware.credentials import CREDENTIAL_USE_CASES
from ..firmware.device import Device
from ..store import Transaction
from .chf import IdentityObject

__all__ = ["ESME_OBJECTS", "execute"]


@dataclass
class DeviceIdObject(CosemObject):
    """0.0.96.1.1.255: the device's own EUI-64 (ECS26e in RTDS)."""

    def get(self, device: Device, tx: Transaction, attribute: int, selection: Data | None) -> Data:
        if attribute != 2:
            return super().get(device, tx, attribute, selection)
        return Data.octet_string(bytes(device.eui))


ESME_OBJECTS: list[CosemObject] = [
    DeviceIdObject(1, Obis("0.0.96.1.1.255")),
    IdentityObject(1, Obis("0.0.96.1.2.255"), field="variant"),
    IdentityObject(1, Obis("0.0.96.1.4.255"), field="model"),
    IdentityObject(1, Obis("0.0.96.1.6.255"), field="manufacturer"),
]


def execute(device: Device, tx: Transaction, command: Command) -> bytes:
    case = command.use_case
    if case.payload is PayloadKind.DLMS:
        return execute_access_request(device, tx, command.frame.content, ESME_OBJECTS)
    if case.name in CREDENTIAL_USE_CASES:
        return CREDENTIAL_USE_CASES[case.name](device, tx, command)
    raise Unsupported(f"{case.label} is not served by the ESME yet")
