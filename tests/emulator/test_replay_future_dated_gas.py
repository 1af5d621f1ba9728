"""Future-dated corpus commands to the gas meter (GCS01a/b tariff publishes, GCS03 payment
mode) are kept, take effect when the GSME's clock reaches their date-time, and raise the
future-dated outcome alerts RTDS recorded; their CANCELLATION cases cancel what was pending;
what is pending survives a restart."""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from pathlib import Path

import pytest

import gbcs
from emulator.clock import VirtualClock
from emulator.devices import gsme_activation
from emulator.devices.gsme_attributes import PREPAYMENT, PRICE, GsmeState
from emulator.firmware.command import process_command
from emulator.firmware.device import Credentials, Device, Identity, cells_from_keystore
from emulator.replay import RTDS_ERA, replay_command
from emulator.store import Store
from gbcs.gbz import FutureDatedOutcome, GbzAlert, decode_gbz
from gbcs.keystore import InMemoryKeyStore
from gbcs.types import EUI64, Cra, DeviceType
from tests.conftest import RTDS, read_corpus_file

MESSAGES = RTDS / "messages"
GSME = EUI64("00DB1234567890A1")
COMMANDS = sorted(path for path in MESSAGES.glob("*/G*_FUTURE_DATED*SUCCESS_COMMAND_GBCS.HEX")
                  if gbcs.decode(read_corpus_file(path)).recipient == GSME)  # fmt: skip
FAR_FUTURE = RTDS_ERA.replace(year=2100)


def recorded_alerts(command: Path) -> list[Path]:
    prefix, rest = command.name.split("_FUTURE_DATED")
    return sorted(command.parent.glob(f"{prefix}_8F66_FUTURE_DATED{rest.removesuffix('_COMMAND_GBCS.HEX')}_ALERT*"))


def corpus(folder: str, name: str) -> bytes:
    return read_corpus_file(next(MESSAGES.glob(f"{folder}/{name}")))


def outcome(alert: bytes) -> tuple:
    """Everything of a GBZ outcome alert but the device's own counter (and protection)."""
    frame = gbcs.decode(alert)
    body = decode_gbz(frame.content, frame.cra, frame.other_information.message_code)
    assert isinstance(body, GbzAlert) and isinstance(body.body, FutureDatedOutcome)
    return (frame.cra, frame.other_information.message_code, frame.originator, frame.recipient, frame.date_time,
            body.count, body.alert_code, body.time, dataclasses.astuple(body.body))  # fmt: skip


def test_the_corpus_has_future_dated_gas_commands_with_alerts() -> None:
    assert {path.name.split("_")[0] for path in COMMANDS} == {"GCS01a", "GCS01b", "GCS03"}
    assert all(recorded_alerts(path) for path in COMMANDS)


@pytest.mark.parametrize("command", COMMANDS, ids=lambda path: path.name.removesuffix("_COMMAND_GBCS.HEX"))
def test_future_dated_gas_commands_raise_the_recorded_alerts(command: Path, keystore: InMemoryKeyStore) -> None:
    alerts: list[bytes] = []
    result = replay_command(command, keystore, outcome_alerts=alerts)
    assert result.accepted, result
    assert result.verdict in ("exact", "structure"), result
    recorded = sorted(outcome(read_corpus_file(path)) for path in recorded_alerts(command))
    assert recorded and all(alert[:2] == (Cra.ALERT, 0x00CD) for alert in recorded)
    assert sorted(outcome(alert) for alert in alerts) == recorded
    # the alert's time is the command's date-time, when the device executed it
    frame = gbcs.decode(read_corpus_file(command))
    assert {alert[7] for alert in recorded} == {gsme_activation.execution_time(component.command)
                                                for component in decode_gbz(frame.content, Cra.COMMAND,
                                                                            frame.other_information.message_code).components
                                                if gsme_activation.execution_time(component.command) is not None}  # fmt: skip


