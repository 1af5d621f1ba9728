"""One message, described: everything ``smets-emu decode`` prints, as plain data.

``describe`` never raises for bad input: a message that does not decode is described by its
error. It checks signature and MAC, decrypts encrypted blocks when the key store allows, and
re-encodes the frame to say whether the codec reproduces the input byte for byte.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from . import security
from .blocks import Reassembler
from .catalogue import CATALOGUE
from .encryption import decrypt_block, find_encrypted_blocks, payload_key
from .errors import AuthenticationFailed, DecodeError, GbcsError, KeyStoreError, ReassemblyError
from .frame import Block, Frame, decode, encode
from .keystore import KeyStore
from .payload import Payload, decode_payload, encode_payload
from .security import Check

__all__ = ["Description", "Describer", "EncryptedBlockReport", "describe", "to_text"]


@dataclass(frozen=True, slots=True)
class EncryptedBlockReport:
    kind: str  # "dlms" or "gbz"
    offset: int  # of the security control byte, in the content
    status: Check  # valid, invalid or no-key
    plaintext: bytes | None

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "offset": self.offset,
            "status": self.status.value,
            "plaintext_hex": None if self.plaintext is None else self.plaintext.hex().upper(),
        }


@dataclass(frozen=True, slots=True)
class Description:
    """What one input holds. ``ok`` is False when it does not decode; ``error`` says why."""

    input: str
    ok: bool
    error: str | None = None
    message: Frame | Block | None = None
    signature: Check = Check.ABSENT
    mac: Check = Check.ABSENT
    encrypted_blocks: tuple[EncryptedBlockReport, ...] = ()
    roundtrip: bool = False
    payload: Payload | None = None
    payload_error: str | None = None
    payload_roundtrip: bool = False

    @property
    def passes_check(self) -> bool:
        """What ``--check`` demands: decoded, byte-exact, and nothing invalid."""
        return (
            self.ok
            and self.roundtrip
            and not {Check.INVALID, Check.UNTRUSTED} & {self.signature, self.mac}
            and all(block.status != Check.INVALID for block in self.encrypted_blocks)
            and self.payload_error is None
            and (self.payload is None or self.payload_roundtrip)
        )

    def to_json(self) -> dict[str, Any]:
        """One JSON object (the ``--json`` line): the keys are a stable interface."""
        message = self.message
        out: dict[str, Any] = {
            "input": self.input,
            "ok": self.ok,
            "error": self.error,
            "form": None,
            "cra": None,
            "message_code": None,
            "use_case": None,
            "originator": None,
            "recipient": None,
            "counter": None,
            "date_time": None,
            "other_information": None,
            "signature": self.signature.value,
            "mac": self.mac.value,
            "encrypted_blocks": [block.to_json() for block in self.encrypted_blocks],
            "roundtrip": self.roundtrip,
            "payload_hex": None,
            "payload": None if self.payload is None else self.payload.to_json(),
            "payload_complete": self.payload is not None and self.payload.complete,
            "payload_roundtrip": self.payload_roundtrip,
            "payload_error": self.payload_error,
        }
        if message is None:
            return out
        row = CATALOGUE.get(message.message_code)
        info = message.other_information
        out.update(
            form=message.form.value,
            cra=message.cra.name.lower(),
            message_code=message.message_code,
            use_case=None if row is None else row.name,
            originator=str(message.originator),
            recipient=str(message.recipient),
            counter=message.originator_counter,
            date_time=None if message.date_time is None else message.date_time.isoformat(),
            other_information={
                "supplementary_remote_party_id": _text(info.supplementary_remote_party_id),
                "supplementary_remote_party_counter": info.supplementary_remote_party_counter,
                "supplementary_originator_counter": info.supplementary_originator_counter,
                "remote_party_certificate_hex": _hex(info.remote_party_certificate),
            },
        )
        if isinstance(message, Frame):
            out["payload_hex"] = message.content.hex().upper()
        else:
            out.update(
                payload_hex=message.data.hex().upper(),
                block={
                    "number": message.block_number,
                    "last": message.last,
                    "streaming": message.streaming,
                    "window": message.window,
                    "acknowledged": message.acknowledged_block_number,
                },
            )
        return out


def describe(data: bytes, name: str, keystore: KeyStore | None = None, *,
             broker: bytes | None = None, at: datetime | Literal["message"] | None = None) -> Description:  # fmt: skip
    """Decode, check, decrypt and re-encode one message.

    Args:
        data: the message bytes.
        name: what to call the input in the description (a file name, ``-``).
        keystore: keys for the signature, MAC and decryption; None checks nothing.
        broker: the Access Control Broker's EUI-64, if the key store does not say.
        at: judge certificates' validity at this moment, or at the message's own date-time
            (``"message"``; not judged for messages without one); None judges none.
    """
    try:
        message = decode(data)
    except DecodeError as error:
        return Description(input=name, ok=False, error=f"{type(error).__name__}: {error}")
    try:
        roundtrip = encode(message) == data
    except GbcsError:
        roundtrip = False
    if isinstance(message, Block):
        return Description(input=name, ok=True, message=message, roundtrip=roundtrip)
    if keystore is not None:
        if at == "message":
            at = message.date_time.to_datetime() if message.date_time is not None else None
        verdict = security.verify(message, keystore, broker=broker, at=at)
        signature, mac = verdict.signature, verdict.mac
    else:
        signature = Check.ABSENT if message.signature is None else Check.NO_KEY
        mac = Check.ABSENT if message.mac is None else Check.NO_KEY
    blocks = _decrypt_all(message, keystore)
    payload = payload_error = None
    payload_roundtrip = False
    try:
        payload = decode_payload(message, keystore)
        payload_roundtrip = encode_payload(payload) == message.content
    except DecodeError as error:
        payload_error = f"{type(error).__name__}: payload {error}"
    except GbcsError as error:  # an EncodeError: the decoded values do not encode back
        payload_error = f"{type(error).__name__}: {error}"
    return Description(
        input=name,
        ok=True,
        message=message,
        signature=signature,
        mac=mac,
        encrypted_blocks=blocks,
        roundtrip=roundtrip,
        payload=payload,
        payload_error=payload_error,
        payload_roundtrip=payload_roundtrip,
    )


class Describer:
    """Describes messages one after another, reassembling General Block Transfers on the way:
    the block that completes a message is followed by a description of the whole message."""

    def __init__(self, keystore: KeyStore | None = None, *, broker: bytes | None = None,
                 at: datetime | Literal["message"] | None = None) -> None:  # fmt: skip
        self.keystore = keystore
        self.broker = broker
        self.at = at
        self._reassembler = Reassembler()

    def describe(self, data: bytes, name: str) -> list[Description]:
        """The description of ``data`` and, if it completed a block transfer, of the whole."""
        description = describe(data, name, self.keystore, broker=self.broker, at=self.at)
        if not isinstance(description.message, Block):
            return [description]
        try:
            whole = self._reassembler.add(description.message)
        except ReassemblyError as error:
            failed = Description(input=f"{name} (reassembly)", ok=False,
                                 error=f"ReassemblyError: {error}")  # fmt: skip
            return [description, failed]
        if whole is None:
            return [description]
        return [description, describe(whole, f"{name} (reassembled)", self.keystore, at=self.at,
                                      broker=self.broker)]  # fmt: skip


def _decrypt_all(frame: Frame, keystore: KeyStore | None) -> tuple[EncryptedBlockReport, ...]:
    """Each encrypted block and whether its tag verifies (a malformed payload has none: the
    payload error says why)."""
    try:
        found = find_encrypted_blocks(frame)
    except DecodeError:
        return ()
    if not found:
        return ()
    key = None
    if keystore is not None:
        try:
            key = payload_key(frame, keystore)
        except KeyStoreError:
            key = None
    reports = []
    for block in found:
        if key is None:
            reports.append(EncryptedBlockReport(block.kind, block.offset, Check.NO_KEY, None))
            continue
        try:
            plaintext = decrypt_block(frame, block, key)
        except AuthenticationFailed:
            reports.append(EncryptedBlockReport(block.kind, block.offset, Check.INVALID, None))
        else:
            reports.append(EncryptedBlockReport(block.kind, block.offset, Check.VALID, plaintext))
    return tuple(reports)


def _text(value: object) -> str | None:
    return None if value is None else str(value)


def _hex(value: bytes | None) -> str | None:
    return None if value is None else value.hex().upper()


def to_text(description: Description) -> str:
    """The readable, indented tree ``smets-emu decode`` prints without ``--json``."""
    lines = [description.input]

    def row(label: str, value: object, indent: int = 1) -> None:
        lines.append(f"{'  ' * indent}{label:<22}{value}")

    if not description.ok:
        row("error", description.error)
        return "\n".join(lines)
    message = description.message
    assert message is not None
    row("form", message.form.value)
    row("cra", message.cra.name.lower())
    use = CATALOGUE.get(message.message_code)
    name = "unknown message code" if use is None else f"{use.label} ({use.title})"
    row("message code", f"0x{message.message_code:04X} {name}")
    row("originator", message.originator)
    row("recipient", message.recipient)
    row("originator counter", message.originator_counter)
    row("date-time", "absent" if message.date_time is None else message.date_time.isoformat())
    info = message.other_information
    for label, value in (
        ("supp. remote party", info.supplementary_remote_party_id),
        ("supp. party counter", info.supplementary_remote_party_counter),
        ("supp. orig. counter", info.supplementary_originator_counter),
        ("remote party cert.", _hex(info.remote_party_certificate)),
    ):
        if value is not None:
            row(label, value)
    if isinstance(message, Block):
        flags = ", ".join(name for name, on in (("last", message.last),
                                                ("streaming", message.streaming)) if on)  # fmt: skip
        row("block", f"{message.block_number} ({flags or 'more follow'}), window "
                     f"{message.window}, acknowledges {message.acknowledged_block_number}")  # fmt: skip
        row("block data", f"{len(message.data)} bytes")
        lines.extend(_hex_lines(message.data))
    else:
        row("signature", description.signature.value)
        row("mac", description.mac.value)
        row(f"payload ({len(message.content)} bytes)", "")
        lines.extend(_hex_lines(message.content))
        for block in description.encrypted_blocks:
            row(f"encrypted {block.kind} block", f"at payload byte {block.offset}: {block.status.value}")
            if block.plaintext is not None:
                lines.extend(_hex_lines(block.plaintext, indent=3))
        if description.payload_error:
            row("payload error", description.payload_error)
        elif description.payload is not None:
            complete = "complete" if description.payload.complete else "incomplete (no key)"
            row("decoded payload", f"{complete}, re-encodes "
                + ("byte-exact" if description.payload_roundtrip else "DIFFERENTLY"))  # fmt: skip
            lines.extend(_tree_lines(description.payload.to_json(), 2))
    row("round trip", "byte-exact" if description.roundtrip else "DIFFERS from the input")
    return "\n".join(lines)


def _tree_lines(value: Any, indent: int) -> list[str]:
    """JSON-ready data as an indented outline: `key: value`, lists as `- item`."""
    pad = "  " * indent
    if isinstance(value, dict):
        if set(value) <= {"type", "value"} and not isinstance(value.get("value"), (list, dict)):
            return [f"{pad}{value.get('type')}: {value.get('value')}"]
        out = []
        for key, item in value.items():
            if isinstance(item, (dict, list)) and item:
                out.append(f"{pad}{key}:")
                out.extend(_tree_lines(item, indent + 1))
            else:
                out.append(f"{pad}{key}: {item}")
        return out
    if isinstance(value, list):
        out = []
        for item in value:
            inner = _tree_lines(item, indent + 1)
            out.append(f"{pad}- {inner[0].strip()}" if inner else f"{pad}-")
            out.extend(inner[1:])
        return out
    return [f"{pad}{value}"]


def _hex_lines(data: bytes, indent: int = 2) -> list[str]:
    text = data.hex().upper()
    return [f"{'  ' * indent}{text[i : i + 64]}" for i in range(0, len(text), 64)]
