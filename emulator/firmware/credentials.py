"""Security credentials use cases every device serves: CS02a (provide security credentials
details), CS02b (update security credentials: replace trust anchor cells), and the device's
own key regeneration: CS02c (generate a key pair, answer a certification request), CS02d
(install the certificate the Issuing DCA made for it), CS02e (provide a device certificate).

Key regeneration keeps the new private key on the device, pending (durable in the store),
until CS02d brings a certificate for exactly that key, EUI-64 and usage; then the device
signs and agrees keys with the new pair. CS02d's refusals use GBCS's response codes.

CS02b, as this module applies it (GBCS's rules as RTDS shows them, and our choices marked):

1. ``authorisingRemotePartySeqNumber`` equals the command's originator counter (every RTDS
   CS02b); anti-replay has already checked that counter.
2. The replacement mode names who may replace what (``_MODES``); the authorising cell and
   every target cell must fit it.
3. Each replacement certificate must be an organisation certificate for the target cell's
   role and key usage, valid at the device's clock, issued by a certificate of the command's
   certification path, which must itself chain to the device's Root cell when it holds the
   Root OCA certificate; without one it trusts no path (replaying RTDS, which holds no Root
   OCA certificate, a device may be told to accept the path and note that it did).
   A certificate that fails gets ``badCertificate`` and its cell is left as it was.
4. ``newRemotePartyFloorSeqNumber`` is reported for each replaced role; anti-replay of a new
   party starts from it. A party keeping its entity identifier keeps its counter (we chose:
   lowering it would let old commands replay).

5. A future ``executionDateTime`` defers the replacement (``scheduler.py``): the response
   says only "command accepted", and at that time the outcome goes out in alert 0x00CB
   (8F66 executed, 8F67 failed: some replacement refused). ``99991231235959Z`` cancels the
   device's pending CS02b of the same mode.
"""

from __future__ import annotations

from datetime import datetime, timezone

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

import gbcs
from gbcs import pki
from gbcs.der import DerNode, decode_der, encode_der_value
from gbcs.errors import CertificateError, DecodeError, EncodeError
from gbcs.types import Cra, Role

from ..errors import BadContent, Unsupported
from ..store import Transaction
from .command import Command
from .device import Device, TrustAnchorCell
from .scheduler import ALERT_EXECUTED, ALERT_FAILED, FUTURE_EXECUTORS, defer

__all__ = [
    "CREDENTIAL_USE_CASES",
    "issue_security_credentials",
    "provide_device_certificate",
    "provide_security_credential_details",
    "update_device_certificate",
    "update_security_credentials",
]

SUCCESS, BAD_CERTIFICATE, TRUST_ANCHOR_NOT_FOUND = 0, 5, 25
_CS02B_CODES = range(0x0100, 0x010A)  # CS02b's message codes: 0x0100 + its replacement mode
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
    """CS02a: for each role asked for, the cell's parties and key identifiers, and the counter
    the device holds for the party (before this command, for the party that sent it)."""
    request = _decode(command)
    details = []
    for node in request.child("remotePartyRolesCredentialsRequired").value:
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
        contents = [{"keyUsage": [name], "subjectUniqueID": bytes(cell.party), "subjectKeyIdentifier": _key_identifier(certificate)}
                    for name, certificate in (("digitalSignature", cell.ds), ("keyAgreement", cell.ka))
                    if certificate is not None]  # fmt: skip
        details.append({"remotePartyRole": int(cell.role), "statusCode": SUCCESS, "currentSeqNumber": counter or 0,
                        "trustAnchorCellDetails": contents})  # fmt: skip
    return _encode(command, details)


def update_security_credentials(device: Device, tx: Transaction, command: Command) -> bytes:
    """CS02b: replace trust anchor cells (module docstring), now or at its execution time."""
    request = _decode(command)
    _check_authority(request, command)
    when = request.child("executionDateTime")
    if when is not None:
        if when.value == CANCELLATION:
            for command_id, _, data in tx.scheduled(device.eui):
                if gbcs.decode(data).other_information.message_code == command.frame.other_information.message_code:
                    tx.unschedule(command_id)
            return _encode(command, {"commandAccepted": None})
        due = datetime.strptime(when.value, "%Y%m%d%H%M%SZ").replace(tzinfo=timezone.utc)
        if due > device.now:
            defer(device, tx, command, due)
            return _encode(command, {"commandAccepted": None})
    outcome, _ = _apply_replacements(device, tx, command, request)
    return _encode(command, {"commandAccepted": None, "executionOutcome": outcome})


def _run_deferred_update(device: Device, tx: Transaction, command: Command) -> tuple[int, bytes]:
    """A future-dated CS02b at its time: the replacement, reported in alert 0x00CB."""
    request = _decode(command)
    outcome, all_succeeded = _apply_replacements(device, tx, command, request)
    value = {"alertCode": ALERT_EXECUTED if all_succeeded else ALERT_FAILED,
             "executionDateTime": request.child("executionDateTime").value, "executionOutcome": outcome}  # fmt: skip
    return 0x00CB, encode_der_value(0x00CB, Cra.ALERT, value)


