"""A frame's payload, decoded to meaning: the one entry point over the three formats.

``decode_payload`` picks the grammar from the use-case catalogue (primer §7.1: the message
code is authoritative; the first bytes are the fallback for codes the catalogue does not
know or that a device may send in either format), decodes it, and decrypts its encrypted
blocks when a key store can. ``encode_payload`` gives the bytes back.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from . import dlms, gbz
from .catalogue import CATALOGUE, PayloadKind
from .der import DerNode, decode_der, encode_der
from .encryption import (
    EncryptedBlock,
    decrypt_block,
    payload_key,
    protected_blocks,
)
from .errors import AuthenticationFailed, KeyStoreError
from .frame import Frame
from .keystore import KeyStore
from .reader import Reader

__all__ = ["Payload", "decode_payload", "encode_payload", "payload_kind", "succeeded"]


@dataclass(frozen=True, slots=True)
class Payload:
    """A decoded payload.

    Attributes:
        kind: DLMS, GBZ or DER.
        value: a ``dlms`` APDU, a ``gbz`` payload or alert, or a ``der.DerNode``.
        decrypted: the decoded plaintext of each DLMS protected block, in order.
        complete: no byte is left opaque: every command is known and every encrypted
            block was decrypted and decoded.
    """

    kind: PayloadKind
    value: Any
    decrypted: tuple[dlms.Data, ...] = field(default=(), compare=False)
    complete: bool = field(default=True, compare=False)

    def to_json(self) -> dict[str, Any]:
        if self.kind is PayloadKind.GBZ:
            return gbz.to_json(self.value)
        if self.kind is PayloadKind.DLMS:
            out = {"format": "dlms", **self.value.to_json()}
            if self.decrypted:
                out["decrypted"] = [value.to_json() for value in self.decrypted]
            return out
        return {"format": "der", "value": self.value.to_json()}


def payload_kind(frame: Frame) -> PayloadKind:
    """The format of the frame's content, by its use case or else its first bytes."""
    row = CATALOGUE.get(frame.message_code)
    if row is not None and row.payload in (PayloadKind.DLMS, PayloadKind.GBZ, PayloadKind.DER):
        return row.payload
    content = frame.content
    if content[:2] == gbz.PROFILE:
        return PayloadKind.GBZ
    if content[:1] in (b"\xd9", b"\xda", b"\x0f"):
        return PayloadKind.DLMS
    return PayloadKind.DER


def decode_payload(frame: Frame, keystore: KeyStore | None = None) -> Payload:
    """Decode the frame's content, decrypting what the key store allows.

    Raises:
        DecodeError: the content is malformed for its format (offsets count from the start
            of the content). A block that fails to decrypt is not an error: the payload is
            then incomplete.
    """
    kind = payload_kind(frame)
    key = _key(frame, keystore)
    if kind is PayloadKind.GBZ:
        complete = True

        def decrypt(component: gbz.GbzComponent) -> bytes | None:
            nonlocal complete
            plaintext = _open(frame, component.sealed, key)
            complete &= plaintext is not None
            return plaintext

        value = gbz.decode_gbz(frame.content, frame.cra, frame.message_code, decrypt)
        return Payload(kind, value, complete=complete and _all_known(value))
    if kind is PayloadKind.DLMS:
        apdu = dlms.decode_apdu(frame.content)
        decrypted, complete = [], True
        for data in protected_blocks(apdu):  # 31 ‖ IC ‖ ciphertext ‖ tag
            block = EncryptedBlock("dlms", 0, data[0], int.from_bytes(data[1:5], "big"), data[5:])
            plaintext = _open(frame, block, key)
            if plaintext is None:
                complete = False
                continue
            reader = Reader(plaintext)
            decrypted.append(dlms.decode_data(reader))
            reader.expect_end("decrypted DLMS data")
        return Payload(kind, apdu, tuple(decrypted), complete)
    node = decode_der(frame.content, frame.message_code, frame.cra)
    return Payload(kind, node, complete=node.name is not None)


def encode_payload(payload: Payload) -> bytes:
    """The bytes of a payload (encrypted blocks as they were sealed)."""
    if payload.kind is PayloadKind.GBZ:
        return gbz.encode_gbz(payload.value)
    if payload.kind is PayloadKind.DLMS:
        return dlms.encode_apdu(payload.value)
    return encode_der(payload.value)


def _key(frame: Frame, keystore: KeyStore | None) -> bytes | None:
    if keystore is None:
        return None
    try:
        return payload_key(frame, keystore)
    except KeyStoreError:
        return None


def _open(frame: Frame, sealed: Any, key: bytes | None) -> bytes | None:
    """The plaintext of a sealed block, or None without a key or when it does not verify."""
    if key is None or sealed is None:
        return None
    block = sealed if isinstance(sealed, EncryptedBlock) else EncryptedBlock(
        "gbz", 0, sealed.security_control, sealed.invocation_counter, sealed.sealed)
    try:
        return decrypt_block(frame, block, key)
    except AuthenticationFailed:
        return None


def _all_known(value: gbz.GbzPayload | gbz.GbzAlert) -> bool:
    if isinstance(value, gbz.GbzAlert):
        if isinstance(value.body, bytes):
            return False
        components = value.body if isinstance(value.body, tuple) else ()
    else:
        components = value.components
    return all(component.command.value is not None for component in components)


# ZCL statuses that report an outcome, not a failure: NOT_FOUND answers a log read that
# matched nothing (RTDS SUCCESS files carry it).
_ZCL_NOT_FAILURES = {0x00, 0x8B}
# Cluster-specific responses whose fields carry the outcome (ZSE; RTDS ERROR files).
_ZCL_OUTCOMES = {
    "start_sampling_response": lambda v: v.sample_id != 0xFFFF,  # FFFF: could not sample
    "consumer_top_up_response": lambda v: v.result_type == 0,  # 0: accepted
    "clear_event_log_response": lambda v: v.cleared_event_logs != 0,  # nothing cleared
}
_DER_OUTCOME_FIELDS = ("responseCode", "statusCode", "joinResponseCode", "unjoinResponseCode",
                       "deviceTimeStatus")  # GCS28: 0 reliable


def succeeded(payload: Payload) -> bool | None:
    """Whether a response reports success: every DLMS result 0, every ZCL status success
    (or "not found" for an empty log), every DER response or status code 0. None when the
    payload reports no outcome (commands, alerts, plain data)."""
    value = payload.value
    if isinstance(value, dlms.AccessResponse):
        return value.succeeded
    if isinstance(value, gbz.GbzPayload):
        verdicts = [_zcl_outcome(component.command) for component in value.components]
        verdicts = [verdict for verdict in verdicts if verdict is not None]
        return all(verdicts) if verdicts else None
    if isinstance(value, DerNode):
        codes = [node.value for node in _der_nodes(value) if node.name in _DER_OUTCOME_FIELDS]
        return all(code == 0 for code in codes) if codes else None
    return None


def _zcl_outcome(command: gbz.ZclCommand) -> bool | None:
    value = command.value
    if isinstance(value, gbz.DefaultResponse):
        return value.status in _ZCL_NOT_FAILURES
    if isinstance(value, gbz.ReadAttributesResponse):
        return all(record.status in _ZCL_NOT_FAILURES for record in value)
    rule = _ZCL_OUTCOMES.get(command.name or "")
    return None if rule is None or value is None else rule(value)


def _der_nodes(node: DerNode):
    yield node
    if node.kind in ("sequence", "sequence-of", "constructed"):
        for child in node.value:
            yield from _der_nodes(child)
