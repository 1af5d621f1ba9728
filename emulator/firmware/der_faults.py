"""Device faults in the ASN.1 DER use cases: a part of the device that fails when a command
needs it (its certificate store, key generator, device log, firmware version), so the
command is answered with GBCS's failure code for it (``crProductionFailed``,
``certificateRetrievalFailure``, ``readFailure``, a cell's ``other`` status …) instead of its
result.

Faults are durable state (a register) and injected from outside, as the COSEM and ZCL
faults are (``cosem.inject_fault``, ``gas.inject_zcl_fault``): replay injects the one an
RTDS ERROR case records. ``subject`` narrows a fault to what the command names (a key usage
``ds``/``ka``, a remote-party role number); an empty subject is the whole use case.
"""

from __future__ import annotations

from ..store import Transaction
from .device import Device

__all__ = ["has_der_fault", "inject_der_fault"]

_FAULTS = "faults.der"  # register: ["<use case>/<subject>", ...]


def inject_der_fault(tx: Transaction, device: Device, use_case: str, subject: str = "") -> None:
    """Make ``use_case`` fail for ``subject`` from now on (durable with ``tx``)."""
    faults = tx.register(device.eui, _FAULTS, [])
    key = f"{use_case}/{subject}"
    if key not in faults:
        tx.set_register(device.eui, _FAULTS, [*faults, key])


def has_der_fault(tx: Transaction, device: Device, use_case: str, subject: str = "") -> bool:
    """Whether ``use_case`` fails for ``subject`` (or for everything)."""
    faults = tx.register(device.eui, _FAULTS, [])
    return f"{use_case}/{subject}" in faults or f"{use_case}/" in faults
