"""GCS59 (restore the GPF's device log) and CS07's read failure, on devices fed RTDS's own
commands; expected answers from RTDS's recorded responses."""

from __future__ import annotations

from emulator.firmware.command import process_command
from emulator.firmware.der_faults import inject_der_fault
from emulator.firmware.joins import add_to_log, han_device_log
from gbcs.types import EUI64, DeviceType
from tests.emulator.firmware.rtds_device import GPF, der_of, message, rtds_device

GCS59 = "8.12.2_GCS59/GCS59_8.12.2_SUCCESS_"


def test_gcs59_restores_each_entry_of_the_backup() -> None:
    gpf = rtds_device(GPF, DeviceType.GPF)
    outcome = process_command(gpf, message(GCS59 + "COMMAND_GBCS.HEX"))
    assert outcome.accepted, outcome.rejection
    recorded = der_of(message(GCS59 + "RESPONSE_GBCS.HEX"))
    assert der_of(outcome.response) == recorded
    restored = {(entry["eui"], entry["device_type"]) for entry in han_device_log(gpf.store.read(), gpf)}
    assert restored == {(str(EUI64(item["deviceLogEntry"]["deviceId"])), item["deviceLogEntry"]["deviceType"]["value"])
                        for item in recorded.to_json()["restoreOutcomes"]}  # fmt: skip


def test_gcs59_refuses_an_entry_that_conflicts_with_the_log() -> None:
    gpf = rtds_device(GPF, DeviceType.GPF)
    with gpf.store.transaction() as tx:  # the backup's PPMID is already there as another type
        add_to_log(tx, gpf, EUI64("0011223344556677"), int(DeviceType.HCALCS), 0)
    answer = der_of(process_command(gpf, message(GCS59 + "COMMAND_GBCS.HEX")).response).to_json()
    assert [item["joinResponseCode"]["name"] for item in answer["restoreOutcomes"]] == ["incompatibleWithExistingEntry", "success"]


def test_cs07_answers_read_failure_when_the_log_cannot_be_read() -> None:
    gsme = rtds_device(EUI64("00DB1234567890A1"), DeviceType.GSME)
    command = message("8.9_CS07/CS07_8.9_ERROR_COMMAND_GBCS.HEX")
    with gsme.store.transaction() as tx:
        inject_der_fault(tx, gsme, "CS07")
    assert der_of(process_command(gsme, command).response) == der_of(message("8.9_CS07/CS07_8.9_ERROR_RESPONSE_GBCS.HEX"))
