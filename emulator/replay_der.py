"""Conformance replay of the ASN.1 DER use cases: the device state RTDS implies before a
command, set up from the corpus itself (``stage_recorded_der_state``, called by
``replay.replay_command``). Each setting is noted in the result's detail.

Rule: state comes from another corpus file where one gives it (an earlier command of the
folder, another device's answer, an alert). State taken from the recorded outcome of the
very command under test — which makes that outcome partly self-fulfilling — is *primed*:
its note starts with ``PRIMED`` ("primed from the recording:"), and a fault injected from
it says "fault injected as recorded", so both can be counted.

What the corpus implies, and where it says so:

* **Trust anchor cells** (CS02b, CS02g), primed: a recorded outcome's
  ``existingSubjectUniqueID`` is the party the cell held before the command; where it is
  another party of the key store (the Access Control Broker before a hand-over: RTDS 6.21),
  that party's certificates go in the cell.
* **The certification path's anchor** (CS02b, CS02g): RTDS holds no Root OCA certificate, so
  replay lets a device accept a command's path without one (``Device.trust_path_without_root``)
  unless the recording answers ``noTrustAnchor`` for a certificate the command's own path
  issued (primed): that device anchored no path (RTDS 6.15.1_CS02gLoadControllerBySupplier
  ERROR).
* **The firmware image held** (CS06): the image the device verified, as its firmware
  distribution receipt alert (8F72: RTDS NA_FDRA-DLMS for the ESME, NA_FDRA-ZigBee for the
  GSME) names it by hash. Its hash is not the one RTDS's CS06 commands name, so where the
  recorded outcome (the response, or the 0x00CA alert in the folder naming the command's
  counter) is ``success`` the device is primed with the named image and the recorded
  version, and where it is ``noImageHeld`` primed with none; ``hashMismatch`` needs no
  priming.
* **A key pair awaiting its certificate** (CS02d): the device generated it in CS02c; RTDS's
  CS02c responses from the device carry its public key in their certification request.
* **Device logs** (CS03, CS04, CS07, GCS59): the entries RTDS's CS07 responses from the
  device list (primed when the listing is the recorded response of the CS07 under test);
  the entries the folder's earlier successful joins to the device added (RTDS 8.7.1_CS03A1:
  the ERROR case joins again a device its SUCCESS case joined as another type); and, for an
  unjoin RTDS records as a success, the entry it removed (primed; typed as RTDS's
  device-log listings type that device).
* **Device faults**: an ERROR case answered with a failure code (``crProductionFailed``,
  ``certificateRetrievalFailure``, ``readFailure``, a cell's ``other``) is a device fault,
  injected as ``der_faults`` (as ``replay`` injects RTDS's DLMS and ZCL faults).
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Iterator
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature

import gbcs
from gbcs import pki
from gbcs.catalogue import PayloadKind, use_case
from gbcs.der import DerNode, decode_der
from gbcs.dlms import DataNotification, DataType, decode_apdu
from gbcs.errors import DecodeError, GbcsError
from gbcs.frame import Frame
from gbcs.gbz import FirmwareHash, GbzAlert, decode_gbz
from gbcs.keystore import KeyStore, KeyUsage
from gbcs.types import EUI64, Cra, Role

from .firmware import credentials, firmware_image, joins
from .firmware.der_faults import inject_der_fault
from .firmware.device import Device, TrustAnchorCell

__all__ = ["PRIMED", "stage_recorded_der_state"]

# How a note about state taken from the recording of the command under test begins.
PRIMED = "primed from the recording:"

# GBCS's failure codes: a device fault, not a rule of the command (see the module docstring).
_FAILURES = {"crProductionFailed", "keyPairGenerationFailed", "certificateRetrievalFailure", "readFailure",
             "other", "certificateStorageFailed", "privateKeyChangeFailed", "writeFailure"}  # fmt: skip
_JOIN_CASES = frozenset(joins.JOIN_USE_CASES)
_FIRMWARE_VERIFIED = 0x8F72  # firmware distribution receipt: the image verified (primer §9.3)
_RECEIPT_ALERTS = (0x00CE, 0x00CF)  # ESME (DLMS), GSME (GBZ)


def stage_recorded_der_state(device: Device, command: Frame, recorded: bytes | None, path: Path,
                             keystore: KeyStore) -> list[str]:  # fmt: skip
    """Set up what RTDS implies about ``device`` before the DER ``command`` (module
    docstring); the notes that say what was set up."""
    try:
        case = use_case(command.other_information.message_code)
        if case.payload is not PayloadKind.DER:
            return []
        request = decode_der(command.content, case.message_code, Cra.COMMAND)
        answer = _answer_of(recorded, case.message_code)
    except (GbcsError, ValueError):
        return []
    notes: list[str] = []
    if case.name in ("CS02b", "CS02g"):
        if not any(node.name == "replacementOutcome" for node in _walk(answer)):
            answer = _outcome_alert(path, case.message_code)  # future-dated: the outcome is in its alert
        notes += _stage_cells(device, answer, keystore)
        notes += _stage_path_anchor(device, request, answer)
    if case.name == "CS06":
        notes += _stage_firmware_image(device, command, request, answer, path)
    if case.name == "CS02d":
        notes += _stage_pending_keys(device, path)
    if case.name in _JOIN_CASES:
        notes += _stage_device_log(device, command, request, answer, path, case.name)
    notes += _inject_der_faults(device, case.name, request, answer)
    return notes


def _outcome_alert(command_path: Path, message_code: int) -> DerNode | None:
    """The outcome alert RTDS recorded for a future-dated command (named after it:
    ``<prefix>_8F66|8F67_FUTURE_DATED<rest>_ALERT``), decoded; None if there is none."""
    if "_FUTURE_DATED" not in command_path.name:
        return None
    prefix, rest = command_path.name.split("_FUTURE_DATED", 1)
    rest = rest.removesuffix("_COMMAND_GBCS.HEX")
    for alert_path in sorted(command_path.parent.glob(f"{prefix}_8F6[67]_FUTURE_DATED{rest}_ALERT*")):
        frame = _decode_file(alert_path)
        if frame is not None and frame.cra is Cra.ALERT:
            try:
                return decode_der(frame.content, frame.other_information.message_code, Cra.ALERT)
            except DecodeError:
                return None
    return None


def _answer_of(recorded: bytes | None, message_code: int) -> DerNode | None:
    if recorded is None:
        return None
    frame = gbcs.decode(recorded)
    if not isinstance(frame, Frame):
        return None
    return decode_der(frame.content, message_code, Cra.RESPONSE)


def _walk(node: DerNode | None) -> Iterator[DerNode]:
    if node is None:
        return
    yield node
    if node.kind in ("sequence", "sequence-of", "constructed"):
        for child in node.value:
            yield from _walk(child)


# -- trust anchor cells ----------------------------------------------------------------------


def _stage_cells(device: Device, answer: DerNode | None, keystore: KeyStore) -> list[str]:
    notes = []
    for outcome in _walk(answer):
        if outcome.name != "replacementOutcome":
            continue
        role = Role(outcome.child("affectedTrustAnchorCell").child("remotePartyRole").value)
        party = EUI64(outcome.child("existingSubjectUniqueID").value)
        cell = device.cells.get(role)
        if cell is None or cell.party == party or keystore.certificate(party, KeyUsage.DS) is None:
            continue
        ka = keystore.certificate(party, KeyUsage.KA)
        # A party without a prepayment key fills the top-up cell with its key-agreement one
        # (RTDS 6.21: the ACB's, before the hand-over).
        top_up = (keystore.certificate(party, KeyUsage.PREPAYMENT_KA) or ka) if cell.top_up is not None else None
        with device.store.transaction() as tx:
            device.replace_cell(tx, TrustAnchorCell(role, party, keystore.certificate(party, KeyUsage.DS), ka, top_up))
        notes.append(f"{PRIMED} the {role.name} cell holds {party}, as RTDS's outcome reports it (existingSubjectUniqueID)")
    return notes


def _stage_path_anchor(device: Device, request: DerNode, answer: DerNode | None) -> list[str]:
    outcomes = [node for node in _walk(answer) if node.name == "replacementOutcome"]
    replacements = request.child("replacements").value
    path = [x509.load_der_x509_certificate(node.value) for node in request.child("certificationPathCertificates").value]
    for outcome, replacement in zip(outcomes, replacements, strict=False):
        if outcome.child("statusCode").label == "noTrustAnchor" and _issued_by_path(replacement, path):
            device.trust_path_without_root = False
            return [f"{PRIMED} the device anchors no certification path: RTDS answers noTrustAnchor for a "
                    "certificate the command's own path issued (RTDS holds no Root OCA certificate)"]  # fmt: skip
    return []


def _issued_by_path(replacement: DerNode, path: list[x509.Certificate]) -> bool:
    try:
        certificate = x509.load_der_x509_certificate(replacement.child("replacementCertificate").value)
    except ValueError:
        return False
    for issuer in path:
        try:
            certificate.verify_directly_issued_by(issuer)
            return True
        except (ValueError, TypeError, InvalidSignature):
            continue
    return False


# -- firmware image --------------------------------------------------------------------------


def _stage_firmware_image(device: Device, command: Frame, request: DerNode, answer: DerNode | None,
                          path: Path) -> list[str]:  # fmt: skip
    notes = []
    held = None
    verified = _verified_images(path.parent.parent).get(device.eui)
    if verified is not None:
        name, held = verified
        with device.store.transaction() as tx:
            firmware_image.hold_image(tx, device, held, bytes(4))
        notes.append(f"the device holds the firmware image it verified in {name} (8F72; its version is not in the corpus)")
    outcome = next((node for node in _walk(answer) if node.name == "executionOutcome"), None)
    if outcome is None:
        outcome = _alerted_outcome(path.parent, command.originator_counter)
    wanted = request.child("manufacturerImageHash").value
    status = None if outcome is None else outcome.child("responseCode").label
    with device.store.transaction() as tx:
        if status == "noImageHeld" and held is not None:
            firmware_image.forget_image(tx, device)
            notes.append(f"{PRIMED} no firmware image held, as RTDS's outcome says (noImageHeld)")
        elif status == "success" and held != wanted:
            version = outcome.child("firmwareVersion").value
            firmware_image.hold_image(tx, device, wanted, version)
            notes.append(f"{PRIMED} the device holds the firmware image the command names, version {version.hex().upper()}, "
                         "as RTDS's outcome says (success)")  # fmt: skip
        elif status == "hashMismatch" and held in (None, wanted):
            firmware_image.hold_image(tx, device, hashlib.sha256(wanted).digest(), bytes(4))
            notes.append(f"{PRIMED} the device holds another firmware image than the command names, as RTDS's "
                         "outcome says (hashMismatch)")  # fmt: skip
    return notes


@functools.lru_cache(maxsize=4)
def _verified_images(messages: Path) -> dict[EUI64, tuple[str, bytes]]:
    """The image hash each device's firmware distribution receipt alert (8F72) names, by the
    device that raised it, with the file's name."""
    verified = {}
    for name, frame in _corpus_answers(messages):
        code = frame.other_information.message_code
        if frame.cra is not Cra.ALERT or code not in _RECEIPT_ALERTS:
            continue
        digest = _receipt_hash(frame.content, code)
        if digest is not None:
            verified[frame.originator] = (name, digest)
    return verified


