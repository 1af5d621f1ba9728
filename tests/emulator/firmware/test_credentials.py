"""CS02a and CS02b on an emulated CHF provisioned from a generated PKI: details of the cells,
and replacement of the WAN provider's certificate proven up to the Root OCA."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization

import gbcs
from emulator.errors import BadSignature
from emulator.firmware.command import process_command
from emulator.firmware.device import Device
from emulator.pki_store import PkiStore
from gbcs import pki
from gbcs.der import decode_der, encode_der_value
from gbcs.keystore import InMemoryKeyStore, KeyUsage
from gbcs.pki import CertificateKind
from gbcs.security import Check
from gbcs.types import EUI64, Cra, DeviceType, Role
from tests.emulator.helpers import NOW, PARTIES, make_device, make_pki

CHF = EUI64("00DB1234567890A2")
WAN, ACB = PARTIES[Role.WAN_PROVIDER], PARTIES[Role.ACCESS_CONTROL_BROKER]


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> PkiStore:
    return make_pki(tmp_path_factory.mktemp("pki"), {CHF: DeviceType.CHF})


@pytest.fixture
def chf(store: PkiStore, tmp_path: Path) -> Device:
    return make_device(store, CHF, DeviceType.CHF, tmp_path)


def command(head_end: InMemoryKeyStore, code: int, counter: int, content: bytes, *, signer: bytes | None = None) -> bytes:
    frame = gbcs.Frame(cra=Cra.COMMAND, originator_counter=counter, originator=EUI64(signer or ACB), recipient=CHF,
                       other_information=gbcs.OtherInformation(code), content=content)  # fmt: skip
    if signer is not None:
        frame = gbcs.sign(frame, head_end.private_key(signer, KeyUsage.DS))
    return gbcs.encode(gbcs.add_mac(frame, head_end, broker=ACB))


def replace_wan_certificate(head_end: InMemoryKeyStore, store: PkiStore, counter: int, certificate_der: bytes,
                            *, signing_key=None) -> bytes:  # fmt: skip
    content = encode_der_value(0x0105, Cra.COMMAND, {
        "authorisingRemotePartyControl": {
            "credentialsReplacementMode": "wanProviderByWanProvider",
            "authorisingRemotePartyTACellIdentifier": {"remotePartyRole": "wanProvider", "keyUsage": ["digitalSignature"]},
            "authorisingRemotePartySeqNumber": counter, "newRemotePartyFloorSeqNumber": 0},
        "replacements": [{"replacementCertificate": certificate_der,
                          "targetTrustAnchorCell": {"remotePartyRole": "wanProvider", "keyUsage": ["digitalSignature"]}}],
        "certificationPathCertificates": [_der(store.issuer(CertificateKind.ISSUING_OCA).certificate)],
    })  # fmt: skip
    frame = gbcs.Frame(cra=Cra.COMMAND, originator_counter=counter, originator=WAN, recipient=CHF,
                       other_information=gbcs.OtherInformation(0x0105), content=content)  # fmt: skip
    frame = gbcs.sign(frame, signing_key or head_end.private_key(WAN, KeyUsage.DS))
    return gbcs.encode(gbcs.add_mac(frame, head_end, broker=ACB))


def _der(certificate) -> bytes:
    return certificate.public_bytes(serialization.Encoding.DER)


def _outcome(response: bytes) -> dict:
    frame = gbcs.decode(response)
    return decode_der(frame.content, frame.other_information.message_code, Cra.RESPONSE).to_json()


def test_cs02a_lists_each_requested_cell(chf: Device, store: PkiStore) -> None:
    head_end = store.keystore()
    content = encode_der_value(0x0008, Cra.COMMAND, {
        "authorisingRemotePartyTACellIdentifier": {"remotePartyRole": "accessControlBroker", "keyUsage": ["keyAgreement"]},
        "remotePartyRolesCredentialsRequired": ["accessControlBroker", "wanProvider", "recovery"]})  # fmt: skip
    assert process_command(chf, command(head_end, 0x0008, 100, content)).accepted  # ACB counter 100 stored
    outcome = process_command(chf, command(head_end, 0x0008, 101, content))
    assert outcome.accepted, outcome.rejection
    details = _outcome(outcome.response)
    acb = details[0]
    assert (acb["remotePartyRole"]["name"], acb["statusCode"]["name"], acb["currentSeqNumber"]) == (
        "accessControlBroker", "success", 100)  # the counter held before this command
    acb_ka = head_end.certificate(ACB, KeyUsage.KA)
    assert acb["trustAnchorCellDetails"][1] == {"keyUsage": {"unused_bits": 3, "hex": "08", "names": "keyAgreement"},
                                               "subjectUniqueID": str(ACB).upper(),
                                               "subjectKeyIdentifier": pki.key_identifier(acb_ka.public_key()).hex().upper()}  # fmt: skip
    assert details[1]["remotePartyRole"]["name"] == "wanProvider" and details[1]["statusCode"]["name"] == "success"
    assert len(details[2]["trustAnchorCellDetails"]) == 1  # recovery: a signature key only


def test_cs02b_replaces_the_wan_providers_certificate_proven_to_the_root(chf: Device, store: PkiStore) -> None:
    head_end = store.keystore()
    old_key = head_end.private_key(WAN, KeyUsage.DS)
    new_key = pki.generate_key()
    new_certificate = pki.organisation_certificate(Role.WAN_PROVIDER, WAN, "ds", new_key.public_key(),
                                                   store.issuer(CertificateKind.ISSUING_OCA),
                                                   not_before=NOW - timedelta(days=1), common_name="NEW TEST WAN")  # fmt: skip
    outcome = process_command(chf, replace_wan_certificate(head_end, store, 8000, _der(new_certificate)))
    assert outcome.accepted, outcome.rejection
    assert not any("not checked" in note for note in outcome.notes)  # the whole path was checked
    response = gbcs.decode(outcome.response)
    assert gbcs.verify(response, head_end, at=NOW).signature is Check.VALID  # signed by the hub (R:sig)
    result = _outcome(outcome.response)["executionOutcome"]["replacementOutcomes"][0]
    assert result["statusCode"]["name"] == "success"
    assert result["replacingSubjectKeyIdentifier"] == pki.key_identifier(new_key.public_key()).hex().upper()
    assert result["existingSubjectKeyIdentifier"] == pki.key_identifier(old_key.public_key()).hex().upper()

    # Durable: a reloaded hub holds the new certificate ...
    reloaded = Device.load(chf.store, chf.clock, CHF)
    assert reloaded.cells[Role.WAN_PROVIDER].ds == new_certificate
    # ... so the old key no longer signs for the WAN provider, and the new one does.
    stale = replace_wan_certificate(head_end, store, 8001, _der(new_certificate), signing_key=old_key)
    assert isinstance(process_command(reloaded, stale).rejection, BadSignature)
    fresh = replace_wan_certificate(head_end, store, 8002, _der(new_certificate), signing_key=new_key)
    assert process_command(reloaded, fresh).accepted


@pytest.mark.parametrize("problem", ["foreign-ca", "wrong-role", "expired", "garbage"])
def test_cs02b_refuses_a_bad_certificate_and_keeps_the_cell(chf: Device, store: PkiStore, tmp_path: Path, problem: str) -> None:
    head_end = store.keystore()
    key = pki.generate_key().public_key()
    if problem == "foreign-ca":
        foreign = PkiStore.create(tmp_path / "foreign", now=NOW - timedelta(days=1))
        der = _der(pki.organisation_certificate(Role.WAN_PROVIDER, WAN, "ds", key, foreign.issuer(CertificateKind.ISSUING_OCA),
                                                not_before=NOW - timedelta(days=1)))  # fmt: skip
    elif problem == "wrong-role":
        der = _der(pki.organisation_certificate(Role.SUPPLIER, WAN, "ds", key, store.issuer(CertificateKind.ISSUING_OCA),
                                                not_before=NOW - timedelta(days=1)))  # fmt: skip
    elif problem == "expired":
        der = _der(pki.organisation_certificate(Role.WAN_PROVIDER, WAN, "ds", key, store.issuer(CertificateKind.ISSUING_OCA),
                                                not_before=NOW - timedelta(days=800), years=2))  # fmt: skip
    else:
        der = bytes.fromhex("3003020101")
    before = chf.cells[Role.WAN_PROVIDER]
    outcome = process_command(chf, replace_wan_certificate(head_end, store, 8000, der))
    assert outcome.accepted, outcome.rejection
    result = _outcome(outcome.response)["executionOutcome"]["replacementOutcomes"][0]
    # A certificate from an Issuing OCA outside the command's path has no trust anchor (RTDS
    # 6.15.1_CS02bSupplierBySupplier ERROR); the others are bad certificates.
    assert result["statusCode"]["name"] == ("noTrustAnchor" if problem == "foreign-ca" else "badCertificate")
    assert result["replacingSubjectKeyIdentifier"] == result["existingSubjectKeyIdentifier"]  # the cell is kept
    assert Device.load(chf.store, chf.clock, CHF).cells[Role.WAN_PROVIDER] == before