def gsme(keystore: InMemoryKeyStore, store: Store) -> Device:
    """RTDS's gas meter, commissioned, trusting RTDS's supplier, in replay's era."""
    supplier = EUI64("90B3D51F30010000")
    device = Device.create(store, VirtualClock(RTDS_ERA), Identity(GSME, DeviceType.GSME),
                           Credentials.from_keystore(keystore, GSME),
                           cells_from_keystore(keystore, {keystore.role(supplier): supplier}), lifecycle="commissioned")  # fmt: skip
    device.peer_private_keys = keystore
    device.trust_path_without_root = True
    return device


def state(device: Device) -> GsmeState:
    with device.store.transaction() as tx:
        return GsmeState.load(tx, device)


def run_to_2100(device: Device) -> list[bytes]:
    alerts: list[bytes] = []
    device.alert_sink = alerts.append
    device.clock.set(FAR_FUTURE)
    return alerts


def test_published_prices_take_effect_only_at_their_start_time(keystore: InMemoryKeyStore) -> None:
    device = gsme(keystore, Store(":memory:"))
    assert process_command(device, corpus("1.1.1_GCS01a", "GCS01a_1.1.1_FUTURE_DATED_BLOCK_SUCCESS_COMMAND_GBCS.HEX")).accepted
    before = state(device)
    assert [before.value(PRICE, 0x0100 + block) for block in range(3)] == [0, 0, 0]
    assert before.value(PRICE, 0x0301) == 0
    alerts = run_to_2100(device)
    after = state(device)
    assert len(alerts) == 5
    # the command's Block Thresholds (1 000 000, 2 000 000, 3 000 000), standing charge and prices
    assert [after.value(PRICE, 0x0100 + block) for block in range(3)] == [1_000_000, 2_000_000, 3_000_000]
    assert after.value(PRICE, 0x0301) == 54794
    assert [after.value(PRICE, 0x0400 + block) for block in range(4)] == [9600, 10200, 10750, 11000]
    assert device.store.read().register(GSME, gsme_activation.PENDING) == []


@pytest.mark.parametrize(("folder", "case"), [("1.1.1_GCS01a", "GCS01a_1.1.1_%s_BLOCK_SUCCESS"),
                                              ("1.2.1_GCS01b", "GCS01b_1.2.1_%s_BLOCK_SUCCESS"),
                                              ("1.6_GCS03", "GCS03_1.6_%s_SUCCESS")])  # fmt: skip
def test_the_cancellation_cancels_what_was_pending(folder: str, case: str, keystore: InMemoryKeyStore) -> None:
    device = gsme(keystore, Store(":memory:"))
    configuration = state(device).value(PREPAYMENT, 0x0000)
    assert process_command(device, corpus(folder, case % "FUTURE_DATED" + "_COMMAND_GBCS.HEX")).accepted
    assert device.store.read().register(GSME, gsme_activation.PENDING)
    assert process_command(device, corpus(folder, case % "CANCELLATION" + "_COMMAND_GBCS.HEX")).accepted
    assert device.store.read().register(GSME, gsme_activation.PENDING) == []
    assert run_to_2100(device) == []
    after = state(device)
    assert after.value(PRICE, 0x0301) == 0 and after.value(PRICE, 0x0400) == 0  # no tariff took effect
    assert after.value(PREPAYMENT, 0x0000) == configuration  # nor a payment mode (3223 is not taken)


def test_a_pending_payment_mode_survives_a_restart(keystore: InMemoryKeyStore, tmp_path: Path) -> None:
    device = gsme(keystore, Store(tmp_path / "gsme.db"))
    assert process_command(device, corpus("1.6_GCS03", "GCS03_1.6_FUTURE_DATED_SUCCESS_COMMAND_GBCS.HEX")).accepted
    device.store.close()
    restarted = Device.load(Store(tmp_path / "gsme.db"), VirtualClock(RTDS_ERA + timedelta(hours=1)), GSME,
                            peer_private_keys=keystore)  # fmt: skip
    assert gsme_activation.arm(restarted) == 1
    alerts = run_to_2100(restarted)
    recorded = outcome(corpus("1.6_GCS03", "GCS03_1.6_8F66_FUTURE_DATED_SUCCESS_ALERT_CHANGE_PAYMENT_MODE_GBCS.HEX"))
    assert [outcome(alert) for alert in alerts] == [recorded]
    assert state(restarted).value(PREPAYMENT, 0x0000) == 151  # the command's proposed configuration
