"""The GSME serves back the tariff it holds (GCS21b, GCS21f), reports its event configuration
(GCS20r), and reads its event log without loading the whole history.

Commands are RTDS's own, MACed with RTDS's keys (the device checks them); where a test sends a
second command it is RTDS's command with a higher originator counter, MACed again. Expected
answers come from RTDS's recorded responses or from the publish the meter was sent."""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from pathlib import Path

import pytest

import gbcs
from emulator import replay
from emulator.devices import gsme_logs
from emulator.firmware.command import process_command
from gbcs.frame import Frame
from gbcs.gbz import LAST, GbzPayload, decode_gbz, encode_gbz
from gbcs.keystore import InMemoryKeyStore
from tests.conftest import RTDS

KEYSTORE = InMemoryKeyStore.from_directory(RTDS / "keystore")
MESSAGES = RTDS / "messages"
TOU_TARIFF = MESSAGES / "1.1.1_GCS01a" / "GCS01a_1.1.1_IMMEDIATE_TOU_SUCCESS_COMMAND_GBCS.HEX"
GCS21F = MESSAGES / "4.11.1_GCS21f" / "GCS21f_4.11.1_SUCCESS_COMMAND_GBCS.HEX"
GCS21B = MESSAGES / "4.13_GCS21b" / "GCS21b_4.13_SUCCESS_COMMAND_GBCS.HEX"
GCS20R = MESSAGES / "6.2.10_GCS20r" / "GCS20r_6.2.10_SUCCESS_COMMAND_GBCS.HEX"
NOT_FOUND = 0x8B


def _bytes(path: Path) -> bytes:
    assert path.exists(), path
    return bytes.fromhex("".join(path.read_text().split()))


def _frame(path: Path) -> Frame:
    return gbcs.decode(_bytes(path))


def _device_for(path: Path):
    command = _frame(path)
    return replay.device_for(command, KEYSTORE)


def _resent(path: Path, counter: int) -> bytes:
    frame = dataclasses.replace(_frame(path), originator_counter=counter, mac=None)
    return gbcs.encode(gbcs.add_mac(frame, KEYSTORE))


def _payload(data: bytes) -> GbzPayload:
    frame = gbcs.decode(data)
    payload = decode_gbz(frame.content, frame.cra, frame.other_information.message_code)
    assert isinstance(payload, GbzPayload)
    return payload


def _answer(device, path: Path, counter: int | None = None) -> GbzPayload:
    outcome = process_command(device, _bytes(path) if counter is None else _resent(path, counter))
    assert outcome.accepted, outcome.rejection
    return _payload(outcome.response)


def _published(path: Path, name: str) -> list:
    return [component.command.value for component in _payload(_bytes(path)).components if component.command.name == name]


def _tariffed_gsme():
    """A GSME sent RTDS's immediate time-of-use tariff (GCS01a: a calendar of four day
    profiles, two week profiles, two seasons, three special days, and its prices)."""
    device = _device_for(TOU_TARIFF)
    assert all(component.command.name == "default_response" and component.command.value.status == 0
               for component in _answer(device, TOU_TARIFF).components)  # fmt: skip
    return device


def _counter_after(*paths: Path) -> int:
    return max(_frame(path).originator_counter for path in paths) + 1


def test_a_gsme_with_no_tariff_published_answers_not_found_as_rtds_records() -> None:
    device = _device_for(GCS21F)
    answers = _answer(device, GCS21F).components
    recorded = _payload(_bytes(MESSAGES / "4.11.1_GCS21f" / "GCS21f_4.11.1_NOT_FOUND_RESPONSE_GBCS.HEX")).components
    assert [(a.command.name, getattr(a.command.value, "status", None)) for a in answers[1:]] == \
        [(r.command.name, r.command.value.status) for r in recorded[1:]]  # fmt: skip
    assert {a.command.value.status for a in answers[1:]} == {NOT_FOUND}


