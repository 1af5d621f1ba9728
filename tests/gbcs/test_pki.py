"""The test PKI's certificate profiles, compared with the real certificates of the RTDS key
store extension by extension, and its path and validity checks."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtensionOID, NameOID

from gbcs import pki
from gbcs.errors import CertificateError
from gbcs.pki import CertificateKind, Issuer
from gbcs.types import EUI64, Role

from ..conftest import RTDS

KEYSTORE = RTDS / "keystore"
NOW = datetime(2026, 12, 1, 13, 5, 7, tzinfo=timezone.utc)


def _load(name: str) -> x509.Certificate:
    return x509.load_pem_x509_certificate((KEYSTORE / name).read_bytes())


@dataclass
class Hierarchy:
    root_oca: Issuer
    issuing_oca: Issuer
    root_dca: Issuer
    issuing_dca: Issuer


def _authority(kind: CertificateKind, name: str, parent: Issuer | None) -> Issuer:
    key = pki.generate_key()
    certificate = pki.ca_certificate(kind, name, key.public_key(), not_before=NOW, issuer=parent,
                                     private_key=key if parent is None else None)  # fmt: skip
    return Issuer(certificate, key)


@pytest.fixture(scope="module")
def hierarchy() -> Hierarchy:
    root_oca = _authority(CertificateKind.ROOT_OCA, "TEST ROOT OCA", None)
    root_dca = _authority(CertificateKind.ROOT_DCA, "TEST ROOT DCA", None)
    return Hierarchy(root_oca, _authority(CertificateKind.ISSUING_OCA, "TEST ISSUING OCA", root_oca),
                     root_dca, _authority(CertificateKind.ISSUING_DCA, "TEST DCA", root_dca))  # fmt: skip


def _organisation(hierarchy: Hierarchy, usage: str, *, role: Role = Role.SUPPLIER,
                  common_name: str | None = "SMETS-EMU TEST SUPPLIER") -> x509.Certificate:  # fmt: skip
    key = pki.generate_key()
    return pki.organisation_certificate(role, bytes.fromhex("90B3D51F30010000"), usage, key.public_key(),
                                        hierarchy.issuing_oca, not_before=NOW, common_name=common_name)  # fmt: skip


def _device(hierarchy: Hierarchy, usage: str, eui: str = "00DB123456789001") -> x509.Certificate:
    return pki.device_certificate(bytes.fromhex(eui), usage, pki.generate_key().public_key(),
                                  hierarchy.issuing_dca, not_before=NOW)  # fmt: skip


def _name_form(name: x509.Name) -> list[tuple[str, object]]:
    """Attribute types, in order, with their ASN.1 string types: a name's form without values."""
    return [(attribute.oid.dotted_string, attribute._type) for attribute in name]


def _extension_form(certificate: x509.Certificate) -> list[tuple[str, bool]]:
    return [(extension.oid.dotted_string, extension.critical) for extension in certificate.extensions]


# Each generated certificate type with its RTDS counterpart (the same EUI-64 for devices).
COUNTERPARTS = {
    "organisation-ds": ("90b3d51f30010000-ds.pem", lambda h: _organisation(h, "ds")),
    "organisation-ds-no-cn": ("90b3d51f30020000-ds.pem", lambda h: _organisation(h, "ds", role=Role.NETWORK_OPERATOR, common_name=None)),
    "organisation-ka": ("90b3d51f30010000-ka.pem", lambda h: _organisation(h, "ka", common_name=None)),
    "organisation-pp-ka": ("90b3d51f30010000-pp-ka.pem", lambda h: _organisation(h, "pp-ka", common_name=None)),
    "device-ds": ("00db123456789001-ds.pem", lambda h: _device(h, "ds")),
    "device-ka": ("00db123456789001-ka.pem", lambda h: _device(h, "ka")),
}  # fmt: skip


