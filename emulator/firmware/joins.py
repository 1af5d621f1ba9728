"""Joins between HAN devices as GBCS commands them (CS03, CS04, CS07): each meter, PPMID and
HCALCS keeps a device log of the devices it may talk to, and the remote party adds, removes
and reads its entries.

The rules, from RTDS's success and error cases (our reading where RTDS shows one case):

* Each join use case admits one method and role: CS03A1 Method A initiator (a meter),
  CS03A2 Method A responder (a PPMID or HCALCS), CS03B Method B, CS03C Method C; any other
  pairing is ``invalidMessageCodeForJoinMethodAndRole``.
* Method B joins a GSME and its GPF and nothing else (``invalidJoinMethodAndRole``: CS03B's
  ERROR case asks a GSME to join a PPMID by Method B).
* Method C brings the other device's key-agreement certificate, which must be a device
  key-agreement certificate (``invalidOrMissingCertificate``: CS03C's ERROR case has none).
  Its EUI-64 is not compared with the other device's: RTDS's CS03C success case carries the
  GSME's own certificate for another device, and the corpus wins.
* An entry for the same EUI-64 with another device type is ``incompatibleWithExistingEntry``
  (CS03A1's ERROR case); a log already holding ``DEVICE_LOG_SIZE`` others is
  ``deviceLogFull``.
* CS04 removes an entry (``notInDeviceLog`` if absent); CS07 lists them (``readFailure``
  where the log cannot be read: a device fault, ``der_faults``).
* GCS59 restores a GPF's log from its backup (GCS62's entries, after a hub replacement):
  each entry is added as a join is, with a join result of its own.

Key establishment (CBKE) between the two devices is not modelled: an entry stands for a
completed join.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from cryptography import x509

from gbcs import pki
from gbcs.der import decode_der, encode_der_value
from gbcs.errors import CertificateError, DecodeError, EncodeError
from gbcs.types import EUI64, Cra, DeviceType

from ..errors import BadContent
from ..store import Transaction
from .der_faults import has_der_fault
from .device import Device

if TYPE_CHECKING:  # the command path checks HAN peers against the device log kept here
    from .command import Command

__all__ = ["DEVICE_LOG_SIZE", "JOIN_USE_CASES", "add_to_log", "han_device_log"]

DEVICE_LOG_SIZE = 6  # entries a device log holds (we chose; GBCS sets it per device type)
_LOG = "han.device_log"
METHOD_A_INITIATOR, METHOD_A_RESPONDER, METHOD_B, METHOD_C = 0, 1, 2, 3
_METHOD_OF = {"CS03A1": METHOD_A_INITIATOR, "CS03A2": METHOD_A_RESPONDER, "CS03B": METHOD_B, "CS03C": METHOD_C}
SUCCESS, WRONG_CODE, WRONG_METHOD, INCOMPATIBLE, LOG_FULL, BAD_CERTIFICATE = 0, 1, 2, 3, 4, 11
NOT_IN_DEVICE_LOG = 1
READ_FAILURE = 1
RESTORED = None  # an entry GCS59 restored: the method of its original join is not in the backup


def han_device_log(tx: Transaction, device: Device) -> list[dict[str, Any]]:
    """The device's log: ``{"eui", "device_type", "method", "ka_certificate"}`` entries."""
    return tx.register(device.eui, _LOG, [])


def _payload(command: Command) -> Any:
    try:
        return decode_der(command.frame.content, command.frame.other_information.message_code, Cra.COMMAND)
    except DecodeError as error:
        raise BadContent(f"payload: {error}") from None


def _answer(command: Command, value: Any) -> bytes:
    try:
        return encode_der_value(command.frame.other_information.message_code, Cra.RESPONSE, value)
    except EncodeError as error:
        raise BadContent(f"cannot encode the response: {error}") from None


