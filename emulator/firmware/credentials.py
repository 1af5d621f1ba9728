"""Security credentials use cases every device serves: CS02a and CS02f (provide security
credentials details), CS02b and CS02g (update security credentials: replace trust anchor
cells), and the device's own key regeneration: CS02c (generate a key pair, answer a
certification request), CS02d (install the certificate the Issuing DCA made for it), CS02e
(provide a device certificate).

Key regeneration keeps the new key pair on the device, pending (durable in the store), until
CS02d brings a certificate for exactly that public key, EUI-64 and usage; then the device
signs and agrees keys with the new pair. CS02d's refusals use GBCS's response codes, checked
in their code order (a certificate whose keyUsage is neither digitalSignature nor
keyAgreement alone is ``invalidKeyUsage``: RTDS 6.15.2_CS02d ERROR).

CS02b and CS02g, as this module applies them (GBCS's rules as RTDS shows them, and our
choices marked):

1. ``authorisingRemotePartySeqNumber`` equals the command's originator counter (every RTDS
   CS02b); anti-replay has already checked that counter.
2. The replacement mode names the authorising cell and the cells it may replace
   (``_MODES``). The command must come from the party the authorising cell holds, whatever
   other role that party has: at hand-over the Access Control Broker holds a new device's
   supplier and network operator cells, signs for them, and replaces itself with the real
   party (RTDS 6.21_CS02b*Handover: ACB-signed, the existing subject is the ACB's).
3. Each replacement certificate must be an organisation certificate for the target cell's
   role (the load controller's cell also takes a supplier's: RTDS 6.15.1_CS02g and
   NA_CS02gLoadControllerByLoadController place the supplier's certificates there) and key
   usage, valid at the device's clock when the command arrived (a future-dated replacement
   runs later with the certificates it was given: RTDS's 6.15.1 CS02b executes in 2030 with
   certificates that end in 2025, successfully): else ``badCertificate``. It must be issued by an
   Issuing OCA of the command's certification path, which chains to the device's Root cell:
   else ``noTrustAnchor`` (RTDS 6.15.1_CS02bSupplierBySupplier ERROR: a certificate of
   another Issuing OCA than the path's). A device whose Root cell holds no Root OCA
   certificate anchors no path (replaying RTDS, which holds no Root OCA certificate, a device
   may be told to accept the path and note that it did). A refused cell is left as it was,
   and its outcome reports it as both existing and replacing (RTDS). Existing fields report
   the cells as they were before the command.
4. The supplier's prepayment top-up cell (``cellUsage`` prePaymentTopUp, a key-agreement
   certificate) is replaced like the others where the device type holds one
   (``device.TOP_UP_CELL_ROLES``).
5. ``newRemotePartyFloorSeqNumber`` (with its specialist floors, the top-up counter's) is
   reported for each role the command targets, ``otherRemotePartySeqNumberChanges`` as
   given (RTDS reports both even where no replacement succeeded). Anti-replay of a party
   starts from its floor; a party keeping its entity identifier keeps its counter (we chose:
   lowering it would let old commands replay).
6. A future ``executionDateTime`` defers the replacement (``scheduler.py``): the response
   says only "command accepted", and at that time the outcome goes out in its alert (CS02b
   0x00CB, CS02g 0x0124; 8F66 executed, 8F67 failed: some replacement refused).
   ``99991231235959Z`` cancels the device's pending commands of the same message code.
"""

from __future__ import annotations

import dataclasses
from datetime import datetime, timezone

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

import gbcs
from gbcs import pki
from gbcs.der import DerNode, decode_der, encode_der_value
from gbcs.errors import CertificateError, DecodeError, EncodeError
from gbcs.frame import Frame
from gbcs.types import Cra, Role

from ..errors import BadContent, Unsupported
from ..store import Transaction
from .command import Command
from .der_faults import has_der_fault
from .device import TOP_UP_CELL_ROLES, Device, TrustAnchorCell
from .scheduler import ALERT_EXECUTED, ALERT_FAILED, FUTURE_EXECUTORS, defer

