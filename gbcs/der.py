"""ASN.1 DER payloads (primer §7.4): security credentials, joins, firmware, device logs and
clocks, decoded to named fields and encoded back byte for byte.

Two layers. ``decode_tlv`` reads DER tag-length-value triples; every schema below then gives
them names and typed values. The schemas follow GBCS's ASN.1 as gbcs-parser names it, checked
against every DER payload of RTDS; where GBCS's own module text was not available to us, a
field name is gbcs-parser's label in camelCase.

Lossless rules: RTDS writes lengths of 128-255 as ``82 00 LL`` in device responses and alerts
(not DER's minimal ``81 LL``), so every node keeps its length width; an INTEGER written longer
than needed keeps its bytes; a DEFAULT written explicitly stays written; certificates and
certification requests stay the exact bytes they were (they carry their own DER), shown
through ``cryptography``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from cryptography import x509

from .errors import BadLength, BadTag, BadValue, EncodeError
from .grammar.primitives import encode_length
from .reader import Reader
from .types import Cra

__all__ = ["DerNode", "decode_der", "encode_der", "encode_der_value", "schema_for"]

_MAX_DEPTH = 24

# Universal tags GBCS uses (X.680), and SEQUENCE's constructed form.
INTEGER, BIT_STRING, OCTET_STRING, NULL, ENUMERATED, GENERALIZED_TIME = 0x02, 0x03, 0x04, 0x05, 0x0A, 0x18
BOOLEAN, OBJECT_IDENTIFIER, UTC_TIME = 0x01, 0x06, 0x17
SEQUENCE = 0x30
_CONSTRUCTED = 0x20


@dataclass(frozen=True, slots=True)
class DerNode:
    """One decoded DER element.

    Attributes:
        name: the field name from the schema (None for a generic element).
        kind: integer, enumerated, octet-string, null, bit-string, time, sequence,
            sequence-of, certificate, certification-request, or the universal type name.
        tag: the identifier octet.
        value: int, bytes, None, (unused bits, bytes), str, or a tuple of DerNode.
        names: names of the value (an enumeration's label, a bit string's named bits).
        width: the length's width when it was not minimal (``82 00 LL``: 2).
        form: an INTEGER's content bytes when longer than needed.
    """

    name: str | None
    kind: str
    tag: int
    value: Any
    label: str | None = None
    width: int | None = field(default=None, compare=False, repr=False)
    form: bytes | None = field(default=None, compare=False, repr=False)

    def child(self, name: str) -> DerNode | None:
        """The direct child called ``name``, or None (an absent OPTIONAL field)."""
        if isinstance(self.value, tuple):
            for node in self.value:
                if node.name == name:
                    return node
        return None

    def to_json(self) -> Any:
        if isinstance(self.value, tuple) and self.kind in ("sequence", "sequence-of", "constructed"):
            if self.kind == "sequence":
                return {node.name: node.to_json() for node in self.value}
            return [node.to_json() for node in self.value]
        if self.kind in ("certificate", "certification-request"):
            return _describe_certificate(self.kind, self.value)
        if self.kind == "bit-string":
            unused, data = self.value
            return {"unused_bits": unused, "hex": data.hex().upper(), "names": self.label}
        value = self.value
        if isinstance(value, bytes):
            value = value.hex().upper()
        if self.label is not None:
            return {"value": value, "name": self.label}
        return value


def _describe_certificate(kind: str, data: bytes) -> dict[str, Any]:
    """What a person wants to see of an embedded certificate, read by ``cryptography``."""
    out: dict[str, Any] = {"kind": kind, "der_hex": data.hex().upper()}
    try:
        if kind == "certificate":
            certificate = x509.load_der_x509_certificate(data)
            out.update(subject=certificate.subject.rfc4514_string(),
                       issuer=certificate.issuer.rfc4514_string(),
                       serial=format(certificate.serial_number, "X"),
                       not_after=certificate.not_valid_after_utc.isoformat())  # fmt: skip
        else:
            request = x509.load_der_x509_csr(data)
            out.update(subject=request.subject.rfc4514_string())
    except ValueError as error:
        out["error"] = f"not readable: {error}"
    return out


# ------------------------------------------------------------------------------------------
# TLV layer


@dataclass(frozen=True, slots=True)
class _Tlv:
    tag: int
    start: int  # offset of the tag, for errors
    content: bytes
    content_start: int
    width: int | None


def _read_tlv(reader: Reader, field_name: str) -> _Tlv:
    start = reader.position
    tag = reader.byte(f"{field_name} tag")
    if tag & 0x1F == 0x1F:
        raise reader.error(BadTag, "high tag numbers are not used in GBCS", field_name, start)
    size, width = reader.ber_length(f"{field_name} length")
    content_start = reader.position
    return _Tlv(tag, start, reader.take(size, field_name), content_start, width)


def _header(tag: int, size: int, width: int | None) -> bytes:
    return bytes((tag,)) + encode_length(size, width)


# ------------------------------------------------------------------------------------------
# Schema types: each decodes a TLV into a DerNode and says whether a tag can start it.


class _Type:
    tag: int = 0
    optional: bool = False
    default: Any = None

    def __init__(self, name: str, *, tag: int | None = None, optional: bool = False,
                 default: Any = None) -> None:  # fmt: skip
        self.name = name
        if tag is not None:
            self.tag = tag
        self.optional = optional or default is not None
        self.default = default

    def starts_with(self, tag: int) -> bool:
        return tag == self.tag

    def decode(self, tlv: _Tlv, reader: Reader, depth: int) -> DerNode:
        raise NotImplementedError

    def node(self, value: Any) -> DerNode:
        """The node for a plain value (see ``encode_der_value``)."""
        raise NotImplementedError


class Integer(_Type):
    tag = INTEGER
    kind = "integer"

    def __init__(self, name: str, names: dict[int, str] | None = None, **options: Any) -> None:
        super().__init__(name, **options)
        self.names = names or {}

    def decode(self, tlv: _Tlv, reader: Reader, depth: int) -> DerNode:
        content = tlv.content
        if not content:
            raise reader.error(BadValue, "an INTEGER has at least one byte", self.name, tlv.start)
        value = int.from_bytes(content, "big", signed=True)
        form = None if content == _integer_bytes(value) else content
        return DerNode(self.name, self.kind, tlv.tag, value, self.names.get(value), tlv.width, form)

    def node(self, value: Any) -> DerNode:
        if isinstance(value, str):
            value = {name: number for number, name in self.names.items()}.get(value, value)
        if not isinstance(value, int) or isinstance(value, bool):
            raise EncodeError(f"{self.name}: expected an integer or one of {sorted(self.names.values())}, got {value!r}")
        return DerNode(self.name, self.kind, self.tag, value, self.names.get(value))


class Enumerated(Integer):
    tag = ENUMERATED
    kind = "enumerated"


class OctetString(_Type):
    tag = OCTET_STRING

    def __init__(self, name: str, size: int | None = None, **options: Any) -> None:
        super().__init__(name, **options)
        self.size = size

    def decode(self, tlv: _Tlv, reader: Reader, depth: int) -> DerNode:
        if self.size is not None and len(tlv.content) != self.size:
            raise reader.error(BadLength, f"{self.name} is {self.size} bytes, found {len(tlv.content)}",
                               self.name, tlv.start)  # fmt: skip
        return DerNode(self.name, "octet-string", tlv.tag, tlv.content, None, tlv.width)

    def node(self, value: Any) -> DerNode:
        if not isinstance(value, (bytes, bytearray)) or (self.size is not None and len(value) != self.size):
            raise EncodeError(f"{self.name}: expected {self.size or 'some'} bytes, got {value!r}")
        return DerNode(self.name, "octet-string", self.tag, bytes(value))


class Null(_Type):
    tag = NULL

    def decode(self, tlv: _Tlv, reader: Reader, depth: int) -> DerNode:
        if tlv.content:
            raise reader.error(BadLength, "NULL has no content", self.name, tlv.start)
        return DerNode(self.name, "null", tlv.tag, None, None, tlv.width)

    def node(self, value: Any) -> DerNode:
        return DerNode(self.name, "null", self.tag, None)


class BitString(_Type):
    """A named-bit BIT STRING (X.509 key usage numbering)."""

    tag = BIT_STRING

    def __init__(self, name: str, names: dict[int, str], **options: Any) -> None:
        super().__init__(name, **options)
        self.names = names

    def decode(self, tlv: _Tlv, reader: Reader, depth: int) -> DerNode:
        if not tlv.content or tlv.content[0] > 7 or (len(tlv.content) == 1 and tlv.content[0]):
            raise reader.error(BadValue, "bad BIT STRING unused-bits count", self.name, tlv.start)
        unused, data = tlv.content[0], tlv.content[1:]
        bits = int.from_bytes(data, "big") >> unused if data else 0
        width = 8 * len(data) - unused
        named = ",".join(name for bit, name in sorted(self.names.items())
                         if bit < width and bits >> (width - 1 - bit) & 1)  # fmt: skip
        return DerNode(self.name, "bit-string", tlv.tag, (unused, data), named or None, tlv.width)

    def node(self, value: Any) -> DerNode:
        """From the names of the bits set: the shortest bit string that holds them (DER)."""
        numbers = {name: bit for bit, name in self.names.items()}
        try:
            bits = sorted(numbers[name] for name in ([value] if isinstance(value, str) else value))
        except KeyError as error:
            raise EncodeError(f"{self.name}: no bit named {error.args[0]!r}") from None
        width = bits[-1] + 1 if bits else 0
        size = (width + 7) // 8
        number = sum(1 << (8 * size - 1 - bit) for bit in bits)
        data = number.to_bytes(size, "big") if size else b""
        return DerNode(self.name, "bit-string", self.tag, (8 * size - width, data), ",".join(
            self.names[bit] for bit in bits) or None)


_GENERALIZED_TIME = re.compile(r"\d{14}Z")


class Time(_Type):
    """GeneralizedTime, ``YYYYMMDDhhmmssZ`` in GBCS (``99991231235959Z`` cancels)."""

    tag = GENERALIZED_TIME

    def decode(self, tlv: _Tlv, reader: Reader, depth: int) -> DerNode:
        try:
            text = tlv.content.decode("ascii")
            if not _GENERALIZED_TIME.fullmatch(text):  # strptime alone reads "2026120112Z" as a date
                raise ValueError(text)
            datetime.strptime(text, "%Y%m%d%H%M%SZ")
        except ValueError:
            raise reader.error(BadValue, f"not a GBCS GeneralizedTime: {tlv.content!r}", self.name,
                               tlv.start) from None  # fmt: skip
        return DerNode(self.name, "time", tlv.tag, text, None, tlv.width)

    def node(self, value: Any) -> DerNode:
        text = value.strftime("%Y%m%d%H%M%SZ") if isinstance(value, datetime) else value
        return DerNode(self.name, "time", self.tag, text)


class Opaque(_Type):
    """A certificate or PKCS#10 request: kept as its exact DER bytes, shown via cryptography."""

    tag = SEQUENCE

    def __init__(self, name: str, kind: str = "certificate", **options: Any) -> None:
        super().__init__(name, **options)
        self.kind = kind

    def decode(self, tlv: _Tlv, reader: Reader, depth: int) -> DerNode:
        whole = reader.data[tlv.start : tlv.content_start + len(tlv.content)]
        return DerNode(self.name, self.kind, tlv.tag, bytes(whole), None, tlv.width)

    def node(self, value: Any) -> DerNode:
        return DerNode(self.name, self.kind, self.tag, bytes(value))