def _receipt_hash(content: bytes, code: int) -> bytes | None:
    try:
        if code == 0x00CF:
            alert = decode_gbz(content, Cra.ALERT, code)
            if isinstance(alert, GbzAlert) and alert.alert_code == _FIRMWARE_VERIFIED and isinstance(alert.body, FirmwareHash):
                return alert.body.digest
            return None
        notification = decode_apdu(content)
    except (GbcsError, ValueError):
        return None
    # DLMS: a structure of the alert code, its date-time and the 32-byte hash (RTDS NA_FDRA-DLMS).
    if not isinstance(notification, DataNotification) or notification.value.type is not DataType.STRUCTURE:
        return None
    fields = notification.value.value
    if (len(fields) == 3 and fields[0].value == _FIRMWARE_VERIFIED and fields[2].type is DataType.OCTET_STRING
            and len(fields[2].value) == 32):  # fmt: skip
        return bytes(fields[2].value)
    return None


def _alerted_outcome(folder: Path, counter: int) -> DerNode | None:
    """The outcome of the 0x00CA alert in ``folder`` that names ``counter``, if any."""
    for alert_path in sorted(folder.glob("*ALERT*.HEX")):
        frame = _decode_file(alert_path)
        if frame is None or frame.cra is not Cra.ALERT:
            continue
        try:
            alert = decode_der(frame.content, frame.other_information.message_code, Cra.ALERT)
        except DecodeError:
            continue
        named = alert.child("originatorCounter")
        if named is not None and named.value == counter:
            return alert.child("executionOutcome")
    return None


