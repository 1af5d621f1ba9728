"""The GSME's valve (GCS39, ZSE Change Supply): the WAN may arm or close it, never open it, and
a change takes effect at its Implementation Date/Time (FFFFFFFF cancels a pending one). Built
on RTDS's GCS39 command, signed and MACed afresh with RTDS's supplier keys after each change."""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta, timezone

import pytest

import gbcs
from emulator import replay
from emulator.devices.gsme_attributes import METERING, GsmeState
from emulator.firmware.command import process_command
from emulator.firmware.device import Device
from gbcs.gbz import GbzPayload, decode_gbz, encode_gbz
from gbcs.keystore import InMemoryKeyStore, KeyUsage
from gbcs.types import Cra
from tests.conftest import RTDS, read_corpus_file

GCS39 = RTDS / "messages" / "7.3_GCS39" / "GCS39_7.3_SUCCESS_COMMAND_GBCS.HEX"
EPOCH = datetime(2000, 1, 1, tzinfo=timezone.utc)
OFF, ARMED, ON = 0, 1, 2  # ZSE supply status


@pytest.fixture
def valve(keystore: InMemoryKeyStore) -> Device:
    command = gbcs.decode(read_corpus_file(GCS39))
    return replay.device_for(command, keystore)


def change_supply(keystore: InMemoryKeyStore, counter: int, status: int, when: int = 0) -> bytes:
    """RTDS's GCS39 with ``status`` proposed at ZigBee time ``when`` (0: now), signed and MACed afresh."""
    frame = gbcs.decode(read_corpus_file(GCS39))
    payload = decode_gbz(frame.content, Cra.COMMAND, frame.other_information.message_code)
    assert isinstance(payload, GbzPayload)
    [component] = payload.components
    value = component.command.value.replace(proposed_supply_status=status, implementation_date_time=when)
    component = dataclasses.replace(component, command=dataclasses.replace(component.command, value=value, raw=None))
    frame = dataclasses.replace(frame, originator_counter=counter, content=encode_gbz(GbzPayload((component,))),
                                signature=None, mac=None)  # fmt: skip
    frame = gbcs.sign(frame, keystore.private_key(frame.originator, KeyUsage.DS))
    return gbcs.encode(gbcs.add_mac(frame, keystore))


def answer(response: bytes) -> tuple:
    frame = gbcs.decode(response)
    [component] = decode_gbz(frame.content, Cra.RESPONSE, frame.other_information.message_code).components
    zcl = component.command
    return (zcl.name, int(zcl.value.status) if zcl.name == "default_response" else int(zcl.value.supply_status))


def supply(device: Device) -> int:
    with device.store.transaction() as tx:
        return GsmeState.load(tx, device).value(METERING, 0x0014)


def test_rtds_arms_the_valve(valve: Device) -> None:
    outcome = process_command(valve, read_corpus_file(GCS39))
    assert answer(outcome.response) == ("supply_status_response", ARMED) and supply(valve) == ARMED


def test_the_wan_cannot_open_the_valve(valve: Device, keystore: InMemoryKeyStore) -> None:
    assert answer(process_command(valve, change_supply(keystore, 2000, OFF)).response) == ("supply_status_response", OFF)
    outcome = process_command(valve, change_supply(keystore, 2001, ON))
    assert outcome.accepted and answer(outcome.response) == ("default_response", 0x7E)  # NOT_AUTHORIZED
    assert supply(valve) == OFF


def test_a_change_waits_for_its_implementation_time(valve: Device, keystore: InMemoryKeyStore) -> None:
    due = valve.now + timedelta(days=2)
    outcome = process_command(valve, change_supply(keystore, 2000, OFF, int((due - EPOCH).total_seconds())))
    assert answer(outcome.response) == ("supply_status_response", ON)  # in force until then
    valve.clock.advance(timedelta(days=1))
    assert supply(valve) == ON
    valve.clock.advance(timedelta(days=1, seconds=1))
    assert supply(valve) == OFF


def test_ffffffff_cancels_a_pending_change(valve: Device, keystore: InMemoryKeyStore) -> None:
    due = valve.now + timedelta(days=2)
    assert process_command(valve, change_supply(keystore, 2000, OFF, int((due - EPOCH).total_seconds()))).accepted
    assert answer(process_command(valve, change_supply(keystore, 2001, OFF, 0xFFFFFFFF)).response) == (
        "supply_status_response", ON)  # fmt: skip
    valve.clock.advance(timedelta(days=3))
    assert supply(valve) == ON