class Sequence(_Type):
    tag = SEQUENCE

    def __init__(self, name: str, fields: list[_Type], **options: Any) -> None:
        super().__init__(name, **options)
        self.fields = fields

    def decode(self, tlv: _Tlv, reader: Reader, depth: int) -> DerNode:
        inner = Reader(reader.data, tlv.content_start, tlv.content_start + len(tlv.content), base=reader.base)
        nodes = []
        for member in self.fields:
            if inner.at_end or not member.starts_with(inner.data[inner.position]):
                if member.optional:
                    continue
                raise inner.error(BadTag, f"{member.name} is missing", member.name)
            nodes.append(_decode(member, inner, depth + 1))
        inner.expect_end(self.name)
        return DerNode(self.name, "sequence", tlv.tag, tuple(nodes), None, tlv.width)

    def node(self, value: Any) -> DerNode:
        if not isinstance(value, dict):
            raise EncodeError(f"{self.name}: expected a mapping of field names, got {value!r}")
        unknown = set(value) - {member.name for member in self.fields}
        if unknown:
            raise EncodeError(f"{self.name}: no field {sorted(unknown)[0]!r}")
        nodes = []
        for member in self.fields:
            item = value.get(member.name)
            if item is None and member.name not in value or (member.default is not None and item == member.default):
                if not member.optional:
                    raise EncodeError(f"{self.name}: {member.name} is required")
                continue  # absent OPTIONAL, or a DEFAULT value, which DER leaves out
            nodes.append(member.node(item))
        return DerNode(self.name, "sequence", self.tag, tuple(nodes))


