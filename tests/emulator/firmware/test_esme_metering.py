"""The electricity meter's readings agree with each other: registers, half-hourly profile,
daily consumption log and protected reads all come from one load model, read through real
signed and MACed commands; prepayment actions move the balances the billing logs capture."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest

import gbcs
from emulator.devices.esme import configure_metering
from emulator.firmware.command import process_command
from emulator.firmware.cosem import seconds_since_2000
from emulator.firmware.device import Device
from emulator.headend import HeadEnd
from emulator.pki_store import PkiStore
from gbcs.dlms import (
    AccessRequest,
    Data,
    DataType,
    Obis,
    RequestKind,
    RequestSpecification,
    decode_apdu,
    decode_data,
    encode_apdu,
)
from gbcs.encryption import decrypt_block, find_encrypted_blocks, payload_key
from gbcs.reader import Reader
from gbcs.types import EUI64, DeviceType, Role
from tests.emulator.helpers import NOW, PARTIES, make_device, make_pki

ESME = EUI64("00DB1234567890A0")
READ = 0x0059  # ECS52, a MAC-only read the supplier sends
ADJUST_BALANCE, MANAGE_DEBT, EMERGENCY_CREDIT = 0x001C, 0x001E, 0x0020  # ECS04a, ECS07, ECS09 (signed and MACed)
PREPAYMENT_CONFIGURATION, CLEAR_EVENT_LOG = 0x001F, 0x0024  # ECS08, ECS15a
IMPORT_REGISTER = (3, Obis("1.0.1.8.0.255"))
HALF_HOUR_PROFILE = (7, Obis("0.0.99.1.0.255"))
DAILY_CONSUMPTION = (7, Obis("0.0.99.1.3.255"))
CLOCK = Data.structure(Data.integer(DataType.UINT16, 8), Data.octet_string(bytes(Obis("0.0.1.0.0.255"))),
                       Data.integer(DataType.INT8, 2), Data.integer(DataType.UINT16, 0))  # fmt: skip


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> PkiStore:
    return make_pki(tmp_path_factory.mktemp("pki"), {ESME: DeviceType.ESME})


@pytest.fixture
def esme(pki: PkiStore, tmp_path: Path) -> Device:
    device = make_device(pki, ESME, DeviceType.ESME, tmp_path)
    with device.store.transaction() as tx:
        configure_metering(tx, device, seed=42, since=NOW - timedelta(days=30))
    return device


@pytest.fixture
def head_end(pki: PkiStore) -> HeadEnd:
    return HeadEnd(pki.keystore())


def ask(esme: Device, head_end: HeadEnd, *specifications: RequestSpecification, data: tuple[Data, ...] | None = None,
        message_code: int = READ, role: Role = Role.SUPPLIER) -> tuple[list[int], list[Data], bytes]:  # fmt: skip
    content = encode_apdu(AccessRequest(0x20000001, b"", specifications, data or tuple(Data.null() for _ in specifications)))
    outcome = process_command(esme, head_end.command(message_code, ESME, content, role=role))
    assert outcome.accepted, outcome.rejection
    apdu = decode_apdu(gbcs.decode(outcome.response).content)
    return [result.result for result in apdu.results], list(apdu.data), outcome.response


def get(class_id: int, obis: Obis, attribute: int = 2) -> RequestSpecification:
    return RequestSpecification(RequestKind.GET, class_id, obis, attribute)


def between(class_id: int, obis: Obis, start: datetime, end: datetime) -> RequestSpecification:
    selection = Data.structure(CLOCK, Data.integer(DataType.UINT32, seconds_since_2000(start)),
                               Data.integer(DataType.UINT32, seconds_since_2000(end)), Data.array())  # fmt: skip
    return RequestSpecification(RequestKind.GET_WITH_SELECTION, class_id, obis, 2, selector=1, selection=selection)


def rows(value: Data) -> list[tuple]:
    assert value.type is DataType.COMPACT_ARRAY
    return [tuple(member.value for member in row.value) for row in value.value[1]]


def test_the_import_register_grows_by_what_the_half_hourly_profile_records(esme: Device, head_end: HeadEnd, pki: PkiStore) -> None:
    (_, [before], _) = ask(esme, head_end, get(*IMPORT_REGISTER))
    esme.clock.advance(timedelta(days=1))
    (_, [after], _) = ask(esme, head_end, get(*IMPORT_REGISTER))
    (results, [profile], _) = ask(esme, head_end, between(*HALF_HOUR_PROFILE, NOW + timedelta(minutes=30), NOW + timedelta(days=1)))
    assert results == [0]
    half_hours = rows(profile)
    assert len(half_hours) == 48
    assert [end for end, _ in half_hours] == [seconds_since_2000(NOW + timedelta(minutes=30 * n)) for n in range(1, 49)]
    assert after.value - before.value == sum(wh for _, wh in half_hours) > 0


def test_a_day_in_the_daily_consumption_log_is_its_half_hours(esme: Device, head_end: HeadEnd, pki: PkiStore) -> None:
    midnight = datetime(NOW.year, NOW.month, NOW.day, tzinfo=NOW.tzinfo)
    (_, [daily, profile], _) = ask(esme, head_end, between(*DAILY_CONSUMPTION, midnight - timedelta(days=3), midnight),
                                   between(*HALF_HOUR_PROFILE, midnight - timedelta(days=1, minutes=-30), midnight))  # fmt: skip
    days = rows(daily)
    assert [end for end, _ in days] == [seconds_since_2000(midnight - timedelta(days=n)) for n in (3, 2, 1, 0)]
    assert days[-1][1] == sum(wh for _, wh in rows(profile))


def test_nothing_is_logged_before_metering_began_or_after_now(esme: Device, head_end: HeadEnd, pki: PkiStore) -> None:
    (_, [profile], _) = ask(esme, head_end, between(*HALF_HOUR_PROFILE, NOW - timedelta(days=40), NOW + timedelta(days=5)))
    times = [end for end, _ in rows(profile)]
    assert times[0] >= seconds_since_2000(NOW - timedelta(days=30))
    assert times[-1] == seconds_since_2000(NOW)


def test_the_same_seed_reads_the_same_and_another_seed_differently(esme: Device, head_end: HeadEnd, pki: PkiStore, tmp_path: Path) -> None:
    (tmp_path / "twin").mkdir()
    (tmp_path / "other").mkdir()
    twin = make_device(pki, ESME, DeviceType.ESME, tmp_path / "twin")
    other = make_device(pki, ESME, DeviceType.ESME, tmp_path / "other")
    with twin.store.transaction() as tx:
        configure_metering(tx, twin, seed=42, since=NOW - timedelta(days=30))
    with other.store.transaction() as tx:
        configure_metering(tx, other, seed=43, since=NOW - timedelta(days=30))
    readings = [ask(device, head_end, get(*IMPORT_REGISTER))[1][0].value for device in (esme, twin, other)]
    assert readings[0] == readings[1] != readings[2]


def test_a_protected_read_decrypts_to_the_registers_read_in_clear(esme: Device, head_end: HeadEnd, pki: PkiStore) -> None:
    """ECS17b: the supplier asks the data-protection object for the import registers; the
    answer decrypts, with the supplier's key-agreement key, to what a clear read gives."""
    supplier = PARTIES[Role.SUPPLIER]
    definition = Data.structure(Data.integer(DataType.UINT16, 1), Data.octet_string(bytes(Obis("0.0.94.44.34.10"))),
                                Data.integer(DataType.INT8, 2), Data.integer(DataType.UINT16, 0),
                                Data.structure(Data.integer(DataType.ENUM, 0), Data.null()))  # fmt: skip
    options = Data.structure(Data.octet_string(bytes.fromhex("040000000000000001")), Data.octet_string(bytes(supplier)),
                             Data.octet_string(bytes(ESME)), Data.octet_string(b""),
                             Data.structure(Data.integer(DataType.ENUM, 2), Data.structure(Data.octet_string(b"\x02"),
                                                                                          Data.octet_string(b""))))  # fmt: skip
    parameter = Data.structure(Data.array(definition), Data.array(Data.structure(Data.integer(DataType.ENUM, 2), options)))
    action = RequestSpecification(RequestKind.ACTION, 30, Obis("0.0.43.2.8.255"), 1)
    (results, [answer], response) = ask(esme, head_end, action, data=(parameter,), message_code=0x0027)
    (_, [active_import, reactive_import], _) = ask(esme, head_end, get(*IMPORT_REGISTER), get(3, Obis("1.0.3.8.0.255")))
    assert results == [0]
    answered = answer.value[0].value[0].value[1].value
    assert (answered[1].value, answered[2].value) == (bytes(ESME), bytes(supplier))  # the device now originates
    frame = gbcs.decode(response)
    [block] = find_encrypted_blocks(frame)
    plaintext = decode_data(Reader(decrypt_block(frame, block, payload_key(frame, pki.keystore()))))
    [registers] = plaintext.value
    assert registers.value[0] == active_import and registers.value[2] == reactive_import
    assert registers.value[1] == Data.structure(Data.integer(DataType.INT8, 0), Data.integer(DataType.ENUM, 30))  # Wh