@pytest.mark.parametrize("case", COUNTERPARTS)
def test_profile_matches_rtds_extension_by_extension(case: str, hierarchy: Hierarchy) -> None:
    rtds_name, make = COUNTERPARTS[case]
    rtds, ours = _load(rtds_name), make(hierarchy)

    assert ours.version == rtds.version
    assert ours.signature_algorithm_oid == rtds.signature_algorithm_oid
    for certificate in (ours, rtds):
        key = certificate.public_key()
        assert isinstance(key, ec.EllipticCurvePublicKey) and key.curve.name == "secp256r1"
    # A positive serial number of 16 bytes.
    assert 120 < ours.serial_number.bit_length() <= 127 and 120 < rtds.serial_number.bit_length() <= 127

    # Names: the same attribute types, order and string types (values differ: ours say TEST).
    assert _name_form(ours.subject) == _name_form(rtds.subject)
    assert _name_form(ours.issuer) == _name_form(rtds.issuer)

    # Extensions: the same ones, in the same order, equally critical, with equal contents
    # where the content is not a key or key identifier.
    assert _extension_form(ours) == _extension_form(rtds)
    for oid in (ExtensionOID.KEY_USAGE, ExtensionOID.CERTIFICATE_POLICIES):
        assert ours.extensions.get_extension_for_oid(oid).value == rtds.extensions.get_extension_for_oid(oid).value
    for certificate in (ours, rtds):
        ski = certificate.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest
        assert len(ski) == 8
        aki = certificate.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value
        assert len(aki.key_identifier) == 8
        assert aki.authority_cert_issuer is None and aki.authority_cert_serial_number is None

    # Validity: devices never expire; organisations last the RTDS lifetime less one second.
    assert ours.not_valid_before_utc == NOW.replace(hour=0, minute=0, second=0)
    assert rtds.not_valid_before_utc.time() == ours.not_valid_before_utc.time()
    if case.startswith("device"):
        assert ours.not_valid_after_utc == rtds.not_valid_after_utc
        # The EUI-64's hardwareModuleName is byte for byte the RTDS one.
        assert (ours.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
                == rtds.extensions.get_extension_for_class(x509.SubjectAlternativeName).value)  # fmt: skip
    else:
        rtds_years = rtds.not_valid_after_utc.year - rtds.not_valid_before_utc.year
        end = ours.not_valid_after_utc + timedelta(seconds=1)
        assert end == ours.not_valid_before_utc.replace(year=ours.not_valid_before_utc.year + rtds_years)


def test_key_identifier_is_rfc5280_method_2_as_in_rtds() -> None:
    for path in sorted(KEYSTORE.glob("*.pem")):
        if b"CERTIFICATE" not in path.read_bytes():
            continue
        certificate = _load(path.name)
        ski = certificate.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest
        assert pki.key_identifier(certificate.public_key()) == ski, path.name


def test_every_rtds_certificate_is_classified_from_its_content() -> None:
    seen = set()
    for path in sorted(KEYSTORE.glob("*.pem")):
        if b"CERTIFICATE" not in path.read_bytes():
            continue
        info = pki.describe_certificate(_load(path.name))
        eui, usage = path.stem.split("-", 1)
        if eui.startswith("00db"):
            assert info.kind is CertificateKind.DEVICE and info.role is None
        else:
            assert info.kind is CertificateKind.ORGANISATION and info.role is not None
        if path.name != "90b3d51f30000007-ka.pem":  # RTDS filed the second supplier's KA here
            assert info.eui == EUI64(eui), path.name
        assert info.usage == ("ka" if usage == "pp-ka" else usage)
        seen.add(info.kind)
    assert seen == {CertificateKind.DEVICE, CertificateKind.ORGANISATION}


def test_rtds_roles_come_from_the_subject_ou() -> None:
    roles = {path.name[:16]: pki.describe_certificate(_load(path.name)).role
             for path in KEYSTORE.glob("90b3*-ds.pem")}  # fmt: skip
    assert roles["90b3d51f30000002"] is Role.ACCESS_CONTROL_BROKER
    assert roles["90b3d51f30010000"] is Role.SUPPLIER
    assert roles["90b3d51f30020000"] is Role.NETWORK_OPERATOR
    assert roles["90b3d51f30000001"] is Role.RECOVERY


def test_authorities_are_classified_and_marked_as_test(hierarchy: Hierarchy) -> None:
    kinds = {pki.describe_certificate(issuer.certificate).kind for issuer in vars(hierarchy).values()}
    assert kinds == {CertificateKind.ROOT_OCA, CertificateKind.ISSUING_OCA,
                     CertificateKind.ROOT_DCA, CertificateKind.ISSUING_DCA}  # fmt: skip
    for issuer in vars(hierarchy).values():
        name = issuer.certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value
        assert "TEST" in str(name)
        constraints = issuer.certificate.extensions.get_extension_for_class(x509.BasicConstraints)
        assert constraints.critical and constraints.value.ca


