"""Security credentials on devices fed RTDS's own commands: the supplier's prepayment top-up
cell (CS02b, CS02f), the hand-over signed by the Access Control Broker (6.21), the load
controller's cell (CS02g), ``noTrustAnchor``, and CS02d's key usage and pending key pair.
Expected values come from RTDS's recorded answers."""

from __future__ import annotations

import dataclasses

import pytest
from cryptography import x509

from emulator.errors import BadContent
from emulator.firmware.command import process_command
from emulator.firmware.credentials import expect_certificate_for
from emulator.firmware.device import Device
from gbcs import pki
from gbcs.der import decode_der
from gbcs.keystore import KeyUsage
from gbcs.types import EUI64, Cra, DeviceType, Role
from tests.emulator.firmware.rtds_device import (
    ESME,
    GPF,
    KEYSTORE,
    der_of,
    frame,
    message,
    rtds_device,
)

SUPPLIER, ACB = EUI64("90B3D51F30010000"), EUI64("90B3D51F30000002")
CS02B = "6.15.1_CS02bSupplierBySupplier/CS02bSupplierBySupplier_6.15.1_"
CS02G = "6.15.1_CS02gLoadControllerBySupplier/CS02gLoadControllerBySupplier_6.15.1_"


def rtds_meter(eui: EUI64 = ESME, device_type: DeviceType = DeviceType.ESME) -> Device:
    device = rtds_device(eui, device_type)
    device.trust_path_without_root = True  # RTDS holds no Root OCA certificate
    return device


def statuses(node) -> list[str]:
    return [item["statusCode"]["name"] for item in node.to_json()["executionOutcome"]["replacementOutcomes"]]


def ski(certificate: x509.Certificate | None) -> str:
    assert certificate is not None
    return certificate.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest.hex().upper()


def test_supplier_by_supplier_replaces_the_prepayment_top_up_cell() -> None:
    esme = rtds_meter()
    outcome = process_command(esme, message(CS02B + "IMMEDIATE_SUCCESS_COMMAND_GBCS.HEX"))
    assert outcome.accepted, outcome.rejection
    recorded = der_of(message(CS02B + "IMMEDIATE_SUCCESS_RESPONSE_GBCS.HEX"))
    ours = der_of(outcome.response)
    assert ours.to_json()["executionOutcome"]["remotePartySeqNumberChanges"] == \
        recorded.to_json()["executionOutcome"]["remotePartySeqNumberChanges"]  # fmt: skip
    assert ours.to_json()["executionOutcome"]["replacementOutcomes"] == recorded.to_json()["executionOutcome"]["replacementOutcomes"]
    top_up = recorded.to_json()["executionOutcome"]["replacementOutcomes"][2]
    assert top_up["affectedTrustAnchorCell"]["cellUsage"]["name"] == "prePaymentTopUp"
    cell = Device.load(esme.store, esme.clock, ESME).cells[Role.SUPPLIER]  # durable
    assert ski(cell.top_up) == top_up["replacingSubjectKeyIdentifier"]
    assert ski(cell.ka) == recorded.to_json()["executionOutcome"]["replacementOutcomes"][1]["replacingSubjectKeyIdentifier"]


def test_a_certificate_from_outside_the_path_has_no_trust_anchor() -> None:
    """RTDS's ERROR case: the key-agreement certificate comes from another Issuing OCA (Z2)."""
    esme = rtds_meter()
    before = esme.cells[Role.SUPPLIER].ka
    outcome = process_command(esme, message(CS02B + "IMMEDIATE_ERROR_COMMAND_GBCS.HEX"))
    assert outcome.accepted, outcome.rejection
    recorded = der_of(message(CS02B + "IMMEDIATE_ERROR_RESPONSE_GBCS.HEX"))
    assert statuses(der_of(outcome.response)) == statuses(recorded) == ["success", "noTrustAnchor", "success"]
    assert der_of(outcome.response).to_json() == recorded.to_json()  # existing and replacing, as RTDS reports them
    assert esme.cells[Role.SUPPLIER].ka == before


def test_cs02f_reports_the_top_up_cell() -> None:
    esme = rtds_meter()
    outcome = process_command(esme, message("NA_CS02fSignature/CS02fSignature_NA_SUCCESS_COMMAND_GBCS.HEX"))
    assert outcome.accepted, outcome.rejection
    ours = der_of(outcome.response).to_json()
    recorded = der_of(message("NA_CS02fSignature/CS02fSignature_NA_SUCCESS_RESPONSE_GBCS.HEX")).to_json()
    assert ours[0]["trustAnchorCellDetails"] == recorded[0]["trustAnchorCellDetails"]  # supplier: DS, KA, top-up