def test_top_ups_and_debts_move_the_balances_each_billing_snapshot_captures_as_they_were(
        esme: Device, head_end: HeadEnd, pki: PkiStore) -> None:  # fmt: skip
    token_credit, emergency, time_debt = Obis("0.0.19.10.0.255"), Obis("0.0.19.10.1.255"), Obis("0.0.19.20.1.255")
    add = RequestSpecification(RequestKind.ACTION, 112, token_credit, 1)
    assert ask(esme, head_end, add, add, data=(Data.integer(DataType.INT32, 1_250_000), Data.integer(DataType.INT32, 250_000)),
               message_code=ADJUST_BALANCE)[0] == [0, 0]  # £12.50, then £2.50 more  # fmt: skip
    assert ask(esme, head_end, RequestSpecification(RequestKind.ACTION, 112, emergency, 3), data=(Data.integer(DataType.INT8, 0),),
               message_code=EMERGENCY_CREDIT)[0] == [0]  # fmt: skip
    (_, [balance, preset], _) = ask(esme, head_end, get(112, token_credit), get(112, emergency, 9))
    assert balance.value == 1_500_000
    esme.clock.advance(timedelta(days=31))  # the 1st of January passes: a monthly snapshot
    assert ask(esme, head_end, RequestSpecification(RequestKind.ACTION, 113, time_debt, 4), data=(Data.integer(DataType.INT32, 3_000_000),),
               message_code=MANAGE_DEBT)[0] == [0]  # a £30 time-based debt, after the snapshot  # fmt: skip
    esme.clock.advance(timedelta(days=31))  # and the 1st of February
    (_, [snapshots], _) = ask(esme, head_end, between(7, Obis("0.0.98.1.1.255"), NOW, NOW + timedelta(days=62)))
    january, february = rows(snapshots)
    assert january[1:] == (1_500_000, preset.value, 0, 0, 0, 0)  # meter, emergency, accumulated, payment, time 1, time 2
    assert february[1:] == (1_500_000, preset.value, 3_000_000, 0, 3_000_000, 0)