__all__ = [
    "CREDENTIAL_USE_CASES",
    "expect_certificate_for",
    "issue_security_credentials",
    "provide_device_certificate",
    "provide_security_credential_details",
    "update_device_certificate",
    "update_security_credentials",
]

SUCCESS, BAD_CERTIFICATE, NO_TRUST_ANCHOR, TRUST_ANCHOR_NOT_FOUND, OTHER = 0, 5, 10, 25, 127
# The replacement mode each message code carries: CS02b's are 0x0100 + mode, CS02g's two
# follow (primer §10).
_MODE_OF_CODE = {**{0x0100 + mode: mode for mode in range(10)}, 0x0125: 10, 0x0126: 11}
# The alert that reports a future-dated replacement, by use case (primer §9.3).
_OUTCOME_ALERTS = {"CS02b": 0x00CB, "CS02g": 0x0124}
TOP_UP = 1  # cellUsage prePaymentTopUp
CANCELLATION = "99991231235959Z"  # an execution date-time that cancels (primer §12 rule 8)
_USAGES = {"digitalSignature": "ds", "keyAgreement": "ka"}
# credentialsReplacementMode -> (authorising role, roles it may replace)
_MODES = {
    2: (Role.SUPPLIER, {Role.SUPPLIER}),
    3: (Role.NETWORK_OPERATOR, {Role.NETWORK_OPERATOR}),
    4: (Role.ACCESS_CONTROL_BROKER, {Role.ACCESS_CONTROL_BROKER}),
    5: (Role.WAN_PROVIDER, {Role.WAN_PROVIDER}),
    6: (Role.TRANSITIONAL_CHANGE_OF_SUPPLIER, {Role.TRANSITIONAL_CHANGE_OF_SUPPLIER}),
    7: (Role.TRANSITIONAL_CHANGE_OF_SUPPLIER, {Role.SUPPLIER}),
    10: (Role.LOAD_CONTROLLER, {Role.LOAD_CONTROLLER}),
    11: (Role.SUPPLIER, {Role.LOAD_CONTROLLER}),
}
# The certificate roles a cell takes besides its own (rule 3).
_ALSO_ACCEPTED = {Role.LOAD_CONTROLLER: {Role.SUPPLIER}}


def _decode(command: Command) -> DerNode:
    frame = command.frame
    try:
        return decode_der(frame.content, frame.other_information.message_code, Cra.COMMAND)
    except DecodeError as error:
        raise BadContent(f"payload: {error}") from None


def _encode(command: Command, value: object) -> bytes:
    try:
        return encode_der_value(command.frame.other_information.message_code, Cra.RESPONSE, value)
    except EncodeError as error:  # our own values: a bug, but never a crashed device
        raise BadContent(f"cannot encode the response: {error}") from None


def _key_identifier(certificate: x509.Certificate | None) -> bytes:
    if certificate is None:
        return bytes(8)
    try:
        return certificate.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest
    except x509.ExtensionNotFound:
        return pki.key_identifier(certificate.public_key())  # type: ignore[arg-type]


def provide_security_credential_details(device: Device, tx: Transaction, command: Command) -> bytes:
    """CS02a, CS02f: for each role asked for, the cell's parties and key identifiers (the
    top-up cell's too), and the counter the device holds for the party (before this command,
    for the party that sent it). A cell the device cannot read (``der_faults``) is ``other``."""
    request = _decode(command)
    details = []
    for node in request.child("remotePartyRolesCredentialsRequired").value:
        if has_der_fault(tx, device, command.use_case.name, str(node.value)):
            details.append({"remotePartyRole": node.value, "statusCode": OTHER})
            continue
        try:
            cell = device.cells.get(Role(node.value))
        except ValueError:
            cell = None
        if cell is None:
            details.append({"remotePartyRole": node.value, "statusCode": TRUST_ANCHOR_NOT_FOUND})
            continue
        if cell.party == command.frame.originator:
            counter = command.previous_counter
        else:
            counter = tx.last_counter(device.eui, cell.party)
        contents = [{"keyUsage": [name], "cellUsage": usage, "subjectUniqueID": bytes(cell.party),
                     "subjectKeyIdentifier": _key_identifier(certificate)}
                    for name, usage, certificate in (("digitalSignature", 0, cell.ds), ("keyAgreement", 0, cell.ka),
                                                     ("keyAgreement", TOP_UP, cell.top_up))
                    if certificate is not None]  # fmt: skip
        details.append({"remotePartyRole": int(cell.role), "statusCode": SUCCESS, "currentSeqNumber": counter or 0,
                        "trustAnchorCellDetails": contents})  # fmt: skip
    return _encode(command, details)