@pytest.mark.parametrize("folder, role", [("CS02bSupplierBySupplierHandover", Role.SUPPLIER), ("CS02bNOByNOHandover", Role.NETWORK_OPERATOR)])
def test_the_acb_hands_over_the_cell_it_holds(folder: str, role: Role) -> None:
    name = f"6.21_{folder}/{folder}_6.21_SUCCESS_"
    gpf = rtds_meter(GPF, DeviceType.GPF)
    acb = gpf.cells[Role.ACCESS_CONTROL_BROKER]
    with gpf.store.transaction() as tx:  # a new device: the ACB holds the cell, its KA key the top-up cell (RTDS)
        gpf.replace_cell(tx, dataclasses.replace(acb, role=role, top_up=acb.ka if role is Role.SUPPLIER else None))
    assert gpf.cell_of(ACB).role is Role.ACCESS_CONTROL_BROKER  # it still acts as the ACB
    outcome = process_command(gpf, message(name + "COMMAND_GBCS.HEX"))
    assert outcome.accepted, outcome.rejection
    recorded = der_of(message(name + "RESPONSE_GBCS.HEX"))
    assert der_of(outcome.response).to_json() == recorded.to_json()
    assert gpf.cells[role].party == EUI64(recorded.to_json()["executionOutcome"]["replacementOutcomes"][0]["replacingSubjectUniqueID"])


def test_the_acb_cannot_replace_a_cell_another_party_holds() -> None:
    gpf = rtds_meter(GPF, DeviceType.GPF)  # in service: the supplier holds its own cell
    name = "6.21_CS02bSupplierBySupplierHandover/CS02bSupplierBySupplierHandover_6.21_SUCCESS_COMMAND_GBCS.HEX"
    assert isinstance(process_command(gpf, message(name)).rejection, BadContent)
    assert gpf.cells[Role.SUPPLIER].party == SUPPLIER


def test_the_supplier_places_a_load_controller() -> None:
    esme = rtds_meter()
    assert esme.cells[Role.LOAD_CONTROLLER].party == EUI64("90B3D51F30010008")
    outcome = process_command(esme, message(CS02G + "IMMEDIATE_SUCCESS_COMMAND_GBCS.HEX"))
    assert outcome.accepted, outcome.rejection
    recorded = der_of(message(CS02G + "IMMEDIATE_SUCCESS_RESPONSE_GBCS.HEX"))
    assert der_of(outcome.response).to_json() == recorded.to_json()
    assert esme.cells[Role.LOAD_CONTROLLER].party == SUPPLIER  # RTDS puts the supplier's certificates there


def test_a_device_without_a_root_anchors_no_path() -> None:
    esme = rtds_device(ESME, DeviceType.ESME)  # no Root OCA certificate, and no replay waiver
    before = esme.cells[Role.LOAD_CONTROLLER]
    outcome = process_command(esme, message(CS02G + "IMMEDIATE_ERROR_COMMAND_GBCS.HEX"))
    assert outcome.accepted, outcome.rejection
    recorded = der_of(message(CS02G + "IMMEDIATE_ERROR_RESPONSE_GBCS.HEX"))
    assert statuses(der_of(outcome.response)) == statuses(recorded) == ["noTrustAnchor", "noTrustAnchor"]
    assert esme.cells[Role.LOAD_CONTROLLER] == before


def _csr_public_key():
    """The public key of the key pair RTDS's CS02c SUCCESS generated (its certification request)."""
    node = der_of(message("6.17_CS02c/CS02c_6.17_SUCCESS_RESPONSE_GBCS.HEX"))
    return x509.load_der_x509_csr(node.value).public_key()


def test_cs02d_installs_the_certificate_of_the_pending_key_pair() -> None:
    esme = rtds_meter()
    command = message("6.15.2_CS02d/CS02d_6.15.2_SUCCESS_COMMAND_GBCS.HEX")
    certificate = x509.load_der_x509_certificate(decode_der(frame("6.15.2_CS02d/CS02d_6.15.2_SUCCESS_COMMAND_GBCS.HEX").content,
                                                            0x000B, Cra.COMMAND).value)  # fmt: skip
    assert der_of(process_command(esme, command).response).label == "noCorrespondingKeyPairGenerated"
    with esme.store.transaction() as tx:  # a key pair generated for another key: not this certificate's
        expect_certificate_for(tx, esme, "ds", pki.generate_key().public_key())
    assert der_of(process_command(rtds_copy(esme), command).response).label == "wrongPublicKey"
    with esme.store.transaction() as tx:
        expect_certificate_for(tx, esme, "ds", _csr_public_key())
    outcome = process_command(rtds_copy(esme), command)
    assert der_of(outcome.response) == der_of(message("6.15.2_CS02d/CS02d_6.15.2_SUCCESS_RESPONSE_GBCS.HEX"))
    assert Device.load(esme.store, esme.clock, ESME).credentials.ds_certificate == certificate


def rtds_copy(device: Device) -> Device:
    """The same device with its counters forgotten, so RTDS's one command can be sent again."""
    with device.store.transaction() as tx:
        tx.accept_counter(device.eui, SUPPLIER, 0)
    return device


def test_cs02d_refuses_a_certificate_for_neither_signature_nor_key_agreement() -> None:
    esme = rtds_meter()
    with esme.store.transaction() as tx:
        expect_certificate_for(tx, esme, "ds", _csr_public_key())
    outcome = process_command(esme, message("6.15.2_CS02d/CS02d_6.15.2_ERROR_COMMAND_GBCS.HEX"))
    assert der_of(outcome.response) == der_of(message("6.15.2_CS02d/CS02d_6.15.2_ERROR_RESPONSE_GBCS.HEX"))
    assert der_of(outcome.response).label == "invalidKeyUsage"
    assert esme.credentials.ds_certificate == KEYSTORE.certificate(ESME, KeyUsage.DS)