def test_a_read_cannot_move_credit_and_amounts_move_only_by_method(esme: Device, head_end: HeadEnd, pki: PkiStore) -> None:
    token_credit = Obis("0.0.19.10.0.255")
    top_up = RequestSpecification(RequestKind.ACTION, 112, token_credit, 1)
    assert ask(esme, head_end, top_up, data=(Data.integer(DataType.INT32, 100_000_000),))[0] == [3]  # ECS52: read-write-denied
    set_amount = RequestSpecification(RequestKind.SET, 112, token_credit, 2)
    assert ask(esme, head_end, set_amount, data=(Data.integer(DataType.INT32, 100_000_000),),
               message_code=ADJUST_BALANCE)[0] == [3]  # fmt: skip
    undefined = RequestSpecification(RequestKind.ACTION, 112, token_credit, 9)
    assert ask(esme, head_end, undefined, data=(Data.integer(DataType.INT32, 1),), message_code=ADJUST_BALANCE)[0] == [4]
    assert ask(esme, head_end, get(112, token_credit))[1][0].value == 0


def test_a_set_keeps_the_attribute_type_and_a_cleared_log_reads_empty(esme: Device, head_end: HeadEnd, pki: PkiStore) -> None:
    low_credit = (111, Obis("0.0.19.0.0.255"), 16)
    set_wrong = RequestSpecification(RequestKind.SET, *low_credit)
    assert ask(esme, head_end, set_wrong, data=(Data.integer(DataType.UINT16, 5),),
               message_code=PREPAYMENT_CONFIGURATION)[0] == [12]  # type-unmatched  # fmt: skip
    event_log = (7, Obis("0.0.99.98.0.255"))
    with esme.store.transaction() as tx:
        tx.log_event(esme.eui, esme.now, "test", "an event with a GBCS code", code=0x8F35)
    assert len(rows(ask(esme, head_end, between(*event_log, NOW, NOW))[1][0])) == 1
    esme.clock.advance(timedelta(seconds=1))
    assert ask(esme, head_end, RequestSpecification(RequestKind.ACTION, *event_log, 1), data=(Data.integer(DataType.INT8, 0),),
               message_code=CLEAR_EVENT_LOG)[0] == [0]  # fmt: skip
    assert rows(ask(esme, head_end, between(*event_log, NOW, NOW + timedelta(days=1)))[1][0]) == []


