"""Future-dated commands: CS02b (the network operator replaces its signing certificate on an
electricity meter) accepted now, executed when virtual time reaches it, its outcome in alert
0x00CB (8F66 executed, 8F67 failed); kept across a restart; cancelled by 99991231235959Z."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization

import gbcs
from emulator.clock import VirtualClock
from emulator.firmware import scheduler
from emulator.firmware.command import process_command
from emulator.firmware.device import Device
from emulator.headend import HeadEnd
from emulator.pki_store import PkiStore
from emulator.store import Store
from gbcs import pki
from gbcs.der import decode_der, encode_der_value
from gbcs.pki import CertificateKind
from gbcs.security import Check
from gbcs.types import EUI64, Cra, DeviceType, Role
from tests.emulator.helpers import NOW, make_device, make_pki

ESME = EUI64("00DB1234567890A0")
WHEN = NOW + timedelta(days=2)


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> PkiStore:
    return make_pki(tmp_path_factory.mktemp("pki"), {ESME: DeviceType.ESME})


@pytest.fixture
def esme(store: PkiStore, tmp_path: Path) -> Device:
    return make_device(store, ESME, DeviceType.ESME, tmp_path)


def replace_no_certificate(store: PkiStore, head_end: HeadEnd, when: str, *, good: bool = True) -> tuple[bytes, object]:
    """CS02b networkOperatorByNetworkOperator for the NO's signing cell, executing at ``when``."""
    party = head_end.party(Role.NETWORK_OPERATOR)
    issuing = store.issuer(CertificateKind.ISSUING_OCA)
    role = Role.NETWORK_OPERATOR if good else Role.SUPPLIER  # a supplier certificate in the NO cell is refused
    certificate = pki.organisation_certificate(role, party, "ds", pki.generate_key().public_key(), issuing, not_before=NOW)
    counter = head_end.next_counter(party)  # the payload repeats it as the sequence number
    content = encode_der_value(0x0103, Cra.COMMAND, {
        "authorisingRemotePartyControl": {"credentialsReplacementMode": "networkOperatorByNetworkOperator",
                                          "authorisingRemotePartySeqNumber": counter, "newRemotePartyFloorSeqNumber": 0},
        "replacements": [{"replacementCertificate": certificate.public_bytes(serialization.Encoding.DER),
                          "targetTrustAnchorCell": {"remotePartyRole": "networkOperator", "keyUsage": ["digitalSignature"]}}],
        "certificationPathCertificates": [issuing.certificate.public_bytes(serialization.Encoding.DER)],
        "executionDateTime": when,
    })  # fmt: skip
    return head_end.command(0x0103, ESME, content, role=Role.NETWORK_OPERATOR, counter=counter), certificate


def alerts(device: Device) -> list[bytes]:
    return [frame for _, _, kind, frame in device.store.read().outbox(device.eui) if kind == "alert"]


def test_a_future_dated_replacement_runs_at_its_time_and_alerts(esme: Device, store: PkiStore) -> None:
    head_end = HeadEnd(store.keystore())
    old = esme.cells[Role.NETWORK_OPERATOR].ds
    command, certificate = replace_no_certificate(store, head_end, WHEN.strftime("%Y%m%d%H%M%SZ"))
    outcome = process_command(esme, command)
    assert outcome.accepted, outcome.rejection
    response = gbcs.decode(outcome.response)
    assert decode_der(response.content, 0x0103, Cra.RESPONSE).to_json() == {"commandAccepted": None}
    assert esme.cells[Role.NETWORK_OPERATOR].ds == old

    esme.clock.advance(timedelta(days=1))
    assert alerts(esme) == [] and esme.cells[Role.NETWORK_OPERATOR].ds == old
    esme.clock.advance(timedelta(days=1))
    [alert] = alerts(esme)
    assert esme.cells[Role.NETWORK_OPERATOR].ds == certificate
    frame, verdict = head_end.check(alert, at=esme.now)
    assert (frame.cra, frame.other_information.message_code, frame.recipient) == (Cra.ALERT, 0x00CB, head_end.party(Role.NETWORK_OPERATOR))
    assert verdict.signature is Check.VALID
    body = decode_der(frame.content, 0x00CB, Cra.ALERT).to_json()
    assert body["alertCode"]["value"] == 0x8F66 and body["executionDateTime"] == WHEN.strftime("%Y%m%d%H%M%SZ")
    assert body["executionOutcome"]["authorisingRemotePartySeqNumber"] == gbcs.decode(command).originator_counter
    assert body["executionOutcome"]["replacementOutcomes"][0]["statusCode"]["name"] == "success"


def test_a_refused_replacement_alerts_8f67(esme: Device, store: PkiStore) -> None:
    head_end = HeadEnd(store.keystore())
    command, _ = replace_no_certificate(store, head_end, WHEN.strftime("%Y%m%d%H%M%SZ"), good=False)
    assert process_command(esme, command).accepted
    esme.clock.advance(timedelta(days=3))
    [alert] = alerts(esme)
    body = decode_der(gbcs.decode(alert).content, 0x00CB, Cra.ALERT).to_json()
    assert body["alertCode"]["value"] == 0x8F67
    assert body["executionOutcome"]["replacementOutcomes"][0]["statusCode"]["name"] == "badCertificate"


def test_a_deferred_command_survives_a_restart(esme: Device, store: PkiStore) -> None:
    head_end = HeadEnd(store.keystore())
    command, certificate = replace_no_certificate(store, head_end, WHEN.strftime("%Y%m%d%H%M%SZ"))
    assert process_command(esme, command).accepted
    esme.store.close()
    restarted = Device.load(Store(esme.store.path), VirtualClock(NOW + timedelta(hours=1)), ESME)
    assert scheduler.arm(restarted) == 1
    restarted.clock.advance(timedelta(days=2))
    assert len(alerts(restarted)) == 1 and restarted.cells[Role.NETWORK_OPERATOR].ds == certificate
    assert restarted.store.read().scheduled(ESME) == []


def test_the_cancellation_date_cancels_a_pending_replacement(esme: Device, store: PkiStore) -> None:
    head_end = HeadEnd(store.keystore())
    old = esme.cells[Role.NETWORK_OPERATOR].ds
    pending, _ = replace_no_certificate(store, head_end, WHEN.strftime("%Y%m%d%H%M%SZ"))
    assert process_command(esme, pending).accepted
    cancel, _ = replace_no_certificate(store, head_end, "99991231235959Z")
    assert process_command(esme, cancel).accepted
    esme.clock.advance(timedelta(days=3))
    assert alerts(esme) == [] and esme.cells[Role.NETWORK_OPERATOR].ds == old


def test_alert_counters_only_grow(esme: Device, store: PkiStore) -> None:
    head_end = HeadEnd(store.keystore())
    for days in (1, 2, 3):
        command, _ = replace_no_certificate(store, head_end, (NOW + timedelta(days=days)).strftime("%Y%m%d%H%M%SZ"))
        assert process_command(esme, command).accepted
    esme.clock.advance(timedelta(days=4))
    counters = [gbcs.decode(alert).originator_counter for alert in alerts(esme)]
    assert len(counters) == 3 and counters == sorted(set(counters))