class SequenceOf(_Type):
    tag = SEQUENCE

    def __init__(self, name: str, item: _Type, **options: Any) -> None:
        super().__init__(name, **options)
        self.item = item

    def decode(self, tlv: _Tlv, reader: Reader, depth: int) -> DerNode:
        inner = Reader(reader.data, tlv.content_start, tlv.content_start + len(tlv.content), base=reader.base)
        nodes = []
        while not inner.at_end:
            nodes.append(_decode(self.item, inner, depth + 1))
        return DerNode(self.name, "sequence-of", tlv.tag, tuple(nodes), None, tlv.width)

    def node(self, value: Any) -> DerNode:
        return DerNode(self.name, "sequence-of", self.tag, tuple(self.item.node(item) for item in value))


class Choice(_Type):
    """One of ``alternatives``, told apart by their tags."""

    def __init__(self, name: str, alternatives: list[_Type]) -> None:
        super().__init__(name)
        self.alternatives = alternatives

    def starts_with(self, tag: int) -> bool:
        return any(option.starts_with(tag) for option in self.alternatives)

    def node(self, value: Any) -> DerNode:
        """From ``{alternative name: value}``."""
        if not isinstance(value, dict) or len(value) != 1:
            raise EncodeError(f"{self.name}: expected one of {[o.name for o in self.alternatives]}")
        (name, item), = value.items()
        for option in self.alternatives:
            if option.name == name:
                return option.node(item)
        raise EncodeError(f"{self.name}: no alternative {name!r}")