def test_a_single_phase_meter_has_no_second_phase_and_a_polyphase_one_does(esme: Device, head_end: HeadEnd, pki: PkiStore) -> None:
    phase_2 = between(7, Obis("1.0.52.24.0.255"), NOW - timedelta(hours=1), NOW)
    assert ask(esme, head_end, phase_2)[0] == [4]  # object-undefined
    with esme.store.transaction() as tx:
        configure_metering(tx, esme, elements="polyphase", seed=42)
    results, [voltages], _ = ask(esme, head_end, phase_2)
    assert results == [0] and all(224 <= volts <= 236 for _, volts in rows(voltages))


PASSIVE_ACCOUNT, ACCOUNT = Obis("0.1.19.0.0.255"), Obis("0.0.19.0.0.255")
PREPAYMENT_MODE = Data.structure(Data.integer(DataType.ENUM, 2), Data.integer(DataType.ENUM, 2))  # prepayment, active


def change_mode(esme: Device, head_end: HeadEnd, activation: bytes) -> list[int]:
    """ECS02/03's shape: the passive account's mode, and when it becomes active."""
    specifications = (RequestSpecification(RequestKind.SET, 111, PASSIVE_ACCOUNT, 2), RequestSpecification(RequestKind.SET, 111, PASSIVE_ACCOUNT, 13))
    return ask(esme, head_end, *specifications, data=(PREPAYMENT_MODE, Data.octet_string(activation)), message_code=0x001B)[0]


def test_an_immediate_activation_applies_at_once_without_an_alert(esme: Device, head_end: HeadEnd) -> None:
    alerts: list[bytes] = []
    esme.alert_sink = alerts.append
    assert change_mode(esme, head_end, bytes(9) + b"\x80\x00\xff") == [0, 0]  # RTDS's IMMEDIATE date-time
    assert ask(esme, head_end, get(111, ACCOUNT))[1][0] == PREPAYMENT_MODE
    assert alerts == []


