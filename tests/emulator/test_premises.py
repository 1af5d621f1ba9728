"""A whole premises in virtual time: commissioning, a GBCS command relayed over the HAN's
Tunneling cluster to the electricity meter and its response back, the sleepy gas meter,
and a restart that loses nothing."""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

import gbcs
from emulator.clock import VirtualClock
from emulator.devices.chf import device_log
from emulator.errors import ConfigError, LinkDown, Replayed
from emulator.pki_store import DEFAULT_PARTIES, PkiStore
from emulator.premises import Premises, PremisesConfig
from emulator.store import Store
from gbcs.dlms import AccessResponse, decode_apdu
from gbcs.security import Check
from gbcs.types import EUI64, DeviceType, Role
from tests.conftest import RTDS

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=timezone.utc)
ACB, SUPPLIER = (next(p.eui for p in DEFAULT_PARTIES if p.role is role) for role in (Role.ACCESS_CONTROL_BROKER, Role.SUPPLIER))
ECS26E = RTDS / "messages/6.2.4_ECS26e/ECS26e_6.2.4_SUCCESS_COMMAND_GBCS.HEX"
GCS21E = RTDS / "messages/6.2.4_GCS21e/GCS21e_6.2.4_SUCCESS_COMMAND_GBCS.HEX"  # a GSME read (GBZ)
CONFIG = PremisesConfig.standard(1)
CHF, GPF, ESME, GSME, IHD = (CONFIG.of_type(kind)[0] for kind in
                             (DeviceType.CHF, DeviceType.GPF, DeviceType.ESME, DeviceType.GSME, DeviceType.IHD))  # fmt: skip


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> PkiStore:
    return PkiStore.create(tmp_path_factory.mktemp("pki") / "store", now=NOW - timedelta(days=1))


def read_identity(pki: PkiStore, recipient: bytes, counter: int, source: Path = ECS26E) -> bytes:
    """RTDS's ECS26e (read the meter's identity), from our ACB for our supplier."""
    frame = gbcs.decode(bytes.fromhex(source.read_text()))
    other = dataclasses.replace(frame.other_information, supplementary_remote_party_id=SUPPLIER)
    frame = dataclasses.replace(frame, originator=ACB, recipient=EUI64(recipient), originator_counter=counter,
                                other_information=other, mac=None)  # fmt: skip
    return gbcs.encode(gbcs.add_mac(frame, pki.keystore(), broker=ACB))


@pytest.fixture
def premises(pki: PkiStore, tmp_path: Path) -> Premises:
    premises = Premises.create(Store(tmp_path / "premises.sqlite"), VirtualClock(NOW), pki, CONFIG)
    premises.commission()
    premises.clock.advance(timedelta(seconds=1))  # tunnels open
    return premises


def test_commissioning_puts_every_han_device_on_the_log_and_the_network(premises: Premises) -> None:
    log = {entry.eui: entry.device_type for entry in device_log(premises.store.read(), premises.chf)}
    assert log == {ESME: int(DeviceType.ESME), GSME: int(DeviceType.GSME), IHD: int(DeviceType.IHD)}
    assert all(premises.medium.is_joined(eui) for eui in (CHF, ESME, GSME, IHD))
    assert {device.lifecycle for device in premises.devices.values()} == {"commissioned"}
    assert premises._tunnel_server.has_tunnel(ESME)


def test_without_a_wan_the_hub_stays_installed_not_commissioned(pki: PkiStore, tmp_path: Path) -> None:
    premises = Premises.create(Store(tmp_path / "p.sqlite"), VirtualClock(NOW), pki, CONFIG)
    assert premises.chf.lifecycle == "pre-installed"
    premises.commission(wan=False)
    assert {device.lifecycle for device in premises.devices.values()} == {"installed-not-commissioned"}
    assert premises.medium.is_joined(ESME)


def test_a_device_off_the_device_log_cannot_join(pki: PkiStore, premises: Premises) -> None:
    stranger = EUI64("5E4D5500FFFFFF01")
    premises.medium.attach(stranger)
    from zigpy.util import aes_mmo_hash

    from emulator.premises import install_code

    assert not premises.medium.join(stranger, aes_mmo_hash(install_code(stranger)).serialize())
    assert not premises.medium.join(ESME, bytes(16))  # on the log, but the wrong link key