def test_the_tariff_published_is_served_back_in_the_recorded_order() -> None:
    device = _tariffed_gsme()
    answers = _answer(device, GCS21F, _counter_after(TOU_TARIFF, GCS21F)).components
    recorded = _payload(_bytes(MESSAGES / "4.11.1_GCS21f" / "GCS21f_4.11.1_SUCCESS_RESPONSE_GBCS.HEX")).components
    # The same answers, one per held publish, in the order RTDS's meter gave them.
    assert [(a.cluster_id, a.command.name, a.command.frame_control) for a in answers] == \
        [(r.cluster_id, r.command.name, r.command.frame_control) for r in recorded]  # fmt: skip
    # Each calendar publish is the one the meter was sent, day and week ids in order.
    served = {name: [a.command.value for a in answers if a.command.name == name]
              for name in ("publish_day_profile", "publish_week_profile", "publish_seasons", "publish_special_days")}
    for name, values in served.items():
        assert [v.serialize() for v in values] == [v.serialize() for v in _published(TOU_TARIFF, name)], name
    assert [v.day_id for v in served["publish_day_profile"]] == [1, 2, 3, 4]


def test_the_current_price_comes_from_the_published_tariff() -> None:
    device = _tariffed_gsme()
    price = _answer(device, GCS21F, _counter_after(TOU_TARIFF, GCS21F)).components[-1].command
    tariff = _published(TOU_TARIFF, "publish_tariff_information")[0]
    matrix = {int(entry.tier_block_id): int(entry.price) for entry in _published(TOU_TARIFF, "publish_price_matrix")[0].entries}
    assert price.name == "publish_price"
    assert (price.value.issuer_event_id, price.value.currency, price.value.unit_of_measure) == \
        (tariff.issuer_event_id, tariff.currency, tariff.unit_of_measure)  # fmt: skip
    tier = int(price.value.price_trailing_digit_and_price_tier) & 0x0F
    assert 1 <= tier <= int(tariff.number_of_price_tiers_in_use)
    assert price.value.price in matrix.values()


def test_the_tariff_calendar_is_not_the_friendly_credit_calendar() -> None:
    """GCS21b asks for the friendly credit calendar (Issuer Calendar ID FFFFFFFE, calendar
    type 3); a meter sent only a tariff calendar (type 0) has none to give."""
    device = _tariffed_gsme()
    answers = _answer(device, GCS21B, _counter_after(TOU_TARIFF, GCS21B)).components
    assert [(a.command.name, a.command.value.status) for a in answers[2:]] == [("default_response", NOT_FOUND)] * 4


def test_a_get_for_days_from_an_id_serves_those_days() -> None:
    device = _tariffed_gsme()
    frame, get_days = _frame(GCS21F), _payload(_bytes(GCS21F)).components[1]
    value = get_days.command.value
    value.start_day_id, value.number_of_days = 3, 1
    content = encode_gbz(GbzPayload((dataclasses.replace(get_days, control=LAST),)))
    sent = dataclasses.replace(frame, content=content, originator_counter=_counter_after(TOU_TARIFF, GCS21F), mac=None)
    outcome = process_command(device, gbcs.encode(gbcs.add_mac(sent, KEYSTORE)))
    assert outcome.accepted, outcome.rejection
    assert [a.command.value.day_id for a in _payload(outcome.response).components] == [3]


# ---------------------------------------------------------------------------------------
# Event configuration (GCS20r)


def test_the_event_configuration_answers_as_rtds_frames_it() -> None:
    device = _device_for(GCS20R)
    answer = _answer(device, GCS20R).components[0]
    recorded = _payload(_bytes(MESSAGES / "6.2.10_GCS20r" / "GCS20r_6.2.10_SUCCESS_RESPONSE_GBCS.HEX")).components[0]
    assert (answer.cluster_id, answer.command.name, answer.command.frame_control) == \
        (recorded.cluster_id, recorded.command.name, recorded.command.frame_control)  # fmt: skip
    asked = _payload(_bytes(GCS20R)).components[0].command.value.event_id  # 81FF: every event of group 81
    events = [int(record.event_id) for record in answer.command.value.events]
    assert events and all(event >> 8 == asked >> 8 for event in events) and events == sorted(events)
    assert dict((int(r.event_id), int(r.event_configuration)) for r in answer.command.value.events) == \
        {event: value for event, value in gsme_logs.FACTORY_EVENT_CONFIGURATION.items() if event >> 8 == 0x81}  # fmt: skip