def test_a_future_activation_waits_for_its_time_then_alerts_and_takes_a_billing_snapshot(esme: Device, head_end: HeadEnd) -> None:
    from gbcs.types import DlmsDateTime

    alerts: list[bytes] = []
    esme.alert_sink = alerts.append
    when = NOW + timedelta(days=2)
    assert change_mode(esme, head_end, DlmsDateTime.from_datetime(when).encode()) == [0, 0]
    credit_mode = ask(esme, head_end, get(111, ACCOUNT))[1][0]
    assert credit_mode != PREPAYMENT_MODE
    esme.clock.advance(timedelta(days=1))
    assert ask(esme, head_end, get(111, ACCOUNT))[1][0] == credit_mode and alerts == []
    esme.clock.advance(timedelta(days=1))
    assert ask(esme, head_end, get(111, ACCOUNT))[1][0] == PREPAYMENT_MODE
    [alert] = alerts
    frame = gbcs.decode(alert)
    code, moment, detail = (member.value for member in decode_apdu(frame.content).value.value)
    assert (frame.other_information.message_code, code, DlmsDateTime.decode(moment).to_datetime()) == (0x00CC, 0x8F66, when)
    assert detail[:2] == (0x001B).to_bytes(2, "big") and detail[10:] == (111).to_bytes(2, "big") + bytes(PASSIVE_ACCOUNT) + b"\x0d"
    (_, [captures], _) = ask(esme, head_end, between(7, Obis("0.0.98.1.2.255"), NOW, NOW + timedelta(days=3)))
    assert [row[0] for row in rows(captures)] == [seconds_since_2000(when)]  # billing data log on change of mode


def test_the_voltage_period_is_settable_and_bounds_what_a_read_returns(esme: Device, head_end: HeadEnd) -> None:
    voltage, half_hours = Obis("1.0.32.24.0.255"), Obis("0.0.99.1.0.255")
    one_second = Data.integer(DataType.UINT32, 1)
    configure = {"message_code": 0x0045, "role": Role.NETWORK_OPERATOR}  # ECS29a, set voltage configuration
    assert ask(esme, head_end, RequestSpecification(RequestKind.SET, 7, half_hours, 4), data=(one_second,), **configure)[0] == [4]
    assert ask(esme, head_end, RequestSpecification(RequestKind.SET, 7, voltage, 4), data=(one_second,), **configure)[0] == [0]
    (results, [profile], _) = ask(esme, head_end, between(7, voltage, NOW - timedelta(days=90), NOW))
    assert results == [0] and len(rows(profile)) == 20_000  # the log's capacity, the latest entries
    assert rows(profile)[-1][0] == seconds_since_2000(NOW)


def generic_alert_codes(alerts: list[bytes]) -> list[int]:
    codes = []
    for alert in alerts:
        frame = gbcs.decode(alert)
        assert frame.other_information.message_code == 0x1000  # the generic critical alert, to the supplier
        assert frame.recipient == PARTIES[Role.SUPPLIER]
        codes.append(decode_apdu(frame.content).value.value[0].value)
    return codes


def test_in_prepayment_the_supply_follows_the_credit(esme: Device, head_end: HeadEnd) -> None:
    token_credit, load_switch = Obis("0.0.19.10.0.255"), Obis("0.0.96.3.10.255")
    adjust = RequestSpecification(RequestKind.ACTION, 112, token_credit, 1)
    assert change_mode(esme, head_end, bytes(9) + b"\x80\x00\xff") == [0, 0]  # prepayment, now
    assert ask(esme, head_end, adjust, data=(Data.integer(DataType.INT32, 300_000),), message_code=ADJUST_BALANCE)[0] == [0]
    before = len(esme.store.read().outbox(esme.eui))
    assert ask(esme, head_end, adjust, data=(Data.integer(DataType.INT32, -500_000),), message_code=ADJUST_BALANCE)[0] == [0]
    (_, [output, state], _) = ask(esme, head_end, get(70, load_switch), get(70, load_switch, 3))
    assert (output.value, state.value) == (False, 0)  # below the £0 disablement threshold: off, disconnected
    assert ask(esme, head_end, adjust, data=(Data.integer(DataType.INT32, 1_000_000),), message_code=ADJUST_BALANCE)[0] == [0]
    assert ask(esme, head_end, get(70, load_switch, 3))[1][0].value == 2  # armed: ready for the consumer to reconnect
    alerts = [frame for _, _, kind, frame in esme.store.read().outbox(esme.eui)[before:] if kind == "alert"]
    assert generic_alert_codes(alerts) == [0x8F0F, 0x8F32]  # credit below disablement threshold; supply armed


