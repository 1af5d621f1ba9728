"""Joins on a device's own device log (CS03A1/A2/B/C, CS04, CS07), each rule against a real,
signed and MACed command from a generated PKI."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization

import gbcs
from emulator.firmware.command import process_command
from emulator.firmware.device import Device
from emulator.firmware.joins import DEVICE_LOG_SIZE, han_device_log
from emulator.headend import HeadEnd
from emulator.pki_store import PkiStore
from gbcs.der import decode_der, encode_der_value
from gbcs.keystore import KeyUsage
from gbcs.types import EUI64, Cra, DeviceType, Role
from tests.conftest import RTDS
from tests.emulator.helpers import make_device, make_pki

ESME, GSME, GPF, PPMID = (EUI64(f"00DB1234567890B{n}") for n in range(4))
TYPES = {ESME: DeviceType.ESME, GSME: DeviceType.GSME, GPF: DeviceType.GPF, PPMID: DeviceType.PPMID}
CS03A1, CS03B, CS03C, CS04AC, CS04B, CS07 = 0x000D, 0x000E, 0x00AF, 0x000F, 0x0010, 0x0013


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> PkiStore:
    return make_pki(tmp_path_factory.mktemp("pki"), TYPES)


def device(store: PkiStore, eui: EUI64, tmp_path: Path) -> Device:
    return make_device(store, eui, TYPES[eui], tmp_path)


def send(target: Device, head_end: HeadEnd, code: int, value: object) -> object:
    content = encode_der_value(code, Cra.COMMAND, value)
    outcome = process_command(target, head_end.command(code, target.eui, content, role=Role.SUPPLIER))
    assert outcome.accepted, outcome.rejection
    return decode_der(gbcs.decode(outcome.response).content, code, Cra.RESPONSE).to_json()


def join_request(method: str, other: EUI64, other_type: str, certificate: bytes | None = None) -> dict:
    value = {"joinMethodAndRole": method, "otherDeviceEntityId": bytes(other), "otherDeviceType": other_type}
    if certificate is not None:
        value["otherDeviceKeyAgreementCertificate"] = certificate
    return value


def test_method_a_joins_and_unjoins_a_ppmid_on_the_meter(store: PkiStore, tmp_path: Path) -> None:
    esme, head_end = device(store, ESME, tmp_path), HeadEnd(store.keystore())
    assert send(esme, head_end, CS03A1, join_request("methodAInitiator", PPMID, "ppmid"))["name"] == "success"
    assert [entry["eui"] for entry in han_device_log(esme.store.read(), esme)] == [str(PPMID)]
    details = send(esme, head_end, CS07, None)
    assert details["deviceLogEntries"] == [{"deviceId": str(PPMID), "deviceType": {"value": 5, "name": "ppmid"}}]
    # the same EUI-64 as another device type is incompatible with the entry
    assert send(esme, head_end, CS03A1, join_request("methodAInitiator", PPMID, "hcalcs"))["name"] == "incompatibleWithExistingEntry"
    assert send(esme, head_end, CS04AC, bytes(PPMID))["name"] == "success"
    assert send(esme, head_end, CS04AC, bytes(PPMID))["name"] == "notInDeviceLog"


def test_a_use_case_admits_only_its_own_method(store: PkiStore, tmp_path: Path) -> None:
    esme, head_end = device(store, ESME, tmp_path), HeadEnd(store.keystore())
    assert send(esme, head_end, CS03A1, join_request("methodC", PPMID, "ppmid"))["name"] == "invalidMessageCodeForJoinMethodAndRole"


def test_method_b_joins_only_a_gsme_and_its_gpf(store: PkiStore, tmp_path: Path) -> None:
    gsme, head_end = device(store, GSME, tmp_path), HeadEnd(store.keystore())
    assert send(gsme, head_end, CS03B, join_request("methodB", PPMID, "ppmid"))["name"] == "invalidJoinMethodAndRole"
    assert send(gsme, head_end, CS03B, join_request("methodB", GPF, "gpf"))["name"] == "success"
    assert send(gsme, head_end, CS04B, bytes(GPF))["name"] == "success"


def test_method_c_needs_the_other_devices_key_agreement_certificate(store: PkiStore, tmp_path: Path) -> None:
    gsme, head_end = device(store, GSME, tmp_path), HeadEnd(store.keystore())
    ppmid_ka = store.keystore().certificate(PPMID, KeyUsage.KA).public_bytes(serialization.Encoding.DER)
    ppmid_ds = store.keystore().certificate(PPMID, KeyUsage.DS).public_bytes(serialization.Encoding.DER)
    assert send(gsme, head_end, CS03C, join_request("methodC", PPMID, "ppmid"))["name"] == "invalidOrMissingCertificate"
    assert send(gsme, head_end, CS03C, join_request("methodC", PPMID, "ppmid", ppmid_ds))["name"] == "invalidOrMissingCertificate"
    assert send(gsme, head_end, CS03C, join_request("methodC", PPMID, "ppmid", ppmid_ka))["name"] == "success"
    [entry] = han_device_log(gsme.store.read(), gsme)
    assert bytes.fromhex(entry["ka_certificate"]) == ppmid_ka


def test_a_full_device_log_refuses_another_device(store: PkiStore, tmp_path: Path) -> None:
    esme, head_end = device(store, ESME, tmp_path), HeadEnd(store.keystore())
    for number in range(DEVICE_LOG_SIZE):
        assert send(esme, head_end, CS03A1, join_request("methodAInitiator", EUI64(bytes(7) + bytes((number + 1,))), "ppmid"))["name"] == "success"
    assert send(esme, head_end, CS03A1, join_request("methodAInitiator", PPMID, "ppmid"))["name"] == "deviceLogFull"


# -- a device commanding another over the HAN (PPMID → GSME, primer §14.10) ------------------

PCS02 = 0x0090  # activate emergency credit on the GSME from the PPMID (GBZ)
PCS02_CONTENT = gbcs.decode(bytes.fromhex((RTDS / "messages/NA_PCS02/PCS02_NA_SUCCESS_COMMAND_GBCS.HEX").read_text())).content


def ppmid_command(store: PkiStore, counter: int, *, mac_key_of: EUI64 = PPMID) -> bytes:
    """A PPMID's command to the GSME, MACed with the PPMID's and the GSME's key-agreement pairs."""
    from gbcs.keystore import InMemoryKeyStore

    keys = InMemoryKeyStore()
    keys.add_private_key(PPMID, KeyUsage.KA, store.keystore().private_key(mac_key_of, KeyUsage.KA))
    keys.add_certificate(PPMID, KeyUsage.DS, store.keystore().certificate(PPMID, KeyUsage.DS))  # a device
    keys.add_certificate(GSME, KeyUsage.KA, store.keystore().certificate(GSME, KeyUsage.KA))
    frame = gbcs.Frame(cra=Cra.COMMAND, originator_counter=counter, originator=PPMID, recipient=GSME,
                       other_information=gbcs.OtherInformation(PCS02), content=PCS02_CONTENT)  # fmt: skip
    return gbcs.encode(gbcs.add_mac(frame, keys))


def test_a_joined_ppmid_commands_the_gsme_over_the_han(store: PkiStore, tmp_path: Path) -> None:
    from emulator.errors import BadMac, UntrustedOriginator

    gsme, head_end = device(store, GSME, tmp_path), HeadEnd(store.keystore())
    # Not joined: a stranger.
    assert isinstance(process_command(gsme, ppmid_command(store, 1)).rejection, UntrustedOriginator)
    ppmid_ka = store.keystore().certificate(PPMID, KeyUsage.KA).public_bytes(serialization.Encoding.DER)
    assert send(gsme, head_end, CS03C, join_request("methodC", PPMID, "ppmid", ppmid_ka))["name"] == "success"
    # Joined: its MAC checks with its own key-agreement certificate; a MAC from another key does not.
    assert isinstance(process_command(gsme, ppmid_command(store, 2, mac_key_of=ESME)).rejection, BadMac)
    outcome = process_command(gsme, ppmid_command(store, 3))
    # Authenticated and fresh: the GSME executes RTDS's PCS02 component and answers it.
    assert outcome.accepted, outcome.rejection