def join(device: Device, tx: Transaction, command: Command) -> bytes:
    """CS03A1, CS03A2, CS03B, CS03C: add the other device to the device log."""
    request = _payload(command)
    method = request.child("joinMethodAndRole").value
    other, other_type = EUI64(request.child("otherDeviceEntityId").value), request.child("otherDeviceType").value
    certificate_node = request.child("otherDeviceKeyAgreementCertificate")
    if method != _METHOD_OF[command.use_case.name]:
        return _answer(command, WRONG_CODE)
    if method == METHOD_B and {int(device.identity.device_type), other_type} != {int(DeviceType.GSME), int(DeviceType.GPF)}:
        return _answer(command, WRONG_METHOD)
    certificate = None
    if method == METHOD_C:
        certificate = _other_certificate(certificate_node)
        if certificate is None:
            return _answer(command, BAD_CERTIFICATE)
    result = add_to_log(tx, device, other, other_type, method, certificate)
    if result == SUCCESS:
        tx.log_event(device.eui, device.now, "joined", f"{other} (type {other_type}) by method {method}")
    return _answer(command, result)


def add_to_log(tx: Transaction, device: Device, other: EUI64, other_type: int, method: int | None,
               certificate: bytes | None = None) -> int:  # fmt: skip
    """Add (or renew) ``other``'s entry; the join result: success, or why not."""
    entries = han_device_log(tx, device)
    existing = next((entry for entry in entries if entry["eui"] == str(other)), None)
    if existing is not None and existing["device_type"] != other_type:
        return INCOMPATIBLE
    if existing is None and len(entries) >= DEVICE_LOG_SIZE:
        return LOG_FULL
    entry = {"eui": str(other), "device_type": other_type, "method": method,
             "ka_certificate": None if certificate is None else certificate.hex()}  # fmt: skip
    tx.set_register(device.eui, _LOG, [item for item in entries if item["eui"] != str(other)] + [entry])
    return SUCCESS


def _other_certificate(node: Any) -> bytes | None:
    """The DER of a device key-agreement certificate, or None."""
    if node is None:
        return None
    try:
        info = pki.describe_certificate(x509.load_der_x509_certificate(node.value))
    except (ValueError, CertificateError):
        return None
    if info.kind is not pki.CertificateKind.DEVICE or info.usage != "ka":
        return None
    return node.value


def unjoin(device: Device, tx: Transaction, command: Command) -> bytes:
    """CS04AC, CS04B: remove the other device from the device log."""
    other = str(EUI64(_payload(command).value))
    entries = han_device_log(tx, device)
    if all(entry["eui"] != other for entry in entries):
        return _answer(command, NOT_IN_DEVICE_LOG)
    tx.set_register(device.eui, _LOG, [entry for entry in entries if entry["eui"] != other])
    tx.log_event(device.eui, device.now, "unjoined", other)
    return _answer(command, SUCCESS)


def read_join_details(device: Device, tx: Transaction, command: Command) -> bytes:
    """CS07: the device log."""
    if has_der_fault(tx, device, command.use_case.name):
        return _answer(command, {"responseCode": READ_FAILURE})
    entries = [{"deviceId": bytes(EUI64(entry["eui"])), "deviceType": entry["device_type"]} for entry in han_device_log(tx, device)]
    return _answer(command, {"responseCode": 0, "deviceLogEntries": entries})


def restore_device_log(device: Device, tx: Transaction, command: Command) -> bytes:
    """GCS59: add each entry of the backup to the GPF's device log, each with its result."""
    outcomes = []
    for node in _payload(command).child("deviceLogEntries").value:
        other, other_type = EUI64(node.child("deviceId").value), node.child("deviceType").value
        result = add_to_log(tx, device, other, other_type, RESTORED)
        outcomes.append({"deviceLogEntry": {"deviceId": bytes(other), "deviceType": other_type}, "joinResponseCode": result})
    tx.log_event(device.eui, device.now, "device-log-restored", f"{len(outcomes)} entries")
    return _answer(command, {"restoreOutcomes": outcomes})


JOIN_USE_CASES = {"CS03A1": join, "CS03A2": join, "CS03B": join, "CS03C": join,
                  "CS04AC": unjoin, "CS04B": unjoin, "CS07": read_join_details, "GCS59": restore_device_log}  # fmt: skip


def read_firmware_version(device: Device, tx: Transaction, command: Command) -> bytes:
    """CS08 (PPMID, HCALCS): the device's 4-byte firmware version. A device that cannot read
    it (``der_faults``) answers ``readFailure`` with a version of zeros (RTDS CS08_11.2_ERROR)."""
    if has_der_fault(tx, device, command.use_case.name):
        return _answer(command, {"firmwareVersion": bytes(4), "responseCode": "readFailure"})
    return _answer(command, {"firmwareVersion": device.identity.firmware_version_bytes, "responseCode": "readSuccess"})