def test_a_credit_above_the_maximum_meter_balance_is_refused_with_an_alert(esme: Device, head_end: HeadEnd) -> None:
    adjust = RequestSpecification(RequestKind.ACTION, 112, Obis("0.0.19.10.0.255"), 1)
    before = len(esme.store.read().outbox(esme.eui))
    assert ask(esme, head_end, adjust, data=(Data.integer(DataType.INT32, 10_000_001),), message_code=ADJUST_BALANCE)[0] == [250]
    alerts = [frame for _, _, kind, frame in esme.store.read().outbox(esme.eui)[before:] if kind == "alert"]
    assert generic_alert_codes(alerts) == [0x8F47]
    assert ask(esme, head_end, get(112, Obis("0.0.19.10.0.255")))[1][0].value == 0


def test_without_supply_nothing_is_consumed(esme: Device, head_end: HeadEnd) -> None:
    """The load switch opened (ECS43) then closed (ECS42), and a mains outage: the registers
    stand still and the half-hourly profile reads zero for those half-hours."""
    from emulator.devices.esme import mains_lost, mains_restored

    scripts = Obis("0.0.10.0.106.255")
    run = lambda selector, code: ask(esme, head_end, RequestSpecification(RequestKind.ACTION, 9, scripts, 1),  # noqa: E731
                                     data=(Data.integer(DataType.UINT16, selector),), message_code=code)[0]  # fmt: skip
    register = lambda: ask(esme, head_end, get(*IMPORT_REGISTER))[1][0].value  # noqa: E731
    assert run(52, 0x0050) == [0]  # open
    opened = register()
    esme.clock.advance(timedelta(hours=6))
    assert register() == opened
    assert run(51, 0x004F) == [0]  # close
    esme.clock.advance(timedelta(hours=1))
    assert register() > opened
    with esme.store.transaction() as tx:
        mains_lost(esme, tx)
    lost = register()
    esme.clock.advance(timedelta(hours=2))
    assert register() == lost
    with esme.store.transaction() as tx:
        mains_restored(esme, tx)
    esme.clock.advance(timedelta(hours=1))
    assert register() > lost
    (_, [profile], _) = ask(esme, head_end, between(*HALF_HOUR_PROFILE, NOW + timedelta(minutes=30), esme.now))
    by_hour = [wh for _, wh in rows(profile)]
    assert by_hour[:12] == [0] * 12 and by_hour[14:18] == [0] * 4  # the switch open six hours; the outage two
    assert all(wh > 0 for wh in by_hour[12:14] + by_hour[18:])
    assert register() - opened == sum(by_hour)


