"""The SMKI test PKI: GB smart-metering certificate profiles, issuance and path checks.

Pure: keys and certificates in, certificates out; no files (``emulator/pki_store.py`` keeps
a store on disk) and no clock (every time is an argument, so trust is judged against a
device's clock or a message's date-time, never the host's).

The hierarchy (SMKI): a Root OCA signs an Issuing OCA, which signs organisation
certificates; a Root DCA signs an Issuing DCA, which signs device certificates.

Profiles. Organisation and device certificates copy the RTDS key store
(``../shared/rtds/keystore``), extension by extension; ``tests/gbcs/test_pki.py`` compares
them. What RTDS shows:

* P-256 keys, ecdsa-with-SHA256, version 3, a positive 16-byte serial number.
* Organisation subject: [CN,] OU = the remote party role in two hex digits, x500UniqueIdentifier
  = the entity's EUI-64 as a BIT STRING; issuer ``OU=07, CN=Z1`` (the Issuing OCA; role 7 is
  the issuing authority). Extensions: keyUsage (critical; digitalSignature or keyAgreement),
  subjectKeyIdentifier, certificatePolicies (critical, ``1.2.826.0.1.8641679.1.2.1.4``),
  authorityKeyIdentifier (key identifier only). Validity: ten years less one second,
  from midnight UTC.
* Device subject: empty. The EUI-64 is in a critical subjectAltName, as an RFC 4108
  hardwareModuleName with hwType ``1.2.826.0.1.8641679.1.2.2.1`` (the same for every device
  type in RTDS, so the type is not in the certificate) and hwSerialNum = the EUI-64. Extensions
  in the order keyUsage, subjectKeyIdentifier, subjectAltName, certificatePolicies (critical,
  ``1.2.826.0.1.1800000.1.2.1.4``), authorityKeyIdentifier. Issuer: ``CN=E357`` (the Issuing
  DCA). Validity: from midnight UTC to 9999-12-31 23:59:59, RFC 5280's "no well-defined
  expiration date".
* Key identifiers are 8 bytes, RFC 5280 §4.2.1.2 method 2: ``0100`` then the low 60 bits of
  the SHA-1 of the public key.

RTDS holds no CA certificate, so the four CA profiles are ours (we chose): the issuer forms
above, basicConstraints (critical; path length 0 for the issuing CAs), keyUsage keyCertSign and
cRLSign (critical), key identifiers as above, the policy of the certificates each CA issues, and
no expiry.

Test marker. Every name this module writes says TEST: the CAs' common names and the
organisations' (RTDS's own test organisations are named GITTESTSUPPLIER). A device certificate
has an empty subject by profile, so its marker is its issuer's.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from enum import Enum

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.name import _ASN1Type
from cryptography.x509.oid import ExtensionOID, NameOID, ObjectIdentifier

from .errors import CertificateError
from .types import EUI64, DeviceType, Role

__all__ = [
    "DEVICE_POLICY",
    "NO_EXPIRY",
    "ORGANISATION_POLICY",
    "CertificateInfo",
    "CertificateKind",
    "Issuer",
    "ca_certificate",
    "check_path",
    "check_valid_at",
    "describe_certification_request",
    "device_certificate",
    "device_certification_request",
    "device_type_name",
    "describe_certificate",
    "generate_key",
    "key_usage_of",
    "organisation_certificate",
    "parse_device_type",
    "parse_role",
    "role_name",
]

ORGANISATION_POLICY = ObjectIdentifier("1.2.826.0.1.8641679.1.2.1.4")  # RTDS organisation certificates
DEVICE_POLICY = ObjectIdentifier("1.2.826.0.1.1800000.1.2.1.4")  # RTDS device certificates
HARDWARE_MODULE_NAME = ObjectIdentifier("1.3.6.1.5.5.7.8.4")  # RFC 4108 id-on-hardwareModuleName
DEVICE_HW_TYPE = ObjectIdentifier("1.2.826.0.1.8641679.1.2.2.1")  # RTDS, every device type
NO_EXPIRY = datetime(9999, 12, 31, 23, 59, 59, tzinfo=timezone.utc)  # RFC 5280 §4.1.2.5
ORGANISATION_VALIDITY_YEARS = 10  # RTDS
ISSUING_AUTHORITY_OU = f"{Role.ISSUING_AUTHORITY:02X}"  # "07", the Issuing OCA's OU in RTDS

# Role names as the CLI, config files and `pki show` spell them.
_ROLE_NAMES = {
    Role.ROOT: "root",
    Role.RECOVERY: "recovery",
    Role.SUPPLIER: "supplier",
    Role.NETWORK_OPERATOR: "network-operator",
    Role.ACCESS_CONTROL_BROKER: "access-control-broker",
    Role.TRANSITIONAL_CHANGE_OF_SUPPLIER: "transitional-change-of-supplier",
    Role.WAN_PROVIDER: "wan-provider",
    Role.LOAD_CONTROLLER: "load-controller",
    Role.OTHER: "other-user",
}
_ROLES_BY_NAME = {name: role for role, name in _ROLE_NAMES.items()}
_DEVICE_TYPES_BY_NAME = {device_type.name.lower(): device_type for device_type in DeviceType}


def role_name(role: Role) -> str:
    return _ROLE_NAMES.get(role, role.name.lower().replace("_", "-"))


def parse_role(text: str) -> Role:
    """A remote party role from its name (``supplier``, ``network-operator`` …).

    Raises:
        ValueError: no role has that name (the message lists those that do).
    """
    try:
        return _ROLES_BY_NAME[text.strip().lower()]
    except KeyError:
        raise ValueError(f"unknown role {text!r}; known roles: {', '.join(_ROLES_BY_NAME)}") from None


def device_type_name(device_type: DeviceType) -> str:
    return device_type.name.lower()


def parse_device_type(text: str) -> DeviceType:
    """A device type from its name (``chf``, ``esme`` …).

    Raises:
        ValueError: no device type has that name.
    """
    try:
        return _DEVICE_TYPES_BY_NAME[text.strip().lower()]
    except KeyError:
        known = ", ".join(_DEVICE_TYPES_BY_NAME)
        raise ValueError(f"unknown device type {text!r}; known types: {known}") from None


class CertificateKind(str, Enum):
    ROOT_OCA = "root-oca"
    ISSUING_OCA = "issuing-oca"
    ROOT_DCA = "root-dca"
    ISSUING_DCA = "issuing-dca"
    ORGANISATION = "organisation"
    DEVICE = "device"

    @property
    def is_authority(self) -> bool:
        return self not in (CertificateKind.ORGANISATION, CertificateKind.DEVICE)


@dataclass(frozen=True, slots=True)
class Issuer:
    """A CA that can sign: its certificate and private key."""

    certificate: x509.Certificate
    private_key: ec.EllipticCurvePrivateKey


def generate_key() -> ec.EllipticCurvePrivateKey:
    """A new P-256 private key (every SMKI key is on P-256)."""
    return ec.generate_private_key(ec.SECP256R1())


def key_identifier(public_key: ec.EllipticCurvePublicKey) -> bytes:
    """The 8-byte key identifier RTDS uses: RFC 5280 §4.2.1.2 method 2."""
    point = public_key.public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    low_60_bits = bytearray(hashlib.sha1(point).digest()[-8:])
    low_60_bits[0] = 0x40 | (low_60_bits[0] & 0x0F)
    return bytes(low_60_bits)


def midnight(moment: datetime) -> datetime:
    """The start of ``moment``'s UTC day: RTDS certificates start at midnight."""
    moment = moment.astimezone(timezone.utc) if moment.tzinfo else moment.replace(tzinfo=timezone.utc)
    return moment.replace(hour=0, minute=0, second=0, microsecond=0)