def test_a_command_for_the_meter_is_relayed_over_the_tunnel_and_answered(pki: PkiStore, premises: Premises) -> None:
    assert premises.send(read_identity(pki, ESME, 2000)) is None  # relayed, not answered by the hub
    assert premises.wan_outbox() == []
    premises.clock.advance(timedelta(seconds=1))
    [(outbox_id, response_bytes)] = premises.wan_outbox()
    response = gbcs.decode(response_bytes)
    assert (response.originator, response.recipient, response.originator_counter) == (ESME, ACB, 2000)
    assert gbcs.verify(response, pki.keystore(), at=premises.clock.now()).mac is Check.VALID
    apdu = decode_apdu(response.content)
    assert isinstance(apdu, AccessResponse)
    assert apdu.data[0].value == bytes(ESME)  # the meter's own identity
    premises.mark_sent(outbox_id)
    assert premises.wan_outbox() == []


def test_a_command_for_the_hub_is_answered_at_once(pki: PkiStore, premises: Premises) -> None:
    frame = gbcs.decode(bytes.fromhex((RTDS / "messages/6.2.4_ECS26n/ECS26n_6.2.4_SUCCESS_COMMAND_GBCS.HEX").read_text()))
    frame = dataclasses.replace(frame, originator=ACB, recipient=CHF, originator_counter=10, mac=None,
                                other_information=dataclasses.replace(frame.other_information,
                                                                      supplementary_remote_party_id=SUPPLIER))  # fmt: skip
    outcome = premises.send(gbcs.encode(gbcs.add_mac(frame, pki.keystore(), broker=ACB)))
    assert outcome is not None and outcome.accepted
    assert [frame for _, frame in premises.wan_outbox()] == [outcome.response]


def test_a_meter_out_of_range_gets_nothing_and_the_hub_logs_it(pki: PkiStore, premises: Premises) -> None:
    premises.medium.conditions(ESME).out_of_range = True
    premises.send(read_identity(pki, ESME, 2000))
    premises.clock.advance(timedelta(minutes=1))
    assert premises.wan_outbox() == []
    assert premises.store.read().event_log(CHF)[-1].event == "relay-failed"


def test_the_sleepy_gas_meter_hears_only_when_it_wakes(pki: PkiStore, premises: Premises) -> None:
    def answered() -> list[gbcs.Frame]:
        return [gbcs.decode(frame) for _, frame in premises.wan_outbox() if gbcs.decode(frame).originator == GSME]

    premises.send(read_identity(pki, GSME, 3000, GCS21E))
    premises.clock.advance(timedelta(minutes=1))
    assert answered() == []
    premises.clock.advance(CONFIG.gsme_wake_interval)
    # It heard the command on waking, and its answer (GCS21e's read) went out.
    assert [frame.originator_counter for frame in answered()] == [3000]


def test_a_restart_loses_nothing(pki: PkiStore, tmp_path: Path) -> None:
    path = tmp_path / "premises.sqlite"
    premises = Premises.create(Store(path), VirtualClock(NOW), pki, CONFIG)
    premises.commission()
    premises.clock.advance(timedelta(seconds=1))
    command = read_identity(pki, ESME, 2000)
    premises.send(command)
    premises.clock.advance(timedelta(seconds=1))
    assert len(premises.wan_outbox()) == 1
    premises.store.close()

    restarted = Premises.load(Store(path), VirtualClock(NOW + timedelta(hours=1)), CONFIG)
    assert len(restarted.wan_outbox()) == 1  # the unsent response is still there
    assert restarted.chf.lifecycle == "commissioned"
    restarted.clock.advance(timedelta(seconds=1))  # the meters rejoin and reopen their tunnels
    restarted.send(command)  # the same command again: the meter remembers its counter ...
    restarted.clock.advance(timedelta(seconds=1))
    assert restarted.store.read().security_log(ESME)[-1].event == Replayed.event
    [_, (_, alert)] = restarted.wan_outbox()  # ... refuses it, and alerts its supplier (8F53)
    frame = gbcs.decode(alert)
    assert (frame.cra.name, frame.originator, frame.recipient, frame.other_information.message_code) == (
        "ALERT", ESME, SUPPLIER, 0x1000)
    assert decode_apdu(frame.content).value.value[0].value == 0x8F53
    assert gbcs.verify(frame, pki.keystore()).signature is Check.VALID
    restarted.send(read_identity(pki, ESME, 2001))
    restarted.clock.advance(timedelta(seconds=1))
    assert len(restarted.wan_outbox()) == 3


