"""Encrypted payload blocks (primer §8.5): find them in a frame's content, decrypt them, and
encrypt new ones.

Two kinds carry encrypted data in GBCS, always sealed with AES-128-GCM and a 12-byte tag:

* DLMS "protected attributes" (primer §7.2): a structure(2) of the COSEM data-protection
  parameters and an octet string ``31 ‖ IC(4) ‖ ciphertext ‖ tag``.
* GBZ components with the encrypted bit (primer §7.3): after the clear ZCL header, a 2-byte
  ciphered length, then ``31 ‖ IC(4) ‖ ciphertext ‖ tag``.

Keys follow the grouping header, not the parameters inside the payload (primer §8.5 and its
ECS21b caveat): ECDH between the business originator and the *peer* -- the supplementary
remote party when the Other Information names one, else the business target; KDF with
ORIG = originator, usage 04, CTR = the supplementary originator counter when present, else the
originator counter, RECIP = the peer; IV = originator ‖ the block's invocation counter;
AAD = the block's security control byte.

The walks below read just enough of the DLMS and GBZ structure to find the blocks; the full
payload decoders build on the same layouts.
"""

from __future__ import annotations

from dataclasses import dataclass

from . import crypto
from .crypto import KdfUsage
from .errors import BadLength, BadTag, DecodeError, KeyStoreError, Truncated
from .frame import Frame
from .keystore import KeyStore, KeyUsage
from .types import EUI64, Cra

__all__ = ["EncryptedBlock", "decrypt_block", "find_encrypted_blocks", "payload_key", "seal"]

ENCRYPTED_SECURITY_CONTROL = 0x31  # authenticated and encrypted, security suite 1
_SECURITY_HEADER = 5  # security control (1) + invocation counter (4)
_GBZ_PROFILE = b"\x01\x09"  # ZigBee Smart Energy profile id
_GBZ_ENCRYPTED = 0x02  # extended header control bits (primer §7.3)
_GBZ_FROM_DATE_TIME = 0x10
_ZCL_MANUFACTURER_SPECIFIC = 0x04  # ZCL frame control bit: a manufacturer code follows


@dataclass(frozen=True, slots=True)
class EncryptedBlock:
    """One encrypted block in a frame's content.

    Attributes:
        kind: ``"dlms"`` or ``"gbz"``.
        offset: where the security control byte is, in the content.
        security_control: ``31`` in GBCS.
        invocation_counter: the block's IC (0 in RTDS), part of the IV.
        sealed: ciphertext ‖ 12-byte tag.
    """

    kind: str
    offset: int
    security_control: int
    invocation_counter: int
    sealed: bytes

    @property
    def end(self) -> int:
        return self.offset + _SECURITY_HEADER + len(self.sealed)


def find_encrypted_blocks(frame: Frame) -> list[EncryptedBlock]:
    """Every encrypted block in the frame's content, in order.

    Raises:
        DecodeError: the DLMS or GBZ structure around the blocks is malformed (offsets count
            from the start of the content).
    """
    content = frame.content
    if content[:2] == _GBZ_PROFILE:
        if frame.cra is Cra.ALERT:
            return []  # GBZ alerts: use-case specific bodies, read by the payload decoders
        return _gbz_blocks(content)
    if content[:1] in (b"\xd9", b"\xda", b"\x0f"):
        return _dlms_blocks(content)
    return []  # ASN.1 DER payloads carry no encrypted blocks in GBCS


def payload_key(frame: Frame, keystore: KeyStore) -> bytes:
    """The AES-128 key of the frame's encrypted blocks.

    Raises:
        KeyStoreError: the store holds no private key-agreement key for either party.
    """
    info = frame.other_information
    peer = info.supplementary_remote_party_id or frame.recipient
    counter = info.supplementary_originator_counter
    if counter is None:
        counter = frame.originator_counter
    secret = keystore.shared_secret(frame.originator, peer, KeyUsage.KA)
    if secret is None:
        raise KeyStoreError(
            f"no key-agreement pair to decrypt: needs a private key of {frame.originator} or {EUI64(peer)}"
        )
    return crypto.derive_key(secret, frame.originator, KdfUsage.PAYLOAD_ENCRYPTION, counter, peer)


