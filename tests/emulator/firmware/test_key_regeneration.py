"""Device key regeneration (CS02c → Issuing DCA → CS02d) and CS02e, on an emulated ESME with
a generated PKI: the private key never leaves the device, and the new pair takes over only
with a certificate for exactly that key."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

import gbcs
from emulator.firmware.command import process_command
from emulator.firmware.device import Device
from emulator.pki_store import PkiStore
from gbcs import pki
from gbcs.der import decode_der, encode_der_value
from gbcs.keystore import KeyUsage
from gbcs.security import Check
from gbcs.types import EUI64, Cra, DeviceType, Role
from tests.conftest import RTDS
from tests.emulator.helpers import NOW, PARTIES, make_device, make_pki

ESME, OTHER = EUI64("00DB1234567890A0"), EUI64("00DB1234567890B0")
SUPPLIER, ACB = PARTIES[Role.SUPPLIER], PARTIES[Role.ACCESS_CONTROL_BROKER]


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> PkiStore:
    return make_pki(tmp_path_factory.mktemp("pki"), {ESME: DeviceType.ESME, OTHER: DeviceType.ESME})


@pytest.fixture
def esme(store: PkiStore, tmp_path: Path) -> Device:
    return make_device(store, ESME, DeviceType.ESME, tmp_path)


def supplier_command(store: PkiStore, code: int, counter: int, value: object) -> bytes:
    """A critical command: the supplier signs it, the ACB MACs it."""
    head_end = store.keystore()
    frame = gbcs.Frame(cra=Cra.COMMAND, originator_counter=counter, originator=SUPPLIER, recipient=ESME,
                       other_information=gbcs.OtherInformation(code), content=encode_der_value(code, Cra.COMMAND, value))  # fmt: skip
    frame = gbcs.sign(frame, head_end.private_key(SUPPLIER, KeyUsage.DS))
    return gbcs.encode(gbcs.add_mac(frame, head_end, broker=ACB))


def payload(response: bytes):
    frame = gbcs.decode(response)
    return decode_der(frame.content, frame.other_information.message_code, Cra.RESPONSE)


def _der(certificate: x509.Certificate) -> bytes:
    return certificate.public_bytes(serialization.Encoding.DER)


def test_the_device_regenerates_its_signing_key(esme: Device, store: PkiStore) -> None:
    old_certificate = esme.credentials.ds_certificate
    # CS02c: the meter makes a key pair and answers a certification request, signed with its old key.
    outcome = process_command(esme, supplier_command(store, 0x000A, 1, {"keyUsage": ["digitalSignature"]}))
    assert outcome.accepted, outcome.rejection
    assert gbcs.verify(gbcs.decode(outcome.response), store.keystore(), at=NOW).signature is Check.VALID
    request = x509.load_der_x509_csr(payload(outcome.response).value)
    assert pki.describe_certification_request(request) == (ESME, "ds")
    assert esme.credentials.ds_certificate == old_certificate  # nothing changes until CS02d

    # The Issuing DCA certifies the requested key; CS02d installs the certificate.
    certificate = store.issue_from_request(request)
    outcome = process_command(esme, supplier_command(store, 0x000B, 2, _der(certificate)))
    assert outcome.accepted, outcome.rejection
    assert payload(outcome.response).value == 0  # success
    # From now on the meter signs with the new key: the head-end checks it with the new certificate.
    head_end = store.keystore()
    head_end.add_certificate(ESME, KeyUsage.DS, certificate)
    assert gbcs.verify(gbcs.decode(outcome.response), head_end, at=NOW).signature is Check.VALID

    # Durable, and CS02e hands out the new certificate.
    reloaded = Device.load(esme.store, esme.clock, ESME)
    assert reloaded.credentials.ds_certificate == certificate
    assert reloaded.credentials.ds_key.public_key() == certificate.public_key()
    outcome = process_command(reloaded, supplier_command(store, 0x000C, 3, {"keyUsage": ["digitalSignature"]}))
    assert x509.load_der_x509_certificate(payload(outcome.response).value) == certificate


@pytest.mark.parametrize(("case", "code"), [("garbage", 1), ("other-device", 2), ("no-request", 4), ("other-key", 5)])
def test_cs02d_refuses_a_certificate_that_does_not_fit(esme: Device, store: PkiStore, case: str, code: int) -> None:
    if case != "no-request":
        process_command(esme, supplier_command(store, 0x000A, 1, {"keyUsage": ["keyAgreement"]}))
    stranger_key = pki.generate_key().public_key()
    der = {
        "garbage": bytes.fromhex("3003020101"),
        "other-device": _der(store.issue_device_certificate(OTHER, "ka", stranger_key)),
        "no-request": _der(store.issue_device_certificate(ESME, "ka", stranger_key)),
        "other-key": _der(store.issue_device_certificate(ESME, "ka", stranger_key)),
    }[case]
    def held(device: Device) -> tuple:
        credentials = device.credentials
        return (credentials.ds_certificate, credentials.ka_certificate,
                credentials.ds_key.public_key(), credentials.ka_key.public_key())  # fmt: skip

    before = held(esme)
    outcome = process_command(esme, supplier_command(store, 0x000B, 2, der))
    assert outcome.accepted and payload(outcome.response).value == code
    assert held(Device.load(esme.store, esme.clock, ESME)) == before


def test_the_certification_request_has_rtds_shape(store: PkiStore) -> None:
    """Our CS02c request against RTDS's (6.17 CS02c SUCCESS RESPONSE): same form, extension by
    extension, with the same hardwareModuleName for the same EUI-64."""
    frame = gbcs.decode(bytes.fromhex((RTDS / "messages/6.17_CS02c/CS02c_6.17_SUCCESS_RESPONSE_GBCS.HEX").read_text()))
    rtds = x509.load_der_x509_csr(decode_der(frame.content, 0x000A, Cra.RESPONSE).value)
    ours = pki.device_certification_request(EUI64("00DB1234567890A0"), "ds", pki.generate_key())
    assert ours.subject == rtds.subject == x509.Name([])
    assert [(e.oid, e.critical, e.value) for e in ours.extensions] == [(e.oid, e.critical, e.value) for e in rtds.extensions]
    assert ours.signature_algorithm_oid == rtds.signature_algorithm_oid
    assert pki.describe_certification_request(rtds) == pki.describe_certification_request(ours)


def test_a_forged_request_is_refused_by_the_dca(store: PkiStore) -> None:
    request = pki.device_certification_request(ESME, "ds", pki.generate_key())
    der = bytearray(request.public_bytes(serialization.Encoding.DER))
    der[-5] ^= 0x01  # the signature
    from emulator.errors import StoreError

    with pytest.raises(StoreError, match="does not verify"):
        store.issue_from_request(x509.load_der_x509_csr(bytes(der)))
    with pytest.raises(StoreError, match="not a device of this store"):
        store.issue_from_request(pki.device_certification_request(EUI64("0102030405060708"), "ds", pki.generate_key()))
