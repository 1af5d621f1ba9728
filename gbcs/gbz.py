"""GBZ payloads (primer §7.3): the ZigBee ZCL commands of gas devices, in GBZ components.

A non-alert payload is the profile id 01 09, a component count, and components; each
component is an extended header (control, cluster id, length, big-endian) and one ZCL
command (little-endian fields, decoded by ``gbcs.zcl_se``). An encrypted component carries
its ZCL payload sealed (primer §8.5); its plaintext is decoded when the caller can decrypt.

A GBZ alert (primer §9.2) is the profile id, a count, the alert code and time (big-endian),
then a body that depends on the use case: ``ALERT_BODIES`` says which.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

import zigpy.types as t
from zigpy.zcl import foundation

from .errors import BadLength, BadTag, BadValue, DecodeError, EncodeError
from .reader import Reader
from .types import Cra
from .zcl_se import CLUSTER_NAMES, COMMANDS, Direction, attribute_name, data_type

__all__ = ["ALERT_BODIES", "FirmwareHash", "FutureDatedOutcome", "GbzAlert", "GbzComponent", "GbzPayload", "Sealed", "ZclCommand",
           "decode_gbz", "encode_gbz"]  # fmt: skip

PROFILE = b"\x01\x09"  # ZigBee Smart Energy profile id, big-endian
LAST, ENCRYPTED, FROM_DATE_TIME = 0x01, 0x02, 0x10  # extended header control bits
_MANUFACTURER_SPECIFIC = 0x04  # ZCL frame control bits
_SERVER_TO_CLIENT = 0x08
_GLOBAL, _CLUSTER_SPECIFIC = 0, 1  # ZCL frame types
_EPOCH = datetime(2000, 1, 1, tzinfo=timezone.utc)  # ZigBee UTC time starts here (primer §3)


# ---------------------------------------------------------------------------------------
# Profile-wide commands (ZCL foundation), as zigpy structs so every command encodes alike.


class ReadAttributes(t.Struct):
    attribute_ids: t.List[t.uint16_t]


class DefaultResponse(t.Struct):
    command_id: t.uint8_t
    status: t.uint8_t


@dataclass(frozen=True, slots=True)
class AttributeRecord:
    """One status record of a Read Attributes Response."""

    attribute_id: int
    status: int
    type_id: int | None = None
    value: Any = None


class ReadAttributesResponse(tuple):
    """Status records to the end of the payload; values typed by the record's data type
    byte (zigpy's table, strings kept as bytes)."""

    @classmethod
    def deserialize(cls, data: bytes) -> tuple[ReadAttributesResponse, bytes]:
        records = []
        while data:
            if len(data) < 3:
                raise ValueError("Data is too short to contain an attribute record")
            attribute_id, status, data = int.from_bytes(data[:2], "little"), data[2], data[3:]
            if status != foundation.Status.SUCCESS:
                records.append(AttributeRecord(attribute_id, status))
                continue
            if not data:
                raise ValueError("Data is too short to contain a data type")
            type_id = data[0]
            value, data = data_type(type_id).deserialize(data[1:])
            records.append(AttributeRecord(attribute_id, status, type_id, value))
        return cls(records), b""

    def serialize(self) -> bytes:
        out = bytearray()
        for record in self:
            out += record.attribute_id.to_bytes(2, "little") + bytes((record.status,))
            if record.status == foundation.Status.SUCCESS:
                kind = data_type(record.type_id)
                # A decoded value is already of its type (NoData, the "no data" type 0x00,
                # cannot be built from itself); values built by hand are converted.
                value = record.value if isinstance(record.value, kind) else kind(record.value)
                out += bytes((record.type_id,)) + value.serialize()
        return bytes(out)


_GLOBAL_COMMANDS = {
    0x00: ("read_attributes", ReadAttributes),
    0x01: ("read_attributes_response", ReadAttributesResponse),
    0x0B: ("default_response", DefaultResponse),
}


# ---------------------------------------------------------------------------------------
# Values


@dataclass(frozen=True, slots=True)
class ZclCommand:
    """A ZCL frame: header and payload. ``value`` is the decoded payload (a zigpy struct or
    a ``ReadAttributesResponse``), or None when the payload is not known (then ``raw``
    holds it) or still sealed."""

    frame_control: int
    sequence: int
    command_id: int
    name: str | None = None
    value: Any = None
    manufacturer_code: int | None = None
    raw: bytes | None = None

    @property
    def direction(self) -> Direction:
        return Direction(bool(self.frame_control & _SERVER_TO_CLIENT))

    @property
    def is_global(self) -> bool:
        return self.frame_control & 0x03 == _GLOBAL


@dataclass(frozen=True, slots=True)
class Sealed:
    """An encrypted ZCL payload as sent: security control, invocation counter, ciphertext ‖
    tag. ``plaintext`` is the decoded command payload once decrypted (None otherwise)."""

    security_control: int
    invocation_counter: int
    sealed: bytes
    plaintext: Any = field(default=None, compare=False)


@dataclass(frozen=True, slots=True)
class GbzComponent:
    control: int
    cluster_id: int
    command: ZclCommand
    from_date_time: int | None = None  # seconds since 2000-01-01, big-endian on the wire
    additional_header: bytes | None = None  # 2 bytes, encrypted components only
    sealed: Sealed | None = None

    @property
    def is_encrypted(self) -> bool:
        return bool(self.control & ENCRYPTED)


@dataclass(frozen=True, slots=True)
class GbzPayload:
    components: tuple[GbzComponent, ...]


@dataclass(frozen=True, slots=True)
class FutureDatedOutcome:
    """The body of a GBZ future-dated outcome alert (8F66/8F67, message code 0x00CD)."""

    message_code: int
    originator_counter: int
    cluster_id: int
    frame_control: int
    command_id: int


@dataclass(frozen=True, slots=True)
class FirmwareHash:
    """The body of a firmware distribution receipt alert (8F72): the image hash, written as a
    DLMS-style octet string header 09 20 and 32 bytes (primer §9.3)."""

    digest: bytes


@dataclass(frozen=True, slots=True)
class GbzAlert:
    count: int  # the component count byte (0 or 1 in RTDS)
    alert_code: int
    time: int  # seconds since 2000-01-01
    body: Any = None  # None, FutureDatedOutcome, FirmwareHash, int (a reason), a tuple of
    # GbzComponent, or bytes for a use case ALERT_BODIES does not know


# Alert bodies by message code (primer §9.3; gbcs-parser parseGbz*Alert*).
_FUTURE_DATED, _HASH, _REASON, _COMPONENTS = "future-dated", "firmware-hash", "reason", "components"
ALERT_BODIES = {0x00CD: _FUTURE_DATED, 0x00CF: _HASH, 0x00F2: _REASON, 0x008B: _COMPONENTS}


# ---------------------------------------------------------------------------------------
# Decoding

Decrypt = Callable[[GbzComponent], bytes | None]


def decode_gbz(payload: bytes, cra: Cra, message_code: int, decrypt: Decrypt | None = None) -> GbzPayload | GbzAlert:
    """Decode a GBZ payload.

    Args:
        decrypt: called for each encrypted component; returns its plaintext, or None when
            it cannot be decrypted (the component then keeps only its sealed bytes).

    Raises:
        DecodeError: the payload is malformed; offsets count from the start of the payload.
    """
    reader = Reader(payload)
    if reader.take(2, "GBZ profile id") != PROFILE:
        raise BadTag("expected the Smart Energy profile 01 09", offset=0, field="GBZ profile id")
    count = reader.byte("GBZ component count")
    if cra is Cra.ALERT:
        value: GbzPayload | GbzAlert = _decode_alert(reader, count, message_code, decrypt)
    else:
        value = GbzPayload(tuple(_decode_component(reader, decrypt) for _ in range(count)))
    reader.expect_end("GBZ payload")
    return value


def _decode_alert(reader: Reader, count: int, message_code: int, decrypt: Decrypt | None) -> GbzAlert:
    alert_code = reader.unsigned(2, "GBZ alert code")
    time = reader.unsigned(4, "GBZ alert time")
    kind = ALERT_BODIES.get(message_code)
    body: Any = None
    if kind == _FUTURE_DATED:
        start = reader.position
        size = reader.byte("future-dated alert length")
        if size != 14:
            raise reader.error(BadLength, f"future-dated alert body is 14 bytes, says {size}",
                               "future-dated alert length", start)  # fmt: skip
        body = FutureDatedOutcome(
            reader.unsigned(2, "message code"), reader.unsigned(8, "originator counter"),
            reader.unsigned(2, "cluster id"), reader.byte("ZCL frame control"),
            reader.byte("ZCL command id"))  # fmt: skip
    elif kind == _HASH:
        start = reader.position
        if reader.take(2, "firmware hash header") != b"\x09\x20":
            raise reader.error(BadTag, "expected 09 20 (a 32-byte octet string)", "firmware hash", start)
        body = FirmwareHash(reader.take(32, "firmware hash"))
    elif kind == _REASON:
        body = reader.unsigned(2, "meter integrity reason")
    elif kind == _COMPONENTS:
        body = tuple(_decode_component(reader, decrypt) for _ in range(count))
    elif not reader.at_end:
        body = reader.take(reader.remaining, "GBZ alert body")  # unknown use case: kept as bytes
    return GbzAlert(count, alert_code, time, body)


def _decode_component(reader: Reader, decrypt: Decrypt | None) -> GbzComponent:
    start = reader.position
    control = reader.byte("GBZ extended header control")
    cluster_id = reader.unsigned(2, "GBZ cluster id")
    length = reader.unsigned(2, "GBZ extended header length")
    body = reader.sub(length, "GBZ component")
    from_date_time = additional = None
    if control & FROM_DATE_TIME:
        from_date_time = body.unsigned(4, "GBZ from-date-time")
    if control & ENCRYPTED:
        additional = body.take(2, "GBZ additional header")
    frame_control = body.byte("ZCL frame control")
    manufacturer = body.unsigned(2, "ZCL manufacturer code", "little") if frame_control & _MANUFACTURER_SPECIFIC else None
    sequence = body.byte("ZCL sequence number")
    command_id = body.byte("ZCL command id")
    header = ZclCommand(frame_control, sequence, command_id, manufacturer_code=manufacturer)
    if not control & ENCRYPTED:
        command = _decode_zcl(header, cluster_id, body.take(body.remaining, "ZCL payload"), body.base + start)
        return GbzComponent(control, cluster_id, command, from_date_time)
    ciphered = body.unsigned(2, "GBZ ciphered information length")
    if ciphered != body.remaining:
        raise body.error(BadLength, f"ciphered length {ciphered} does not fill the component ({body.remaining})",
                         "GBZ ciphered information length", body.position - 2)  # fmt: skip
    if ciphered < 5 + 12:
        raise body.error(BadLength, "an encrypted payload needs a security header and a tag",
                         "GBZ ciphered information length", body.position - 2)  # fmt: skip
    security_control = body.byte("security control")
    invocation_counter = body.unsigned(4, "invocation counter")
    sealed = Sealed(security_control, invocation_counter, body.take(body.remaining, "ciphertext"))
    component = GbzComponent(control, cluster_id, _named(header, cluster_id), from_date_time, additional, sealed)
    plaintext = decrypt(component) if decrypt is not None else None
    if plaintext is not None:
        decoded = _decode_zcl(header, cluster_id, plaintext, start)
        component = GbzComponent(control, cluster_id, decoded, from_date_time, additional,
                                 Sealed(security_control, invocation_counter, sealed.sealed, decoded.value))  # fmt: skip
    return component


def _named(header: ZclCommand, cluster_id: int) -> ZclCommand:
    name, _ = _definition(header, cluster_id)
    return ZclCommand(header.frame_control, header.sequence, header.command_id, name,
                      manufacturer_code=header.manufacturer_code)  # fmt: skip


def _definition(header: ZclCommand, cluster_id: int) -> tuple[str | None, Any]:
    if header.is_global:
        return _GLOBAL_COMMANDS.get(header.command_id, (None, None))
    if header.frame_control & 0x03 == _CLUSTER_SPECIFIC and header.manufacturer_code is None:
        definition = COMMANDS.get((cluster_id, header.direction, header.command_id))
        if definition is not None:
            return definition.name, definition.schema
    return None, None


def _decode_zcl(header: ZclCommand, cluster_id: int, payload: bytes, offset: int) -> ZclCommand:
    name, schema = _definition(header, cluster_id)
    if schema is None:  # a command no table knows: kept whole, and reported incomplete
        return ZclCommand(header.frame_control, header.sequence, header.command_id, None, None,
                          header.manufacturer_code, payload)  # fmt: skip
    try:
        value, rest = schema.deserialize(payload)
    except (ValueError, KeyError, OverflowError) as error:
        raise BadValue(f"{name}: {error}", offset=offset, field=f"ZCL {name}") from error
    if rest:
        raise DecodeError(f"{name}: {len(rest)} bytes left over", offset=offset, field=f"ZCL {name}")
    return ZclCommand(header.frame_control, header.sequence, header.command_id, name, value,
                      header.manufacturer_code)  # fmt: skip


# ---------------------------------------------------------------------------------------
# Encoding


def encode_gbz(value: GbzPayload | GbzAlert) -> bytes:
    """The bytes of a GBZ payload.

    Raises:
        EncodeError: a field does not fit.
    """
    try:
        if isinstance(value, GbzAlert):
            return _encode_alert(value)
        out = bytearray(PROFILE) + bytes((len(value.components),))
        for component in value.components:
            out += _encode_component(component)
        return bytes(out)
    except (ValueError, OverflowError, TypeError, AttributeError) as error:
        raise EncodeError(f"GBZ: {error}") from error


def _encode_alert(alert: GbzAlert) -> bytes:
    out = bytearray(PROFILE) + bytes((alert.count,))
    out += alert.alert_code.to_bytes(2, "big") + alert.time.to_bytes(4, "big")
    body = alert.body
    if isinstance(body, FutureDatedOutcome):
        out += bytes((14,)) + body.message_code.to_bytes(2, "big") + body.originator_counter.to_bytes(8, "big")
        out += body.cluster_id.to_bytes(2, "big") + bytes((body.frame_control, body.command_id))
    elif isinstance(body, tuple):
        for component in body:
            out += _encode_component(component)
    elif isinstance(body, FirmwareHash):
        out += b"\x09\x20" + body.digest
    elif isinstance(body, int):
        out += body.to_bytes(2, "big")
    elif isinstance(body, bytes):
        out += body
    return bytes(out)


def _encode_component(component: GbzComponent) -> bytes:
    command = component.command
    body = bytearray()
    if component.control & FROM_DATE_TIME:
        body += (component.from_date_time or 0).to_bytes(4, "big")
    if component.control & ENCRYPTED:
        body += component.additional_header or b"\x00\x00"
    body.append(command.frame_control)
    if command.manufacturer_code is not None:
        body += command.manufacturer_code.to_bytes(2, "little")
    body += bytes((command.sequence, command.command_id))
    if component.control & ENCRYPTED:
        if component.sealed is None:
            raise EncodeError("an encrypted component needs its sealed payload (gbcs.encryption.seal)")
        sealed = component.sealed
        block = bytes((sealed.security_control,)) + sealed.invocation_counter.to_bytes(4, "big") + sealed.sealed
        body += len(block).to_bytes(2, "big") + block
    else:
        body += encode_zcl_payload(command)
    return bytes((component.control,)) + component.cluster_id.to_bytes(2, "big") + len(body).to_bytes(2, "big") + body


def encode_zcl_payload(command: ZclCommand) -> bytes:
    """The payload bytes of a ZCL command (its value, or its raw bytes when unknown)."""
    if command.value is None:
        return command.raw or b""
    return command.value.serialize()


# ---------------------------------------------------------------------------------------
# JSON


def to_json(value: GbzPayload | GbzAlert) -> dict[str, Any]:
    if isinstance(value, GbzAlert):
        body = value.body
        if isinstance(body, FutureDatedOutcome):
            body = {"message_code": body.message_code, "originator_counter": body.originator_counter,
                    "cluster_id": body.cluster_id, "frame_control": body.frame_control,
                    "command_id": body.command_id}  # fmt: skip
        elif isinstance(body, tuple):
            body = [_component_json(component) for component in body]
        elif isinstance(body, FirmwareHash):
            body = {"firmware_hash": body.digest.hex().upper()}
        elif isinstance(body, bytes):
            body = body.hex().upper()
        return {"format": "gbz-alert", "alert_code": f"{value.alert_code:04X}",
                "time": utc_text(value.time), "body": body}  # fmt: skip
    return {"format": "gbz", "components": [_component_json(c) for c in value.components]}


def _component_json(component: GbzComponent) -> dict[str, Any]:
    command = component.command
    out: dict[str, Any] = {
        "cluster": CLUSTER_NAMES.get(component.cluster_id, f"0x{component.cluster_id:04X}"),
        "encrypted": component.is_encrypted,
        "command": command.name or f"0x{command.command_id:02X}",
        "direction": command.direction.name.lower().replace("_", "-"),
        "sequence": command.sequence,
    }
    if component.from_date_time is not None:
        out["from_date_time"] = utc_text(component.from_date_time)
    if command.value is not None:
        out["fields"] = _value_json(command.value, component.cluster_id)
    elif command.raw is not None:
        out["raw_hex"] = command.raw.hex().upper()
    elif component.sealed is not None:
        out["sealed_hex"] = component.sealed.sealed.hex().upper()
    return out


def _value_json(value: Any, cluster_id: int) -> Any:
    if isinstance(value, ReadAttributesResponse):
        return [{"attribute": attribute_name(cluster_id, r.attribute_id) or f"0x{r.attribute_id:04X}",
                 "status": r.status, "value": _value_json(r.value, cluster_id)} for r in value]  # fmt: skip
    if isinstance(value, ReadAttributes):
        return {"attributes": [attribute_name(cluster_id, a) or f"0x{a:04X}" for a in value.attribute_ids]}
    if isinstance(value, t.Struct):
        return {name: _value_json(item, cluster_id) for name, item in value.as_dict().items() if item is not None}
    if isinstance(value, list):
        return [_value_json(item, cluster_id) for item in value]
    if isinstance(value, t.UTCTime):
        return utc_text(int(value))
    if isinstance(value, bytes):
        text = bytes(value)
        return text.decode("ascii") if text.isascii() and text.decode("ascii").isprintable() else text.hex().upper()
    if isinstance(value, int):
        return int(value)
    return str(value)


def utc_text(seconds: int) -> str:
    """ZigBee UTC time as ISO 8601; 0 means "now" and FFFFFFFF "undefined" in ZSE."""
    if seconds == 0:
        return "now"
    if seconds == 0xFFFFFFFF:
        return "undefined"
    return (_EPOCH + timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%SZ")