# -- pending key pairs -----------------------------------------------------------------------


def _stage_pending_keys(device: Device, path: Path) -> list[str]:
    notes = []
    for name, frame in _corpus_answers(path.parent.parent):
        if frame.originator != device.eui or frame.cra is not Cra.RESPONSE or _use_case_name(frame) != "CS02c":
            continue
        try:
            node = decode_der(frame.content, frame.other_information.message_code, Cra.RESPONSE)
            request = x509.load_der_x509_csr(node.value) if node.kind == "certification-request" else None
        except (DecodeError, ValueError):
            continue
        if request is None:
            continue
        usage = pki.key_usage_of(request)
        if usage is None:
            continue
        with device.store.transaction() as tx:
            credentials.expect_certificate_for(tx, device, usage, request.public_key())  # type: ignore[arg-type]
        notes.append(f"a {usage} key pair awaits its certificate: the device generated it in CS02c ({name})")
    return notes


# -- device logs -----------------------------------------------------------------------------


def _stage_device_log(device: Device, command: Frame, request: DerNode, answer: DerNode | None, path: Path,
                      case_name: str) -> list[str]:  # fmt: skip
    notes = []
    listed = _listed_entries(path.parent.parent)
    prefix = path.name.split("COMMAND_GBCS")[0]
    own_answers = {answer_path.name for answer_path in path.parent.glob(f"{prefix}*RESPONSE*.HEX")}
    with device.store.transaction() as tx:
        for eui, device_type, source in listed.get(device.eui, []):
            if joins.add_to_log(tx, device, eui, device_type, None) == joins.SUCCESS:
                if source in own_answers:  # the listing under test
                    notes.append(f"{PRIMED} {eui} is on the device log, as RTDS's CS07 read lists it ({source})")
                else:
                    notes.append(f"{eui} is on the device log, as RTDS's CS07 read lists it ({source})")
    notes += _replay_earlier_joins(device, command, path)
    if case_name in ("CS04AC", "CS04B") and answer is not None and answer.label == "success":
        other = EUI64(request.value)
        known = {eui: device_type for entries in listed.values() for eui, device_type, _ in entries}
        with device.store.transaction() as tx:
            present = any(entry["eui"] == str(other) for entry in joins.han_device_log(tx, device))
            if not present and other in known and joins.add_to_log(tx, device, other, known[other], None) == joins.SUCCESS:
                notes.append(f"{PRIMED} {other} is on the device log: RTDS records its unjoin as a success")
    return notes