def organisation_not_after(not_before: datetime, years: int = ORGANISATION_VALIDITY_YEARS) -> datetime:
    """``years`` after ``not_before`` less one second (RTDS: 2015-10-30 → 2025-10-29 23:59:59)."""
    try:
        end = not_before.replace(year=not_before.year + years)
    except ValueError:  # 29 February
        end = not_before.replace(year=not_before.year + years, day=28)
    return min(end - timedelta(seconds=1), NO_EXPIRY)


def _serial_number() -> int:
    # 16 bytes and positive, as every RTDS serial: 127 random bits with the top one set.
    return secrets.randbits(126) | (1 << 126)


def _builder(subject: x509.Name, issuer_name: x509.Name, public_key: ec.EllipticCurvePublicKey,
             not_before: datetime, not_after: datetime) -> x509.CertificateBuilder:  # fmt: skip
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer_name)
        .public_key(public_key)
        .serial_number(_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
    )


def _key_usage(*, digital_signature: bool = False, key_agreement: bool = False,
               certificate_signing: bool = False) -> x509.KeyUsage:  # fmt: skip
    return x509.KeyUsage(
        digital_signature=digital_signature, content_commitment=False, key_encipherment=False,
        data_encipherment=False, key_agreement=key_agreement, key_cert_sign=certificate_signing,
        crl_sign=certificate_signing, encipher_only=False, decipher_only=False,
    )  # fmt: skip