def test_the_wan_arriving_later_commissions_the_premises(pki: PkiStore, tmp_path: Path) -> None:
    premises = Premises.create(Store(tmp_path / "p.sqlite"), VirtualClock(NOW), pki, CONFIG)
    premises.commission(wan=False)
    premises.connect_wan()
    assert {device.lifecycle for device in premises.devices.values()} == {"commissioned"}


def test_an_illegal_lifecycle_event_changes_nothing(premises: Premises) -> None:
    from emulator.firmware.lifecycle import Event, IllegalTransition

    with pytest.raises(IllegalTransition, match="cannot be reset-for-redeployment"):
        premises.reset_hub_for_redeployment()  # not returned yet
    assert premises.chf.lifecycle == "commissioned"
    assert premises.store.read().register(CHF, "chf.device_log") is not None
    with pytest.raises(IllegalTransition):
        with premises.store.transaction() as tx:
            premises.devices[ESME].transition(tx, Event.INSTALLED)


def test_a_returned_hub_reset_for_redeployment_holds_no_consumer_data(pki: PkiStore, premises: Premises) -> None:
    premises.send(read_identity(pki, ESME, 2000))
    premises.clock.advance(timedelta(seconds=1))
    last_counter = premises.store.read().last_counter(CHF, ACB)
    premises.return_hub()
    premises.reset_hub_for_redeployment()
    read = premises.store.read()
    assert premises.chf.lifecycle == premises.gpf.lifecycle == "pre-installed"
    assert read.register(CHF, "chf.device_log") is None  # no consumer's devices
    assert read.outbox(CHF) == []  # no consumer's readings waiting
    assert [entry.event for entry in read.event_log(CHF)] == ["lifecycle"]  # only the reset itself
    assert read.last_counter(CHF, ACB) == last_counter  # counters survive: no replays reopened
    assert premises.devices[ESME].lifecycle == "commissioned"  # the meters stay on the premises


def test_the_display_shows_what_the_meter_publishes(premises: Premises, tmp_path: Path) -> None:
    assert premises.display() == {"message": None, "price": None}
    premises.meter_message("Your top-up is due")
    premises.meter_price(2450, trailing_digits=2)  # 24.50 p/kWh
    premises.clock.advance(timedelta(seconds=1))
    shown = premises.display(IHD)
    assert shown["message"]["text"] == "Your top-up is due" and shown["message"]["from"] == str(ESME)
    assert (shown["price"]["price"], shown["price"]["trailing_digits"], shown["price"]["currency"]) == (2450, 2, 826)


def test_a_display_out_of_range_misses_the_message(premises: Premises) -> None:
    premises.medium.conditions(IHD).out_of_range = True
    premises.meter_message("hello")
    premises.clock.advance(timedelta(seconds=1))
    assert premises.display()["message"] is None


def test_the_gas_proxy_mirrors_what_the_gas_meter_reports_when_it_wakes(premises: Premises) -> None:
    from emulator.devices.gas_model import gas_metering

    def register_at(moment: datetime) -> int:  # the GSME's own register (load model + injected)
        return gas_metering(premises.store.read(), premises.devices[GSME]).summation(moment)

    assert premises.gas_mirror() == {}
    premises.gas_consumed(1234)
    premises.clock.advance(timedelta(minutes=1))
    assert premises.gas_mirror() == {}  # the GSME sleeps: the GPF knows nothing yet
    premises.clock.advance(CONFIG.gsme_wake_interval)
    mirror = premises.gas_mirror()
    first, first_update = mirror["current_summation_delivered"], mirror["updated"]
    assert first == register_at(first_update) and first >= 1234

    premises.medium.conditions(GSME).out_of_range = True
    premises.gas_consumed(10)
    premises.clock.advance(CONFIG.gsme_wake_interval)
    assert premises.gas_mirror() == {"current_summation_delivered": first, "updated": first_update}  # stale
    premises.medium.conditions(GSME).out_of_range = False
    premises.clock.advance(CONFIG.gsme_wake_interval)
    mirror = premises.gas_mirror()
    assert mirror["updated"] > first_update
    assert mirror["current_summation_delivered"] == register_at(mirror["updated"]) >= first + 10


