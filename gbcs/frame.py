"""GBCS messages as typed values: ``decode`` bytes into a ``Frame`` (or a ``Block`` of a
General Block Transfer), ``encode`` them back, byte for byte.

Rules of this file:

1. Containers stop here. The grammar (``gbcs/grammar``) yields construct Containers; everything
   outside this file sees the frozen dataclasses below, which validate when built.
2. ``encode(decode(x)) == x`` for every valid input. A ``Frame`` keeps what the bytes say
   beyond its typed fields -- a non-minimal length form, a missing signature element -- and
   ``encode`` always rebuilds from the fields, never from the input.
3. ``decode`` raises ``DecodeError`` (with the byte offset into the input) and nothing else.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from enum import Enum

from .errors import BadLength, BadTag, BadValue, DecodeError, EncodeError, Truncated
from .grammar import messages as grammar
from .grammar.primitives import Length, ber_length_size
from .types import EUI64, Cra, DlmsDateTime

__all__ = ["Block", "Form", "Frame", "OtherInformation", "decode", "encode"]

_FIELD = 8  # each supplementary field: an EUI-64 or a 64-bit counter
_U64_LIMIT = 1 << 64


class Form(str, Enum):
    """The top-level shape of a message (primer §2)."""

    GENERAL_CIPHERING = "general-ciphering"  # DD 00: MAC header, GS APDU, MAC
    GENERAL_SIGNING = "general-signing"  # DF with its signature element (00 or 40 + r‖s)
    PRE_COMMAND = "pre-command"  # DF without the signature element: unsigned, not yet sent
    BLOCK = "general-block-transfer"  # DD 09: one block of a segmented message


@dataclass(frozen=True, slots=True)
class OtherInformation:
    """The Other Information of a grouping header (primer §5): the message code and the
    supplementary fields the Access Control Broker adds when it acts for a remote party.

    Attributes:
        message_code: names the use case (``gbcs.catalogue``).
        supplementary_remote_party_id: the remote party the ACB acts for.
        supplementary_remote_party_counter: that party's own counter for the request.
        supplementary_originator_counter: chosen by the device when it encrypts a response for
            the supplementary remote party (26-byte form).
        remote_party_certificate: DER X.509 key-agreement certificate of an unknown remote
            party (URP commands, the form longer than 26 bytes).
    """

    message_code: int
    supplementary_remote_party_id: EUI64 | None = None
    supplementary_remote_party_counter: int | None = None
    supplementary_originator_counter: int | None = None
    remote_party_certificate: bytes | None = None

    def __post_init__(self) -> None:
        if not 0 <= self.message_code <= 0xFFFF:
            raise ValueError(f"message code {self.message_code!r} is not 16 bits")
        if self.supplementary_remote_party_id is not None and not isinstance(
            self.supplementary_remote_party_id, EUI64
        ):
            object.__setattr__(
                self, "supplementary_remote_party_id", EUI64(self.supplementary_remote_party_id)
            )
        for name in ("supplementary_remote_party_counter", "supplementary_originator_counter"):
            value = getattr(self, name)
            if value is not None and not 0 <= value < _U64_LIMIT:
                raise ValueError(f"{name} {value!r} is not an unsigned 64-bit integer")
        # Each supplementary field needs the ones before it (the layout is positional).
        if self.supplementary_remote_party_counter is not None and (
            self.supplementary_remote_party_id is None
        ):
            raise ValueError("a supplementary remote party counter needs its remote party id")
        tail = (self.supplementary_originator_counter, self.remote_party_certificate)
        if any(item is not None for item in tail) and self.supplementary_remote_party_counter is None:
            raise ValueError(
                "a supplementary originator counter or certificate needs the remote party "
                "id and counter before it"
            )
        if all(item is not None for item in tail):
            raise ValueError("GBCS carries a supplementary originator counter or a certificate, not both")
        if self.remote_party_certificate is not None and len(self.remote_party_certificate) <= _FIELD:
            raise ValueError("a remote party certificate is a DER X.509 certificate")

    def encode(self) -> bytes:
        parts = [self.message_code.to_bytes(2, "big")]
        if self.supplementary_remote_party_id is not None:
            parts.append(self.supplementary_remote_party_id)
        if self.supplementary_remote_party_counter is not None:
            parts.append(self.supplementary_remote_party_counter.to_bytes(8, "big"))
        if self.supplementary_originator_counter is not None:
            parts.append(self.supplementary_originator_counter.to_bytes(8, "big"))
        if self.remote_party_certificate is not None:
            parts.append(self.remote_party_certificate)
        return b"".join(parts)

    @classmethod
    def decode(cls, data: bytes, offset: int = 0) -> OtherInformation:
        """Read the bytes inside the Other Information length (``offset`` is theirs in the
        message, for errors).

        Raises:
            BadLength: a length none of the GBCS forms has.
            BadValue: the bytes after the supplementary counter are not a DER certificate.
        """
        if len(data) == 2:  # 91% of RTDS: one shared immutable value per message code
            return _message_code_only(data)
        if len(data) < 2 or (len(data) < 26 and len(data) % 8 != 2):
            raise BadLength(
                f"{len(data)} bytes is none of the GBCS forms (2, 10, 18, 26 or 18 + a certificate)",
                offset=offset,
                field="other information",
            )
        parsed = grammar.OtherInformation.parse(data)
        rest = parsed.supplementary
        fields: dict = {}
        if len(rest) >= _FIELD:
            fields["supplementary_remote_party_id"] = EUI64(rest[:8])
        if len(rest) >= 2 * _FIELD:
            fields["supplementary_remote_party_counter"] = int.from_bytes(rest[8:16], "big")
        tail = rest[16:]
        if len(tail) == _FIELD:
            fields["supplementary_originator_counter"] = int.from_bytes(tail, "big")
        elif tail:
            _check_der_certificate(tail, offset + 18)
            fields["remote_party_certificate"] = tail
        return cls(parsed.message_code, **fields)


@functools.lru_cache(maxsize=None)  # at most 65,536 entries, one per message code
def _message_code_only(data: bytes) -> OtherInformation:
    return OtherInformation(int.from_bytes(data, "big"))


def _check_der_certificate(data: bytes, offset: int) -> None:
    """The bytes must be one DER SEQUENCE filling them exactly (an X.509 certificate)."""
    field_name = "remote party certificate"
    if data[0] != 0x30:
        raise BadTag(f"expected a DER SEQUENCE (30), found {data[0]:02X}", offset=offset,
                     field=field_name)  # fmt: skip
    if len(data) < 2:
        raise Truncated("needs a DER length", offset=offset + 1, field=field_name)
    first = data[1]
    if first < 0x80:
        header, size = 2, first
    else:
        width = first & 0x7F
        if not 1 <= width <= 3 or len(data) < 2 + width:
            raise BadLength("bad DER length", offset=offset + 1, field=field_name)
        header, size = 2 + width, int.from_bytes(data[2 : 2 + width], "big")
    if header + size != len(data):
        raise BadLength(
            f"DER length says {header + size} bytes, the field holds {len(data)}",
            offset=offset + 1,
            field=field_name,
        )


@dataclass(frozen=True, slots=True)
class Lengths:
    """BER length fields that were read in a longer form than needed, by their width in
    bytes after the first; None means the minimal form (RTDS always uses it)."""

    ciphered: int | None = None
    other_information: int | None = None
    content: int | None = None


_MINIMAL = Lengths()


@dataclass(frozen=True, slots=True)
class Frame:
    """One GBCS message: a General Signing APDU, wrapped in General Ciphering when MACed.

    Attributes:
        cra: command, response or alert.
        originator_counter: the transaction counter chosen by the originator.
        originator, recipient: business originator and business target ids.
        other_information: message code and supplementary fields.
        content: the payload (DLMS, GBZ or DER), as bytes; ``gbcs.payload`` decodes it.
        date_time: the grouping header's date-time, or None (absent).
        signature: r ‖ s (64 bytes), or None when the element is ``00`` or missing.
        mac: the 12-byte MAC of the General Ciphering wrapper, or None (not wrapped).
        signature_element: False for a pre-command, whose APDU ends after its content.
        security_control, invocation_counter: the General Ciphering security header
            (``11`` and 0 in all of RTDS).
        lengths: non-minimal BER length forms the frame was read with.
    """

    cra: Cra
    originator_counter: int
    originator: EUI64
    recipient: EUI64
    other_information: OtherInformation
    content: bytes
    date_time: DlmsDateTime | None = None
    signature: bytes | None = None
    mac: bytes | None = None
    signature_element: bool = True
    security_control: int = 0x11
    invocation_counter: int = 0
    lengths: Lengths = field(default=_MINIMAL, repr=False, compare=False)
    # Set by decode(): the General Signing APDU as read and where its signature element
    # starts, so that checking a signature or MAC does not re-encode what was just parsed.
    wire: tuple[bytes, int] | None = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        _check_header(self)
        if self.signature is not None and len(self.signature) != 64:
            raise ValueError(f"a signature is 64 bytes (r ‖ s), got {len(self.signature)}")
        if self.mac is not None and len(self.mac) != grammar.MAC_SIZE:
            raise ValueError(f"a MAC is {grammar.MAC_SIZE} bytes, got {len(self.mac)}")
        if not self.signature_element and (self.signature is not None or self.mac is not None):
            raise ValueError("a pre-command (no signature element) has no signature and no MAC")
        if not 0 <= self.security_control <= 0xFF or not 0 <= self.invocation_counter < 1 << 32:
            raise ValueError("security control is one byte and the invocation counter four")

    @property
    def message_code(self) -> int:
        return self.other_information.message_code

    @property
    def form(self) -> Form:
        if self.mac is not None:
            return Form.GENERAL_CIPHERING
        return Form.GENERAL_SIGNING if self.signature_element else Form.PRE_COMMAND

    def general_signing_apdu(self) -> tuple[bytes, int]:
        """The General Signing APDU's bytes and the offset where its signature element starts
        (the signed bytes are ``apdu[1:offset]``, primer §8.2)."""
        if self.wire is not None:
            return self.wire
        return _encode_general_signing(self)


@dataclass(frozen=True, slots=True)
class Block:
    """One block of a General Block Transfer (primer §11): a routing header naming the whole
    message, then a slice of its bytes. ``gbcs.blocks`` segments and reassembles them.

    Attributes:
        block_number: 1 for the first block.
        last: set on the final block.
        streaming, window: the block control's streaming bit and window (0-63).
        acknowledged_block_number: the last block received from the peer (0 if none).
        data: this block's slice of the message; empty for an acknowledgement.
    """

    cra: Cra
    originator_counter: int
    originator: EUI64
    recipient: EUI64
    other_information: OtherInformation
    block_number: int
    data: bytes
    last: bool = False
    streaming: bool = False
    window: int = 0
    acknowledged_block_number: int = 0
    date_time: DlmsDateTime | None = None
    security_control: int = 0
    invocation_counter: int = 0
    lengths: Lengths = field(default=_MINIMAL, repr=False, compare=False)

    def __post_init__(self) -> None:
        _check_header(self)
        if not 0 <= self.window <= 0x3F:
            raise ValueError(f"window {self.window} is not 0-63")
        for name in ("block_number", "acknowledged_block_number"):
            if not 0 <= getattr(self, name) <= 0xFFFF:
                raise ValueError(f"{name} is a 16-bit number")

    @property
    def message_code(self) -> int:
        return self.other_information.message_code

    @property
    def form(self) -> Form:
        return Form.BLOCK

    @property
    def block_control(self) -> int:
        return (0x80 if self.last else 0) | (0x40 if self.streaming else 0) | self.window


def _check_header(message: Frame | Block) -> None:
    """The header fields Frame and Block share: typed, and in range (raises ValueError)."""
    if not isinstance(message.cra, Cra):
        object.__setattr__(message, "cra", Cra(message.cra))
    for name in ("originator", "recipient"):
        value = getattr(message, name)
        if not isinstance(value, EUI64):
            object.__setattr__(message, name, EUI64(value))
    if not 0 <= message.originator_counter < _U64_LIMIT:
        raise ValueError(f"originator counter {message.originator_counter!r} is not 64 bits")


def decode(data: bytes) -> Frame | Block:
    """Read one GBCS message.

    Args:
        data: the whole message, nothing before or after it.

    Returns:
        a ``Frame``, or a ``Block`` for one block of a General Block Transfer.

    Raises:
        DecodeError: the bytes are not a GBCS message; ``offset`` says where.
    """
    data = bytes(data)
    if not data:
        raise Truncated("empty input", offset=0, field="message")
    first = data[0]
    if first == grammar.GENERAL_SIGNING_TAG:
        return _decode_general_signing(data, 0)
    if first == grammar.GENERAL_CIPHERING_TAG:
        if len(data) > 1 and data[1] == grammar.TRANSACTION_ID_LENGTH:
            return _decode_block(data)
        return _decode_general_ciphering(data)
    raise BadTag(
        f"a GBCS message starts with DF (General Signing) or DD (General Ciphering), found {first:02X}",
        offset=0,
        field="message",
    )


def encode(message: Frame | Block) -> bytes:
    """The bytes of a ``Frame`` or ``Block``, rebuilt from its fields.

    Raises:
        EncodeError: a field cannot be encoded (a length too long for its form ...).
    """
    if isinstance(message, Block):
        return _encode_block(message)
    apdu, _ = _encode_general_signing(message)
    if message.mac is None:
        return apdu
    return _build(
        grammar.GeneralCiphering,
        {
            "ciphered_length": _with_width(
                grammar.SECURITY_HEADER_SIZE + len(apdu) + grammar.MAC_SIZE,
                message.lengths.ciphered,
            ),
            "security_control": message.security_control,
            "invocation_counter": message.invocation_counter,
            "general_signing": apdu,
            "mac": message.mac,
        },
    )


def _decode_general_signing(data: bytes, offset: int) -> Frame:
    parsed = grammar.GeneralSigning.parse(data)
    return _frame(parsed, data, offset, wrapper=None)


def _decode_general_ciphering(data: bytes) -> Frame:
    wrapper = grammar.GeneralCiphering.parse(data)
    start = wrapper.general_signing_offset
    apdu = wrapper.general_signing
    try:
        parsed = grammar.GeneralSigning.parse(apdu)
    except DecodeError as error:
        raise error.shifted(start) from error
    if parsed.signature is None:
        raise BadValue(
            "the wrapped General Signing APDU has no signature element (00 or 40 + r‖s)",
            offset=start + len(apdu),
            field="signature",
        )
    return _frame(parsed, apdu, start, wrapper)


def _frame(parsed, apdu: bytes, offset: int, wrapper) -> Frame:
    """The Frame for a parsed General Signing APDU (``apdu``, found at ``offset`` in the
    input) and, when MACed, its parsed General Ciphering ``wrapper``."""
    # Containers are dicts: item access is several times cheaper than attribute access.
    signature = parsed["signature"]
    if wrapper is None:
        mac, security_control, invocation_counter, ciphered_length = None, 0x11, 0, 0
    else:
        mac = wrapper["mac"]
        security_control = wrapper["security_control"]
        invocation_counter = wrapper["invocation_counter"]
        ciphered_length = wrapper["ciphered_length"]
    frame = Frame(
        Cra(parsed["cra"]),
        parsed["originator_counter"],
        EUI64(parsed["originator"]),
        EUI64(parsed["recipient"]),
        OtherInformation.decode(
            parsed["other_information"], offset + parsed["other_information_offset"]
        ),
        parsed["content"],
        parsed["date_time"],
        signature or None,
        mac,
        signature is not None,
        security_control,
        invocation_counter,
        _read_lengths(ciphered_length, parsed["other_information_length"], parsed["content_length"]),
    )
    object.__setattr__(frame, "wire", (apdu, parsed["signed_end"]))
    return frame


def _decode_block(data: bytes) -> Block:
    parsed = grammar.GeneralBlockTransfer.parse(data)
    length_size = ber_length_size(parsed.ciphered_length)
    held = len(data) - parsed.ciphered_length_offset - length_size
    if parsed.ciphered_length != held:
        raise BadLength(
            f"ciphered-content length says {int(parsed.ciphered_length)}, the block holds {held}",
            offset=parsed.ciphered_length_offset,
            field="ciphered-content length",
        )
    return Block(
        cra=Cra(parsed.cra),
        originator_counter=parsed.originator_counter,
        originator=EUI64(parsed.originator),
        recipient=EUI64(parsed.recipient),
        other_information=OtherInformation.decode(
            parsed.other_information, parsed.other_information_offset
        ),
        date_time=parsed.date_time,
        security_control=parsed.security_control,
        invocation_counter=parsed.invocation_counter,
        last=bool(parsed.block_control & 0x80),
        streaming=bool(parsed.block_control & 0x40),
        window=parsed.block_control & 0x3F,
        block_number=parsed.block_number,
        acknowledged_block_number=parsed.acknowledged_block_number,
        data=parsed.block_data,
        lengths=_read_lengths(parsed.ciphered_length, parsed.other_information_length,
                              parsed.block_data_length),  # fmt: skip
    )


def _encode_general_signing(frame: Frame) -> tuple[bytes, int]:
    other_information = frame.other_information.encode()
    values = {
        "cra": int(frame.cra),
        "originator_counter": frame.originator_counter,
        "originator": frame.originator,
        "recipient": frame.recipient,
        "date_time": frame.date_time,
        "other_information_length": _with_width(
            len(other_information), frame.lengths.other_information
        ),
        "other_information": other_information,
        "content_length": _with_width(len(frame.content), frame.lengths.content),
        "content": frame.content,
        "signature": (frame.signature or b"") if frame.signature_element else None,
    }
    apdu = _build(grammar.GeneralSigning, values)
    signature_size = 0 if not frame.signature_element else 1 + len(values["signature"])
    return apdu, len(apdu) - signature_size


def _encode_block(block: Block) -> bytes:
    other_information = block.other_information.encode()
    data_length = _with_width(len(block.data), block.lengths.content)
    ciphered = grammar.SECURITY_HEADER_SIZE + 6 + ber_length_size(data_length) + len(block.data)
    return _build(
        grammar.GeneralBlockTransfer,
        {
            "cra": int(block.cra),
            "originator_counter": block.originator_counter,
            "originator": block.originator,
            "recipient": block.recipient,
            "date_time": block.date_time,
            "other_information_length": _with_width(
                len(other_information), block.lengths.other_information
            ),
            "other_information": other_information,
            "ciphered_length": _with_width(ciphered, block.lengths.ciphered),
            "security_control": block.security_control,
            "invocation_counter": block.invocation_counter,
            "block_control": block.block_control,
            "block_number": block.block_number,
            "acknowledged_block_number": block.acknowledged_block_number,
            "block_data_length": data_length,
            "block_data": block.data,
        },
    )


def _build(structure, values: dict) -> bytes:
    try:
        return structure.build(values)
    except EncodeError:
        raise
    except Exception as error:  # construct's own errors: report them as ours
        raise EncodeError(str(error)) from error


def _with_width(value: int, width: int | None) -> int:
    return value if width is None else Length(value, width)


def _read_lengths(ciphered, other_information, content) -> Lengths:
    """The non-minimal widths among the lengths just read (plain ints were minimal)."""
    widths = (
        getattr(ciphered, "width", None),
        getattr(other_information, "width", None),
        getattr(content, "width", None),
    )
    if widths == (None, None, None):
        return _MINIMAL
    return Lengths(*widths)
