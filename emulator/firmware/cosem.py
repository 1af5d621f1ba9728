"""DLMS COSEM devices (ESME, CHF): an object model and the executor that serves an xDLMS
Access-Request from it.

A device type lists its ``CosemObject``s; ``execute_access_request`` answers each request
specification of a command in order with the object's get, set or action, and builds the
Access-Response (same invoke-id and priority, one result and one data item per request, primer
§7.2).

Rules, as RTDS shows them:

* A request for an object or member the device does not have answers ``object-undefined``.
* Once one request of a command fails, every later one answers ``other-reason`` (250) and is
  not executed (every RTDS ERROR response: e.g. CCS01's action succeeds, its first set fails
  with hardware-fault, its second answers other-reason). Earlier effects stay.
* A get-with-selection is answered as a get.

Faults: a test lab makes a device fail on purpose (``inject_fault``): the chosen object member
answers ``hardware-fault`` (RTDS's ERROR cases are such faults), durably, until cleared.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone

from gbcs.dlms import (
    AccessRequest,
    AccessResponse,
    Data,
    DataType,
    Obis,
    RequestKind,
    RequestSpecification,
    ResponseSpecification,
    TypeDescription,
    decode_apdu,
    encode_apdu,
)
from gbcs.errors import DecodeError

from ..errors import BadContent
from ..store import Transaction
from .device import Device

__all__ = [
    "HARDWARE_FAULT",
    "OBJECT_UNDEFINED",
    "OBJECT_UNAVAILABLE",
    "OTHER_REASON",
    "TYPE_UNMATCHED",
    "AccessFailure",
    "CosemObject",
    "execute_access_request",
    "inject_fault",
]

SUCCESS, HARDWARE_FAULT, READ_WRITE_DENIED, OBJECT_UNDEFINED = 0, 1, 3, 4
OBJECT_UNAVAILABLE, TYPE_UNMATCHED, OTHER_REASON = 11, 12, 250
_FAULTS = "cosem.faults"  # register: [[class_id, "obis", kind, member], ...]
_EPOCH = datetime(2000, 1, 1, tzinfo=timezone.utc)  # GBCS log times: seconds since 2000 UTC


class AccessFailure(Exception):
    """Raised by a ``CosemObject`` to answer a request with a Data-Access-Result / Action-Result."""

    def __init__(self, result: int, reason: str = "") -> None:
        super().__init__(reason or str(result))
        self.result = result


@dataclass
class CosemObject:
    """One interface-class instance. Subclasses override the members they have; the rest
    answer object-undefined. ``device`` and ``tx`` give access to durable state."""

    class_id: int
    instance: Obis

    def get(self, device: Device, tx: Transaction, attribute: int, selection: Data | None) -> Data:
        raise AccessFailure(OBJECT_UNDEFINED, f"attribute {attribute}")

    def set(self, device: Device, tx: Transaction, attribute: int, value: Data) -> None:
        raise AccessFailure(OBJECT_UNDEFINED, f"attribute {attribute}")

    def action(self, device: Device, tx: Transaction, method: int, parameter: Data) -> Data:
        raise AccessFailure(OBJECT_UNDEFINED, f"method {method}")


def execute_access_request(device: Device, tx: Transaction, content: bytes, objects: list[CosemObject]) -> bytes:
    """Serve the Access-Request in ``content`` from ``objects``; return the Access-Response.

    Raises:
        BadContent: the content is not an Access-Request.
    """
    try:
        request = decode_apdu(content)
    except DecodeError as error:
        raise BadContent(f"payload: {error}") from None
    if not isinstance(request, AccessRequest):
        raise BadContent(f"payload is a {type(request).__name__}, not an Access-Request")
    by_address = {(item.class_id, bytes(item.instance)): item for item in objects}
    faults = {tuple(fault) for fault in tx.register(device.eui, _FAULTS, [])}
    results, data = [], []
    failed = False
    for specification, value in zip(request.specifications, request.data, strict=False):
        kind = RequestKind.GET if specification.kind is RequestKind.GET_WITH_SELECTION else specification.kind
        if failed:
            result, answer = OTHER_REASON, Data.null()
        elif _fault_key(specification, kind) in faults:
            result, answer = HARDWARE_FAULT, Data.null()
        else:
            result, answer = _serve(device, tx, by_address.get((specification.class_id, bytes(specification.instance))),
                                    specification, kind, value)  # fmt: skip
        failed |= result != SUCCESS
        results.append(ResponseSpecification(kind, result))
        data.append(answer)
    response = AccessResponse(request.invoke_id_and_priority, b"", tuple(data), tuple(results))
    return encode_apdu(response)


def _serve(device: Device, tx: Transaction, item: CosemObject | None, specification: RequestSpecification,
           kind: RequestKind, value: Data) -> tuple[int, Data]:  # fmt: skip
    if item is None:
        return OBJECT_UNDEFINED, Data.null()
    try:
        if kind is RequestKind.GET:
            return SUCCESS, item.get(device, tx, specification.member, specification.selection)
        if kind is RequestKind.SET:
            item.set(device, tx, specification.member, value)
            return SUCCESS, Data.null()
        return SUCCESS, item.action(device, tx, specification.member, value)
    except AccessFailure as failure:
        return failure.result, Data.null()


def _fault_key(specification: RequestSpecification, kind: RequestKind) -> tuple[int, str, str, int]:
    return (specification.class_id, str(specification.instance), kind.name.lower(), specification.member)


def inject_fault(tx: Transaction, device: Device, class_id: int, instance: str, kind: str, member: int) -> None:
    """Make a member of an object answer hardware-fault (``kind``: get, set or action)."""
    faults = tx.register(device.eui, _FAULTS, [])
    key = [class_id, str(Obis(instance)), kind, member]
    if key not in faults:
        tx.set_register(device.eui, _FAULTS, [*faults, key])


# -- common value helpers -------------------------------------------------------------------


def expect(value: Data, *types: DataType) -> Data:
    """``value`` if it has one of ``types``; else the request fails with type-unmatched."""
    if value.type not in types:
        raise AccessFailure(TYPE_UNMATCHED, f"expected {' or '.join(t.name for t in types)}, got {value.type.name}")
    return value


def seconds_since_2000(moment: datetime) -> int:
    return int((moment - _EPOCH).total_seconds())


def compact_array(members: tuple[DataType, ...], rows: list[Data]) -> Data:
    description = TypeDescription(DataType.STRUCTURE, members=tuple(TypeDescription(member) for member in members))
    return Data(DataType.COMPACT_ARRAY, (description, tuple(rows)))