def test_the_gas_proxys_responses_reach_the_wan(pki: PkiStore, premises: Premises) -> None:
    from emulator.headend import HeadEnd
    from gbcs.der import encode_der_value
    from gbcs.types import Cra

    head_end = HeadEnd(pki.keystore())
    content = encode_der_value(0x0008, Cra.COMMAND, {
        "authorisingRemotePartyTACellIdentifier": {"remotePartyRole": "supplier", "keyUsage": ["digitalSignature"]},
        "remotePartyRolesCredentialsRequired": ["supplier"]})  # fmt: skip
    outcome = premises.send(head_end.command(0x0008, GPF, content, role=Role.ACCESS_CONTROL_BROKER))
    assert outcome.accepted, outcome.rejection
    assert [frame for _, frame in premises.wan_outbox()] == [outcome.response]


def test_a_meters_response_waits_for_its_tunnel(pki: PkiStore, premises: Premises) -> None:
    premises.send(read_identity(pki, ESME, 2000))
    premises.medium.conditions(CHF).out_of_range = True  # the command is in the air; the hub then goes quiet
    premises.clock.advance(timedelta(seconds=1))
    assert premises.wan_outbox() == []
    assert len(premises.store.read().outbox(ESME, unsent_only=True)) == 1  # the meter's answer waits
    premises.medium.conditions(CHF).out_of_range = False
    assert premises.join(ESME)  # the meter finds the hub again and reopens its tunnel: what waited goes up
    premises.clock.advance(timedelta(seconds=1))
    assert len(premises.wan_outbox()) == 1
    assert premises.store.read().outbox(ESME, unsent_only=True) == []


def test_only_the_hubs_meters_get_a_tunnel_and_speak_for_themselves(pki: PkiStore, premises: Premises) -> None:
    from emulator.han.node import TunnelClient

    display = TunnelClient(premises.nodes[IHD], CHF, lambda eui, data: None)
    display.open()
    premises.clock.advance(timedelta(seconds=1))
    assert display.tunnel_id is None  # a display gets no tunnel to the WAN
    # A meter cannot put another device's frame on the WAN.
    premises._tunnel_clients[ESME].send_gbcs(read_identity(pki, GSME, 1))
    premises.clock.advance(timedelta(seconds=1))
    assert premises.wan_outbox() == []
    assert premises.store.read().event_log(CHF)[-1].event == "relay-refused"


def test_the_hub_reports_when_it_last_heard_each_device(pki: PkiStore, premises: Premises) -> None:
    """CCS06 (read the CHF device log and check HAN communications)."""
    from emulator.headend import HeadEnd
    from gbcs.dlms import AccessRequest, Data, Obis, RequestKind, RequestSpecification, encode_apdu
    from gbcs.types import DlmsDateTime

    read_log = encode_apdu(AccessRequest(0x20000001, b"", (RequestSpecification(RequestKind.GET, 104, Obis("0.0.30.3.0.255"), 4),),
                                         (Data.null(),)))  # fmt: skip
    outcome = premises.send(HeadEnd(pki.keystore()).command(0x010F, CHF, read_log, role=Role.ACCESS_CONTROL_BROKER))
    assert outcome.accepted, outcome.rejection
    entries = {bytes(entry.value[0].value): entry.value[8].value for entry in decode_apdu(gbcs.decode(outcome.response).content).data[0].value}
    heard = DlmsDateTime.decode(entries[bytes(ESME)]).to_datetime()
    assert heard is not None and NOW <= heard <= premises.clock.now()  # its tunnel request, at commissioning
    assert DlmsDateTime.decode(entries[bytes(IHD)]).to_datetime() is None  # the display never spoke


@pytest.mark.parametrize(("outage", "code"), [(timedelta(minutes=4), 0x8F36), (timedelta(minutes=3), 0x8F36),
                                              (timedelta(minutes=2, seconds=59), 0x8F35)])  # fmt: skip
