"""Anti-replay as a state machine: hypothesis sends fresh, repeated, old and out-of-order
counters to an emulated hub; no counter is ever accepted twice, nor one at or below the
last accepted, and every refusal is logged."""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

import gbcs
from emulator.clock import VirtualClock
from emulator.firmware.command import process_command
from emulator.firmware.device import Device, Identity
from emulator.pki_store import DEFAULT_PARTIES, PkiStore
from emulator.store import Store
from gbcs.types import EUI64, DeviceType, Role
from tests.conftest import RTDS

CHF = EUI64("00DB1234567890A2")
NOW = datetime(2026, 12, 1, tzinfo=timezone.utc)
ACB = next(party.eui for party in DEFAULT_PARTIES if party.role is Role.ACCESS_CONTROL_BROKER)
TEMPLATE = gbcs.decode(bytes.fromhex((RTDS / "messages/6.2.4_ECS26n/ECS26n_6.2.4_SUCCESS_COMMAND_GBCS.HEX").read_text()))


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> PkiStore:
    store = PkiStore.create(tmp_path_factory.mktemp("pki") / "store", now=NOW - timedelta(days=1))
    store.issue_device(CHF, DeviceType.CHF)
    return store


def test_no_counter_is_ever_accepted_twice(pki: PkiStore, tmp_path: Path) -> None:
    keystore = pki.keystore()
    frames: dict[int, bytes] = {}

    def command(counter: int) -> bytes:
        if counter not in frames:
            frame = dataclasses.replace(TEMPLATE, originator=ACB, recipient=CHF, originator_counter=counter, mac=None)
            frames[counter] = gbcs.encode(gbcs.add_mac(frame, keystore, broker=ACB))
        return frames[counter]

    class AntiReplay(RuleBasedStateMachine):
        @initialize()
        def hub(self) -> None:
            from emulator.firmware.device import Credentials

            self.device = Device.create(Store(":memory:"), VirtualClock(NOW), Identity(CHF, DeviceType.CHF),
                                        Credentials.from_keystore(keystore, CHF), pki.trust_anchor_cells())  # fmt: skip
            self.accepted: list[int] = []
            self.refused = 0

        def _send(self, counter: int) -> None:
            outcome = process_command(self.device, command(counter))
            expected = not self.accepted or counter > max(self.accepted)
            assert outcome.accepted == expected, (counter, self.accepted, outcome.rejection)
            if outcome.accepted:
                self.accepted.append(counter)
            else:
                self.refused += 1

        @rule(step=st.integers(1, 1000))
        def fresh(self, step: int) -> None:
            self._send(min((max(self.accepted) if self.accepted else 0) + step, 2**64 - 1))  # counters are 64-bit

        @rule(data=st.data())
        def repeated_or_old(self, data: st.DataObject) -> None:
            if self.accepted:
                self._send(data.draw(st.integers(0, max(self.accepted))))

        @rule(counter=st.integers(0, 2**64 - 1))
        def anything(self, counter: int) -> None:
            self._send(counter)

        @rule(minutes=st.integers(0, 600))
        def time_passes(self, minutes: int) -> None:
            self.device.clock.advance(timedelta(minutes=minutes))

        @invariant()
        def never_twice_and_every_refusal_logged(self) -> None:
            if not hasattr(self, "device"):
                return
            assert len(set(self.accepted)) == len(self.accepted) and self.accepted == sorted(self.accepted)
            read = self.device.store.read()
            assert len(read.security_log(CHF)) == self.refused
            assert read.last_counter(CHF, ACB) == (max(self.accepted) if self.accepted else None)

    AntiReplay.TestCase.settings = settings(max_examples=60, stateful_step_count=25, deadline=None)
    AntiReplay.TestCase().runTest()
