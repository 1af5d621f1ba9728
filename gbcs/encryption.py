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

The blocks are found with the payload decoders (``gbcs.dlms``, ``gbcs.gbz``).
"""

from __future__ import annotations

from dataclasses import dataclass

from . import crypto, dlms, gbz
from .crypto import KdfUsage
from .errors import BadLength, KeyStoreError
from .frame import Frame
from .keystore import KeyStore, KeyUsage
from .types import EUI64

__all__ = ["EncryptedBlock", "decrypt_block", "find_encrypted_blocks", "payload_key", "protected_blocks", "seal"]

ENCRYPTED_SECURITY_CONTROL = 0x31  # authenticated and encrypted, security suite 1
_SECURITY_HEADER = 5  # security control (1) + invocation counter (4)


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
        DecodeError: the DLMS or GBZ payload around the blocks is malformed (offsets count
            from the start of the content).
    """
    content = frame.content
    if content[:2] == gbz.PROFILE:
        value = gbz.decode_gbz(content, frame.cra, frame.message_code)
        if isinstance(value, gbz.GbzAlert):
            components = value.body if isinstance(value.body, tuple) else ()
        else:
            components = value.components
        sealed = [(c.sealed.security_control, c.sealed.invocation_counter, c.sealed.sealed)
                  for c in components if c.sealed is not None]  # fmt: skip
        return _located("gbz", content, sealed)
    if content[:1] in (b"\xd9", b"\xda", b"\x0f"):
        sealed = []
        for block in protected_blocks(dlms.decode_apdu(content)):
            sealed.append((block[0], int.from_bytes(block[1:5], "big"), block[5:]))
        return _located("dlms", content, sealed)
    return []  # ASN.1 DER payloads carry no encrypted blocks in GBCS


def protected_blocks(apdu: dlms.Apdu) -> list[bytes]:
    """The protected-data octet strings of DLMS "protected attributes" (primer §7.2): in a
    structure of two, an array of protection parameters then an octet string starting with
    the security control byte 31. In document order."""
    values = [apdu.value] if isinstance(apdu, dlms.DataNotification) else list(apdu.data)
    found = []
    stack = values[::-1]
    containers = (dlms.DataType.ARRAY, dlms.DataType.STRUCTURE)
    while stack:  # iterative depth-first walk: every payload of every frame passes here
        item = stack.pop()
        if item.type not in containers:
            continue
        members = item.value
        if item.type is dlms.DataType.STRUCTURE and len(members) == 2:
            parameters, data = members
            if (parameters.type is dlms.DataType.ARRAY and data.type is dlms.DataType.OCTET_STRING
                    and data.value[:1] == bytes((ENCRYPTED_SECURITY_CONTROL,))):  # fmt: skip
                found.append(data.value)
                continue
        stack.extend(reversed(members))
    return found


def _located(kind: str, content: bytes, sealed: list[tuple[int, int, bytes]]) -> list[EncryptedBlock]:
    blocks, position = [], 0
    for security_control, invocation_counter, data in sealed:
        header = bytes((security_control,)) + invocation_counter.to_bytes(4, "big")
        if len(data) < crypto.TAG_SIZE:
            raise BadLength("an encrypted block needs a 12-byte tag", offset=position, field="encrypted block")
        position = content.index(header + data, position)
        blocks.append(EncryptedBlock(kind, position, security_control, invocation_counter, data))
        position += len(header) + len(data)
    return blocks


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