def _authority_key_identifier(issuer: Issuer) -> x509.AuthorityKeyIdentifier:
    return x509.AuthorityKeyIdentifier(key_identifier(issuer.private_key.public_key()), None, None)


def _policies(policy: ObjectIdentifier) -> x509.CertificatePolicies:
    return x509.CertificatePolicies([x509.PolicyInformation(policy, None)])


def ca_certificate(kind: CertificateKind, common_name: str, public_key: ec.EllipticCurvePublicKey,
                   *, not_before: datetime, issuer: Issuer | None = None,
                   private_key: ec.EllipticCurvePrivateKey | None = None) -> x509.Certificate:  # fmt: skip
    """A CA certificate of our profile (module docstring).

    Args:
        kind: one of the four authority kinds.
        common_name: the CA's CN (it should say TEST).
        public_key: the CA's public key.
        not_before: the start of validity (taken back to midnight UTC).
        issuer: the signing CA for an issuing CA; None for a root, which signs itself.
        private_key: a root's own private key (required when ``issuer`` is None).

    Raises:
        CertificateError: ``kind`` is not an authority, or a root lacks its private key.
    """
    if not kind.is_authority:
        raise CertificateError(f"{kind.value} is not a certificate authority")
    is_root = kind in (CertificateKind.ROOT_OCA, CertificateKind.ROOT_DCA)
    if is_root != (issuer is None):
        raise CertificateError(f"a {kind.value} certificate is {'self' if is_root else 'CA'}-signed")
    organisational = kind in (CertificateKind.ROOT_OCA, CertificateKind.ISSUING_OCA)
    # RTDS issuer names are PrintableStrings: OU=07, CN=Z1 above organisations, CN=E357 above devices.
    printable = _ASN1Type.PrintableString
    attributes = [x509.NameAttribute(NameOID.COMMON_NAME, common_name, _type=printable)]
    if organisational:
        attributes.insert(0, x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, ISSUING_AUTHORITY_OU, _type=printable))
    subject = x509.Name(attributes)
    if issuer is None:
        if private_key is None:
            raise CertificateError(f"a {kind.value} certificate needs its own private key to sign itself")
        signing_key, issuer_name = private_key, subject
    else:
        signing_key, issuer_name = issuer.private_key, issuer.certificate.subject
    builder = (
        _builder(subject, issuer_name, public_key, midnight(not_before), NO_EXPIRY)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None if is_root else 0), critical=True)
        .add_extension(_key_usage(certificate_signing=True), critical=True)
        .add_extension(x509.SubjectKeyIdentifier(key_identifier(public_key)), critical=False)
        .add_extension(_policies(ORGANISATION_POLICY if organisational else DEVICE_POLICY), critical=True)
    )
    if issuer is not None:
        builder = builder.add_extension(_authority_key_identifier(issuer), critical=False)
    return builder.sign(signing_key, hashes.SHA256())


def organisation_certificate(role: Role, eui: bytes, usage: str, public_key: ec.EllipticCurvePublicKey,
                             issuer: Issuer, *, not_before: datetime, common_name: str | None = None,
                             years: int = ORGANISATION_VALIDITY_YEARS) -> x509.Certificate:  # fmt: skip
    """An organisation (remote party) certificate of the RTDS profile.

    Args:
        role: the remote party role, written as the subject's OU.
        eui: the party's EUI-64 entity identifier, written as the x500UniqueIdentifier.
        usage: ``ds`` (digital signature) or ``ka`` (key agreement; also for ``pp-ka``).
        public_key: the party's public key.
        issuer: the Issuing OCA.
        not_before: the start of validity (taken back to midnight UTC).
        common_name: an optional CN, first in the subject as RTDS writes it.
        years: validity in years, less one second.

    Raises:
        CertificateError: ``usage`` is neither ``ds`` nor ``ka``.
    """
    key_usage = _end_entity_key_usage(usage)
    attributes = [
        x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, f"{int(role):02X}"),
        # A BIT STRING's content: the unused-bits count (0), then the EUI-64's 8 bytes.
        x509.NameAttribute(NameOID.X500_UNIQUE_IDENTIFIER, b"\x00" + bytes(EUI64(eui)), _type=_ASN1Type.BitString),
    ]
    if common_name:
        attributes.insert(0, x509.NameAttribute(NameOID.COMMON_NAME, common_name))
    start = midnight(not_before)
    return (
        _builder(x509.Name(attributes), issuer.certificate.subject, public_key, start,
                 organisation_not_after(start, years))  # fmt: skip
        .add_extension(key_usage, critical=True)
        .add_extension(x509.SubjectKeyIdentifier(key_identifier(public_key)), critical=False)
        .add_extension(_policies(ORGANISATION_POLICY), critical=True)
        .add_extension(_authority_key_identifier(issuer), critical=False)
        .sign(issuer.private_key, hashes.SHA256())
    )