def update_security_credentials(device: Device, tx: Transaction, command: Command) -> bytes:
    """CS02b, CS02g: replace trust anchor cells (module docstring), now or at its execution
    time."""
    request = _decode(command)
    _check_authority(device, request, command)
    when = request.child("executionDateTime")
    if when is not None:
        if when.value == CANCELLATION:
            for command_id, _, data in tx.scheduled(device.eui):
                pending = gbcs.decode(data)
                if pending.other_information.message_code == command.frame.other_information.message_code:
                    tx.unschedule(command_id)
                    tx.set_register(device.eui, _received_key(pending), None)
            return _encode(command, {"commandAccepted": None})
        due = datetime.strptime(when.value, "%Y%m%d%H%M%SZ").replace(tzinfo=timezone.utc)
        if due > device.now:
            tx.set_register(device.eui, _received(command), device.now.isoformat())
            defer(device, tx, command, due)
            return _encode(command, {"commandAccepted": None})
    outcome, _ = _apply_replacements(device, tx, command, request, device.now)
    return _encode(command, {"commandAccepted": None, "executionOutcome": outcome})


def _run_deferred_update(device: Device, tx: Transaction, command: Command) -> tuple[int, bytes]:
    """A future-dated CS02b or CS02g at its time: the replacement, reported in its alert."""
    request = _decode(command)
    received = tx.register(device.eui, _received(command))
    tx.set_register(device.eui, _received(command), None)
    judged_at = device.now if received is None else datetime.fromisoformat(received)
    outcome, all_succeeded = _apply_replacements(device, tx, command, request, judged_at)
    value = {"alertCode": ALERT_EXECUTED if all_succeeded else ALERT_FAILED,
             "executionDateTime": request.child("executionDateTime").value, "executionOutcome": outcome}  # fmt: skip
    alert = _OUTCOME_ALERTS[command.use_case.name]
    return alert, encode_der_value(alert, Cra.ALERT, value)


def _received(command: Command) -> str:
    """The register holding when a future-dated replacement arrived (its certificates are
    judged at that moment)."""
    return _received_key(command.frame)


def _received_key(frame: Frame) -> str:
    return f"credentials.received.{frame.originator}.{frame.originator_counter}"


def _target(replacement: DerNode) -> tuple[int, list[str], int]:
    """A replacement's target cell: role, key usage names, cell usage."""
    target = replacement.child("targetTrustAnchorCell")
    usage = target.child("cellUsage")
    return (target.child("remotePartyRole").value, (target.child("keyUsage").label or "").split(","),
            0 if usage is None else usage.value)  # fmt: skip