def _decode(schema: _Type, reader: Reader, depth: int) -> DerNode:
    if depth > _MAX_DEPTH:
        raise reader.error(BadValue, "DER nested too deeply", schema.name)
    start = reader.position
    if isinstance(schema, Choice):
        tag = reader.data[start] if not reader.at_end else None
        for option in schema.alternatives:
            if tag is not None and option.starts_with(tag):
                return _decode(option, reader, depth)
        raise reader.error(BadTag, f"none of {', '.join(o.name for o in schema.alternatives)}",
                           schema.name)  # fmt: skip
    tlv = _read_tlv(reader, schema.name)
    if tlv.tag != schema.tag:
        raise reader.error(BadTag, f"expected tag {schema.tag:02X}, found {tlv.tag:02X}", schema.name, start)
    return schema.decode(tlv, reader, depth)


def _decode_generic(reader: Reader, depth: int) -> DerNode:
    """A DER element without a schema: typed by its universal tag, children when constructed."""
    if depth > _MAX_DEPTH:
        raise reader.error(BadValue, "DER nested too deeply", "DER")
    tlv = _read_tlv(reader, "DER element")
    if tlv.tag & _CONSTRUCTED:
        inner = Reader(reader.data, tlv.content_start, tlv.content_start + len(tlv.content), base=reader.base)
        children = []
        while not inner.at_end:
            children.append(_decode_generic(inner, depth + 1))
        return DerNode(None, "constructed", tlv.tag, tuple(children), None, tlv.width)
    if tlv.tag in (INTEGER, ENUMERATED):
        return Integer(None).decode(tlv, reader, depth)  # type: ignore[arg-type]
    return DerNode(None, "primitive", tlv.tag, tlv.content, None, tlv.width)