def decrypt_block(frame: Frame, block: EncryptedBlock, key: bytes) -> bytes:
    """The plaintext of one block.

    Raises:
        AuthenticationFailed: the tag does not verify.
    """
    iv = frame.originator + block.invocation_counter.to_bytes(4, "big")
    return crypto.decrypt(key, iv, block.sealed, bytes((block.security_control,)))


def seal(originator: bytes, key: bytes, plaintext: bytes, invocation_counter: int = 0) -> bytes:
    """``31 ‖ IC ‖ ciphertext ‖ tag`` for a new encrypted block from ``originator``."""
    header = bytes((ENCRYPTED_SECURITY_CONTROL,)) + invocation_counter.to_bytes(4, "big")
    iv = originator + invocation_counter.to_bytes(4, "big")
    return header + crypto.encrypt(key, iv, plaintext, header[:1])


def _block(kind: str, data: bytes, offset: int) -> EncryptedBlock:
    if len(data) < _SECURITY_HEADER + crypto.TAG_SIZE:
        raise BadLength("an encrypted block needs a security header and a 12-byte tag",
                        offset=offset, field="encrypted block")  # fmt: skip
    return EncryptedBlock(kind, offset, data[0], int.from_bytes(data[1:5], "big"), data[5:])


class _Reader:
    """Bounds-checked reading of ``data[position:end]`` with errors at content offsets."""

    def __init__(self, data: bytes, position: int = 0, end: int | None = None) -> None:
        self.data = data
        self.position = position
        self.end = len(data) if end is None else end

    def take(self, size: int, field: str) -> bytes:
        if self.position + size > self.end:
            raise Truncated(f"needs {size} bytes, {self.end - self.position} left",
                            offset=self.position, field=field)  # fmt: skip
        start = self.position
        self.position += size
        return self.data[start : self.position]

    def byte(self, field: str) -> int:
        return self.take(1, field)[0]

    def unsigned(self, size: int, field: str) -> int:
        return int.from_bytes(self.take(size, field), "big")

    def ber_length(self, field: str) -> int:
        start = self.position
        first = self.byte(field)
        if first < 0x80:
            return first
        width = first & 0x7F
        if not 1 <= width <= 4:
            raise BadLength(f"unsupported length form {first:02X}", offset=start, field=field)
        return self.unsigned(width, field)


def _gbz_blocks(content: bytes) -> list[EncryptedBlock]:
    reader = _Reader(content, 2)
    blocks = []
    for _ in range(reader.byte("GBZ component count")):
        control = reader.byte("GBZ extended header control")
        reader.take(2, "GBZ cluster id")
        length = reader.unsigned(2, "GBZ extended header length")
        end = reader.position + length
        if end > len(content):
            raise Truncated(f"component of {length} bytes overruns the content",
                            offset=reader.position - 2, field="GBZ extended header length")  # fmt: skip
        if control & _GBZ_ENCRYPTED:
            body = _Reader(content, reader.position, end)
            if control & _GBZ_FROM_DATE_TIME:
                body.take(4, "GBZ from-date-time")
            body.take(2, "GBZ additional header")
            frame_control = body.byte("ZCL frame control")
            if frame_control & _ZCL_MANUFACTURER_SPECIFIC:
                body.take(2, "ZCL manufacturer code")
            body.take(2, "ZCL sequence number and command id")
            ciphered = body.unsigned(2, "GBZ ciphered information length")
            if body.position + ciphered != end:
                raise BadLength(f"ciphered length {ciphered} does not fill the component",
                                offset=body.position - 2, field="GBZ ciphered information length")  # fmt: skip
            blocks.append(_block("gbz", content[body.position : end], body.position))
        reader.position = end
    return blocks


# DLMS A-XDR data tags (primer §7.2) and the size of the fixed-size ones.
_FIXED_SIZE = {0x00: 0, 0x03: 1, 0x05: 4, 0x06: 4, 0x0D: 1, 0x0F: 1, 0x10: 2, 0x11: 1,
               0x12: 2, 0x14: 8, 0x15: 8, 0x16: 1, 0x17: 4, 0x18: 8, 0x19: 12, 0x1A: 5,
               0x1B: 4}  # fmt: skip
