"""The GSME and GPF answer RTDS's GBZ commands: reads show the meter's state, actions change
it, gets answer from its logs, and replay finds the answers exact or of the recorded shape.

Commands are RTDS's own; where a test sends a second command, it is RTDS's command with a
higher originator counter, MACed again with the supplier's RTDS key (the device checks it)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

import gbcs
from emulator import replay
from emulator.devices import gas, gsme_logs
from emulator.firmware.command import process_command
from gbcs.frame import Frame
from gbcs.gbz import AttributeRecord, GbzPayload, ReadAttributesResponse, decode_gbz, encode_gbz
from gbcs.keystore import InMemoryKeyStore
from gbcs.payload import decode_payload
from gbcs.types import Cra
from tests.conftest import RTDS

KEYSTORE = InMemoryKeyStore.from_directory(RTDS / "keystore")
MESSAGES = RTDS / "messages"


def _file(folder: str, name: str) -> Path:
    path = MESSAGES / folder / name
    assert path.exists(), path
    return path


def _bytes(path: Path) -> bytes:
    return bytes.fromhex("".join(path.read_text().split()))


def _frame(path: Path) -> Frame:
    return gbcs.decode(_bytes(path))


def _device_for(path: Path):
    command = _frame(path)
    device_type = replay.RTDS_DEVICE_TYPES[command.recipient]
    return replay.device_for(command, KEYSTORE, {command.recipient: device_type})


def _resent(path: Path, counter: int) -> bytes:
    """RTDS's command again with ``counter``, MACed with the sender's RTDS key."""
    frame = dataclasses.replace(_frame(path), originator_counter=counter, mac=None)
    return gbcs.encode(gbcs.add_mac(frame, KEYSTORE))


def _records(response: bytes) -> dict[tuple[int, int], object]:
    """Every read record of a response, decrypted with RTDS's keys: {(cluster, attribute): value}."""
    payload = decode_payload(gbcs.decode(response), KEYSTORE)
    assert payload.complete
    out = {}
    for component in payload.value.components:
        if component.command.name == "read_attributes_response":
            for record in component.command.value:
                out[(component.cluster_id, record.attribute_id)] = record.value
    return out


GCS13A = _file("4.1.1_GCS13a", "GCS13a_4.1.1_SUCCESS_UNRELIABLE_COMMAND_GBCS.HEX")
GCS13A_GPF = _file("4.1.1_GCS13a", "GCS13a_4.1.1_SUCCESS_RELIABLE_GPF_COMMAND_GBCS.HEX")
GCS60 = _file("4.18_GCS60", "GCS60_4.18_SUCCESS_COMMAND_GBCS.HEX")
CS01B = _file("2.2_CS01b", "CS01b_2.2_SUCCESS_COMMAND_GBCS.HEX")


def test_gas_consumed_is_read_back_by_gcs13a_encrypted() -> None:
    device = _device_for(GCS13A)
    before = process_command(device, _bytes(GCS13A))  # the meter in service: its load model's register
    assert before.accepted, before.rejection
    gas.gsme_consumes(device.store, device, 4321)
    outcome = process_command(device, _resent(GCS13A, counter=_frame(GCS13A).originator_counter + 1))
    assert outcome.accepted, outcome.rejection
    components = decode_gbz(gbcs.decode(outcome.response).content, Cra.RESPONSE, 0x0074).components
    assert all(component.is_encrypted for component in components)  # GBCS: GCS13a's response is encrypted
    records = _records(outcome.response)
    assert _records(before.response)[(0x0702, 0x0000)] > 0
    assert records[(0x0702, 0x0000)] - _records(before.response)[(0x0702, 0x0000)] == 4321  # on top of the model


def test_a_top_up_raises_the_balance_a_read_then_shows() -> None:
    device = _device_for(CS01B)
    outcome = process_command(device, _bytes(CS01B))
    assert outcome.accepted, outcome.rejection
    answer = decode_gbz(gbcs.decode(outcome.response).content, Cra.RESPONSE, 0x0097).components[0].command
    assert answer.name == "consumer_top_up_response"
    assert answer.value.result_type == 0
    # RTDS's UTRN carries 1250 pence (primer §8.7), in RTDS's unit of 1/100 000 pound.
    assert answer.value.top_up_value == 1_250_000
    read = process_command(device, _resent(GCS60, counter=_frame(CS01B).originator_counter + 1))
    assert read.accepted, read.rejection
    assert _records(read.response)[(0x0705, 0x0001)] == 1_250_000


def test_the_same_utrn_twice_is_refused() -> None:
    device = _device_for(CS01B)
    process_command(device, _bytes(CS01B))
    again = process_command(device, _resent(CS01B, counter=_frame(CS01B).originator_counter + 1))
    answer = decode_gbz(gbcs.decode(again.response).content, Cra.RESPONSE, 0x0097).components[0].command
    assert answer.value.result_type != 0


@pytest.mark.parametrize("folder", ["2.1_CS01a", "2.2_CS01b", "NA_PCS01"])
def test_rtds_utrns_carry_a_valid_check_digit(folder: str) -> None:
    for path in sorted((MESSAGES / folder).glob("*SUCCESS_COMMAND_GBCS.HEX")):
        content = _frame(path).content
        digits = next(content[i:i + 20].decode() for i in range(len(content) - 19) if content[i:i + 20].isdigit())
        assert gsme_logs.utrn_amount(digits) is not None, path.name