def test_in_prepayment_the_balance_pays_for_energy_and_standing_charge_until_the_supply_stops(
        esme: Device, head_end: HeadEnd) -> None:  # fmt: skip
    """£0.25 a kWh and £0.05 a day; a £5 top-up. After a day the balance is £5 less that day's
    units and standing charge; when it runs out the switch opens at that moment (8F0F), the
    register stands still, and only the standing charge goes on."""
    def charge(scalers: tuple[int, int], commodity: Data, price: int, index: bytes) -> Data:
        return Data.structure(Data.structure(*(Data.integer(DataType.INT8, scale) for scale in scalers)), commodity,
                              Data.array(Data.structure(Data.octet_string(index), Data.integer(DataType.INT16, price))))  # fmt: skip

    energy = charge((3, -5), Data.structure(Data.integer(DataType.UINT16, 3), Data.octet_string(bytes(Obis("1.0.1.8.0.255"))),
                                            Data.integer(DataType.INT8, 2)), 25_000, b"\x01")  # fmt: skip
    standing = charge((0, -5), Data.structure(Data.integer(DataType.UINT16, 0), Data.octet_string(bytes(6)),
                                              Data.integer(DataType.INT8, 0)), 5_000, b"")  # fmt: skip
    prices = (RequestSpecification(RequestKind.SET, 113, Obis("0.0.19.20.0.255"), 5),
              RequestSpecification(RequestKind.SET, 113, Obis("0.0.19.20.4.255"), 5))  # fmt: skip
    assert ask(esme, head_end, *prices, data=(energy, standing), message_code=0x0019)[0] == [0, 0]  # ECS01a
    assert change_mode(esme, head_end, bytes(9) + b"\x80\x00\xff") == [0, 0]  # prepayment, now
    token_credit = Obis("0.0.19.10.0.255")
    top_up = RequestSpecification(RequestKind.ACTION, 112, token_credit, 1)
    assert ask(esme, head_end, top_up, data=(Data.integer(DataType.INT32, 500_000),), message_code=ADJUST_BALANCE)[0] == [0]
    start = ask(esme, head_end, get(*IMPORT_REGISTER))[1][0].value
    esme.clock.advance(timedelta(days=1))
    (_, [used, balance], _) = ask(esme, head_end, get(*IMPORT_REGISTER), get(112, token_credit))
    assert balance.value == 500_000 - (used.value - start) * 25_000 // 1000 - 5_000
    before = len(esme.store.read().outbox(esme.eui))
    esme.clock.advance(timedelta(days=30))
    alerts = [frame for _, _, kind, frame in esme.store.read().outbox(esme.eui)[before:] if kind == "alert"]
    assert generic_alert_codes(alerts) == [0x8F0F]
    (_, [off_at, balance, output], _) = ask(esme, head_end, get(*IMPORT_REGISTER), get(112, token_credit),
                                            get(70, Obis("0.0.96.3.10.255")))  # fmt: skip
    # stopped within a half-hour's units of empty; the standing charge goes on while off (at most 30 days of it)
    assert output.value is False and -(30 * 5_000 + 30_000) < balance.value < 0
    esme.clock.advance(timedelta(days=1))
    assert ask(esme, head_end, get(*IMPORT_REGISTER))[1][0].value == off_at.value


def test_an_interruption_inside_a_half_hour_counts_to_the_second_and_the_register_never_falls(
        esme: Device, head_end: HeadEnd) -> None:  # fmt: skip
    scripts = Obis("0.0.10.0.106.255")
    run = lambda selector, code: ask(esme, head_end, RequestSpecification(RequestKind.ACTION, 9, scripts, 1),  # noqa: E731
                                     data=(Data.integer(DataType.UINT16, selector),), message_code=code)[0]  # fmt: skip
    register = lambda: ask(esme, head_end, get(*IMPORT_REGISTER))[1][0].value  # noqa: E731
    start = register()  # 12:00
    esme.clock.advance(timedelta(minutes=10))
    at_ten = register()
    assert run(52, 0x0050) == [0]  # opened at 12:10
    assert register() == at_ten  # not a watt-hour lost
    esme.clock.advance(timedelta(minutes=10))
    assert register() == at_ten
    assert run(51, 0x004F) == [0]  # closed at 12:20
    esme.clock.advance(timedelta(minutes=10))
    (_, [profile], _) = ask(esme, head_end, between(*HALF_HOUR_PROFILE, NOW + timedelta(minutes=30), NOW + timedelta(minutes=30)))
    [(_, supplied)] = rows(profile)  # 12:00-12:30: a third of it without supply
    assert supplied == register() - start
    assert abs(supplied - 2 * (at_ten - start)) <= 1  # twenty minutes of a steady half-hour


