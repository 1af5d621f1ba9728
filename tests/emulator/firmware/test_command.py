"""The command path of an emulated Communications Hub Function, driven with real keys from a
generated test PKI: every rejection leaves state unchanged and writes a security-log entry;
an accepted command commits its counter and effects with a MACed response; a restart, even
a killed process, loses nothing."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
import textwrap
from datetime import datetime, timezone
from pathlib import Path

import pytest

import gbcs
from emulator.clock import VirtualClock
from emulator.devices.chf import device_log
from emulator.errors import (
    BadMac,
    BadSignature,
    Malformed,
    Replayed,
    UntrustedOriginator,
    WrongRecipient,
    WrongRole,
)
from emulator.firmware.command import process_command
from emulator.firmware.device import Credentials, Device, Identity, cells_from_keystore
from emulator.pki_store import PkiStore
from emulator.store import Store
from gbcs.dlms import AccessResponse, decode_apdu
from gbcs.keystore import InMemoryKeyStore, KeyUsage
from gbcs.security import Check
from gbcs.types import EUI64, Cra, DeviceType, Role
from tests.conftest import RTDS
from tests.emulator.helpers import NOW, PARTIES, make_pki

CHF = EUI64("00DB1234567890A2")
ADDED = EUI64("00DB1234567890A0")  # the ESME the RTDS CCS01 payload adds to the device log
CCS01 = RTDS / "messages/8.11_CCS01/CCS01_8.11_SUCCESS_COMMAND_GBCS.HEX"
CS02B = RTDS / "messages/NA_CS02bWPByWP/CS02bWPByWP_NA_SUCCESS_COMMAND_GBCS.HEX"


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> PkiStore:
    return make_pki(tmp_path_factory.mktemp("pki"), {CHF: DeviceType.CHF, ADDED: DeviceType.ESME})


@pytest.fixture(scope="module")
def head_end(pki: PkiStore) -> InMemoryKeyStore:
    """The remote parties' side: their private keys and the device's certificates."""
    return pki.keystore()


def make_chf(pki: PkiStore, store: Store, clock: VirtualClock | None = None) -> Device:
    keystore = pki.keystore()
    return Device.create(store, clock or VirtualClock(NOW), Identity(CHF, DeviceType.CHF),
                         Credentials.from_keystore(keystore, CHF), cells_from_keystore(keystore),
                         lifecycle="commissioned")  # fmt: skip


@pytest.fixture
def chf(pki: PkiStore) -> Device:
    return make_chf(pki, Store(":memory:"))


def ccs01(head_end: InMemoryKeyStore, counter: int, *, originator: bytes | None = None,
          recipient: bytes = CHF) -> bytes:  # fmt: skip
    """RTDS's CCS01 (add a device to the CHF device log) as our ACB sends it for our supplier."""
    frame = gbcs.decode(bytes.fromhex(CCS01.read_text()))
    other = dataclasses.replace(frame.other_information, supplementary_remote_party_id=PARTIES[Role.SUPPLIER])
    frame = dataclasses.replace(frame, originator=EUI64(originator or PARTIES[Role.ACCESS_CONTROL_BROKER]),
                                recipient=EUI64(recipient), originator_counter=counter, other_information=other,
                                mac=None)  # fmt: skip
    return gbcs.encode(gbcs.add_mac(frame, head_end, broker=PARTIES[Role.ACCESS_CONTROL_BROKER]))


def snapshot(device: Device) -> tuple:
    read = device.store.read()
    return (read.last_counter(device.eui, PARTIES[Role.ACCESS_CONTROL_BROKER]),
            [entry.to_json() for entry in device_log(read, device)], read.outbox(device.eui))  # fmt: skip


# -- accepted ---------------------------------------------------------------------------------


def test_an_accepted_command_acts_records_its_counter_and_answers_maced(chf: Device, head_end: InMemoryKeyStore) -> None:
    outcome = process_command(chf, ccs01(head_end, 1000))
    assert outcome.accepted and outcome.rejection is None and not outcome.mac_from_peer
    response = gbcs.decode(outcome.response)
    assert (response.cra, response.originator_counter, response.originator, response.recipient) == (
        Cra.RESPONSE, 1000, CHF, PARTIES[Role.ACCESS_CONTROL_BROKER])
    assert response.other_information.message_code == 0x0001
    assert gbcs.verify(response, head_end, at=NOW).mac is Check.VALID  # the head-end's own check
    apdu = decode_apdu(response.content)
    assert isinstance(apdu, AccessResponse) and [r.result for r in apdu.results] == [0, 0, 0]
    read = chf.store.read()
    assert read.last_counter(CHF, PARTIES[Role.ACCESS_CONTROL_BROKER]) == 1000
    assert [entry.eui for entry in device_log(read, chf)] == [ADDED]
    assert [row[3] for row in read.outbox(CHF)] == [outcome.response]  # durable before it left
    assert read.security_log(CHF) == []