def test_rtds_invalid_utrn_is_rejected() -> None:
    assert gsme_logs.utrn_amount("12345678910121314156") is None


def test_the_gpf_answers_from_its_mirror() -> None:
    device = _device_for(GCS13A_GPF)
    with device.store.transaction() as tx:  # what GasProxyMirror keeps when the GSME reports
        tx.set_register(device.eui, "gpf.mirror", {"current_summation_delivered": 777, "updated": device.now.isoformat()})
    outcome = process_command(device, _bytes(GCS13A_GPF))
    assert outcome.accepted, outcome.rejection
    assert _records(outcome.response)[(0x0702, 0x0000)] == 777


# Use cases the GSME/GPF answer exactly or with the recorded structure (statuses equal).
REPLAYED = [
    ("4.1.1_GCS13a", "*"), ("4.1.4_GCS13b", "*"), ("4.18_GCS60", "*"), ("4.18_GCS60a", "*"),
    ("6.2.4_GCS21e", "*"), ("6.2.4_GCS21m", "*"), ("6.2.7_GCS46", "*"), ("6.2.8_GCS21a", "*"),
    ("6.2.9_GCS21j", "*"), ("7.4_GCS33", "*"), ("11.2_GCS38", "*"), ("1.5_GCS40c", "*"), ("1.5_GCS40d", "*"),
    ("1.6_GCS03", "*"), ("2.3_GCS04", "*"), ("2.2_CS01b", "*"), ("2.5_GCS06", "*"), ("14.1_GCS31", "*"),
    ("3.3_CS11", "*"), ("6.7_GCS24", "*"), ("6.7_GCS24a", "*"), ("7.3_GCS39", "*"), ("3.2_GCS09", "*"),
    ("6.2.3_GCS21d", "*"), ("6.2.3_GCS21k", "*"), ("1.1.1_GCS01a", "*"), ("1.2.1_GCS01b", "*"),
    ("4.4.5_GCS15e", "*NOT_FOUND*"), ("4.4.5_GCS15e", "*ERROR*"), ("6.13_CS10a", "*NOT_FOUND*"),
    ("6.13_CS10b", "*ERROR*"), ("4.8.1_GCS17", "*NOT_FOUND*"), ("4.4.4_GCS15d", "*NOT_FOUND*"),
    ("4.13_GCS21b", "*NOT_FOUND*"), ("4.11.1_GCS21f", "*NOT_FOUND*"),
]
REPLAY_FILES = sorted({path for folder, pattern in REPLAYED
                       for path in (MESSAGES / folder).glob(f"{pattern}COMMAND_GBCS.HEX") if "PRECOMMAND" not in path.name})


@pytest.mark.parametrize("path", REPLAY_FILES, ids=lambda p: p.name)
def test_replay_answers_as_recorded(path: Path) -> None:
    result = replay.replay_command(path, KEYSTORE)
    assert result.accepted, result.detail
    assert result.verdict in ("exact", "structure"), result.detail


def test_replay_files_cover_the_use_cases() -> None:
    assert len(REPLAY_FILES) >= 60


def _with_credit_record(response: Path, record: AttributeRecord) -> bytes:
    """The recorded GCS60 response with its prepayment read record replaced."""
    frame = _frame(response)
    payload = decode_gbz(frame.content, Cra.RESPONSE, 0x008D)
    components = list(payload.components)
    read = components[1].command
    components[1] = dataclasses.replace(components[1], command=dataclasses.replace(read, value=ReadAttributesResponse([record])))
    return gbcs.encode(dataclasses.replace(frame, content=encode_gbz(GbzPayload(tuple(components)))))


GCS60_RESPONSE = _file("4.18_GCS60", "GCS60_4.18_SUCCESS_RESPONSE_GBCS.HEX")


def test_gbz_comparison_lets_values_differ() -> None:
    ours = _with_credit_record(GCS60_RESPONSE, AttributeRecord(0x0001, 0, 0x2B, 42))
    assert replay.compare_responses(ours, _bytes(GCS60_RESPONSE))[0] == "structure"


@pytest.mark.parametrize("record", [
    AttributeRecord(0x0001, 0xC0),  # a failure status where RTDS succeeded
    AttributeRecord(0x0001, 0, 0x23, 42),  # another data type
    AttributeRecord(0x0002, 0, 0x2B, 42),  # another attribute
])  # fmt: skip
def test_gbz_comparison_keeps_statuses_types_and_attributes(record: AttributeRecord) -> None:
    ours = _with_credit_record(GCS60_RESPONSE, record)
    assert replay.compare_responses(ours, _bytes(GCS60_RESPONSE))[0] == "mismatch"


def test_gbz_comparison_compares_default_response_statuses() -> None:
    success = _bytes(_file("1.5_GCS40c", "GCS40c_1.5_SUCCESS_RESPONSE_GBCS.HEX"))
    error = _frame(_file("1.5_GCS40c", "GCS40c_1.5_ERROR_RESPONSE_GBCS.HEX"))
    # The recorded error's payload in the success's frame: only the status differs.
    ours = gbcs.encode(dataclasses.replace(gbcs.decode(success), content=error.content))
    verdict, detail = replay.compare_responses(ours, success)
    assert verdict == "mismatch" and "default_response" in detail