def _replay_earlier_joins(device: Device, command: Frame, path: Path) -> list[str]:
    """Run the folder's earlier joins to this device that RTDS records as successes."""
    from .firmware.command import process_command  # the command path imports the firmware

    notes = []
    for other_path in sorted(path.parent.glob("*COMMAND_GBCS.HEX")):
        if "PRECOMMAND" in other_path.name or other_path == path:
            continue
        frame = _decode_file(other_path)
        if (frame is None or frame.recipient != device.eui or frame.originator_counter >= command.originator_counter
                or _use_case_name(frame) not in ("CS03A1", "CS03A2", "CS03B", "CS03C")):  # fmt: skip
            continue
        prefix = other_path.name.split("COMMAND_GBCS")[0]
        responses = sorted(other_path.parent.glob(f"{prefix}*RESPONSE*.HEX"))
        recorded = _decode_file(responses[0]) if responses else None
        try:
            succeeded = recorded is not None and decode_der(recorded.content, recorded.other_information.message_code,
                                                            Cra.RESPONSE).label == "success"  # fmt: skip
        except DecodeError:
            succeeded = False
        if succeeded and process_command(device, _read_hex(other_path)).accepted:
            notes.append(f"{other_path.name} ran before, as RTDS's folder orders them")
    return notes