def test_a_higher_counter_is_accepted_after_a_lower_one(chf: Device, head_end: InMemoryKeyStore) -> None:
    assert process_command(chf, ccs01(head_end, 1000)).accepted
    assert process_command(chf, ccs01(head_end, 1001)).accepted
    assert chf.store.read().last_counter(CHF, PARTIES[Role.ACCESS_CONTROL_BROKER]) == 1001


# -- rejected: state unchanged, security log written --------------------------------------------


def _assert_rejected(device: Device, data: bytes, kind: type, event: str, alert_code: int | None) -> None:
    before = snapshot(device)
    outcome = process_command(device, data)
    assert not outcome.accepted and isinstance(outcome.rejection, kind), outcome.rejection
    assert outcome.response is None  # GBCS answers these with silence (and alerts: issue 7/8)
    assert snapshot(device) == before
    entry = device.store.read().security_log(device.eui)[-1]
    assert (entry.event, entry.code) == (event, alert_code)
    assert entry.at == device.now.isoformat()


def test_a_replayed_counter_is_refused(chf: Device, head_end: InMemoryKeyStore) -> None:
    command = ccs01(head_end, 1000)
    assert process_command(chf, command).accepted
    _assert_rejected(chf, command, Replayed, "replayed", 0x8F53)
    _assert_rejected(chf, ccs01(head_end, 999), Replayed, "replayed", 0x8F53)
    entry = chf.store.read().security_log(CHF)[-1]
    assert (entry.originator, entry.message_code, entry.counter) == (str(PARTIES[Role.ACCESS_CONTROL_BROKER]), 1, 999)


def test_a_bad_mac_is_refused(chf: Device, head_end: InMemoryKeyStore) -> None:
    command = bytearray(ccs01(head_end, 1000))
    command[-3] ^= 0x01  # inside the MAC
    _assert_rejected(chf, bytes(command), BadMac, "bad-mac", 0x8F3D)
    # the content changed under a valid-looking frame: the MAC no longer covers it
    tampered = bytearray(ccs01(head_end, 1000))
    tampered[60] ^= 0x01
    outcome = process_command(chf, bytes(tampered))
    assert not outcome.accepted and isinstance(outcome.rejection, (BadMac, Malformed))


def test_a_missing_mac_is_refused(chf: Device, head_end: InMemoryKeyStore) -> None:
    frame = gbcs.decode(ccs01(head_end, 1000))
    _assert_rejected(chf, gbcs.encode(dataclasses.replace(frame, mac=None)), BadMac, "bad-mac", 0x8F3D)


def test_a_bad_signature_is_refused(chf: Device, head_end: InMemoryKeyStore) -> None:
    """CS02b (update credentials, wanProviderByWanProvider) must be signed by the WAN provider;
    here the supplier's key signs it."""
    frame = gbcs.decode(bytes.fromhex(CS02B.read_text()))
    frame = dataclasses.replace(frame, originator=PARTIES[Role.WAN_PROVIDER], recipient=CHF, originator_counter=5,
                                signature=None, mac=None)  # fmt: skip
    forged = gbcs.sign(frame, head_end.private_key(PARTIES[Role.SUPPLIER], KeyUsage.DS))
    data = gbcs.encode(gbcs.add_mac(forged, head_end, broker=PARTIES[Role.ACCESS_CONTROL_BROKER]))
    _assert_rejected(chf, data, BadSignature, "bad-signature", 0x8F3D)


def test_a_party_in_the_wrong_role_is_refused(chf: Device, head_end: InMemoryKeyStore) -> None:
    """CCS01 may come from the ACB only; here the WAN provider, which the hub trusts for other
    use cases, sends it (MACed correctly)."""
    _assert_rejected(chf, ccs01(head_end, 1000, originator=PARTIES[Role.WAN_PROVIDER]), WrongRole, "wrong-role", 0x8F30)


def test_a_party_the_device_type_holds_no_cell_for_is_untrusted(chf: Device, head_end: InMemoryKeyStore) -> None:
    """A hub holds no supplier cell (CELL_ROLES): the supplier is a stranger to it."""
    assert Role.SUPPLIER not in chf.cells
    _assert_rejected(chf, ccs01(head_end, 1000, originator=PARTIES[Role.SUPPLIER]), UntrustedOriginator,
                     "untrusted-originator", 0x8F3D)  # fmt: skip


