"""Firmware activation (CS06): a meter runs the firmware image it holds once the supplier
tells it to, by the image's hash.

How an image gets onto the device (the hub distributes it over the HAN, CCS08 reports the
transfer) is not modelled: ``hold_image`` stands for a completed transfer. The rules, from
RTDS 11.3_CS06 (the corpus shows every outcome; the rest is our reading):

1. ``originatorCounter`` in the payload equals the command's originator counter (every RTDS
   CS06), as CS02b's ``authorisingRemotePartySeqNumber`` does.
2. Activation compares ``manufacturerImageHash`` (SHA-256 of the image) with the held image's:
   none held is ``noImageHeld``, another image ``hashMismatch``; otherwise the device runs the
   image's version and answers ``success`` with it. An image once activated is no longer held
   (we chose: activating it again would answer ``noImageHeld``). Every outcome carries the
   version the device runs afterwards (RTDS: the new one on success, the old one on failure).
3. A future ``executionDateTime`` defers activation (``scheduler.py``): the response says only
   "command accepted", and at that time the outcome goes out in alert 0x00CA (8F66
   executed, 8F67 failed), which repeats the command's counter (primer §9.3).
   ``99991231235959Z`` cancels the device's pending activations.
"""

from __future__ import annotations

import hmac
from datetime import datetime, timezone
from typing import Any

import gbcs
from gbcs.der import DerNode, decode_der, encode_der_value
from gbcs.errors import DecodeError, EncodeError
from gbcs.types import Cra

from ..errors import BadContent
from ..store import Transaction
from .command import Command
from .device import Device
from .scheduler import ALERT_EXECUTED, ALERT_FAILED, FUTURE_EXECUTORS, defer

__all__ = ["FIRMWARE_USE_CASES", "activate_firmware", "forget_image", "held_image", "hold_image"]

SUCCESS, NO_IMAGE_HELD, HASH_MISMATCH = 0, 1, 2
_ALERT = 0x00CA  # future-dated firmware activation outcome (primer §10)
_IMAGE = "firmware.image"  # kept register (a reset keeps firmware): {"hash": hex, "version": 8 hex digits}
CANCELLATION = "99991231235959Z"


def hold_image(tx: Transaction, device: Device, image_hash: bytes, version: bytes) -> None:
    """The device now holds a firmware image: its SHA-256 ``image_hash`` and the 4-byte
    ``version`` it reports once running (a completed transfer; durable with ``tx``)."""
    if len(image_hash) != 32 or len(version) != 4:
        raise ValueError("a firmware image has a 32-byte hash and a 4-byte version")
    tx.set_kept_register(device.eui, _IMAGE, {"hash": image_hash.hex(), "version": version.hex().upper()})


def forget_image(tx: Transaction, device: Device) -> None:
    """The device holds no firmware image any more (durable with ``tx``)."""
    tx.set_kept_register(device.eui, _IMAGE, None)


def held_image(tx: Transaction, device: Device) -> dict[str, str] | None:
    """The image the device holds, not yet activated: ``{"hash", "version"}``, or None."""
    return tx.kept_register(device.eui, _IMAGE)


def _decode(command: Command) -> DerNode:
    try:
        return decode_der(command.frame.content, command.frame.other_information.message_code, Cra.COMMAND)
    except DecodeError as error:
        raise BadContent(f"payload: {error}") from None


def _encode(message_code: int, cra: Cra, value: Any) -> bytes:
    try:
        return encode_der_value(message_code, cra, value)
    except EncodeError as error:  # our own values: a bug, but never a crashed device
        raise BadContent(f"cannot encode the answer: {error}") from None


def activate_firmware(device: Device, tx: Transaction, command: Command) -> bytes:
    """CS06: activate the held image now, at its execution time, or cancel (module docstring)."""
    request = _decode(command)
    code = command.frame.other_information.message_code
    counter = request.child("originatorCounter").value
    if counter != command.frame.originator_counter:
        raise BadContent(f"originatorCounter {counter} is not the command's counter {command.frame.originator_counter}")
    when = request.child("executionDateTime")
    if when is not None:
        if when.value == CANCELLATION:
            for command_id, _, data in tx.scheduled(device.eui):
                if gbcs.decode(data).other_information.message_code == code:
                    tx.unschedule(command_id)
            return _encode(code, Cra.RESPONSE, {"commandAccepted": None})
        due = datetime.strptime(when.value, "%Y%m%d%H%M%SZ").replace(tzinfo=timezone.utc)
        if due > device.now:
            defer(device, tx, command, due)
            return _encode(code, Cra.RESPONSE, {"commandAccepted": None})
    return _encode(code, Cra.RESPONSE, {"executionOutcome": _activate(device, tx, request)})


def _activate(device: Device, tx: Transaction, request: DerNode) -> dict[str, Any]:
    """Run the held image if its hash is the one asked for; the executionOutcome."""
    image = held_image(tx, device)
    wanted = request.child("manufacturerImageHash").value
    if image is None:
        status = NO_IMAGE_HELD
    elif not hmac.compare_digest(bytes.fromhex(image["hash"]), wanted):
        status = HASH_MISMATCH
    else:
        status = SUCCESS
        device.set_firmware_version(tx, image["version"])
        forget_image(tx, device)
    return {"responseCode": status, "firmwareVersion": device.identity.firmware_version_bytes}


def _run_deferred_activation(device: Device, tx: Transaction, command: Command) -> tuple[int, bytes]:
    """A future-dated CS06 at its time: the activation, reported in alert 0x00CA."""
    request = _decode(command)
    outcome = _activate(device, tx, request)
    value = {"alertCode": ALERT_EXECUTED if outcome["responseCode"] == SUCCESS else ALERT_FAILED,
             "executionDateTime": request.child("executionDateTime").value,
             "originatorCounter": request.child("originatorCounter").value, "executionOutcome": outcome}  # fmt: skip
    return _ALERT, _encode(_ALERT, Cra.ALERT, value)


FUTURE_EXECUTORS["CS06"] = _run_deferred_activation

FIRMWARE_USE_CASES = {"CS06": activate_firmware}
