"""What a reset for redeployment keeps: GBCS erases a device's consumer data and keeps its
security credentials, counters and firmware. A meter given a new firmware version by CS06,
a key pair awaiting its certificate (CS02c) and its trust anchor cells (the prepayment top-up
cell too) keeps them through a reset; its consumer data goes. Also: a key pair generated
before the pending form changed (a version 1 store) is still certified by CS02d."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

import gbcs
from emulator.clock import VirtualClock
from emulator.firmware.command import process_command
from emulator.firmware.device import Device
from emulator.firmware.firmware_image import held_image, hold_image
from emulator.firmware.lifecycle import Event
from emulator.headend import HeadEnd
from emulator.pki_store import PkiStore
from emulator.store import Store
from gbcs import pki as gbcs_pki
from gbcs.der import decode_der, encode_der_value
from gbcs.dlms import (
    AccessRequest,
    Data,
    Obis,
    RequestKind,
    RequestSpecification,
    decode_apdu,
    encode_apdu,
)
from gbcs.types import EUI64, Cra, DeviceType, Role
from tests.emulator.firmware.v1_store import write_v1_store
from tests.emulator.helpers import NOW, make_device, make_pki

ESME = EUI64("00DB1234567890A0")
IMAGE = b"smets-emu test image 0123ABCE"
NEW_VERSION = bytes.fromhex("0123ABCE")
ACTIVATE, GENERATE_KEY_PAIR, INSTALL_CERTIFICATE, READ_ESME = 0x0012, 0x000A, 0x000B, 0x0059  # CS06 CS02c CS02d ECS52
FIRMWARE_VERSION = (1, Obis("0.0.0.2.1.255"))  # class 1 data, the active firmware version (ECS52)


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> PkiStore:
    return make_pki(tmp_path_factory.mktemp("pki"), {ESME: DeviceType.ESME})


def der_answer(response: bytes):
    frame = gbcs.decode(response)
    return decode_der(frame.content, frame.other_information.message_code, Cra.RESPONSE)


def supplier_der(head_end: HeadEnd, code: int, value: object, counter: int) -> bytes:
    return head_end.command(code, ESME, encode_der_value(code, Cra.COMMAND, value), role=Role.SUPPLIER, counter=counter)


def ecs52(head_end: HeadEnd, counter: int) -> bytes:
    """ECS52: GET attribute 2 of the firmware version object."""
    request = encode_apdu(AccessRequest(0x20000001, b"", (RequestSpecification(RequestKind.GET, *FIRMWARE_VERSION, 2),),
                                        (Data.null(),)))  # fmt: skip
    return head_end.command(READ_ESME, ESME, request, role=Role.SUPPLIER, counter=counter)


def read_firmware_version(device: Device, head_end: HeadEnd, counter: int) -> bytes:
    """The version ECS52 reports."""
    outcome = process_command(device, ecs52(head_end, counter))
    assert outcome.accepted, outcome.rejection
    apdu = decode_apdu(gbcs.decode(outcome.response).content)
    assert [result.result for result in apdu.results] == [0]
    return bytes(apdu.data[0].value)


def reset_for_redeployment(device: Device) -> Device:
    with device.store.transaction() as tx:
        for event in (Event.INSTALLED, Event.RETURNED, Event.RESET_FOR_REDEPLOYMENT):
            device.transition(tx, event)
    return Device.load(device.store, device.clock, device.eui)  # as a restarted emulator sees it


def test_a_reset_keeps_the_activated_firmware_credentials_and_counters(pki: PkiStore, tmp_path: Path) -> None:
    esme, head_end = make_device(pki, ESME, DeviceType.ESME, tmp_path), HeadEnd(pki.keystore())
    factory_version = esme.identity.firmware_version_bytes
    assert factory_version != NEW_VERSION
    # CS06: the meter runs the image it holds.
    with esme.store.transaction() as tx:
        hold_image(tx, esme, hashlib.sha256(IMAGE).digest(), NEW_VERSION)
    activation = {"manufacturerImageHash": hashlib.sha256(IMAGE).digest(), "originatorCounter": 10}
    outcome = process_command(esme, supplier_der(head_end, ACTIVATE, activation, 10))
    assert outcome.accepted, outcome.rejection
    assert der_answer(outcome.response).to_json()["responseCode"]["name"] == "success"
    # CS02c: a new key-agreement pair, awaiting its certificate; and another image arrives.
    outcome = process_command(esme, supplier_der(head_end, GENERATE_KEY_PAIR, {"keyUsage": ["keyAgreement"]}, 11))
    assert outcome.accepted, outcome.rejection
    request = x509.load_der_x509_csr(der_answer(outcome.response).value)
    with esme.store.transaction() as tx:
        hold_image(tx, esme, hashlib.sha256(b"the next image").digest(), bytes.fromhex("0123ABCF"))
        tx.set_register(ESME, "consumer.balance", {"pence": 1234})
        tx.log_event(ESME, esme.now, "consumer", "an event-log entry")
    top_up = esme.cells[Role.SUPPLIER].top_up
    assert top_up is not None

    esme = reset_for_redeployment(esme)

    # Firmware: the version it runs and the image it holds.
    assert esme.identity.firmware_version_bytes == NEW_VERSION
    assert read_firmware_version(esme, head_end, 12) == NEW_VERSION
    assert held_image(esme.store.read(), esme)["version"] == "0123ABCF"
    # Security credentials: the trust anchor cells (the top-up cell too) and the pending pair,
    # which CS02d still certifies.
    assert esme.cells[Role.SUPPLIER].top_up == top_up
    certificate = pki.issue_from_request(request)
    outcome = process_command(esme, supplier_der(head_end, INSTALL_CERTIFICATE, certificate.public_bytes(serialization.Encoding.DER), 13))
    assert outcome.accepted, outcome.rejection
    assert der_answer(outcome.response).value == 0  # success
    assert esme.credentials.ka_certificate == certificate
    # Counters: an old counter is still refused.
    assert not process_command(esme, ecs52(HeadEnd(pki.keystore()), 9)).accepted
    # Consumer data is gone.
    read = esme.store.read()
    assert read.register(ESME, "consumer.balance") is None
    assert all(entry.event != "consumer" for entry in read.event_log(ESME))


def test_a_key_pair_pending_in_the_version_1_form_is_certified_by_cs02d(pki: PkiStore, tmp_path: Path) -> None:
    """Version 1 kept a pending pair as its private key's PKCS#8 hex alone; CS02d after the
    upgrade installs the certificate for it (it raised TypeError)."""
    key = gbcs_pki.generate_key()
    private_hex = key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption()).hex()  # fmt: skip
    write_v1_store(tmp_path / "v1.sqlite", pki, ESME, DeviceType.ESME, registers={"credentials.pending.ds": private_hex})
    esme = Device.load(Store(tmp_path / "v1.sqlite"), VirtualClock(NOW), ESME)
    certificate = pki.issue_from_request(gbcs_pki.device_certification_request(ESME, "ds", key))
    head_end = HeadEnd(pki.keystore(), first_counter=100)
    outcome = process_command(esme, supplier_der(head_end, INSTALL_CERTIFICATE, certificate.public_bytes(serialization.Encoding.DER), 100))
    assert outcome.accepted, outcome.rejection
    assert der_answer(outcome.response).value == 0  # success
    reloaded = Device.load(esme.store, esme.clock, ESME)
    assert reloaded.credentials.ds_certificate == certificate
    assert reloaded.credentials.ds_key.private_numbers() == key.private_numbers()


def test_a_certificate_for_another_key_than_the_old_form_pending_pair_is_wrong_public_key(pki: PkiStore, tmp_path: Path) -> None:
    pending = gbcs_pki.generate_key()
    private_hex = pending.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                                        serialization.NoEncryption()).hex()  # fmt: skip
    write_v1_store(tmp_path / "v1.sqlite", pki, ESME, DeviceType.ESME, registers={"credentials.pending.ds": private_hex})
    esme = Device.load(Store(tmp_path / "v1.sqlite"), VirtualClock(NOW), ESME)
    other = pki.issue_from_request(gbcs_pki.device_certification_request(ESME, "ds", gbcs_pki.generate_key()))
    head_end = HeadEnd(pki.keystore(), first_counter=100)
    outcome = process_command(esme, supplier_der(head_end, INSTALL_CERTIFICATE, other.public_bytes(serialization.Encoding.DER), 100))
    assert outcome.accepted, outcome.rejection
    assert der_answer(outcome.response).label == "wrongPublicKey"
    assert Device.load(esme.store, esme.clock, ESME).credentials.ds_certificate != other
