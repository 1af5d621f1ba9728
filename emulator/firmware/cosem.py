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
* A read use case (its catalogue title begins "read") only reads: a set, or an action other
  than the two GBCS reads by action (a protected read; a device log read, class 104 method
  4), answers read-write-denied — a MAC-only read cannot move credit or change a tariff.
* Money, supply and activation take a critical (signed) use case: an action on a credit,
  charge or disconnect control (classes 112, 113, 70) or the disconnect scripts, a set of an
  account, credit or charge (111, 112, 113), or of an activation date-time, from any other
  use case answers read-write-denied (RTDS: every command that does these is critical).
* A protected read (the data-protection object, class 30, ``get_protected_attributes``) reads
  the objects its parameter lists and answers their values encrypted for the command's
  originator (``DataProtectionObject``).

Faults: a test lab makes a device fail on purpose (``inject_fault``): the chosen object member
answers ``hardware-fault`` (RTDS's ERROR cases are such faults), durably, until cleared.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING

from gbcs import crypto
from gbcs.crypto import KdfUsage
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
    decode_data,
    encode_apdu,
    encode_data,
)
from gbcs.encryption import seal
from gbcs.errors import DecodeError
from gbcs.keystore import KeyUsage
from gbcs.reader import Reader
from gbcs.types import DlmsDateTime

from ..errors import BadContent
from ..store import Transaction
from .device import Device

if TYPE_CHECKING:
    from .command import Command

