"""The command builders drive our firmware: each built command, sent as the head-end sends it
to a commissioned premises in virtual time, is answered SUCCESS by the emulated meter, and a
set shows in the reads that follow."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

import gbcs
from emulator.clock import VirtualClock
from emulator.devices.esme_prepayment import meter_balance
from emulator.headend import HeadEnd
from emulator.pki_store import PkiStore
from emulator.premises import Premises, PremisesConfig
from emulator.store import Store
from gbcs import dlms, gbz
from gbcs.commands import BUILDERS, builder
from gbcs.payload import Payload, decode_payload, succeeded
from gbcs.security import Check
from gbcs.types import Cra, DeviceType

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=timezone.utc)
CONFIG = PremisesConfig.standard(1)
ESME, GSME = (CONFIG.of_type(kind)[0] for kind in (DeviceType.ESME, DeviceType.GSME))
RECIPIENTS = {DeviceType.ESME: ESME, DeviceType.GSME: GSME}
YESTERDAY = {"start": "2026-11-30T00:00:00Z", "end": "2026-11-30T03:00:00Z"}  # 7 half-hours
PARAMS = {
    "ECS01a": {"tou_prices": "0.2121", "standing_charge": "0.3"},
    "ECS04a": {"amount": "12"},
    "ECS22b": YESTERDAY,
    "GCS17": YESTERDAY,
}


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> PkiStore:
    return PkiStore.create(tmp_path_factory.mktemp("pki") / "store", now=NOW - timedelta(days=1))


@pytest.fixture
def premises(pki: PkiStore, tmp_path: Path) -> Premises:
    premises = Premises.create(Store(tmp_path / "premises.sqlite"), VirtualClock(NOW), pki, CONFIG)
    premises.commission()
    premises.clock.advance(timedelta(seconds=1))  # tunnels open
    return premises


@pytest.fixture
def head_end(pki: PkiStore) -> HeadEnd:
    return HeadEnd(pki.keystore())


def send(premises: Premises, head_end: HeadEnd, name: str, params=None) -> tuple[gbcs.Frame, Payload]:
    """Build ``name``'s command, send it as the head-end does, let the meter answer (the
    sleepy GSME when it next wakes), and return the checked response and its payload,
    decrypted for the head-end."""
    command = builder(name)
    recipient, party = RECIPIENTS[command.target], head_end.party(command.role)
    counter = head_end.next_counter(party)
    content = command.content(params if params is not None else PARAMS.get(name, {}), counter=counter,
                              originator=party, recipient=recipient)  # fmt: skip
    premises.send(head_end.command(command.message_code, recipient, content, role=command.role, counter=counter))
    wait = CONFIG.gsme_wake_interval if command.target is DeviceType.GSME else timedelta(seconds=1)
    premises.clock.advance(wait + timedelta(seconds=1))
    answers = []
    for outbox_id, data in premises.wan_outbox():
        frame = gbcs.decode(data)
        premises.mark_sent(outbox_id)
        if frame.cra is Cra.RESPONSE and frame.originator_counter == counter:
            answers.append(frame)
    [response] = answers
    assert (response.originator, response.recipient, response.message_code) == (recipient, party, command.message_code)
    verdict = gbcs.verify(response, head_end.keystore, at=premises.clock.now())
    assert Check.INVALID not in (verdict.signature, verdict.mac) and verdict.ok
    return response, decode_payload(response, head_end.keystore)


@pytest.mark.parametrize("name", sorted(BUILDERS))
def test_the_meter_answers_every_built_command_with_success(premises: Premises, head_end: HeadEnd, name: str) -> None:
    _, payload = send(premises, head_end, name)
    assert payload.complete  # encrypted answers decrypt with the head-end's keys
    if isinstance(payload.value, dlms.AccessResponse):
        assert payload.value.results and payload.value.succeeded, payload.to_json()
    else:
        commands = [component.command for component in payload.value.components]
        assert all(command.name and not isinstance(command.value, gbz.DefaultResponse) for command in commands)
        assert succeeded(payload) in (True, None), payload.to_json()  # None: a log holds no outcome


def test_a_tariff_set_now_is_what_the_tariff_read_returns(premises: Premises, head_end: HeadEnd) -> None:
    send(premises, head_end, "ECS01a", {"tou_prices": "0.2121,0.1", "standing_charge": "0.3", "seasons": "all 2026-01-01 1",
                                        "day_profiles": "1: 00:00=2 07:00=1", "special_days": "*-12-25 1"})  # fmt: skip
    _, payload = send(premises, head_end, "ECS24")
    read = payload.value.data  # in ECS24's order (gbcs.commands._TARIFF_DATA)
    assert read[2].value[0].value[0].value == b"all"
    assert [switch.value[2].value for switch in read[4].value[0].value[1].value] == [2, 1]
    assert read[5].value[0].value[1].value == bytes.fromhex("FFFF0C19FF")
    assert read[15].value[2].value[0].value[1].value == 30000  # standing charge, 10^-5 GBP a day
    assert [entry.value[1].value for entry in read[16].value[2].value[:3]] == [21210, 10000, 0]  # per kWh


def test_block_thresholds_set_now_are_what_the_tariff_read_returns(premises: Premises, head_end: HeadEnd) -> None:
    send(premises, head_end, "ECS01a", {"block_prices": "0.1/0.2", "block_thresholds": "5000",
                                        "day_profiles": "1: 00:00=101"})  # fmt: skip
    _, payload = send(premises, head_end, "ECS24")
    assert [value.value for value in payload.value.data[6].value] == [5000, 0xFFFFFFFF]


def test_a_future_dated_tariff_waits_for_its_time(premises: Premises, head_end: HeadEnd) -> None:
    send(premises, head_end, "ECS01a", {"tou_prices": "0.2121", "activation": "2026-12-01T10:00:00Z"})
    _, before = send(premises, head_end, "ECS24")
    premises.clock.advance(timedelta(hours=1))
    _, after = send(premises, head_end, "ECS24")
    first_price = [payload.value.data[16].value[2].value[0].value[1].value for payload in (before, after)]
    assert first_price == [0, 21210]


def test_a_balance_adjustment_moves_the_meter_balance(premises: Premises, head_end: HeadEnd) -> None:
    def balance() -> int:
        with premises.store.transaction() as tx:
            return meter_balance(premises.devices[ESME], tx)

    start = balance()
    send(premises, head_end, "ECS04a", {"amount": "12.5"})
    send(premises, head_end, "ECS04a", {"amount": "-2.25"})
    assert balance() - start == 1_025_000  # 10^-5 GBP


def test_profile_reads_return_each_half_hour_of_the_range(premises: Premises, head_end: HeadEnd) -> None:
    _, electricity = send(premises, head_end, "ECS22b")
    [profile] = electricity.decrypted[0].value
    rows = profile.value[1]  # a compact array: (capture time, active import) per half-hour
    assert [row.value[0].value for row in rows] == [849312000 + 1800 * n for n in range(7)]  # from 2026-11-30T00:00Z
    _, gas = send(premises, head_end, "GCS17")
    [component] = gas.value.components
    samples = component.command.value
    assert (int(samples.sample_start_time), samples.number_of_samples) == (849312000, 7)
