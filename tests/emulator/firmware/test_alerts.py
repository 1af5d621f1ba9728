"""Alerts a refusal raises: generic critical alerts (0x1000) from meters to their supplier,
in each meter's own payload format, signed, with counters that only grow, at most once a
minute per code; none from the hub, whose catalogue row has no generic alert, and none for
frames that failed authentication (a forger must not spend the device's counters)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

import gbcs
from emulator.firmware.command import process_command
from emulator.firmware.device import Device
from emulator.headend import HeadEnd
from emulator.pki_store import PkiStore
from gbcs.dlms import decode_apdu
from gbcs.gbz import decode_gbz
from gbcs.payload import decode_payload, encode_payload
from gbcs.security import Check
from gbcs.types import EUI64, DeviceType, Role
from tests.conftest import RTDS
from tests.emulator.helpers import NOW, make_device, make_pki

ESME, GSME, CHF = EUI64("00DB1234567890A0"), EUI64("00DB1234567890A1"), EUI64("00DB1234567890A2")
TYPES = {ESME: DeviceType.ESME, GSME: DeviceType.GSME, CHF: DeviceType.CHF}
READS = {ESME: "6.2.4_ECS26e/ECS26e_6.2.4_SUCCESS_COMMAND_GBCS.HEX", GSME: "6.2.4_GCS21e/GCS21e_6.2.4_SUCCESS_COMMAND_GBCS.HEX",
         CHF: "6.2.4_ECS26n/ECS26n_6.2.4_SUCCESS_COMMAND_GBCS.HEX"}  # fmt: skip


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> PkiStore:
    return make_pki(tmp_path_factory.mktemp("pki"), TYPES)


def device(store: PkiStore, eui: EUI64, tmp_path: Path) -> Device:
    return make_device(store, eui, TYPES[eui], tmp_path)


def read_command(head_end: HeadEnd, eui: EUI64, counter: int) -> bytes:
    frame = gbcs.decode(bytes.fromhex((RTDS / "messages" / READS[eui]).read_text()))
    return head_end.command(frame.other_information.message_code, eui, frame.content, role=Role.ACCESS_CONTROL_BROKER,
                            for_party=Role.SUPPLIER, counter=counter)  # fmt: skip


def alerts(device: Device) -> list[gbcs.Frame]:
    return [gbcs.decode(frame) for _, _, kind, frame in device.store.read().outbox(device.eui) if kind == "alert"]


@pytest.mark.parametrize("eui", [ESME, GSME], ids=["esme-dlms", "gsme-gbz"])
def test_a_replayed_command_raises_8f53_to_the_supplier(store: PkiStore, tmp_path: Path, eui: EUI64) -> None:
    meter, head_end = device(store, eui, tmp_path), HeadEnd(store.keystore())
    with meter.store.transaction() as tx:  # the meter has accepted counter 500 from the ACB
        tx.accept_counter(eui, head_end.party(Role.ACCESS_CONTROL_BROKER), 500)
    for seconds in (0, 10, 70):  # an older counter, three times: alerts at most once a minute
        meter.clock.advance(timedelta(seconds=seconds))
        assert not process_command(meter, read_command(HeadEnd(store.keystore()), eui, 400)).accepted
    assert [entry.code for entry in meter.store.read().security_log(eui)] == [0x8F53] * 3
    raised = [alert for alert in alerts(meter) if alert.other_information.message_code == 0x1000]
    assert len(raised) == 2
    for alert in raised:
        assert (alert.recipient, alert.originator) == (head_end.party(Role.SUPPLIER), eui)
        assert gbcs.verify(alert, store.keystore(), at=NOW).signature is Check.VALID
        payload = decode_payload(alert)
        assert encode_payload(payload) == alert.content  # a well-formed payload of its format
        if eui == ESME:  # a Data-Notification: structure(alert code, date-time)
            assert decode_apdu(alert.content).value.value[0].value == 0x8F53
        else:  # a GBZ alert
            assert decode_gbz(alert.content, alert.cra, 0x1000).alert_code == 0x8F53
    assert raised[0].originator_counter < raised[1].originator_counter


def test_the_hub_logs_but_sends_no_generic_alert(store: PkiStore, tmp_path: Path) -> None:
    hub, head_end = device(store, CHF, tmp_path), HeadEnd(store.keystore())
    command = read_command(head_end, CHF, 500)
    assert process_command(hub, command).accepted
    assert not process_command(hub, command).accepted
    assert hub.store.read().security_log(CHF)[-1].code == 0x8F53
    assert alerts(hub) == []


def test_bytes_that_are_no_ones_frame_raise_no_alert(store: PkiStore, tmp_path: Path) -> None:
    meter = device(store, ESME, tmp_path)
    assert not process_command(meter, b"\xdf\x09garbage").accepted
    assert alerts(meter) == []


@pytest.mark.tshark
def test_tshark_reads_the_frames_devices_send(store: PkiStore, tmp_path: Path) -> None:
    """An independent reader of the alerts and responses the firmware builds."""
    from tests import tshark

    meter, head_end = device(store, ESME, tmp_path), HeadEnd(store.keystore())
    accepted = process_command(meter, read_command(head_end, ESME, 600))
    process_command(meter, read_command(HeadEnd(store.keystore()), ESME, 10))  # replayed: an alert
    frames = [accepted.response, *(gbcs.encode(alert) for alert in alerts(meter))]
    for data, seen in zip(frames, tshark.dissect(frames), strict=True):
        frame = gbcs.decode(data)
        assert (int(seen.cra, 16), int(seen.counter)) == (frame.cra, frame.originator_counter)
        assert tshark.eui(seen.originator) == str(frame.originator) and tshark.eui(seen.recipient) == str(frame.recipient)
        assert not seen.has_error, seen


def test_a_forged_frame_raises_no_alert(store: PkiStore, tmp_path: Path) -> None:
    meter, head_end = device(store, ESME, tmp_path), HeadEnd(store.keystore())
    forged = bytearray(read_command(head_end, ESME, 700))
    forged[-2] ^= 0x01  # the MAC
    assert not process_command(meter, bytes(forged)).accepted
    assert meter.store.read().security_log(ESME)[-1].code == 0x8F3D  # logged ...
    assert alerts(meter) == []  # ... but not alerted