def _check_authority(device: Device, request: DerNode, command: Command) -> None:
    control = request.child("authorisingRemotePartyControl")
    mode = control.child("credentialsReplacementMode").value
    code = command.frame.other_information.message_code
    if code in _MODE_OF_CODE and mode != _MODE_OF_CODE[code]:
        raise BadContent(f"replacement mode {mode} is not the mode of message code 0x{code:04X}")
    sequence = control.child("authorisingRemotePartySeqNumber").value
    if sequence != command.frame.originator_counter:
        raise BadContent(f"authorisingRemotePartySeqNumber {sequence} is not the originator counter "
                         f"{command.frame.originator_counter}")  # fmt: skip
    if mode not in _MODES:
        raise Unsupported(f"credentials replacement mode {mode} is not served yet")
    authoriser, replaceable = _MODES[mode]
    authorising = control.child("authorisingRemotePartyTACellIdentifier")
    if authorising is not None and authorising.child("remotePartyRole").value != authoriser:
        raise BadContent(f"mode {mode} is authorised by {authoriser.name}, not role {authorising.child('remotePartyRole').value}")
    authorising_cell = device.cells.get(authoriser)
    if authorising_cell is None or authorising_cell.party != command.frame.originator:
        holder = "no party" if authorising_cell is None else str(authorising_cell.party)
        raise BadContent(f"mode {mode} must come from the {authoriser.name} cell's party ({holder}), "
                         f"not {command.frame.originator}")  # fmt: skip
    top_up_roles = TOP_UP_CELL_ROLES.get(device.identity.device_type, frozenset())
    for replacement in request.child("replacements").value:
        role, usage_names, cell_usage = _target(replacement)
        if Role(role) not in replaceable or len(usage_names) != 1 or usage_names[0] not in _USAGES:
            raise BadContent(f"mode {mode} cannot replace the {usage_names} cell of role {role}")
        if cell_usage == TOP_UP and (usage_names[0] != "keyAgreement" or Role(role) not in top_up_roles):
            raise BadContent(f"a {device.identity.device_type.name} holds no prepayment top-up {usage_names[0]} "
                             f"cell for role {role}")  # fmt: skip
        if cell_usage not in (0, TOP_UP):
            raise BadContent(f"unknown cellUsage {cell_usage}")
    _certification_path(request)  # readable now, not only when a future-dated command runs


def _certification_path(request: DerNode) -> list[x509.Certificate]:
    try:
        return [x509.load_der_x509_certificate(node.value) for node in request.child("certificationPathCertificates").value]
    except ValueError as error:
        raise BadContent(f"a certification path entry is not a certificate: {error}") from None


def _apply_replacements(device: Device, tx: Transaction, command: Command, request: DerNode,
                        judged_at: datetime) -> tuple[dict, bool]:  # fmt: skip
    """Replace each target cell whose certificate checks; the executionOutcome, and whether
    every replacement succeeded."""
    control = request.child("authorisingRemotePartyControl")
    path = _certification_path(request)
    before = dict(device.cells)  # outcomes report the cells as they were (rule 3)
    outcomes, target_roles = [], []
    for replacement in request.child("replacements").value:
        role, usage_names, cell_usage = _target(replacement)
        slot = "top_up" if cell_usage == TOP_UP else _USAGES[usage_names[0]]
        outcome, new_cell = _replace(device, before.get(Role(role)), Role(role), slot,
                                     replacement.child("replacementCertificate").value, path, command, judged_at)  # fmt: skip
        affected = {"remotePartyRole": role, "keyUsage": usage_names, "cellUsage": cell_usage}
        outcomes.append({"affectedTrustAnchorCell": affected, **outcome})
        if role not in target_roles:
            target_roles.append(role)
        if new_cell is not None:
            device.replace_cell(tx, new_cell)
            tx.log_security(device.eui, device.now, "trust-anchor-replaced", f"{Role(role).name} {slot} cell now holds {new_cell.party}")
    changes = _apply_floors(device, tx, control, target_roles, before)
    outcome = {"authorisingRemotePartySeqNumber": control.child("authorisingRemotePartySeqNumber").value,
               "credentialsReplacementMode": control.child("credentialsReplacementMode").value,
               "remotePartySeqNumberChanges": changes, "replacementOutcomes": outcomes}  # fmt: skip
    return outcome, all(item["statusCode"] == SUCCESS for item in outcomes)