def test_a_mains_outage_alerts_the_network_operator_and_the_supplier_by_the_three_minute_rule(
        pki: PkiStore, premises: Premises, outage: timedelta, code: int) -> None:  # fmt: skip
    from emulator.replay import data_shape
    from gbcs.types import DlmsDateTime

    party = {p.role: p.eui for p in DEFAULT_PARTIES}
    premises.cut_mains()
    cut_at = premises.clock.now()
    assert not premises.mains_on and premises.outage_started() == cut_at
    premises.clock.advance(outage)
    premises.restore_mains()
    premises.clock.advance(timedelta(seconds=1))
    alerts = [gbcs.decode(alert) for _, alert in premises.wan_outbox()]
    assert [(f.cra.name, f.originator, f.recipient, f.other_information.message_code) for f in alerts] == [
        ("ALERT", ESME, party[Role.NETWORK_OPERATOR], 0x0067), ("ALERT", ESME, party[Role.SUPPLIER], 0x0067)]
    assert alerts[0].originator_counter < alerts[1].originator_counter  # each its own counter
    recorded = gbcs.decode(bytes.fromhex((RTDS / "messages/NA_ECS80/ECS80_NA_8F36_ALERT_GBCS.HEX").read_text()))
    for frame in alerts:
        assert gbcs.verify(frame, pki.keystore()).signature is Check.VALID
        notification = decode_apdu(frame.content).value
        code_item, _, start, end = notification.value
        assert code_item.value == code
        assert DlmsDateTime.decode(start.value).to_datetime() == cut_at
        assert DlmsDateTime.decode(end.value).to_datetime() == cut_at + outage
        # the same shape as RTDS's ECS80 alert (its 8F36, primer §13.3)
        assert data_shape(notification) == data_shape(decode_apdu(recorded.content).value)
    assert premises.mains_on


def test_a_hub_without_mains_power_hears_nothing(pki: PkiStore, premises: Premises) -> None:
    premises.cut_mains()
    with pytest.raises(LinkDown, match="no mains power"):
        premises.send(read_identity(pki, ESME, 5))
    premises.restore_mains()
    assert premises.send(read_identity(pki, ESME, 6)) is None  # relayed again


def test_restoring_without_an_outage_alerts_nothing(premises: Premises) -> None:
    premises.restore_mains()
    premises.clock.advance(timedelta(seconds=1))
    assert premises.wan_outbox() == []


def test_an_outage_spanning_a_restart_is_still_measured(pki: PkiStore, tmp_path: Path) -> None:
    path = tmp_path / "p.sqlite"
    premises = Premises.create(Store(path), VirtualClock(NOW), pki, CONFIG)
    premises.commission()
    premises.cut_mains()
    premises.store.close()
    restarted = Premises.load(Store(path), VirtualClock(NOW + timedelta(minutes=10)), CONFIG)
    restarted.clock.advance(timedelta(seconds=1))
    restarted.restore_mains()
    restarted.clock.advance(timedelta(seconds=1))
    codes = [decode_apdu(gbcs.decode(alert).content).value.value[0].value for _, alert in restarted.wan_outbox()]
    assert codes == [0x8F36, 0x8F36]  # to the network operator and the supplier
    assert restarted.mains_on


def test_a_meter_cover_opened_alerts_the_supplier_through_the_hub(pki: PkiStore, premises: Premises) -> None:
    supplier = next(p.eui for p in DEFAULT_PARTIES if p.role is Role.SUPPLIER)
    premises.tamper(ESME)
    premises.clock.advance(timedelta(seconds=1))
    [(_, alert)] = premises.wan_outbox()
    frame = gbcs.decode(alert)
    assert (frame.originator, frame.recipient, frame.other_information.message_code) == (ESME, supplier, 0x1000)
    assert gbcs.verify(frame, pki.keystore()).signature is Check.VALID
    assert decode_apdu(frame.content).value.value[0].value == 0x8F3F  # unauthorised physical access
    with pytest.raises(ConfigError):
        premises.tamper(EUI64(bytes(8)))


def test_an_alert_the_gas_meter_raised_out_of_reach_goes_up_when_it_next_wakes(premises: Premises) -> None:
    from emulator.firmware.alerts import raise_generic_alert

    gsme = premises.devices[GSME]
    premises.medium.conditions(GSME).out_of_range = True
    with premises.store.transaction() as tx:
        raise_generic_alert(gsme, tx, 0x8F3F)
    gsme.alert_sink(b"")  # the meter tries at once: the hub is out of reach
    premises.clock.advance(CONFIG.gsme_wake_interval)
    assert [frame for _, frame in premises.wan_outbox() if gbcs.decode(frame).originator == GSME] == []
    premises.medium.conditions(GSME).out_of_range = False
    premises.clock.advance(CONFIG.gsme_wake_interval)
    [alert] = [gbcs.decode(frame) for _, frame in premises.wan_outbox() if gbcs.decode(frame).originator == GSME]
    assert alert.other_information.message_code == 0x1000
