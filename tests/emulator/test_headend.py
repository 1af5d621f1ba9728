"""The head-end's command builder: protection from the catalogue, counters that only grow."""

from __future__ import annotations

import pytest

import gbcs
from emulator.headend import HeadEnd
from gbcs.security import Check
from gbcs.types import EUI64, DeviceType, Role
from tests.emulator.helpers import NOW, make_pki

ESME = EUI64("00DB1234567890A0")
KEY_USAGE_DS = bytes.fromhex("3004030207 80".replace(" ", ""))  # CS02c: keyUsage digitalSignature


@pytest.fixture(scope="module")
def head_end(tmp_path_factory: pytest.TempPathFactory) -> HeadEnd:
    return HeadEnd(make_pki(tmp_path_factory.mktemp("pki"), {ESME: DeviceType.ESME}).keystore(), first_counter=100)


def test_critical_commands_are_signed_and_maced(head_end: HeadEnd) -> None:
    frame, verdict = head_end.check(head_end.command(0x000A, ESME, KEY_USAGE_DS, role=Role.SUPPLIER), at=NOW)
    assert (frame.originator, frame.originator_counter) == (head_end.party(Role.SUPPLIER), 100)
    assert (verdict.signature, verdict.mac) == (Check.VALID, Check.VALID)


def test_acb_commands_are_maced_only_and_name_the_party_they_act_for(head_end: HeadEnd) -> None:
    frame, verdict = head_end.check(head_end.command(0x0013, ESME, b"\x05\x00", role=Role.ACCESS_CONTROL_BROKER,
                                                     for_party=Role.SUPPLIER))  # fmt: skip
    assert (verdict.signature, verdict.mac) == (Check.ABSENT, Check.VALID)
    assert frame.other_information.supplementary_remote_party_id == head_end.party(Role.SUPPLIER)


def test_counters_grow_per_party(head_end: HeadEnd) -> None:
    counters = [gbcs.decode(head_end.command(0x0013, ESME, b"\x05\x00", role=Role.NETWORK_OPERATOR)).originator_counter
                for _ in range(3)]  # fmt: skip
    assert counters == [100, 101, 102]


def test_a_role_without_a_party_is_a_clear_error(head_end: HeadEnd) -> None:
    with pytest.raises(LookupError, match="no ISSUING_AUTHORITY party"):
        head_end.party(Role.ISSUING_AUTHORITY)


def test_a_chosen_counter_must_not_go_back(head_end: HeadEnd) -> None:
    party = head_end.party(Role.WAN_PROVIDER)
    chosen = head_end.next_counter(party) + 10
    assert gbcs.decode(head_end.command(0x0013, ESME, b"\x05\x00", role=Role.WAN_PROVIDER, counter=chosen)).originator_counter == chosen
    assert head_end.next_counter(party) == chosen + 1
    with pytest.raises(ValueError, match="already used"):
        head_end.command(0x0013, ESME, b"\x05\x00", role=Role.WAN_PROVIDER, counter=chosen)
