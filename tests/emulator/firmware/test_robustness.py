"""Bad input and failures never crash a device nor leave it half changed: one test per way a
review found to break it (unsigned critical commands, unreadable certification paths,
malformed execution times, a failing future-dated command, a store that fails mid-command)."""

from __future__ import annotations

import dataclasses
import sqlite3
from datetime import timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization

import gbcs
from emulator.errors import BadContent, BadSignature, DeviceFault
from emulator.firmware.command import process_command
from emulator.firmware.device import Device
from emulator.headend import HeadEnd
from emulator.pki_store import PkiStore
from gbcs import pki
from gbcs.der import encode_der_value
from gbcs.pki import CertificateKind
from gbcs.types import EUI64, Cra, DeviceType, Role
from tests.emulator.helpers import NOW, make_device, make_pki

ESME = EUI64("00DB1234567890A0")


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> PkiStore:
    return make_pki(tmp_path_factory.mktemp("pki"), {ESME: DeviceType.ESME})


@pytest.fixture
def esme(store: PkiStore, tmp_path: Path) -> Device:
    return make_device(store, ESME, DeviceType.ESME, tmp_path)


def replacement(store: PkiStore, head_end: HeadEnd, *, code: int = 0x0103, mode: str = "networkOperatorByNetworkOperator",
                path: list[bytes] | None = None, when: str | None = None, role: Role = Role.NETWORK_OPERATOR,
                sign: bool = True) -> tuple[bytes, object]:  # fmt: skip
    """A CS02b replacing the network operator's signing certificate (a new one, well issued)."""
    party = head_end.party(role)
    issuing = store.issuer(CertificateKind.ISSUING_OCA)
    certificate = pki.organisation_certificate(Role.NETWORK_OPERATOR, head_end.party(Role.NETWORK_OPERATOR), "ds",
                                               pki.generate_key().public_key(), issuing, not_before=NOW)  # fmt: skip
    counter = head_end.next_counter(party)
    body = {"authorisingRemotePartyControl": {"credentialsReplacementMode": mode, "authorisingRemotePartySeqNumber": counter,
                                              "newRemotePartyFloorSeqNumber": 0},
            "replacements": [{"replacementCertificate": certificate.public_bytes(serialization.Encoding.DER),
                              "targetTrustAnchorCell": {"remotePartyRole": "networkOperator", "keyUsage": ["digitalSignature"]}}],
            "certificationPathCertificates": path if path is not None else [issuing.certificate.public_bytes(serialization.Encoding.DER)]}  # fmt: skip
    if when is not None:
        body["executionDateTime"] = when
    data = head_end.command(code, ESME, encode_der_value(code, Cra.COMMAND, body), role=role, counter=counter)
    if not sign:
        data = gbcs.encode(dataclasses.replace(gbcs.decode(data), signature=None, mac=None))
    return data, certificate


def test_a_critical_command_without_protection_is_refused(esme: Device, store: PkiStore) -> None:
    """0x0100 (rootBySupplier) has no protection in the catalogue: the device fails closed."""
    before = esme.cells[Role.SUPPLIER]
    data, _ = replacement(store, HeadEnd(store.keystore()), code=0x0102, mode="supplierBySupplier", role=Role.SUPPLIER,
                          sign=False)  # fmt: skip
    frame = gbcs.decode(data)
    unprotected = gbcs.encode(dataclasses.replace(frame, other_information=gbcs.OtherInformation(0x0100)))
    assert isinstance(process_command(esme, unprotected).rejection, BadSignature)
    assert Device.load(esme.store, esme.clock, ESME).cells[Role.SUPPLIER] == before


def test_the_replacement_mode_must_be_the_message_codes(esme: Device, store: PkiStore) -> None:
    data, _ = replacement(store, HeadEnd(store.keystore()), code=0x0102, mode="networkOperatorByNetworkOperator",
                          role=Role.SUPPLIER)  # fmt: skip
    assert isinstance(process_command(esme, data).rejection, BadContent)


def test_an_unreadable_certification_path_is_bad_content_and_logged(esme: Device, store: PkiStore) -> None:
    data, _ = replacement(store, HeadEnd(store.keystore()), path=[bytes.fromhex("3003020101")])
    outcome = process_command(esme, data)
    assert isinstance(outcome.rejection, BadContent)
    assert esme.store.read().security_log(ESME)[-1].event == "bad-content"


@pytest.mark.parametrize("when", ["2026120112Z", "20261301000000Z", "20261201120000.5Z"])
def test_a_malformed_execution_time_is_refused(esme: Device, store: PkiStore, when: str) -> None:
    before = esme.cells[Role.NETWORK_OPERATOR]
    data, _ = replacement(store, HeadEnd(store.keystore()), when=when)
    outcome = process_command(esme, data)
    assert isinstance(outcome.rejection, BadContent), outcome.rejection  # not run at once, not deferred
    assert esme.cells[Role.NETWORK_OPERATOR] == before and esme.store.read().scheduled(ESME) == []


def test_a_failing_future_dated_command_does_not_block_the_next(esme: Device, store: PkiStore) -> None:
    head_end = HeadEnd(store.keystore())
    first_day, second_day = ((NOW + timedelta(days=n)).strftime("%Y%m%d%H%M%SZ") for n in (1, 2))
    bad, _ = replacement(store, head_end, when=first_day)
    good, certificate = replacement(store, head_end, when=second_day)
    assert process_command(esme, bad).accepted and process_command(esme, good).accepted
    # The first fails when it runs: its originator is no longer trusted by then.
    esme.cells[Role.NETWORK_OPERATOR] = dataclasses.replace(esme.cells[Role.NETWORK_OPERATOR], party=EUI64(bytes(8)))
    esme.clock.advance(timedelta(days=1, hours=1))
    assert esme.store.read().security_log(ESME)[-1].event == "future-dated-dropped"
    esme.reload()
    esme.clock.advance(timedelta(days=1))
    assert esme.store.read().scheduled(ESME) == []
    assert esme.cells[Role.NETWORK_OPERATOR].ds == certificate  # the second ran


def test_a_store_failure_mid_command_is_a_typed_refusal_and_memory_follows_the_store(esme: Device, store: PkiStore) -> None:
    data, _ = replacement(store, HeadEnd(store.keystore()))
    before = esme.cells[Role.NETWORK_OPERATOR]
    blocker = sqlite3.connect(esme.store.path, timeout=0)
    blocker.execute("BEGIN IMMEDIATE")  # another writer holds the database
    try:
        esme.store._db.execute("PRAGMA busy_timeout = 50")
        outcome = process_command(esme, data)
    finally:
        blocker.rollback()
        blocker.close()
    assert isinstance(outcome.rejection, DeviceFault) and "locked" in outcome.rejection.detail
    assert esme.cells[Role.NETWORK_OPERATOR] == before
    assert process_command(esme, data).accepted  # nothing was consumed: the command runs now