def _apply_floors(device: Device, tx: Transaction, control: DerNode, target_roles: list[int],
                  before: dict[Role, TrustAnchorCell]) -> list[dict]:  # fmt: skip
    """Start anti-replay of each party the command put in a cell from its floor (rule 5);
    the remotePartySeqNumberChanges to report."""
    changes = []
    floor = control.child("newRemotePartyFloorSeqNumber")
    specialist = control.child("newRemotePartySpecialistFloorSeqNumbers")
    if floor is not None:
        for role in target_roles:
            change: dict = {"remotePartyRole": role, "floorSeqNumber": floor.value}
            if specialist is not None:
                change["specialistFloorSeqNumbers"] = [
                    {"seqNumberUsage": item.child("seqNumberUsage").value, "seqNumber": item.child("seqNumber").value}
                    for item in specialist.value]  # fmt: skip
            changes.append(change)
            _start_counter(device, tx, Role(role), floor.value, before)
    for node in (control.child("otherRemotePartySeqNumberChanges") or DerNode(None, "sequence-of", 0, ())).value:
        role, value = node.child("remotePartyRole").value, node.child("floorSeqNumber").value
        changes.append({"remotePartyRole": role, "floorSeqNumber": value})
        _start_counter(device, tx, Role(role), value, before)
    return changes


def _start_counter(device: Device, tx: Transaction, role: Role, floor: int, before: dict[Role, TrustAnchorCell]) -> None:
    cell, old = device.cells.get(role), before.get(role)
    if cell is not None and (old is None or cell.party != old.party):
        tx.accept_counter(device.eui, cell.party, max(floor, tx.last_counter(device.eui, cell.party) or 0))


def _replace(device: Device, existing: TrustAnchorCell | None, role: Role, slot: str, der: bytes,
             path: list[x509.Certificate], command: Command, judged_at: datetime) -> tuple[dict, TrustAnchorCell | None]:  # fmt: skip
    """The outcome fields for one replacement (``slot``: ds, ka or top_up) and the new cell,
    or None when refused. ``existing`` is the cell before the command."""
    old_certificate = None if existing is None else getattr(existing, slot)
    existing_fields = {"existingSubjectUniqueID": bytes(existing.party) if existing else bytes(8),
                       "existingSubjectKeyIdentifier": _key_identifier(old_certificate)}  # fmt: skip
    current = device.cells.get(role)
    if current is None:
        return {"statusCode": TRUST_ANCHOR_NOT_FOUND, **existing_fields, **_replacing(existing_fields)}, None
    status, certificate, info = _check_replacement(device, role, slot, der, path, command, judged_at)
    if status != SUCCESS:
        return {"statusCode": status, **existing_fields, **_replacing(existing_fields)}, None
    new_party = info.eui if info.eui is not None else current.party
    if new_party != current.party:  # a new party's other keys are not the old party's
        current = TrustAnchorCell(role, new_party)
    cell = dataclasses.replace(current, **{slot: certificate})
    return {"statusCode": SUCCESS, **existing_fields, "replacingSubjectUniqueID": bytes(new_party),
            "replacingSubjectKeyIdentifier": _key_identifier(certificate)}, cell  # fmt: skip


def _replacing(existing_fields: dict) -> dict:
    """A refused replacement leaves the cell as it was, and says so (RTDS)."""
    return {"replacingSubjectUniqueID": existing_fields["existingSubjectUniqueID"],
            "replacingSubjectKeyIdentifier": existing_fields["existingSubjectKeyIdentifier"]}  # fmt: skip


def _check_replacement(device: Device, role: Role, slot: str, der: bytes, path: list[x509.Certificate],
                       command: Command, judged_at: datetime) -> tuple[int, x509.Certificate | None, pki.CertificateInfo | None]:  # fmt: skip
    """The status of a replacement certificate (rule 3), the certificate and what it is."""
    try:
        certificate = x509.load_der_x509_certificate(der)
        info = pki.describe_certificate(certificate)
    except (ValueError, CertificateError):
        return BAD_CERTIFICATE, None, None
    usage = "ka" if slot == "top_up" else slot
    roles = {role} | _ALSO_ACCEPTED.get(role, set())
    if info.kind is not pki.CertificateKind.ORGANISATION or info.role not in roles or info.usage != usage:
        return BAD_CERTIFICATE, None, None
    try:
        pki.check_valid_at(certificate, judged_at)
    except CertificateError:
        return BAD_CERTIFICATE, None, None
    if not _anchored(device, certificate, path, command, judged_at):
        return NO_TRUST_ANCHOR, None, None
    return SUCCESS, certificate, info