__all__ = [
    "HARDWARE_FAULT",
    "READ_WRITE_DENIED",
    "OBJECT_UNDEFINED",
    "OBJECT_UNAVAILABLE",
    "OTHER_REASON",
    "TYPE_UNMATCHED",
    "AccessFailure",
    "CosemObject",
    "DataProtectionObject",
    "LogObject",
    "StoredObject",
    "execute_access_request",
    "inject_fault",
    "range_selection",
    "same_shape",
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


def execute_access_request(device: Device, tx: Transaction, command: Command, objects: list[CosemObject]) -> bytes:
    """Serve the command's Access-Request from ``objects``; return the Access-Response.

    Raises:
        BadContent: the content is not an Access-Request.
    """
    try:
        request = decode_apdu(command.frame.content)
    except DecodeError as error:
        raise BadContent(f"payload: {error}") from None
    if not isinstance(request, AccessRequest):
        raise BadContent(f"payload is a {type(request).__name__}, not an Access-Request")
    by_address = {(item.class_id, bytes(item.instance)): item for item in objects}
    faults = {tuple(fault) for fault in tx.register(device.eui, _FAULTS, [])}
    reads_only, critical = command.use_case.title.startswith("read"), bool(command.use_case.critical)
    results, data = [], []
    failed = False
    for specification, value in zip(request.specifications, request.data, strict=False):
        kind = RequestKind.GET if specification.kind is RequestKind.GET_WITH_SELECTION else specification.kind
        if failed:
            result, answer = OTHER_REASON, Data.null()
        elif (reads_only and not _reads(specification, kind)) or (not critical and _needs_critical(specification, kind)):
            result, answer = READ_WRITE_DENIED, Data.null()
        elif _fault_key(specification, kind) in faults:
            result, answer = HARDWARE_FAULT, Data.null()
        else:
            item = by_address.get((specification.class_id, bytes(specification.instance)))
            if isinstance(item, DataProtectionObject) and kind is RequestKind.ACTION:
                result, answer = item.serve(device, tx, command, specification.member, value, by_address)
            else:
                result, answer = _serve(device, tx, item, specification, kind, value)
        failed |= result != SUCCESS
        results.append(ResponseSpecification(kind, result))
        data.append(answer)
    response = AccessResponse(request.invoke_id_and_priority, b"", tuple(data), tuple(results))
    return encode_apdu(response)


_READS_BY_ACTION = {(30, 1), (104, 4)}  # get_protected_attributes; a device log's backup (CCS07)


def _reads(specification: RequestSpecification, kind: RequestKind) -> bool:
    return kind is RequestKind.GET or (kind is RequestKind.ACTION and (specification.class_id, specification.member) in _READS_BY_ACTION)


_DISCONNECT_SCRIPTS = Obis("0.0.10.0.106.255")
_ACTIVATION_TIMES = {(9000, 6), (20, 10), (113, 7), (111, 13)}


def _needs_critical(specification: RequestSpecification, kind: RequestKind) -> bool:
    key = (specification.class_id, specification.member)
    if kind is RequestKind.ACTION:
        return specification.class_id in (112, 113, 70) or (specification.class_id == 9 and specification.instance == _DISCONNECT_SCRIPTS)
    return kind is RequestKind.SET and (specification.class_id in (111, 112, 113) or key in _ACTIVATION_TIMES)


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


@dataclass
class StoredObject(CosemObject):
    """An object whose attributes the device keeps as they are set (tariffs, thresholds,
    calendars, contact details …), starting from its factory ``defaults``, and whose method
    calls it records. An attribute with no default and never set is unavailable
    (object-unavailable); a set must keep the attribute's type."""

    defaults: dict[int, Data] = field(default_factory=dict)

    def _key(self, kind: str, member: int) -> str:
        return f"cosem.{self.class_id}.{self.instance}.{kind}{member}"

    def get(self, device: Device, tx: Transaction, attribute: int, selection: Data | None) -> Data:
        stored = tx.register(device.eui, self._key("attribute", attribute))
        if stored is not None:
            return decode_data(Reader(bytes.fromhex(stored)))
        if attribute in self.defaults:
            return self.defaults[attribute]
        raise AccessFailure(OBJECT_UNAVAILABLE, f"{self.instance} attribute {attribute} was never set")

    def set(self, device: Device, tx: Transaction, attribute: int, value: Data) -> None:
        if attribute == 1:
            raise AccessFailure(READ_WRITE_DENIED, "the logical name is read-only")
        default = self.defaults.get(attribute)
        if default is not None and not same_shape(value, default):
            raise AccessFailure(TYPE_UNMATCHED, f"{self.instance} attribute {attribute} does not have its type")
        tx.set_register(device.eui, self._key("attribute", attribute), encode_data(value).hex())

    def action(self, device: Device, tx: Transaction, method: int, parameter: Data) -> Data:
        tx.set_register(device.eui, self._key("method", method), {"at": device.now.isoformat(),
                                                                   "parameter": encode_data(parameter).hex()})  # fmt: skip
        return Data.null()


def same_shape(value: Data, model: Data) -> bool:
    """Whether ``value`` has the type tree of ``model``: the same types, structures of the
    same members, arrays whose elements are like the model's (any, when the model's is empty)."""
    if value.type is not model.type:
        return False
    if value.type is DataType.STRUCTURE:
        return len(value.value) == len(model.value) and all(map(same_shape, value.value, model.value))
    if value.type is DataType.ARRAY and model.value:
        return all(same_shape(element, model.value[0]) for element in value.value)
    return True


# -- logs and protected reads -----------------------------------------------------------------


LOG_ROWS = 1000  # the most a log read answers: the newest entries of the range


@dataclass
class LogObject(CosemObject):
    """A profile generic (class 7) log read by date range (selector 1, from/to as seconds since
    2000 UTC): the event log (time, code, data) or the security log (time, code). ``reset``
    (method 1) clears it: entries up to that moment are no longer read (the store keeps them:
    the emulator's own record of what happened is not the device's log)."""

    security: bool = False

    def get(self, device: Device, tx: Transaction, attribute: int, selection: Data | None) -> Data:
        if attribute != 2:
            return super().get(device, tx, attribute, selection)
        start, end = range_selection(selection)
        start = max(start, tx.register(device.eui, self._cleared, -1) + 1)
        if start > end:
            return compact_array(self._columns, [])
        bounds = {"start": _EPOCH + timedelta(seconds=start), "end": _EPOCH + timedelta(seconds=end + 1) - timedelta(microseconds=1),
                  "coded": True, "newest": LOG_ROWS}  # fmt: skip
        rows = []
        if self.security:
            for entry in tx.security_log(device.eui, **bounds):
                rows.append(Data.structure(Data.integer(DataType.UINT32, _at(entry.at)), Data.integer(DataType.UINT16, entry.code)))
        else:
            for entry in tx.event_log(device.eui, **bounds):
                rows.append(Data.structure(Data.integer(DataType.UINT32, _at(entry.at)), Data.integer(DataType.UINT16, entry.code),
                                           Data.octet_string(b"")))  # fmt: skip
        return compact_array(self._columns, rows)

    @property
    def _columns(self) -> tuple[DataType, ...]:
        if self.security:
            return (DataType.UINT32, DataType.UINT16)
        return (DataType.UINT32, DataType.UINT16, DataType.OCTET_STRING)

    def action(self, device: Device, tx: Transaction, method: int, parameter: Data) -> Data:
        if method != 1:
            return super().action(device, tx, method, parameter)
        tx.set_register(device.eui, self._cleared, seconds_since_2000(device.now))
        return Data.null()

    @property
    def _cleared(self) -> str:
        return f"cosem.7.{self.instance}.cleared"


def _at(iso: str) -> int:
    return seconds_since_2000(datetime.fromisoformat(iso))


def range_selection(selection: Data | None) -> tuple[int, int]:
    """(from, to), as seconds since 2000 UTC, of a range selection: a DLMS range descriptor
    structure(restricting object, from, to, columns) with UTC seconds, or the protected read's
    structure(from, to) of date-times. No selection: everything."""
    if selection is None:
        return 0, 2**32 - 1
    members = expect(selection, DataType.STRUCTURE).value
    if len(members) == 2:
        return tuple(_seconds(expect(member, DataType.OCTET_STRING).value) for member in members)  # type: ignore[return-value]
    if len(members) < 3:
        raise AccessFailure(OTHER_REASON, "a range selection has a restricting object, from and to")
    return expect(members[1], DataType.UINT32).value, expect(members[2], DataType.UINT32).value


def _seconds(value: bytes) -> int:
    try:
        moment = DlmsDateTime.decode(value).to_datetime()
    except DecodeError:
        moment = None
    if moment is None:
        raise AccessFailure(OTHER_REASON, "a range bound must be a fully specified date-time")
    return seconds_since_2000(moment)


@dataclass
class DataProtectionObject(CosemObject):
    """The data-protection object (class 30) of a protected read (GBCS's "get protected
    attributes", method 1): its parameter lists object attributes (class, OBIS, attribute,
    data index, access selection) and the protection wanted; the answer is the protection
    parameters as the device applied them (its own title as originator) and the attributes'
    values — a structure, one per object — encrypted (AES-GCM, security control 31) with the
    key the device and the command's originator agree (primer §8.5)."""

    def serve(self, device: Device, tx: Transaction, command: Command, method: int, parameter: Data,
              objects: dict[tuple[int, bytes], CosemObject]) -> tuple[int, Data]:  # fmt: skip
        if method != 1:
            return OBJECT_UNDEFINED, Data.null()
        try:
            object_list, protection = (expect(member, DataType.ARRAY).value for member in _members(parameter, 2))
            values = [self._read(device, tx, definition, objects) for definition in object_list]
            answered = tuple(_answered_parameters(item, device.eui) for item in protection)
            key = self._key(device, command)
        except AccessFailure as failure:
            return failure.result, Data.null()
        protected = seal(device.eui, key, encode_data(Data.structure(*values)))
        return SUCCESS, Data.structure(Data.array(*answered), Data.octet_string(protected))

    @staticmethod
    def _read(device: Device, tx: Transaction, definition: Data, objects: dict[tuple[int, bytes], CosemObject]) -> Data:
        class_id, instance, attribute, _index, access = _members(definition, 5)
        item = objects.get((expect(class_id, DataType.UINT16).value, expect(instance, DataType.OCTET_STRING).value))
        if item is None or isinstance(item, DataProtectionObject):
            raise AccessFailure(OBJECT_UNDEFINED, "a protected read of an object the device does not have")
        selector, selection = _members(access, 2)
        selected = expect(selector, DataType.ENUM).value != 0
        return item.get(device, tx, expect(attribute, DataType.INT8).value, selection if selected else None)

    @staticmethod
    def _key(device: Device, command: Command) -> bytes:
        frame = command.frame
        info = frame.other_information
        peer = info.supplementary_remote_party_id or frame.originator
        counter = info.supplementary_originator_counter
        counter = frame.originator_counter if counter is None else counter
        secret = device.keystore().shared_secret(device.eui, peer, KeyUsage.KA)
        if secret is None and device.peer_private_keys is not None:
            secret = device.peer_private_keys.shared_secret(device.eui, peer, KeyUsage.KA)
            if secret is not None:
                command.notes.append("protected read encrypted from the remote party's private key (RTDS has no device "
                                     "key-agreement keys)")  # fmt: skip
        if secret is None:
            raise AccessFailure(OTHER_REASON, "no key-agreement key to encrypt the protected read")
        return crypto.derive_key(secret, device.eui, KdfUsage.PAYLOAD_ENCRYPTION, counter, peer)


def _members(value: Data, count: int) -> tuple[Data, ...]:
    members = expect(value, DataType.STRUCTURE).value
    if len(members) != count:
        raise AccessFailure(TYPE_UNMATCHED, f"expected a structure of {count}")
    return members


def _answered_parameters(requested: Data, device_title: bytes) -> Data:
    """The protection parameters of the answer: as requested, with originator and recipient
    system titles swapped (the device now originates)."""
    kind, options = _members(requested, 2)
    transaction, originator, recipient, other, key_info = _members(options, 5)
    return Data.structure(kind, Data.structure(transaction, Data.octet_string(device_title), originator, other, key_info))