def test_organisation_subject_carries_role_and_eui(hierarchy: Hierarchy) -> None:
    certificate = _organisation(hierarchy, "ds", role=Role.WAN_PROVIDER)
    info = pki.describe_certificate(certificate)
    assert (info.kind, info.role, info.eui, info.usage) == (
        CertificateKind.ORGANISATION, Role.WAN_PROVIDER, EUI64("90B3D51F30010000"), "ds")
    ou = certificate.subject.get_attributes_for_oid(NameOID.ORGANIZATIONAL_UNIT_NAME)[0].value
    assert ou == "06"


def test_paths_validate_at_the_time_given(hierarchy: Hierarchy) -> None:
    organisation = _organisation(hierarchy, "ds")
    device = _device(hierarchy, "ka")
    organisation_chain = [hierarchy.issuing_oca.certificate, hierarchy.root_oca.certificate]
    device_chain = [hierarchy.issuing_dca.certificate, hierarchy.root_dca.certificate]
    pki.check_path(organisation, organisation_chain, NOW)
    pki.check_path(device, device_chain, datetime(9000, 1, 1, tzinfo=timezone.utc))
    with pytest.raises(CertificateError, match="expired"):
        pki.check_path(organisation, organisation_chain, NOW + timedelta(days=3660))
    with pytest.raises(CertificateError, match="not valid until"):
        pki.check_path(device, device_chain, NOW - timedelta(days=1))
    with pytest.raises(CertificateError, match="not issued by"):
        pki.check_path(organisation, device_chain, NOW)
    with pytest.raises(CertificateError, match="self-signed root"):
        pki.check_path(organisation, organisation_chain[:1], NOW)


def test_a_tampered_certificate_fails_its_path(hierarchy: Hierarchy) -> None:
    from cryptography.hazmat.primitives import serialization

    der = bytearray(_organisation(hierarchy, "ds").public_bytes(serialization.Encoding.DER))
    der[-10] ^= 0x01  # inside the signature
    tampered = x509.load_der_x509_certificate(bytes(der))
    with pytest.raises(CertificateError, match="not issued by"):
        pki.check_path(tampered, [hierarchy.issuing_oca.certificate, hierarchy.root_oca.certificate], NOW)


def test_rtds_organisation_certificates_expired_in_2025() -> None:
    supplier = _load("90b3d51f30010000-ds.pem")
    pki.check_valid_at(supplier, datetime(2020, 6, 1, tzinfo=timezone.utc))
    with pytest.raises(CertificateError, match="expired 2025-10-29"):
        pki.check_valid_at(supplier, datetime(2026, 1, 1, tzinfo=timezone.utc))


@pytest.mark.parametrize("text", ["supplier", "network-operator", "Access-Control-Broker", " root ", "other-user"])
def test_role_names_parse(text: str) -> None:
    assert pki.role_name(pki.parse_role(text)) == text.strip().lower()


@pytest.mark.parametrize("text", ["suplier", "", "2", "issuing-authority"])
def test_unknown_roles_are_refused_with_the_known_ones(text: str) -> None:
    with pytest.raises(ValueError, match="known roles: root, recovery, supplier"):
        pki.parse_role(text)


def test_device_types_parse() -> None:
    for name in ("chf", "gpf", "esme", "gsme", "ihd", "ppmid", "hcalcs"):
        assert pki.device_type_name(pki.parse_device_type(name)) == name
    with pytest.raises(ValueError, match="known types"):
        pki.parse_device_type("meter")


def test_off_profile_requests_are_refused(hierarchy: Hierarchy) -> None:
    key = pki.generate_key().public_key()
    with pytest.raises(CertificateError, match="unknown key usage"):
        pki.device_certificate(bytes(8), "sign", key, hierarchy.issuing_dca, not_before=NOW)
    with pytest.raises(CertificateError, match="not a certificate authority"):
        pki.ca_certificate(CertificateKind.DEVICE, "TEST", key, not_before=NOW, issuer=hierarchy.root_dca)
    with pytest.raises(CertificateError, match="own private key"):
        pki.ca_certificate(CertificateKind.ROOT_OCA, "TEST", key, not_before=NOW)