def _anchored(device: Device, certificate: x509.Certificate, path: list[x509.Certificate], command: Command,
              judged_at: datetime) -> bool:  # fmt: skip
    """Issued by an Issuing OCA of the command's path, which the Root OCA of the device's Root
    cell issued (judged, like the certificate, when the command arrived). A device without a
    Root OCA certificate in its Root cell anchors no path, unless it replays RTDS (which
    holds none), and says so."""
    root = device.cells.get(Role.ROOT)
    root_certificate = None if root is None else root.ds
    if root_certificate is not None and _kind(root_certificate) is not pki.CertificateKind.ROOT_OCA:
        root_certificate = None
    for issuer in path:
        if issuer.subject != certificate.issuer or _kind(issuer) is not pki.CertificateKind.ISSUING_OCA:
            continue
        try:
            certificate.verify_directly_issued_by(issuer)
        except (ValueError, TypeError, InvalidSignature):
            continue
        if root_certificate is None:
            if device.trust_path_without_root:
                note = "certification path not checked up to the Root: the device's Root cell holds no Root OCA certificate"
                if note not in command.notes:
                    command.notes.append(note)
                return True
            return False
        try:
            pki.check_path(issuer, [root_certificate], judged_at)
            return True
        except CertificateError:
            return False
    return False


def _kind(certificate: x509.Certificate) -> pki.CertificateKind | None:
    try:
        return pki.describe_certificate(certificate).kind
    except CertificateError:
        return None


# Kept register (a reset keeps security credentials): the generated key pair awaiting its
# certificate, {"public": SubjectPublicKeyInfo DER hex, "private": PKCS#8 DER hex, or None
# where the device's key is not known to us}. Stores written before that form hold the
# private key's PKCS#8 DER hex alone (a string): ``_pending_pair`` reads both.
_PENDING = "credentials.pending.{usage}"
_KEY_USAGE_NAMES = {"digitalSignature": "ds", "keyAgreement": "ka"}
INVALID_CERTIFICATE, WRONG_DEVICE_IDENTITY, INVALID_KEY_USAGE, NO_KEY_PAIR, WRONG_PUBLIC_KEY = 1, 2, 3, 4, 5


def _requested_usage(request: DerNode) -> str | None:
    names = (request.child("keyUsage").label or "").split(",")
    return _KEY_USAGE_NAMES.get(names[0]) if len(names) == 1 else None


def expect_certificate_for(tx: Transaction, device: Device, usage: str, public_key: ec.EllipticCurvePublicKey,
                           private_key: ec.EllipticCurvePrivateKey | None = None) -> None:  # fmt: skip
    """Keep a generated key pair for ``usage`` (``ds``/``ka``) until CS02d certifies it.
    ``private_key`` None: a pair generated where we cannot see its private key (a device
    replayed from RTDS, whose devices' private keys RTDS does not hold)."""
    public = public_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    tx.set_kept_register(device.eui, _PENDING.format(usage=usage),
                         {"public": public.hex(), "private": None if private_key is None else _private_der(private_key).hex()})  # fmt: skip


