"""How a device type turns an accepted command into its response: one executor per type.

Every device type shares the ASN.1 DER use cases (security credentials, joins, firmware
activation); a DLMS COSEM device (CHF, ESME) also serves Access-Requests from its objects. GBZ use cases (the GSME's
and GPF's ZCL) and everything else a type does not serve yet are refused as ``Unsupported``,
which the event log records and ``smets-emu replay`` reports.
"""

from __future__ import annotations

from gbcs.catalogue import PayloadKind

from ..errors import Unsupported
from ..store import Transaction
from .command import Command, Executor
from .cosem import CosemObject, execute_access_request
from .credentials import CREDENTIAL_USE_CASES
from .device import Device
from .firmware_image import FIRMWARE_USE_CASES
from .joins import JOIN_USE_CASES, read_firmware_version

__all__ = ["SHARED_USE_CASES", "device_executor"]

SHARED_USE_CASES = {**CREDENTIAL_USE_CASES, **JOIN_USE_CASES, **FIRMWARE_USE_CASES, "CS08": read_firmware_version}


def device_executor(device_name: str, objects: list[CosemObject] | None = None,
                    own: dict[str, Executor] | None = None, gbz: Executor | None = None) -> Executor:  # fmt: skip
    """The executor of a device type: its COSEM ``objects`` for DLMS use cases (None for a
    ZigBee device), its ``gbz`` executor for GBZ use cases, its ``own`` use cases by name,
    and the shared DER use cases."""

    def execute(device: Device, tx: Transaction, command: Command) -> bytes:
        case = command.use_case
        if case.payload is PayloadKind.DLMS and objects is not None:
            return execute_access_request(device, tx, command, objects)
        if case.payload is PayloadKind.GBZ and gbz is not None:
            return gbz(device, tx, command)
        if own is not None and case.name in own:
            return own[case.name](device, tx, command)
        if case.name in SHARED_USE_CASES:
            return SHARED_USE_CASES[case.name](device, tx, command)
        served = case.payload.value if case.payload else "no payload"
        raise Unsupported(f"{case.label} ({served}) is not served by the {device_name} yet")

    return execute
