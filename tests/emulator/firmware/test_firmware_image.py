"""CS06 (activate firmware) on an electricity meter fed RTDS 11.3_CS06's own commands: now,
at a future date-time in virtual time with its 0x00CA alert (8F66/8F67) in RTDS's shape,
and cancelled."""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta, timezone

import pytest

import gbcs
from emulator.errors import BadContent
from emulator.firmware.command import process_command
from emulator.firmware.device import Device
from emulator.firmware.firmware_image import held_image, hold_image
from emulator.replay import der_shape
from gbcs.der import decode_der, encode_der_value
from gbcs.keystore import KeyUsage
from gbcs.types import EUI64, Cra, DeviceType
from tests.emulator.firmware.rtds_device import ESME, KEYSTORE, der_of, message, rtds_device

FOLDER = "11.3_CS06/CS06_11.3_"
IMAGE_HASH = bytes.fromhex("AA758690730934FF0685AA758690730934FF0685657788990011223344556677")  # RTDS's commands name it
NEW_VERSION = bytes.fromhex("0123ABCE")  # what RTDS's immediate success reports running


@pytest.fixture
def esme() -> Device:
    return rtds_device(ESME, DeviceType.ESME)


def give_image(device: Device, image_hash: bytes = IMAGE_HASH) -> None:
    with device.store.transaction() as tx:
        hold_image(tx, device, image_hash, NEW_VERSION)


def alerts(device: Device) -> list[bytes]:
    return [frame for _, _, kind, frame in device.store.read().outbox(device.eui) if kind == "alert"]


def test_activation_runs_the_held_image_whose_hash_matches(esme: Device) -> None:
    give_image(esme)
    outcome = process_command(esme, message(FOLDER + "IMMEDIATE_SUCCESS_COMMAND_GBCS.HEX"))
    assert outcome.accepted, outcome.rejection
    recorded = der_of(message(FOLDER + "IMMEDIATE_SUCCESS_RESPONSE_GBCS.HEX"))
    assert der_of(outcome.response) == recorded  # success, and the version RTDS reports: the image's
    assert esme.identity.firmware_version_bytes == NEW_VERSION
    assert Device.load(esme.store, esme.clock, ESME).identity.firmware_version_bytes == NEW_VERSION  # durable


@pytest.mark.parametrize("held, expected", [(None, "noImageHeld"), (hashlib.sha256(b"another image").digest(), "hashMismatch")])
def test_activation_refuses_without_the_image(esme: Device, held: bytes | None, expected: str) -> None:
    if held is not None:
        give_image(esme, held)
    before = esme.identity.firmware_version_bytes
    outcome = process_command(esme, message(FOLDER + "IMMEDIATE_ERROR_COMMAND_GBCS.HEX"))
    assert outcome.accepted, outcome.rejection
    result = der_of(outcome.response).to_json()
    assert result["responseCode"]["name"] == expected
    assert bytes.fromhex(result["firmwareVersion"]) == before == esme.identity.firmware_version_bytes


def test_a_future_dated_activation_runs_at_its_time_and_alerts_8f66(esme: Device) -> None:
    give_image(esme)
    command = message(FOLDER + "FUTURE_DATED_SUCCESS_COMMAND_GBCS.HEX")
    outcome = process_command(esme, command)
    assert der_of(outcome.response) == der_of(message(FOLDER + "FUTURE_DATED_SUCCESS_RESPONSE_GBCS.HEX"))  # accepted only
    due = datetime(2030, 1, 15, 9, tzinfo=timezone.utc)  # the command's executionDateTime
    esme.clock.advance(due - timedelta(hours=1) - esme.now)
    assert alerts(esme) == [] and esme.identity.firmware_version_bytes != NEW_VERSION
    esme.clock.advance(due - esme.now)
    [alert] = alerts(esme)
    frame = gbcs.decode(alert)
    recorded = gbcs.decode(message(FOLDER + "8F66_FUTURE_DATED_SUCCESS_ALERT_GBCS.HEX"))
    assert (frame.cra, frame.other_information.message_code, frame.recipient) == (Cra.ALERT, 0x00CA, recorded.recipient)
    ours, theirs = decode_der(frame.content, 0x00CA, Cra.ALERT), decode_der(recorded.content, 0x00CA, Cra.ALERT)
    assert der_shape(ours) == der_shape(theirs)
    assert ours.to_json()["alertCode"] == theirs.to_json()["alertCode"]  # 8F66
    assert ours.child("executionDateTime") == theirs.child("executionDateTime")
    assert ours.child("originatorCounter") == theirs.child("originatorCounter")  # the command's counter, 1001
    assert esme.identity.firmware_version_bytes == NEW_VERSION and held_image(esme.store.read(), esme) is None


def test_a_future_dated_activation_of_another_image_alerts_8f67(esme: Device) -> None:
    give_image(esme, hashlib.sha256(b"another image").digest())
    assert process_command(esme, message(FOLDER + "FUTURE_DATED_ERROR_COMMAND_GBCS.HEX")).accepted
    esme.clock.advance(datetime(2030, 1, 1, tzinfo=timezone.utc) - esme.now)
    [alert] = alerts(esme)
    recorded = der_of(message(FOLDER + "8F67_FUTURE_DATED_ERROR_ALERT_GBCS.HEX"))
    ours = der_of(alert)
    assert der_shape(ours) == der_shape(recorded)
    assert ours.to_json()["alertCode"] == recorded.to_json()["alertCode"]  # 8F67
    assert ours.to_json()["executionOutcome"]["responseCode"]["name"] == "hashMismatch"
    assert ours.child("originatorCounter") == recorded.child("originatorCounter")  # 1004


def test_cancellation_drops_the_pending_activation(esme: Device) -> None:
    give_image(esme)
    assert process_command(esme, message(FOLDER + "FUTURE_DATED_SUCCESS_COMMAND_GBCS.HEX")).accepted
    assert len(esme.store.read().scheduled(ESME)) == 1
    outcome = process_command(esme, message(FOLDER + "CANCELLATION_SUCCESS_COMMAND_GBCS.HEX"))
    assert der_of(outcome.response) == der_of(message(FOLDER + "CANCELLATION_SUCCESS_RESPONSE_GBCS.HEX"))
    assert esme.store.read().scheduled(ESME) == []
    esme.clock.advance(datetime(2030, 2, 1, tzinfo=timezone.utc) - esme.now)
    assert alerts(esme) == [] and esme.identity.firmware_version_bytes != NEW_VERSION


def test_the_payload_counter_must_be_the_commands() -> None:
    """RTDS's payload repeats the originator counter; a payload naming another is refused."""

    recorded = gbcs.decode(message(FOLDER + "IMMEDIATE_SUCCESS_COMMAND_GBCS.HEX"))
    content = encode_der_value(0x0012, Cra.COMMAND, {"manufacturerImageHash": IMAGE_HASH, "originatorCounter": 999})
    forged = gbcs.Frame(cra=Cra.COMMAND, originator_counter=recorded.originator_counter, originator=recorded.originator,
                        recipient=recorded.recipient, other_information=recorded.other_information, content=content)  # fmt: skip
    forged = gbcs.sign(forged, KEYSTORE.private_key(recorded.originator, KeyUsage.DS))
    data = gbcs.encode(gbcs.add_mac(forged, KEYSTORE, broker=EUI64("90B3D51F30000002")))
    esme = rtds_device(ESME, DeviceType.ESME)
    give_image(esme)
    assert isinstance(process_command(esme, data).rejection, BadContent)
    assert esme.identity.firmware_version_bytes != NEW_VERSION