def test_an_unknown_originator_is_refused(chf: Device, head_end: InMemoryKeyStore) -> None:
    _assert_rejected(chf, ccs01(head_end, 1000, originator=EUI64("0102030405060708")), UntrustedOriginator,
                     "untrusted-originator", 0x8F3D)  # fmt: skip


def test_a_command_for_another_device_is_refused(chf: Device, head_end: InMemoryKeyStore) -> None:
    _assert_rejected(chf, ccs01(head_end, 1000, recipient=ADDED), WrongRecipient, "wrong-recipient", None)


@pytest.mark.parametrize("data", [b"", b"\xdd", bytes.fromhex("DF09") + bytes(40), b"\xff" * 200])
def test_a_malformed_frame_is_refused(chf: Device, data: bytes) -> None:
    _assert_rejected(chf, data, Malformed, "malformed", None)


def test_a_response_is_not_a_command(chf: Device) -> None:
    response = bytes.fromhex((RTDS / "messages/8.11_CCS01/CCS01_8.11_SUCCESS_RESPONSE_GBCS.HEX").read_text())
    _assert_rejected(chf, response, Malformed, "malformed", None)


def test_trust_is_judged_at_the_device_clock(pki: PkiStore, head_end: InMemoryKeyStore) -> None:
    """The organisation certificates last ten years: a hub whose clock reads 2040 no longer
    trusts the ACB's key-agreement certificate; the host's clock plays no part."""
    device = make_chf(pki, Store(":memory:"), VirtualClock(datetime(2040, 1, 1, tzinfo=timezone.utc)))
    _assert_rejected(device, ccs01(head_end, 1000), BadMac, "bad-mac", 0x8F3D)
    assert "out of date" in device.store.read().security_log(CHF)[-1].detail


# -- durable ------------------------------------------------------------------------------------


def test_state_survives_a_restart(pki: PkiStore, head_end: InMemoryKeyStore, tmp_path: Path) -> None:
    path = tmp_path / "premises.sqlite"
    store = Store(path)
    device = make_chf(pki, store)
    command = ccs01(head_end, 1000)
    assert process_command(device, command).accepted
    store.close()

    reopened = Store(path)
    device = Device.load(reopened, VirtualClock(NOW), CHF)
    assert device.identity == Identity(CHF, DeviceType.CHF)
    assert set(device.cells) == {Role.ROOT, Role.RECOVERY, Role.ACCESS_CONTROL_BROKER, Role.WAN_PROVIDER}
    assert device.credentials.ka_key is not None
    assert [entry.eui for entry in device_log(reopened.read(), device)] == [ADDED]
    assert isinstance(process_command(device, command).rejection, Replayed)
    assert process_command(device, ccs01(head_end, 1001)).accepted


def test_a_killed_process_never_reuses_a_counter(pki: PkiStore, head_end: InMemoryKeyStore, tmp_path: Path) -> None:
    """A process accepts a command and is killed (SIGKILL) as soon as it has the response,
    with no clean shutdown (no close, no WAL checkpoint): the counter and the response it
    committed survive, so the command cannot be replayed."""
    path = tmp_path / "premises.sqlite"
    make_chf(pki, Store(path)).store.close()
    command = tmp_path / "command.bin"
    command.write_bytes(ccs01(head_end, 4242))
    script = textwrap.dedent(f"""
        import os, signal
        from datetime import datetime, timezone
        from emulator.clock import VirtualClock
        from emulator.firmware.command import process_command
        from emulator.firmware.device import Device
        from emulator.store import Store
        device = Device.load(Store({str(path)!r}), VirtualClock(datetime(2026, 12, 1, tzinfo=timezone.utc)),
                             bytes.fromhex({CHF.hex()!r}))
        outcome = process_command(device, open({str(command)!r}, "rb").read())
        assert outcome.accepted, outcome.rejection
        os.kill(os.getpid(), signal.SIGKILL)
    """)
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, timeout=60)
    assert result.returncode == -9, result.stderr.decode()
    device = Device.load(Store(path), VirtualClock(NOW), CHF)
    read = device.store.read()
    assert read.last_counter(CHF, PARTIES[Role.ACCESS_CONTROL_BROKER]) == 4242
    assert len(read.outbox(CHF)) == 1
    assert isinstance(process_command(device, command.read_bytes()).rejection, Replayed)