def test_money_and_supply_take_a_critical_command(esme: Device, head_end: HeadEnd) -> None:
    """ECS16 (write supplier contact details, MAC only) may not top up, open the switch or
    change the payment mode; ECS04a (signed) may top up."""
    top_up = RequestSpecification(RequestKind.ACTION, 112, Obis("0.0.19.10.0.255"), 1)
    open_switch = RequestSpecification(RequestKind.ACTION, 9, Obis("0.0.10.0.106.255"), 1)
    mode = RequestSpecification(RequestKind.SET, 111, PASSIVE_ACCOUNT, 13)
    contact_details = 0x0025
    assert ask(esme, head_end, top_up, data=(Data.integer(DataType.INT32, 9_000_000),), message_code=contact_details)[0] == [3]
    assert ask(esme, head_end, open_switch, data=(Data.integer(DataType.UINT16, 52),), message_code=contact_details)[0] == [3]
    assert ask(esme, head_end, mode, data=(Data.octet_string(bytes(12)),), message_code=contact_details)[0] == [3]
    assert ask(esme, head_end, top_up, data=(Data.integer(DataType.INT32, 100),), message_code=ADJUST_BALANCE)[0] == [0]


def test_a_set_must_keep_the_whole_type(esme: Device, head_end: HeadEnd) -> None:
    """The account mode is a structure of two enums: an empty structure is refused, and
    prepayment goes on working."""
    empty = ask(esme, head_end, RequestSpecification(RequestKind.SET, 111, PASSIVE_ACCOUNT, 2), data=(Data.structure(),),
                message_code=0x001B)  # fmt: skip
    assert empty[0] == [12]  # type-unmatched
    assert change_mode(esme, head_end, bytes(9) + b"\x80\x00\xff") == [0, 0]
    top_up = RequestSpecification(RequestKind.ACTION, 112, Obis("0.0.19.10.0.255"), 1)
    assert ask(esme, head_end, top_up, data=(Data.integer(DataType.INT32, 100),), message_code=ADJUST_BALANCE)[0] == [0]


def test_credit_arms_only_a_switch_that_lack_of_credit_opened_and_the_consumer_closes_it(
        esme: Device, head_end: HeadEnd, pki: PkiStore, tmp_path: Path) -> None:  # fmt: skip
    from emulator.devices.esme_supply import consumer_closes

    load_switch, scripts = Obis("0.0.96.3.10.255"), Obis("0.0.10.0.106.255")
    adjust = RequestSpecification(RequestKind.ACTION, 112, Obis("0.0.19.10.0.255"), 1)
    assert change_mode(esme, head_end, bytes(9) + b"\x80\x00\xff") == [0, 0]
    assert ask(esme, head_end, adjust, data=(Data.integer(DataType.INT32, -100),), message_code=ADJUST_BALANCE)[0] == [0]
    assert ask(esme, head_end, get(70, load_switch, 3))[1][0].value == 0  # off: no credit
    assert ask(esme, head_end, adjust, data=(Data.integer(DataType.INT32, 1_000),), message_code=ADJUST_BALANCE)[0] == [0]
    assert ask(esme, head_end, get(70, load_switch, 3))[1][0].value == 2  # armed
    with esme.store.transaction() as tx:
        assert consumer_closes(esme, tx)
    assert [value.value for value in ask(esme, head_end, get(70, load_switch), get(70, load_switch, 3))[1]] == [True, 1]
    open_switch = RequestSpecification(RequestKind.ACTION, 9, scripts, 1)
    assert ask(esme, head_end, open_switch, data=(Data.integer(DataType.UINT16, 52),), message_code=0x0050)[0] == [0]
    assert ask(esme, head_end, adjust, data=(Data.integer(DataType.INT32, -2_000),), message_code=ADJUST_BALANCE)[0] == [0]
    assert ask(esme, head_end, adjust, data=(Data.integer(DataType.INT32, 5_000),), message_code=ADJUST_BALANCE)[0] == [0]
    assert ask(esme, head_end, get(70, load_switch, 3))[1][0].value == 0  # the supplier opened it: credit does not arm it
    with esme.store.transaction() as tx:
        assert not consumer_closes(esme, tx)