def device_certificate(eui: bytes, usage: str, public_key: ec.EllipticCurvePublicKey, issuer: Issuer,
                       *, not_before: datetime) -> x509.Certificate:  # fmt: skip
    """A device certificate of the RTDS profile: empty subject, EUI-64 in the subject
    alternative name.

    Args:
        eui: the device's EUI-64.
        usage: ``ds`` or ``ka``.
        public_key: the device's public key (a device keeps its private key to itself).
        issuer: the Issuing DCA.
        not_before: the start of validity (taken back to midnight UTC); devices never expire.

    Raises:
        CertificateError: ``usage`` is neither ``ds`` nor ``ka``.
    """
    key_usage = _end_entity_key_usage(usage)
    san = x509.SubjectAlternativeName([x509.OtherName(HARDWARE_MODULE_NAME, _hardware_module_name(eui))])
    return (
        _builder(x509.Name([]), issuer.certificate.subject, public_key, midnight(not_before), NO_EXPIRY)
        .add_extension(key_usage, critical=True)
        .add_extension(x509.SubjectKeyIdentifier(key_identifier(public_key)), critical=False)
        .add_extension(san, critical=True)
        .add_extension(_policies(DEVICE_POLICY), critical=True)
        .add_extension(_authority_key_identifier(issuer), critical=False)
        .sign(issuer.private_key, hashes.SHA256())
    )


def device_certification_request(eui: bytes, usage: str, private_key: ec.EllipticCurvePrivateKey) -> x509.CertificateSigningRequest:
    """The PKCS#10 request a device makes for a key pair it generated (CS02c), as RTDS's:
    an empty subject, and an extension request for the key usage (critical) and the EUI-64's
    hardwareModuleName (critical), signed with the new key.

    Raises:
        CertificateError: ``usage`` is neither ``ds`` nor ``ka``.
    """
    san = x509.SubjectAlternativeName([x509.OtherName(HARDWARE_MODULE_NAME, _hardware_module_name(eui))])
    return (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([]))
        .add_extension(_end_entity_key_usage(usage), critical=True)
        .add_extension(san, critical=True)
        .sign(private_key, hashes.SHA256())
    )


def describe_certification_request(request: x509.CertificateSigningRequest) -> tuple[EUI64, str]:
    """The EUI-64 and key usage (``ds``/``ka``) a device's request asks for, once its
    signature (proof of possession of the key) checks.

    Raises:
        CertificateError: the signature does not check, or the request is off-profile.
    """
    if not request.is_signature_valid:
        raise CertificateError("the certification request's signature does not verify")
    try:
        key_usage = request.extensions.get_extension_for_oid(ExtensionOID.KEY_USAGE).value
        names = request.extensions.get_extension_for_oid(ExtensionOID.SUBJECT_ALTERNATIVE_NAME).value
    except x509.ExtensionNotFound as missing:
        raise CertificateError(f"the certification request lacks {missing.oid._name}") from None
    usage = "ds" if key_usage.digital_signature and not key_usage.key_agreement else (
        "ka" if key_usage.key_agreement and not key_usage.digital_signature else None)  # fmt: skip
    if usage is None:
        raise CertificateError("the certification request asks for neither signature nor key agreement alone")
    for name in names.get_values_for_type(x509.OtherName):
        if name.type_id == HARDWARE_MODULE_NAME and name.value[-10:-8] == b"\x04\x08":
            return EUI64(name.value[-8:]), usage
    raise CertificateError("the certification request names no EUI-64")


