"""The gas meter met in service: its register, half-hour profile, snapshots and logs come
from one seeded load model and agree with each other, and it has the history a meter in its
configured state would have (a credit meter has no top-ups). Commands are RTDS's own."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

import gbcs
from emulator import replay
from emulator.devices import gas, gas_model, gsme_logs
from emulator.devices.load_model import GasLoadModel, slot_of
from emulator.firmware.command import process_command
from gbcs.keystore import InMemoryKeyStore
from gbcs.payload import decode_payload
from tests.conftest import RTDS

KEYSTORE = InMemoryKeyStore.from_directory(RTDS / "keystore")
MESSAGES = RTDS / "messages"
GCS17 = MESSAGES / "4.8.1_GCS17" / "GCS17_4.8.1_SUCCESS_COMMAND_GBCS.HEX"
GCS17_NOT_FOUND = MESSAGES / "4.8.1_GCS17" / "GCS17_4.8.1_NOT_FOUND_COMMAND_GBCS.HEX"
GCS15C = MESSAGES / "4.4.3_GCS15c" / "GCS15c_4.4.3_SUCCESS_COMMAND_GBCS.HEX"
GCS15E = MESSAGES / "4.4.5_GCS15e" / "GCS15e_4.4.5_SUCCESS_COMMAND_GBCS.HEX"
CS10A = MESSAGES / "6.13_CS10a" / "CS10a_6.13_SUCCESS_COMMAND_GBCS.HEX"
_EPOCH = datetime(2000, 1, 1, tzinfo=timezone.utc)


def _bytes(path: Path) -> bytes:
    assert path.exists(), path
    return bytes.fromhex("".join(path.read_text().split()))


def _device_for(path: Path):
    command = gbcs.decode(_bytes(path))
    return replay.device_for(command, KEYSTORE)


def _answers(response: bytes) -> list:
    """The ZCL answers of a GBZ response, decrypted with RTDS's keys."""
    payload = decode_payload(gbcs.decode(response), KEYSTORE)
    assert payload.complete
    return [component.command for component in payload.value.components]


def _register(device, moment: datetime) -> int:
    return gas_model.gas_metering(device.store.read(), device).summation(moment)


# -- the model ---------------------------------------------------------------------------------


def test_the_gas_model_is_seeded_and_seasonal() -> None:
    a, b = GasLoadModel(7), GasLoadModel(8)
    days = range(16_000, 16_400)
    assert [a.day_factor(d) for d in days] == [GasLoadModel(7).day_factor(d) for d in days]
    assert [a.day_factor(d) for d in days] != [b.day_factor(d) for d in days]
    january = slot_of(datetime(2016, 1, 15, tzinfo=timezone.utc))
    july = slot_of(datetime(2015, 7, 15, tzinfo=timezone.utc))
    assert a.litres_between(january, january + 48) > 2 * a.litres_between(july, july + 48)  # heating
    # The per-day shortcut of a long sum agrees with adding the half-hours one by one.
    first, end = january + 17, january + 48 * 40 + 5
    assert a.litres_between(first, end) == sum(a.litres(slot) for slot in range(first, end))


# -- GCS17: the half-hour profile --------------------------------------------------------------


def test_gcs17_samples_add_up_to_the_register_difference() -> None:
    device = _device_for(GCS17)
    outcome = process_command(device, _bytes(GCS17))
    assert outcome.accepted, outcome.rejection
    (answer,) = _answers(outcome.response)
    assert answer.name == "get_sampled_data_response"
    value = answer.value
    assert value.sample_request_interval == 1800
    assert value.number_of_samples == len(value.samples) == 97  # RTDS asks 97
    start = _EPOCH + timedelta(seconds=int(value.sample_start_time))
    assert start == datetime(2014, 12, 30, tzinfo=timezone.utc)  # as asked
    end = start + timedelta(minutes=30 * len(value.samples))
    assert sum(value.samples) == _register(device, end) - _register(device, start) > 0


def test_gcs17_before_the_meter_was_metering_is_not_found() -> None:
    device = _device_for(GCS17_NOT_FOUND)  # RTDS asks for 2013: before two years in service
    outcome = process_command(device, _bytes(GCS17_NOT_FOUND))
    (answer,) = _answers(outcome.response)
    assert answer.name == "default_response" and answer.value.status == 0x8B  # NOT_FOUND


def test_a_huge_sample_request_is_bounded() -> None:
    device = _device_for(GCS17)
    with device.store.transaction() as tx:
        earliest = int((device.now - timedelta(days=600) - _EPOCH).total_seconds())
        found = gsme_logs.samples(tx, device, 0, earliest, 0xFFFF * 100, device.now)
    assert found is not None and len(found[2]) == gas_model.MAX_SAMPLES  # 600 days asked, capped
    with device.store.transaction() as tx:
        assert gsme_logs.samples(tx, device, 0, 0xFFFFFFFF, 10, device.now) is None  # the future