# ------------------------------------------------------------------------------------------
# Encoding


def encode_der(node: DerNode) -> bytes:
    """The DER bytes of a node tree (a length keeps the width it was read with).

    Raises:
        EncodeError: a value does not fit its kind.
    """
    kind, value = node.kind, node.value
    if kind in ("certificate", "certification-request"):
        return value
    if isinstance(value, tuple) and kind in ("sequence", "sequence-of", "constructed"):
        content = b"".join(encode_der(child) for child in value)
    elif kind in ("integer", "enumerated"):
        content = node.form if node.form is not None else _integer_bytes(value)
    elif kind == "bit-string":
        unused, data = value
        content = bytes((unused,)) + data
    elif kind == "time":
        content = value.encode("ascii")
    elif kind == "null":
        content = b""
    elif isinstance(value, bytes):
        content = value
    else:
        raise EncodeError(f"{node.name}: cannot encode a {kind} from {value!r}")
    return _header(node.tag, len(content), node.width) + content


def encode_der_value(message_code: int, cra: Cra, value: Any) -> bytes:
    """The DER payload of a use case from plain values, the way firmware writes one:

    INTEGER and ENUMERATED from an int or their label, OCTET STRING from bytes, NULL from
    None, a named BIT STRING from the names of its set bits, GeneralizedTime from a datetime,
    a certificate from its DER, SEQUENCE from a dict (an absent key is an absent OPTIONAL; a
    DEFAULT value is left out, as DER requires), SEQUENCE OF from a list, CHOICE from
    ``{alternative: value}``.

    Raises:
        EncodeError: no schema for the use case, or a value does not fit it.
    """
    schema = schema_for(message_code, cra)
    if schema is None:
        raise EncodeError(f"no ASN.1 schema for message code 0x{message_code:04X} ({cra.name.lower()})")
    return encode_der(schema.node(value))