def _end_entity_key_usage(usage: str) -> x509.KeyUsage:
    if usage == "ds":
        return _key_usage(digital_signature=True)
    if usage in ("ka", "pp-ka"):
        return _key_usage(key_agreement=True)
    raise CertificateError(f"unknown key usage {usage!r}; expected ds or ka")


def _hardware_module_name(eui: bytes) -> bytes:
    # HardwareModuleName ::= SEQUENCE { hwType OBJECT IDENTIFIER, hwSerialNum OCTET STRING }
    oid = DEVICE_HW_TYPE.dotted_string
    oid_der = _der_oid(oid)
    body = bytes((0x06, len(oid_der))) + oid_der + b"\x04\x08" + bytes(EUI64(eui))
    return bytes((0x30, len(body))) + body


def _der_oid(dotted: str) -> bytes:
    arcs = [int(arc) for arc in dotted.split(".")]
    out = bytearray((40 * arcs[0] + arcs[1],))
    for arc in arcs[2:]:
        chunk = [arc & 0x7F]
        arc >>= 7
        while arc:
            chunk.append(0x80 | (arc & 0x7F))
            arc >>= 7
        out.extend(reversed(chunk))
    return bytes(out)


@dataclass(frozen=True, slots=True)
class CertificateInfo:
    """What a certificate is, read from its content alone."""

    kind: CertificateKind
    usage: str  # ds | ka | ca
    role: Role | None  # organisations only
    eui: EUI64 | None  # organisations and devices


def describe_certificate(certificate: x509.Certificate) -> CertificateInfo:
    """Classify a certificate as one of the six kinds of the SMKI hierarchy.

    CAs are told apart by basicConstraints, self-signature and the policy they carry; devices
    by their empty subject; organisations by their OU role.

    Raises:
        CertificateError: it fits none of the profiles.
    """
    extensions = certificate.extensions
    try:
        constraints = extensions.get_extension_for_oid(ExtensionOID.BASIC_CONSTRAINTS).value
        is_ca = constraints.ca
    except x509.ExtensionNotFound:
        is_ca = False
    if is_ca:
        self_signed = certificate.issuer == certificate.subject
        organisational = ORGANISATION_POLICY in _policy_oids(certificate)
        kind = {
            (True, True): CertificateKind.ROOT_OCA, (False, True): CertificateKind.ISSUING_OCA,
            (True, False): CertificateKind.ROOT_DCA, (False, False): CertificateKind.ISSUING_DCA,
        }[self_signed, organisational]  # fmt: skip
        return CertificateInfo(kind, "ca", None, None)
    usage = _usage_of(certificate)
    if len(certificate.subject) == 0:
        return CertificateInfo(CertificateKind.DEVICE, usage, None, _device_eui(certificate))
    units = certificate.subject.get_attributes_for_oid(NameOID.ORGANIZATIONAL_UNIT_NAME)
    identifiers = certificate.subject.get_attributes_for_oid(NameOID.X500_UNIQUE_IDENTIFIER)
    if not units or not identifiers:
        raise CertificateError("not an SMKI certificate: a subject without role (OU) and entity identifier")
    try:
        role = Role(int(str(units[0].value), 16))
    except ValueError:
        raise CertificateError(f"organisation certificate with unknown role OU={units[0].value!r}") from None
    bits = identifiers[0].value
    if not isinstance(bits, bytes) or bits[:1] != b"\x00":
        raise CertificateError("x500UniqueIdentifier is not a BIT STRING of whole bytes")
    eui = _eui_from_bytes(bits[1:], "x500UniqueIdentifier")
    return CertificateInfo(CertificateKind.ORGANISATION, usage, role, eui)


def _policy_oids(certificate: x509.Certificate) -> set[ObjectIdentifier]:
    try:
        policies = certificate.extensions.get_extension_for_oid(ExtensionOID.CERTIFICATE_POLICIES).value
    except x509.ExtensionNotFound:
        return set()
    return {policy.policy_identifier for policy in policies}


def key_usage_of(certificate: x509.Certificate | x509.CertificateSigningRequest) -> str | None:
    """``ds`` or ``ka``: the one usage an SMKI end-entity certificate's keyUsage gives it
    (digitalSignature or keyAgreement, alone), or a certification request's asks for; None
    for anything else."""
    try:
        key_usage = certificate.extensions.get_extension_for_oid(ExtensionOID.KEY_USAGE).value
    except (x509.ExtensionNotFound, ValueError):
        return None
    if key_usage.digital_signature and not key_usage.key_agreement:
        return "ds"
    if key_usage.key_agreement and not key_usage.digital_signature:
        return "ka"
    return None