def test_a_set_event_configuration_changes_what_is_reported() -> None:
    device = _device_for(GCS20R)
    with device.store.transaction() as tx:
        changed = gsme_logs.set_event_configuration(tx, device, _SetByIds([0x81C3, 0x9999], 0x00))
        assert changed == 1  # 9999 is no event of the GSME's
        assert gsme_logs.event_configuration(tx, device, 0x81C3) == [(0x81C3, 0x00)]
        assert gsme_logs.event_configuration(tx, device, 0x9999) == []
        assert gsme_logs.event_configuration(tx, device, 0xFFFF)[0][0] == min(gsme_logs.FACTORY_EVENT_CONFIGURATION)


@dataclasses.dataclass
class _SetByIds:  # a Set Event Configuration's fields, configuration control 0 (by event id)
    event_ids: list[int]
    event_configuration: int
    configuration_control: int = 0


def test_an_event_the_gsme_does_not_raise_is_not_found() -> None:
    device = _device_for(GCS20R)
    with device.store.transaction() as tx:
        assert gsme_logs.event_configuration(tx, device, 0x80FF) == []  # the ESME's voltage events


@pytest.mark.parametrize("name", ["GCS20r_6.2.10_SUCCESS_COMMAND_GBCS.HEX", "GCS20r_6.2.10_ERROR_COMMAND_GBCS.HEX"])
def test_replay_answers_gcs20r_as_recorded(name: str) -> None:
    result = replay.replay_command(MESSAGES / "6.2.10_GCS20r" / name, KEYSTORE)
    assert result.accepted and result.verdict in ("exact", "structure"), result.detail


# ---------------------------------------------------------------------------------------
# The event log, bounded


def test_an_event_log_read_keeps_the_newest_entries_of_a_long_history() -> None:
    device = _device_for(GCS20R)
    now = device.now
    with device.store.transaction() as tx:
        for minute in range(3 * gsme_logs.EVENT_LOG_SIZE):
            tx.log_event(device.eui, now - timedelta(minutes=minute), "test", "valve tested", code=0x8184)
    with device.store.transaction() as tx:
        events, total = gsme_logs.events(tx, device, 3, 0, 0, 0, 0)
        assert total == gsme_logs.EVENT_LOG_SIZE == len(events)
        times = [int(event.event_time) for event in events]
        assert times == sorted(times, reverse=True) and times[0] == gsme_logs.zigbee_time(now.replace(microsecond=0))
        # A range in the past answers only what the log still holds of it.
        recent, _ = gsme_logs.events(tx, device, 3, gsme_logs.zigbee_time(now - timedelta(minutes=10)), 0, 0, 0)
        # the eleven valve tests of the last ten minutes, and the billing data log updates
        # (8F0A) the meter's history has there (its billing periods end at midnight)
        assert sum(int(event.event_id) == 0x8184 for event in recent) == 11
        assert {int(event.event_id) for event in recent} <= {0x8184, gsme_logs.BILLING_DATA_LOG_UPDATED}
        old, total = gsme_logs.events(tx, device, 3, 0, gsme_logs.zigbee_time(now - timedelta(minutes=150)), 0, 0)
        assert old == [] and total == 0  # pushed out of the log by a hundred newer entries


def test_an_event_log_read_after_a_clear_holds_only_later_entries() -> None:
    device = _device_for(GCS20R)
    start = device.now
    with device.store.transaction() as tx:
        tx.log_event(device.eui, start - timedelta(minutes=1), "test", "before", code=0x8184)
        gsme_logs.clear_event_logs(tx, device, 3)
        later = start + timedelta(seconds=1)
        tx.log_event(device.eui, later, "test", "after", code=0x81A1)
        events, total = gsme_logs.events(tx, device, 3, 0, 0, 0, 0)
    assert total == 1 and [int(event.event_id) for event in events] == [0x81A1]
