"""CS08 (read PPMID / HCALCS firmware version) fed RTDS 11.2_CS08's own commands: the version
the device runs, or ``readFailure`` where the device cannot read it (a DER device fault)."""

from __future__ import annotations

from emulator.firmware.command import process_command
from emulator.firmware.der_faults import inject_der_fault
from emulator.firmware.device import Device
from gbcs.types import EUI64, DeviceType
from tests.emulator.firmware.rtds_device import der_of, message, rtds_device

PPMID, HCALCS = EUI64("00DB1234567890A4"), EUI64("00DB1234567890A5")
FOLDER = "11.2_CS08/CS08_11.2_"


def read(device: Device, name: str) -> dict:
    outcome = process_command(device, message(FOLDER + name))
    assert outcome.accepted, outcome.rejection
    return der_of(outcome.response).to_json()


def test_a_device_that_cannot_read_its_firmware_version_answers_as_rtds_records() -> None:
    hcalcs = rtds_device(HCALCS, DeviceType.HCALCS)
    with hcalcs.store.transaction() as tx:
        inject_der_fault(tx, hcalcs, "CS08")
    assert read(hcalcs, "ERROR_COMMAND_GBCS.HEX") == der_of(message(FOLDER + "ERROR_RESPONSE_GBCS.HEX")).to_json()


def test_without_a_fault_the_device_reports_the_version_it_runs() -> None:
    hcalcs = rtds_device(HCALCS, DeviceType.HCALCS)
    answer = read(hcalcs, "ERROR_COMMAND_GBCS.HEX")
    assert answer["responseCode"]["name"] == "readSuccess"
    assert bytes.fromhex(answer["firmwareVersion"]) == hcalcs.identity.firmware_version_bytes


def test_a_fault_on_another_use_case_leaves_cs08_alone() -> None:
    ppmid = rtds_device(PPMID, DeviceType.PPMID)
    with ppmid.store.transaction() as tx:
        inject_der_fault(tx, ppmid, "CS07")
    assert read(ppmid, "SUCCESS_COMMAND_GBCS.HEX")["responseCode"]["name"] == "readSuccess"