def _usage_of(certificate: x509.Certificate) -> str:
    usage = key_usage_of(certificate)
    if usage is None:
        raise CertificateError("not an SMKI certificate: key usage is neither signature nor key agreement alone")
    return usage


def _device_eui(certificate: x509.Certificate) -> EUI64:
    try:
        names = certificate.extensions.get_extension_for_oid(ExtensionOID.SUBJECT_ALTERNATIVE_NAME).value
    except x509.ExtensionNotFound:
        raise CertificateError("device certificate without subject alternative name") from None
    for name in names.get_values_for_type(x509.OtherName):
        if name.type_id == HARDWARE_MODULE_NAME:
            # ... 04 08 <EUI-64> closes the SEQUENCE: the serial number is its last 8 bytes
            if len(name.value) >= 10 and name.value[-10:-8] == b"\x04\x08":
                return _eui_from_bytes(name.value[-8:], "hwSerialNum")
    raise CertificateError("device certificate without a hardwareModuleName holding an EUI-64")


def _eui_from_bytes(data: bytes, field: str) -> EUI64:
    if len(data) != 8:
        raise CertificateError(f"{field} is {len(data)} bytes, not an EUI-64")
    return EUI64(data)


def check_valid_at(certificate: x509.Certificate, at: datetime) -> None:
    """Raise ``CertificateError`` unless ``at`` lies in the certificate's validity period.

    ``at`` is the device's clock or the message's date-time, never the host's wall clock
    (RTDS's organisation certificates expired in 2025 and still sign its 2016-era frames).
    """
    moment = at if at.tzinfo else at.replace(tzinfo=timezone.utc)
    if moment < certificate.not_valid_before_utc:
        raise CertificateError(f"certificate not valid until {certificate.not_valid_before_utc.isoformat()} "
                               f"(judged at {moment.isoformat()})")  # fmt: skip
    if moment > certificate.not_valid_after_utc:
        raise CertificateError(f"certificate expired {certificate.not_valid_after_utc.isoformat()} "
                               f"(judged at {moment.isoformat()})")  # fmt: skip


def check_path(certificate: x509.Certificate, chain: list[x509.Certificate], at: datetime) -> None:
    """Validate ``certificate`` up a chain to a self-signed root, at time ``at``.

    Args:
        certificate: the end-entity (or CA) certificate.
        chain: its issuers in order, ending with the trusted root.
        at: the moment to judge validity at (a device clock or a message date-time).

    Raises:
        CertificateError: a signature, name, key identifier, CA flag or validity period is
            wrong; the message says which certificate and why.
    """
    path = [certificate, *chain]
    if not chain or path[-1].issuer != path[-1].subject:
        raise CertificateError("the chain does not end in a self-signed root")
    for depth, (child, parent) in enumerate(zip(path, path[1:] + path[-1:], strict=True)):
        check_valid_at(child, at)
        if depth > 0 and describe_certificate(child).usage != "ca":
            raise CertificateError(f"issuer at depth {depth} is not a certificate authority")
        try:
            child.verify_directly_issued_by(parent)
        except (ValueError, TypeError, InvalidSignature) as error:
            raise CertificateError(f"certificate at depth {depth} is not issued by the next: {error}") from None
        _check_key_identifiers(child, parent, depth)


def _check_key_identifiers(child: x509.Certificate, parent: x509.Certificate, depth: int) -> None:
    try:
        authority = child.extensions.get_extension_for_oid(ExtensionOID.AUTHORITY_KEY_IDENTIFIER).value
    except x509.ExtensionNotFound:
        return  # optional on a self-signed root (and absent from one RTDS certificate)
    if authority.key_identifier is None:
        return
    try:
        subject_key = parent.extensions.get_extension_for_oid(ExtensionOID.SUBJECT_KEY_IDENTIFIER).value
    except x509.ExtensionNotFound:
        raise CertificateError(f"issuer of the certificate at depth {depth} has no subject key identifier") from None
    if subject_key.digest != authority.key_identifier:
        raise CertificateError(f"certificate at depth {depth}: authority key identifier does not match its issuer")