def _check_authority(request: DerNode, command: Command) -> None:
    control = request.child("authorisingRemotePartyControl")
    mode = control.child("credentialsReplacementMode").value
    code = command.frame.other_information.message_code
    if code in _CS02B_CODES and mode != code - _CS02B_CODES.start:
        raise BadContent(f"replacement mode {mode} is not the mode of message code 0x{code:04X}")
    sequence = control.child("authorisingRemotePartySeqNumber").value
    if sequence != command.frame.originator_counter:
        raise BadContent(f"authorisingRemotePartySeqNumber {sequence} is not the originator counter "
                         f"{command.frame.originator_counter}")  # fmt: skip
    if mode not in _MODES:
        raise Unsupported(f"credentials replacement mode {mode} is not served yet")
    authoriser, _ = _MODES[mode]
    authorising = control.child("authorisingRemotePartyTACellIdentifier")
    if authorising is not None and authorising.child("remotePartyRole").value != authoriser:
        raise BadContent(f"mode {mode} is authorised by {authoriser.name}, not role {authorising.child('remotePartyRole').value}")
    if command.originator.role is not authoriser:
        raise BadContent(f"mode {mode} must come from {authoriser.name}, not {command.originator.role.name}")
    for replacement in request.child("replacements").value:
        target = replacement.child("targetTrustAnchorCell")
        role, usage_names = target.child("remotePartyRole").value, (target.child("keyUsage").label or "").split(",")
        if Role(role) not in _MODES[mode][1] or len(usage_names) != 1 or usage_names[0] not in _USAGES:
            raise BadContent(f"mode {mode} cannot replace the {usage_names} cell of role {role}")
        if (target.child("cellUsage") or DerNode(None, "integer", 2, 0)).value != 0:
            raise Unsupported("prepayment top-up cells are not served yet")
    _certification_path(request)  # readable now, not only when a future-dated command runs


def _certification_path(request: DerNode) -> list[x509.Certificate]:
    try:
        return [x509.load_der_x509_certificate(node.value) for node in request.child("certificationPathCertificates").value]
    except ValueError as error:
        raise BadContent(f"a certification path entry is not a certificate: {error}") from None


def _apply_replacements(device: Device, tx: Transaction, command: Command, request: DerNode) -> tuple[dict, bool]:
    """Replace each target cell whose certificate checks; the executionOutcome, and whether
    every replacement succeeded."""
    control = request.child("authorisingRemotePartyControl")
    path = _certification_path(request)
    floor_node = control.child("newRemotePartyFloorSeqNumber")
    outcomes, replaced_roles = [], []
    for replacement in request.child("replacements").value:
        target = replacement.child("targetTrustAnchorCell")
        role, usage_names = target.child("remotePartyRole").value, (target.child("keyUsage").label or "").split(",")
        usage = _USAGES[usage_names[0]]
        outcome, new_cell = _replace(device, Role(role), usage, replacement.child("replacementCertificate").value, path, command)
        outcomes.append({"affectedTrustAnchorCell": {"remotePartyRole": role, "keyUsage": usage_names}, **outcome})
        if new_cell is not None:
            old = device.cells[Role(role)]
            device.replace_cell(tx, new_cell)
            if new_cell.party != old.party and floor_node is not None:
                tx.accept_counter(device.eui, new_cell.party, max(floor_node.value, tx.last_counter(device.eui, new_cell.party) or 0))
            tx.log_security(device.eui, device.now, "trust-anchor-replaced", f"{Role(role).name} {usage} cell now holds {new_cell.party}")
            if role not in replaced_roles:
                replaced_roles.append(role)
    changes = [] if floor_node is None else [{"remotePartyRole": role, "floorSeqNumber": floor_node.value} for role in replaced_roles]
    outcome = {"authorisingRemotePartySeqNumber": control.child("authorisingRemotePartySeqNumber").value,
               "credentialsReplacementMode": control.child("credentialsReplacementMode").value,
               "remotePartySeqNumberChanges": changes, "replacementOutcomes": outcomes}  # fmt: skip
    return outcome, all(item["statusCode"] == SUCCESS for item in outcomes)


def _replace(device: Device, role: Role, usage: str, der: bytes, path: list[x509.Certificate],
             command: Command) -> tuple[dict, TrustAnchorCell | None]:  # fmt: skip
    """The outcome fields for one replacement and the new cell, or None when refused."""
    existing = device.cells.get(role)
    old_certificate = None if existing is None else (existing.ds if usage == "ds" else existing.ka)
    existing_fields = {"existingSubjectUniqueID": bytes(existing.party) if existing else bytes(8),
                       "existingSubjectKeyIdentifier": _key_identifier(old_certificate)}  # fmt: skip
    try:
        certificate = x509.load_der_x509_certificate(der)
        info = pki.describe_certificate(certificate)
    except (ValueError, CertificateError):
        return {"statusCode": BAD_CERTIFICATE, **existing_fields, "replacingSubjectUniqueID": bytes(8),
                "replacingSubjectKeyIdentifier": bytes(8)}, None  # fmt: skip
    replacing = {"replacingSubjectUniqueID": bytes(info.eui or bytes(8)), "replacingSubjectKeyIdentifier": _key_identifier(certificate)}
    if existing is None:
        return {"statusCode": TRUST_ANCHOR_NOT_FOUND, **existing_fields, **replacing}, None
    if info.kind is not pki.CertificateKind.ORGANISATION or info.role is not role or info.usage != usage or not _trusted(device, certificate, path, command):
        return {"statusCode": BAD_CERTIFICATE, **existing_fields, **replacing}, None
    new_party = info.eui if info.eui is not None else existing.party
    keep_other = existing.ka if usage == "ds" else existing.ds
    if new_party != existing.party:
        keep_other = None  # a new party's other key is not the old party's
    cell = TrustAnchorCell(role, new_party, certificate if usage == "ds" else keep_other, certificate if usage == "ka" else keep_other)
    return {"statusCode": SUCCESS, **existing_fields, **replacing}, cell