def _integer_bytes(value: int) -> bytes:
    """Minimal two's complement, as DER requires."""
    size = max(1, (value + (value < 0)).bit_length() // 8 + 1)
    return value.to_bytes(size, "big", signed=True)


# ------------------------------------------------------------------------------------------
# GBCS's ASN.1, by message code (names: gbcs-parser; checked against all of RTDS).

REMOTE_PARTY_ROLES = {0: "root", 1: "recovery", 2: "supplier", 3: "networkOperator",
                      4: "accessControlBroker", 5: "transitionalCoS", 6: "wanProvider",
                      7: "issuingAuthority", 8: "loadController", 127: "other"}  # fmt: skip
REPLACEMENT_MODES = {0: "rootBySupplier", 1: "rootByWanProvider", 2: "supplierBySupplier",
                     3: "networkOperatorByNetworkOperator", 4: "accessControlBrokerByACB",
                     5: "wanProviderByWanProvider", 6: "transCoSByTransCoS", 7: "supplierByTransCoS",
                     8: "anyExceptAbnormalRootByRecovery", 9: "anyByContingency",
                     10: "loadControllerByLoadController", 11: "loadControllerBySupplier"}  # fmt: skip
STATUS_CODES = {0: "success", 5: "badCertificate", 10: "noTrustAnchor", 17: "insufficientMemory",
                25: "trustAnchorNotFound", 30: "resourcesBusy", 127: "other"}  # fmt: skip
DEVICE_TYPES = {0: "gsme", 1: "esme", 2: "chf", 3: "gpf", 4: "hcalcs", 5: "ppmid", 6: "type2"}
JOIN_METHODS = {0: "methodAInitiator", 1: "methodAResponder", 2: "methodB", 3: "methodC"}
JOIN_RESULTS = {0: "success", 1: "invalidMessageCodeForJoinMethodAndRole", 2: "invalidJoinMethodAndRole",
                3: "incompatibleWithExistingEntry", 4: "deviceLogFull", 5: "writeFailure",
                6: "keyAgreementNoResources", 7: "keyAgreementUnknownIssuer",
                8: "keyAgreementUnsupportedSuite", 9: "keyAgreementBadMessage",
                10: "keyAgreementBadKeyConfirm", 11: "invalidOrMissingCertificate",
                12: "noPartnerLinkKeyReceived", 13: "noCBKEResponse"}  # fmt: skip
KEY_USAGE_BITS = {0: "digitalSignature", 4: "keyAgreement", 5: "keyCertSign", 6: "cRLSign"}
ALERT_CODES = {0x8F66: "future-dated command executed", 0x8F67: "future-dated command failed",
               0x8071: "GPF device log changed", 0x8F89: "firmware transfer failed",
               0x8F8A: "firmware transfer succeeded", 0x8F8B: "firmware version read"}  # fmt: skip


def _role(name: str = "remotePartyRole") -> Integer:
    return Integer(name, REMOTE_PARTY_ROLES)


def _ta_cell(name: str, **options: Any) -> Sequence:
    return Sequence(name, [_role(), BitString("keyUsage", KEY_USAGE_BITS),
                           Integer("cellUsage", {0: "management", 1: "prePaymentTopUp"}, default=0)],
                    **options)  # fmt: skip


def _specialist_seq_number() -> Sequence:
    return Sequence("specialistSeqNumber", [Integer("seqNumberUsage", {0: "prePaymentTopUp"}),
                                            Integer("seqNumber")])  # fmt: skip


def _seq_number_change() -> Sequence:
    return Sequence("remotePartySeqNumberChange", [
        _role(), Integer("floorSeqNumber"),
        SequenceOf("specialistFloorSeqNumbers", _specialist_seq_number(), optional=True)])


def _device_log_entry() -> Sequence:
    return Sequence("deviceLogEntry", [OctetString("deviceId", 8), Integer("deviceType", DEVICE_TYPES)])


def _alert_header() -> list[_Type]:
    return [Integer("alertCode", ALERT_CODES), Time("executionDateTime")]


def _execution_outcome(**options: Any) -> Sequence:
    return Sequence("executionOutcome", [
    Integer("authorisingRemotePartySeqNumber"),
    Integer("credentialsReplacementMode", REPLACEMENT_MODES),
    SequenceOf("remotePartySeqNumberChanges", _seq_number_change()),
    SequenceOf("replacementOutcomes", Sequence("replacementOutcome", [
        _ta_cell("affectedTrustAnchorCell"), Enumerated("statusCode", STATUS_CODES),
        OctetString("existingSubjectUniqueID", 8), OctetString("existingSubjectKeyIdentifier", 8),
        OctetString("replacingSubjectUniqueID", 8), OctetString("replacingSubjectKeyIdentifier", 8)]))],
    **options)

_UPDATE_SECURITY_CREDENTIALS = {
    Cra.COMMAND: Sequence("UpdateSecurityCredentialsCommand", [
        Sequence("authorisingRemotePartyControl", [
            Integer("credentialsReplacementMode", REPLACEMENT_MODES),
            OctetString("plainTextSymmetricKey", tag=0x80, optional=True),
            Integer("applyTimeBasedCPVChecks", {0: "apply", 1: "disapply"}, tag=0x81, optional=True),
            _ta_cell("authorisingRemotePartyTACellIdentifier", tag=0xA2, optional=True),
            Integer("authorisingRemotePartySeqNumber", tag=0x83),
            Integer("newRemotePartyFloorSeqNumber", tag=0x84, optional=True),
            SequenceOf("newRemotePartySpecialistFloorSeqNumbers", _specialist_seq_number(),
                       tag=0xA5, optional=True),
            SequenceOf("otherRemotePartySeqNumberChanges", _seq_number_change(), tag=0xA6,
                       optional=True)]),
        SequenceOf("replacements", Sequence("trustAnchorReplacement", [
            Opaque("replacementCertificate"), _ta_cell("targetTrustAnchorCell")])),
        SequenceOf("certificationPathCertificates", Opaque("certificate")),
        Time("executionDateTime", optional=True)]),
    Cra.RESPONSE: Sequence("UpdateSecurityCredentialsResponse", [
        Null("commandAccepted"), _execution_outcome(optional=True)]),
}  # fmt: skip
_UPDATE_SECURITY_CREDENTIALS_ALERT = Sequence("UpdateSecurityCredentialsAlert", [
    *_alert_header(), _execution_outcome()])
_PROVIDE_CREDENTIAL_DETAILS = {
    Cra.COMMAND: Sequence("ProvideSecurityCredentialDetailsCommand", [
        _ta_cell("authorisingRemotePartyTACellIdentifier"),
        SequenceOf("remotePartyRolesCredentialsRequired", _role())]),
    Cra.RESPONSE: SequenceOf("ProvideSecurityCredentialDetailsResponse", Sequence("remotePartyDetails", [
        _role(), Enumerated("statusCode", STATUS_CODES), Integer("currentSeqNumber", optional=True),
        SequenceOf("trustAnchorCellDetails", Sequence("trustAnchorCellContents", [
            BitString("keyUsage", KEY_USAGE_BITS),
            Integer("cellUsage", {0: "management", 1: "prePaymentTopUp"}, default=0),
            OctetString("subjectUniqueID", 8), OctetString("subjectKeyIdentifier", 8)]),
            optional=True)])),
}  # fmt: skip
_KEY_USAGE_COMMAND = Sequence("keyUsageCommand", [BitString("keyUsage", KEY_USAGE_BITS)])
_JOIN = {
    Cra.COMMAND: Sequence("JoinDeviceCommand", [
        Integer("joinMethodAndRole", JOIN_METHODS), OctetString("otherDeviceEntityId", 8),
        Integer("otherDeviceType", DEVICE_TYPES),
        Opaque("otherDeviceKeyAgreementCertificate", optional=True)]),
    Cra.RESPONSE: Integer("joinResponseCode", JOIN_RESULTS),
}  # fmt: skip
_UNJOIN = {
    Cra.COMMAND: OctetString("otherDeviceEntityId", 8),
    Cra.RESPONSE: Integer("unjoinResponseCode", {0: "success", 1: "notInDeviceLog", 2: "otherFailure"}),
}
_FIRMWARE_OUTCOME = Sequence("executionOutcome", [
    Integer("responseCode", {0: "success", 1: "noImageHeld", 2: "hashMismatch", 3: "activationFailure"}),
    OctetString("firmwareVersion", 4)])

SCHEMAS: dict[tuple[int, Cra], _Type] = {
    **{(code, cra): schema for code in (0x0008, 0x011B)
       for cra, schema in _PROVIDE_CREDENTIAL_DETAILS.items()},
    (0x000A, Cra.COMMAND): _KEY_USAGE_COMMAND,
    (0x000A, Cra.RESPONSE): Choice("IssueSecurityCredentialsResponse", [
        Opaque("certificationRequest", "certification-request"),
        Integer("responseCode", {1: "invalidKeyUsage", 2: "keyPairGenerationFailed", 3: "crProductionFailed"})]),
    (0x000B, Cra.COMMAND): Opaque("deviceCertificate"),
    (0x000B, Cra.RESPONSE): Integer("responseCode", {
        0: "success", 1: "invalidCertificate", 2: "wrongDeviceIdentity", 3: "invalidKeyUsage",
        4: "noCorrespondingKeyPairGenerated", 5: "wrongPublicKey", 6: "certificateStorageFailed",
        7: "privateKeyChangeFailed"}),
    (0x000C, Cra.COMMAND): _KEY_USAGE_COMMAND,
    (0x000C, Cra.RESPONSE): Choice("ProvideDeviceCertificateResponse", [
        Opaque("certificate"),
        Integer("responseCode", {1: "invalidKeyUsage", 2: "noCertificateHeld", 3: "certificateRetrievalFailure"})]),
    **{(code, cra): schema for code in (0x000D, 0x000E, 0x00AB, 0x00AF) for cra, schema in _JOIN.items()},
    **{(code, cra): schema for code in (0x000F, 0x0010) for cra, schema in _UNJOIN.items()},
    (0x0012, Cra.COMMAND): Sequence("ActivateFirmwareCommand", [
        OctetString("manufacturerImageHash", 32), Integer("originatorCounter"),
        Time("executionDateTime", optional=True)]),
    (0x0012, Cra.RESPONSE): Choice("ActivateFirmwareResponse", [Null("commandAccepted"), _FIRMWARE_OUTCOME]),
    (0x00CA, Cra.ALERT): Sequence("ActivateFirmwareAlert", [
        *_alert_header(), Integer("originatorCounter"), _FIRMWARE_OUTCOME]),
    (0x0013, Cra.COMMAND): Null("readDeviceJoinDetails"),
    (0x0013, Cra.RESPONSE): Sequence("ReadDeviceJoinDetailsResponse", [
        Integer("responseCode", {0: "success", 1: "readFailure"}),
        SequenceOf("deviceLogEntries", _device_log_entry(), optional=True)]),
    (0x007F, Cra.COMMAND): Sequence("SetTimeCommand", [
        Time("validityIntervalStart"), Time("validityIntervalEnd")]),
    (0x007F, Cra.RESPONSE): Sequence("SetTimeResponse", [
        Time("deviceTime"), Integer("deviceTimeStatus", {0: "reliable", 1: "invalid", 2: "unreliable"})]),
    (0x008C, Cra.COMMAND): Sequence("GPFDeviceLogRestoreCommand", [
        SequenceOf("deviceLogEntries", _device_log_entry())]),
    (0x008C, Cra.RESPONSE): Sequence("GPFDeviceLogRestoreResponse", [
        SequenceOf("restoreOutcomes", Sequence("restoreOutcome", [
            _device_log_entry(), Integer("joinResponseCode", JOIN_RESULTS)]))]),
    (0x00B2, Cra.ALERT): Sequence("GPFDeviceLogBackupAlert", [
        Integer("alertCode", ALERT_CODES), Time("backupDateTime"),
        SequenceOf("deviceLogEntries", _device_log_entry())]),
    **{(code, cra): schema for code in (*range(0x0100, 0x010A), 0x0125, 0x0126)
       for cra, schema in _UPDATE_SECURITY_CREDENTIALS.items()},
    (0x00CB, Cra.ALERT): _UPDATE_SECURITY_CREDENTIALS_ALERT,
    (0x0124, Cra.ALERT): _UPDATE_SECURITY_CREDENTIALS_ALERT,
    (0x0128, Cra.ALERT): Sequence("FirmwareTransferAlert", [
        *_alert_header(), OctetString("entityId", 8), OctetString("firmwareVersion", 4),
        Integer("responseCode", {0: "success", 1: "imageDiscarded", 2: "hardwareVersionMismatch",
                                 3: "fileTransferFailure"})]),
    (0x0129, Cra.COMMAND): Null("readFirmwareVersion"),
    (0x0129, Cra.RESPONSE): Sequence("ReadFirmwareVersionResponse", [
        OctetString("firmwareVersion", 4), Integer("responseCode", {0: "readSuccess", 1: "readFailure"})]),
    (0x012B, Cra.ALERT): Sequence("PPMIDFirmwareActivationAlert", [
        *_alert_header(), OctetString("firmwareVersion", 4),
        Integer("activateImage", {0: "success", 1: "failure"})]),
}  # fmt: skip


def schema_for(message_code: int, cra: Cra) -> _Type | None:
    """The ASN.1 type of a use case's payload, or None where we know none."""
    return SCHEMAS.get((message_code, cra))


def decode_der(payload: bytes, message_code: int, cra: Cra) -> DerNode:
    """Decode a DER payload by its use case's schema (generic TLVs where there is none).

    Raises:
        DecodeError: the bytes do not follow the schema, or are not DER; offsets count from
            the start of the payload.
    """
    reader = Reader(payload)
    schema = schema_for(message_code, cra)
    node = _decode_generic(reader, 0) if schema is None else _decode(schema, reader, 0)
    reader.expect_end("DER payload")
    return node
