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


def counter_of(command: bytes) -> int:
    return gbcs.decode(command).originator_counter


def test_head_ends_sharing_a_counters_file_never_repeat_a_counter(head_end: HeadEnd, tmp_path) -> None:  # noqa: ANN001
    path = tmp_path / "head-end.json"
    first, second = (HeadEnd(head_end.keystore, counters=path) for _ in range(2))
    taken = [counter_of(first.command(0x0013, ESME, b"\x05\x00", role=Role.NETWORK_OPERATOR)),
             counter_of(second.command(0x0013, ESME, b"\x05\x00", role=Role.NETWORK_OPERATOR))]  # fmt: skip
    operator = first.party(Role.NETWORK_OPERATOR)
    # the first head-end's idea of the next counter follows the file, which the second moved on
    taken.append(counter_of(first.command(0x0013, ESME, b"\x05\x00", role=Role.NETWORK_OPERATOR,
                                          counter=first.next_counter(operator))))  # fmt: skip
    assert taken == [1, 2, 3]
    assert HeadEnd(head_end.keystore, counters=path).next_counter(operator) == 4  # a later run goes on
    assert not path.with_name(path.name + ".new").exists()  # written whole, then renamed into place


def test_a_counters_file_respects_the_first_counter(head_end: HeadEnd, tmp_path) -> None:  # noqa: ANN001
    fresh = HeadEnd(head_end.keystore, first_counter=1000, counters=tmp_path / "c.json")
    assert counter_of(fresh.command(0x0013, ESME, b"\x05\x00", role=Role.SUPPLIER)) == 1000


@pytest.mark.parametrize("content", ["", "{not json", "[1, 2]", '{"02534D4554450002": "7"}'])
def test_an_unreadable_counters_file_is_refused_not_reset(head_end: HeadEnd, tmp_path, content: str) -> None:  # noqa: ANN001
    from emulator.errors import StoreError

    path = tmp_path / "head-end.json"
    path.write_text(content)
    with pytest.raises(StoreError, match="counters"):
        HeadEnd(head_end.keystore, counters=path).command(0x0013, ESME, b"\x05\x00", role=Role.SUPPLIER)
    assert path.read_text() == content  # left as it was, for a person to look at