def test_injected_gas_adds_on_top_of_the_model_everywhere() -> None:
    device = _device_for(GCS17)
    now = device.now
    before = _register(device, now)
    gas.gsme_consumes(device.store, device, 4321)
    assert _register(device, now) - before == 4321
    device.clock.set(device.clock.now() + timedelta(hours=2))
    slot = gas_model.owning_slot(now)
    meter = gas_model.gas_metering(device.store.read(), device)
    assert meter.interval(slot) == meter.model.litres(slot) + 4321
    start, end = now - timedelta(hours=1), now + timedelta(hours=1)
    with device.store.transaction() as tx:
        _, _, samples = gsme_logs.samples(tx, device, 0, int((start - _EPOCH).total_seconds()), 4, device.now)
    assert sum(samples) == _register(device, end) - _register(device, start)


def test_injections_stay_small() -> None:
    device = _device_for(GCS17)
    start = device.clock.now()
    for step in range(3_000):
        device.clock.set(start + timedelta(minutes=30 * step))
        with device.store.transaction() as tx:
            gas_model.add_consumption(tx, device, 1, device.now)
    size = len(json.dumps(device.store.read().register(device.eui, gas_model.EXTRA)))
    assert size < 60_000
    assert _register(device, device.now) - gas_model.gas_metering(device.store.read(), device).summation(start) >= 3_000


# -- GCS15c: billing snapshots -----------------------------------------------------------------


def test_gcs15c_billing_snapshots_hold_the_register_at_their_time() -> None:
    device = _device_for(GCS15C)
    outcome = process_command(device, _bytes(GCS15C))
    assert outcome.accepted, outcome.rejection
    snapshots = [answer for answer in _answers(outcome.response) if answer.name == "publish_snapshot"]
    assert snapshots
    for snapshot in snapshots:
        moment = _EPOCH + timedelta(seconds=int(snapshot.value.snapshot_time))
        assert (moment.day, moment.hour, moment.minute) == (1, 0, 0)  # a billing period's end
        payload = bytes(snapshot.value.snapshot_payload)
        assert int.from_bytes(payload[:6], "little") == _register(device, moment)
    times = [int(snapshot.value.snapshot_time) for snapshot in snapshots]
    assert times == sorted(times)  # offset 0 is the oldest (RTDS)


# -- GCS15e: top-ups only on a prepayment meter ------------------------------------------------


def test_a_credit_meter_has_no_top_up_log() -> None:
    device = _device_for(GCS15E)  # a fresh replay device, not configured: credit mode
    outcome = process_command(device, _bytes(GCS15E))
    (answer,) = _answers(outcome.response)
    assert answer.name == "default_response" and answer.value.status == 0x8B


def test_a_prepayment_meter_has_consistent_top_ups() -> None:
    device = _device_for(GCS15E)
    with device.store.transaction() as tx:
        gas_model.configure_gas_metering(tx, device, prepayment=True)
    outcome = process_command(device, _bytes(GCS15E))
    (answer,) = _answers(outcome.response)
    assert answer.name == "publish_top_up_log"
    records = answer.value.records
    assert len(records) == 5  # RTDS asks for five
    times = [int(record.top_up_time) for record in records]
    assert times == sorted(times, reverse=True) and times[0] <= (device.now - _EPOCH).total_seconds()
    for record in records:  # each UTRN carries the amount logged
        assert gsme_logs.utrn_amount(bytes(record.top_up_code).decode()) == record.top_up_amount


def test_same_seed_same_history() -> None:
    since, until = datetime(2014, 6, 1, tzinfo=timezone.utc), datetime(2016, 6, 1, tzinfo=timezone.utc)
    first = gsme_logs.generated_top_ups(1234, since, until)
    assert first == gsme_logs.generated_top_ups(1234, since, until)
    assert first != gsme_logs.generated_top_ups(1235, since, until)
    assert 60 < len(first) < 200  # every 4 to 10 days over two years
    assert all(since.timestamp() - _EPOCH.timestamp() <= entry[2] for entry in first)


def test_utrn_round_trip_and_bad_amount() -> None:
    assert gsme_logs.utrn_amount(gsme_logs.utrn(25, 7)) == 2_500_000
    with pytest.raises(ValueError):
        gsme_logs.utrn(0, 1)


# -- replay -------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", [GCS17, GCS17_NOT_FOUND, GCS15E, CS10A], ids=lambda path: path.name)
def test_replay_now_answers_with_the_recorded_shape(path: Path) -> None:
    result = replay.replay_command(path, KEYSTORE)
    assert result.accepted and result.verdict in ("exact", "structure"), result.detail


def test_replay_notes_the_prepayment_meter_it_configures() -> None:
    result = replay.replay_command(GCS15E, KEYSTORE)
    assert "a prepayment gas meter, as recorded" in result.detail