_ARRAY, _STRUCTURE, _BIT_STRING, _OCTET_STRING, _COMPACT_ARRAY = 0x01, 0x02, 0x04, 0x09, 0x13
_STRINGS = (_OCTET_STRING, 0x0A, 0x0C)  # octet, visible, UTF-8 strings


def _dlms_blocks(content: bytes) -> list[EncryptedBlock]:
    reader = _Reader(content, 1)
    kind = content[0]
    reader.take(4, "DLMS long-invoke-id-and-priority")
    _skip_date_time(reader)
    blocks: list[EncryptedBlock] = []
    if kind == 0x0F:  # Data-Notification: one data value
        _walk_data(reader, blocks)
        return blocks
    if kind == 0xD9:  # Access-Request: request specifications, then the list of data
        for _ in range(reader.ber_length("DLMS request specification count")):
            choice = reader.byte("DLMS request specification")
            reader.take(9, "COSEM attribute or method descriptor")
            if choice == 0x04:  # get with selection: access selector and its parameters
                reader.take(1, "DLMS access selector")
                _walk_data(reader, blocks)
    else:  # Access-Response: an absent request specification precedes the list of data
        reader.take(1, "DLMS access-request-specification (absent)")
    for _ in range(reader.ber_length("DLMS list of data count")):
        _walk_data(reader, blocks)
    return blocks


def _skip_date_time(reader: _Reader) -> None:
    size = reader.byte("DLMS date-time length")
    if size not in (0, 12):
        raise BadLength(f"date-time length must be 00 or 0C, found {size:02X}",
                        offset=reader.position - 1, field="DLMS date-time")  # fmt: skip
    reader.take(size, "DLMS date-time")


def _walk_data(reader: _Reader, blocks: list[EncryptedBlock], depth: int = 0) -> bytes | None:
    """Skip one DLMS data value, collecting protected blocks. Returns an octet string's
    value (the caller needs it to recognise a protected structure)."""
    if depth > 32:
        raise DecodeError("data nested too deeply", offset=reader.position, field="DLMS data")
    start = reader.position
    tag = reader.byte("DLMS data tag")
    if tag in _FIXED_SIZE:
        reader.take(_FIXED_SIZE[tag], "DLMS data value")
    elif tag in _STRINGS:
        value = reader.take(reader.ber_length("DLMS string length"), "DLMS string")
        return value if tag == _OCTET_STRING else None
    elif tag == _BIT_STRING:
        reader.take((reader.ber_length("DLMS bit-string length") + 7) // 8, "DLMS bit-string")
    elif tag == _ARRAY:
        for _ in range(reader.ber_length("DLMS array count")):
            _walk_data(reader, blocks, depth + 1)
    elif tag == _STRUCTURE:
        count = reader.ber_length("DLMS structure count")
        first = reader.position
        last = None
        for _ in range(count):
            last = _walk_data(reader, blocks, depth + 1)
        # A protected attribute: structure(2) = (protection parameters array, octet string
        # starting with the security control byte 31).
        if (count == 2 and reader.data[first] == _ARRAY and last is not None
                and last[:1] == bytes((ENCRYPTED_SECURITY_CONTROL,))):  # fmt: skip
            blocks.append(_block("dlms", last, reader.position - len(last)))
    elif tag == _COMPACT_ARRAY:
        _skip_type_description(reader, depth)
        reader.take(reader.ber_length("DLMS compact-array length"), "DLMS compact-array contents")
    else:
        raise BadTag(f"unknown DLMS data tag {tag:02X}", offset=start, field="DLMS data")
    return None


def _skip_type_description(reader: _Reader, depth: int) -> None:
    if depth > 32:
        raise DecodeError("type description nested too deeply", offset=reader.position,
                          field="DLMS type description")  # fmt: skip
    tag = reader.byte("DLMS type description")
    if tag == _ARRAY:
        reader.take(2, "DLMS type description element count")
        _skip_type_description(reader, depth + 1)
    elif tag == _STRUCTURE:
        for _ in range(reader.ber_length("DLMS type description member count")):
            _skip_type_description(reader, depth + 1)
