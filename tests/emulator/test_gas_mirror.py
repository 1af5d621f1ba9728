"""The GPF answers a read of the GSME's balance (GCS60a) from what the GSME last reported: a
change of credit on the GSME shows in a GPF read only after the sleepy GSME next wakes."""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

import gbcs
from emulator.clock import VirtualClock
from emulator.devices.gsme_attributes import PREPAYMENT_REGISTER, SUPPLY_REGISTER
from emulator.pki_store import DEFAULT_PARTIES, PkiStore
from emulator.premises import Premises, PremisesConfig
from emulator.store import Store
from gbcs.gbz import decode_gbz
from gbcs.types import EUI64, DeviceType, Role
from tests.conftest import RTDS, read_corpus_file

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=timezone.utc)
SUPPLIER = next(party.eui for party in DEFAULT_PARTIES if party.role is Role.SUPPLIER)
GCS60A = RTDS / "messages/4.18_GCS60a/GCS60a_4.18_SUCCESS_RELIABLE_GPF_COMMAND_GBCS.HEX"  # bill to date, credit
CONFIG = PremisesConfig.standard(1)
GPF, GSME = (CONFIG.of_type(kind)[0] for kind in (DeviceType.GPF, DeviceType.GSME))


@pytest.fixture
def pki(tmp_path: Path) -> PkiStore:
    return PkiStore.create(tmp_path / "pki", now=NOW - timedelta(days=1))


@pytest.fixture
def premises(pki: PkiStore, tmp_path: Path) -> Premises:
    premises = Premises.create(Store(tmp_path / "premises.sqlite"), VirtualClock(NOW), pki, CONFIG)
    premises.commission()
    premises.clock.advance(timedelta(seconds=1))
    return premises


def credit_read_through_gpf(premises: Premises, pki: PkiStore, counter: int) -> int:
    """RTDS's GCS60a, from our supplier to our GPF: the Credit Remaining it answers."""
    frame = gbcs.decode(read_corpus_file(GCS60A))
    frame = dataclasses.replace(frame, originator=SUPPLIER, recipient=EUI64(GPF), originator_counter=counter, mac=None)
    outcome = premises.send(gbcs.encode(gbcs.add_mac(frame, pki.keystore())))
    assert outcome is not None and outcome.accepted, outcome
    answer = gbcs.decode(outcome.response)
    [_, prepayment] = decode_gbz(answer.content, answer.cra, answer.other_information.message_code).components
    [record] = prepayment.command.value
    return int(record.value)


def test_a_credit_change_on_the_gsme_shows_at_the_gpf_after_the_gsme_reports(premises: Premises, pki: PkiStore) -> None:
    premises.clock.advance(CONFIG.gsme_wake_interval)  # a first report: the factory balance
    assert credit_read_through_gpf(premises, pki, 5000) == 0
    with premises.store.transaction() as tx:  # the GSME's balance changes (a top-up at the meter)
        tx.set_register(EUI64(GSME), PREPAYMENT_REGISTER, {"credit_remaining": 1_234_500})
        tx.set_register(EUI64(GSME), SUPPLY_REGISTER, {"status": 1})
    assert credit_read_through_gpf(premises, pki, 5001) == 0  # the GSME sleeps: the GPF does not know yet
    premises.clock.advance(CONFIG.gsme_wake_interval)
    assert credit_read_through_gpf(premises, pki, 5002) == 1_234_500
    assert premises.store.read().register(EUI64(GPF), "gpf.mirror.attributes")["0702.0014"] == 1  # the valve too