def _trusted(device: Device, certificate: x509.Certificate, path: list[x509.Certificate], command: Command) -> bool:
    """Valid at the device's clock, issued by an Issuing OCA of the command's path, which the
    Root OCA of the device's Root cell issued. A device without a Root OCA certificate in its
    Root cell trusts no path, unless it replays RTDS (which holds none), and says so."""
    try:
        pki.check_valid_at(certificate, device.now)
    except CertificateError:
        return False
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
                command.notes.append("certification path not checked up to the Root: the device's Root cell holds no Root OCA certificate")
                return True
            return False
        try:
            pki.check_path(issuer, [root_certificate], device.now)
            return True
        except CertificateError:
            return False
    return False


def _kind(certificate: x509.Certificate) -> pki.CertificateKind | None:
    try:
        return pki.describe_certificate(certificate).kind
    except CertificateError:
        return None


_PENDING = "credentials.pending.{usage}"  # register: the generated, not yet certified, private key
_KEY_USAGE_NAMES = {"digitalSignature": "ds", "keyAgreement": "ka"}


def _requested_usage(request: DerNode) -> str | None:
    names = (request.child("keyUsage").label or "").split(",")
    return _KEY_USAGE_NAMES.get(names[0]) if len(names) == 1 else None


def issue_security_credentials(device: Device, tx: Transaction, command: Command) -> bytes:
    """CS02c: generate a key pair for the usage asked; answer a certification request."""
    usage = _requested_usage(_decode(command))
    if usage is None:
        return _encode(command, {"responseCode": "invalidKeyUsage"})
    key = pki.generate_key()
    request = pki.device_certification_request(device.eui, usage, key)
    tx.set_register(device.eui, _PENDING.format(usage=usage), _private_der(key).hex())
    tx.log_security(device.eui, device.now, "key-pair-generated", f"new {usage} key pair, awaiting its certificate")
    return _encode(command, {"certificationRequest": request.public_bytes(serialization.Encoding.DER)})


def update_device_certificate(device: Device, tx: Transaction, command: Command) -> bytes:
    """CS02d: install the certificate for the pending key pair."""
    der = _decode(command).value
    try:
        certificate = x509.load_der_x509_certificate(der)
        info = pki.describe_certificate(certificate)
    except (ValueError, CertificateError):
        return _encode(command, 1)  # invalidCertificate
    if info.kind is not pki.CertificateKind.DEVICE or info.eui != device.eui:
        return _encode(command, 2)  # wrongDeviceIdentity
    pending = tx.register(device.eui, _PENDING.format(usage=info.usage))
    if pending is None:
        return _encode(command, 4)  # noCorrespondingKeyPairGenerated
    key = serialization.load_der_private_key(bytes.fromhex(pending), password=None)
    if certificate.public_key() != key.public_key():
        return _encode(command, 5)  # wrongPublicKey
    device.replace_credential(tx, info.usage, key, certificate)  # type: ignore[arg-type]
    tx.set_register(device.eui, _PENDING.format(usage=info.usage), None)
    tx.log_security(device.eui, device.now, "device-certificate-replaced", f"{info.usage} certificate installed")
    return _encode(command, 0)  # success


def provide_device_certificate(device: Device, tx: Transaction, command: Command) -> bytes:
    """CS02e: the device's current certificate for the usage asked."""
    usage = _requested_usage(_decode(command))
    if usage is None:
        return _encode(command, {"responseCode": "invalidKeyUsage"})
    certificate = device.credentials.ds_certificate if usage == "ds" else device.credentials.ka_certificate
    if certificate is None:
        return _encode(command, {"responseCode": "noCertificateHeld"})
    return _encode(command, {"certificate": certificate.public_bytes(serialization.Encoding.DER)})


def _private_der(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())


FUTURE_EXECUTORS["CS02b"] = _run_deferred_update

# Every device type shares these; device executors look them up by use-case name.
CREDENTIAL_USE_CASES = {
    "CS02a": provide_security_credential_details,
    "CS02b": update_security_credentials,
    "CS02c": issue_security_credentials,
    "CS02d": update_device_certificate,
    "CS02e": provide_device_certificate,
}