def _pending_pair(tx: Transaction, device: Device, usage: str) -> tuple[bytes, ec.EllipticCurvePrivateKey | None] | None:
    """The key pair awaiting its certificate for ``usage``: its SubjectPublicKeyInfo DER and
    private key (None where unknown), in either stored form; None when there is none."""
    pending = tx.kept_register(device.eui, _PENDING.format(usage=usage))
    if pending is None:
        return None
    if isinstance(pending, str):  # the older form: the private key alone
        pending = {"public": None, "private": pending}
    key = None if pending["private"] is None else serialization.load_der_private_key(bytes.fromhex(pending["private"]), None)
    if pending["public"] is not None:
        return bytes.fromhex(pending["public"]), key  # type: ignore[return-value]
    if key is None:
        return None
    public = key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return public, key  # type: ignore[return-value]


def issue_security_credentials(device: Device, tx: Transaction, command: Command) -> bytes:
    """CS02c: generate a key pair for the usage asked; answer a certification request. A
    device whose certification request production fails (``der_faults``) says so."""
    usage = _requested_usage(_decode(command))
    if usage is None:
        return _encode(command, {"responseCode": "invalidKeyUsage"})
    if has_der_fault(tx, device, command.use_case.name, usage):
        return _encode(command, {"responseCode": "crProductionFailed"})
    key = pki.generate_key()
    request = pki.device_certification_request(device.eui, usage, key)
    expect_certificate_for(tx, device, usage, key.public_key(), key)
    tx.log_security(device.eui, device.now, "key-pair-generated", f"new {usage} key pair, awaiting its certificate")
    return _encode(command, {"certificationRequest": request.public_bytes(serialization.Encoding.DER)})


def update_device_certificate(device: Device, tx: Transaction, command: Command) -> bytes:
    """CS02d: install the certificate for the pending key pair (refusals in code order)."""
    der = _decode(command).value
    try:
        certificate = x509.load_der_x509_certificate(der)
    except ValueError:
        return _encode(command, INVALID_CERTIFICATE)
    usage = pki.key_usage_of(certificate)
    if usage is None:
        return _encode(command, INVALID_KEY_USAGE)
    try:
        info = pki.describe_certificate(certificate)
    except CertificateError:
        return _encode(command, INVALID_CERTIFICATE)
    if info.kind is not pki.CertificateKind.DEVICE or info.eui != device.eui:
        return _encode(command, WRONG_DEVICE_IDENTITY)
    pending = _pending_pair(tx, device, usage)
    if pending is None:
        return _encode(command, NO_KEY_PAIR)
    public = certificate.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    pending_public, key = pending
    if public != pending_public:
        return _encode(command, WRONG_PUBLIC_KEY)
    device.replace_credential(tx, usage, key, certificate)  # type: ignore[arg-type]
    tx.set_kept_register(device.eui, _PENDING.format(usage=usage), None)
    tx.log_security(device.eui, device.now, "device-certificate-replaced", f"{usage} certificate installed")
    return _encode(command, SUCCESS)


def provide_device_certificate(device: Device, tx: Transaction, command: Command) -> bytes:
    """CS02e: the device's current certificate for the usage asked. A device whose
    certificate store fails (``der_faults``) says so."""
    usage = _requested_usage(_decode(command))
    if usage is None:
        return _encode(command, {"responseCode": "invalidKeyUsage"})
    if has_der_fault(tx, device, command.use_case.name, usage):
        return _encode(command, {"responseCode": "certificateRetrievalFailure"})
    certificate = device.credentials.ds_certificate if usage == "ds" else device.credentials.ka_certificate
    if certificate is None:
        return _encode(command, {"responseCode": "noCertificateHeld"})
    return _encode(command, {"certificate": certificate.public_bytes(serialization.Encoding.DER)})


def _private_der(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())


FUTURE_EXECUTORS["CS02b"] = FUTURE_EXECUTORS["CS02g"] = _run_deferred_update

# Every device type shares these; device executors look them up by use-case name.
CREDENTIAL_USE_CASES = {
    "CS02a": provide_security_credential_details,
    "CS02b": update_security_credentials,
    "CS02c": issue_security_credentials,
    "CS02d": update_device_certificate,
    "CS02e": provide_device_certificate,
    "CS02f": provide_security_credential_details,
    "CS02g": update_security_credentials,
}