@functools.lru_cache(maxsize=4)
def _listed_entries(messages: Path) -> dict[EUI64, list[tuple[EUI64, int, str]]]:
    """The device-log entries RTDS's CS07 responses list, by the device that answered:
    ``(eui, device type, the listing file's name)``."""
    listed: dict[EUI64, list[tuple[EUI64, int, str]]] = {}
    for name, frame in _corpus_answers(messages):
        if frame.cra is not Cra.RESPONSE or _use_case_name(frame) != "CS07":
            continue
        try:
            node = decode_der(frame.content, frame.other_information.message_code, Cra.RESPONSE)
        except DecodeError:
            continue
        for entry in (node.child("deviceLogEntries") or DerNode(None, "sequence-of", 0, ())).value:
            listed.setdefault(frame.originator, []).append(
                (EUI64(entry.child("deviceId").value), entry.child("deviceType").value, name))
    return listed


# -- device faults ---------------------------------------------------------------------------


def _inject_der_faults(device: Device, case_name: str, request: DerNode, answer: DerNode | None) -> list[str]:
    notes = []
    with device.store.transaction() as tx:
        for node in _walk(answer):
            status = node.child("statusCode") if node.kind == "sequence" else None
            if status is not None and status.label in _FAILURES and node.child("remotePartyRole") is not None:
                role = node.child("remotePartyRole").value
                inject_der_fault(tx, device, case_name, str(role))
                notes.append(f"fault injected as recorded: {case_name} role {role} ({status.label})")
        code = answer if answer is not None and answer.name == "responseCode" else (
            answer.child("responseCode") if answer is not None and answer.kind == "sequence" else None)  # fmt: skip
        if code is not None and code.label in _FAILURES:
            usage = request.child("keyUsage") if request.kind == "sequence" else None
            subject = {"digitalSignature": "ds", "keyAgreement": "ka"}.get(usage.label or "", "") if usage else ""
            inject_der_fault(tx, device, case_name, subject)
            notes.append(f"fault injected as recorded: {case_name}{' ' + subject if subject else ''} ({code.label})")
    return notes


# -- the corpus ------------------------------------------------------------------------------


def _read_hex(path: Path) -> bytes:
    return bytes.fromhex("".join(path.read_text().split()))


def _decode_file(path: Path) -> Frame | None:
    try:
        frame = gbcs.decode(_read_hex(path))
    except (OSError, ValueError, DecodeError):
        return None
    return frame if isinstance(frame, Frame) else None


def _use_case_name(frame: Frame) -> str | None:
    try:
        return use_case(frame.other_information.message_code).name
    except GbcsError:
        return None


@functools.lru_cache(maxsize=4)
def _corpus_answers(messages: Path) -> tuple[tuple[str, Frame], ...]:
    """Every response and alert of the corpus under ``messages``, decoded once."""
    answers = []
    for path in sorted(messages.glob("*/*.HEX")):
        if "RESPONSE" in path.name or "ALERT" in path.name:
            frame = _decode_file(path)
            if frame is not None:
                answers.append((path.name, frame))
    return tuple(answers)
