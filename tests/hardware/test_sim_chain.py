"""The chain CHF → ZigpyHanTransport → zigpy ControllerApplication → SimControllerApplication →
simulated ESME, GSME and IHD, with no hardware: zigpy's own start-up, network formation,
install-code joins and device interviews, and GBCS through Tunneling over the radio."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path
from typing import TypeVar

import pytest
import zigpy.types as t
import zigpy.util

import gbcs
from emulator.errors import LinkDown
from emulator.han.clusters import GB_HRGP, Tunneling, decode_frame, encode_command
from emulator.pki_store import DEFAULT_PARTIES, PkiStore
from gbcs.security import Check
from gbcs.types import EUI64, DeviceType, Role
from hardware.frames import zigpy_eui
from hardware.hub import HilConfig, HilDevice, RadioHub, application_class
from hardware.sim_radio import SimControllerApplication
from tests.conftest import RTDS

T = TypeVar("T")
ACB, SUPPLIER = (next(p.eui for p in DEFAULT_PARTIES if p.role is role) for role in (Role.ACCESS_CONTROL_BROKER, Role.SUPPLIER))
ECS26E = RTDS / "messages/6.2.4_ECS26e/ECS26e_6.2.4_SUCCESS_COMMAND_GBCS.HEX"  # read the meter's identity
# The ZigBee Smart Energy specification's install-code example: a 16-byte code with its CRC
# (C3B5), and the link key its AES-MMO hash gives (ZSE, "Installation code" annex).
SE_INSTALL_CODE = bytes.fromhex("83FED3407A939723A5C639B26916D505C3B5")
SE_LINK_KEY = bytes.fromhex("66B6900981E1EE3CA4206B6B861C02BB")
PROFILE_SE, TUNNELING, SE_ENDPOINT = 0x0109, 0x0704, 9


def run(body: Callable[[RadioHub], Awaitable[T]], state: Path, config: HilConfig | None = None) -> T:
    """Start a hub on a new simulated radio in ``state``, run ``body``, stop it."""

    async def main() -> T:
        hub = await RadioHub.start("sim", str(state / "radio.json"), state, config or HilConfig())
        try:
            return await body(hub)
        finally:
            await hub.stop()

    return asyncio.run(main())


def device(hub: RadioHub, kind: DeviceType) -> EUI64:
    return hub.premises.config.of_type(kind)[0]


def pki(hub: RadioHub) -> PkiStore:
    return PkiStore.open(Path(hub.premises.store.path).parent / "pki")  # the hub's state directory's


def read_identity(hub: RadioHub, meter: bytes, counter: int) -> bytes:
    """RTDS's ECS26e, from our ACB for our supplier, to ``meter``."""
    frame = gbcs.decode(bytes.fromhex(ECS26E.read_text()))
    other = dataclasses.replace(frame.other_information, supplementary_remote_party_id=SUPPLIER)
    frame = dataclasses.replace(frame, originator=ACB, recipient=EUI64(meter), originator_counter=counter,
                                other_information=other, mac=None)  # fmt: skip
    return gbcs.encode(gbcs.add_mac(frame, pki(hub).keystore(), broker=ACB))


async def answered(hub: RadioHub, timeout: float = 5.0) -> list[tuple[int, bytes]]:
    async with asyncio.timeout(timeout):
        while not hub.premises.wan_outbox():
            await asyncio.sleep(0.01)
    return hub.premises.wan_outbox()


def test_the_radio_is_found_through_its_zigpy_entry_point() -> None:
    assert application_class("sim") is SimControllerApplication


def test_the_hub_forms_its_network_with_the_smart_energy_endpoint(tmp_path: Path) -> None:
    async def body(hub: RadioHub) -> None:
        app = hub.hub.app
        assert hub.premises.chf.eui == hub.hub.eui  # the CHF adopts the radio's IEEE address
        assert str(app.state.network_info.extended_pan_id).replace(":", "").upper() == str(hub.hub.eui)
        endpoint = app.endpoints[SE_ENDPOINT]  # registered by zigpy from additional_endpoints
        assert (endpoint.profile, endpoint.device_type) == (PROFILE_SE, 0x0500)
        assert TUNNELING in endpoint.input_clusters
        coordinator = app.devices[app.state.node_info.ieee]  # zigpy interviewed it over the radio
        assert coordinator.endpoints[SE_ENDPOINT].profile_id == PROFILE_SE

    run(body, tmp_path)


def test_devices_join_by_install_code_only_and_zigpy_interviews_them(tmp_path: Path) -> None:
    assert zigpy.util.convert_install_code(SE_INSTALL_CODE) == t.KeyData(SE_LINK_KEY)  # the specification's vector
    config = HilConfig(devices=(HilDevice(DeviceType.ESME, install_code=SE_INSTALL_CODE), HilDevice(DeviceType.IHD)))

    async def body(hub: RadioHub) -> None:
        app, esme, ihd = hub.hub.app, device(hub, DeviceType.ESME), device(hub, DeviceType.IHD)
        keys = {key.partner_ieee: bytes(key.key) for key in app.state.network_info.key_table}
        assert keys[zigpy_eui(esme)] == SE_LINK_KEY  # the trust centre holds the key the label's code gives
        for eui, device_id in ((esme, 0x0501), (ihd, 0x0502)):
            joined = app.devices[zigpy_eui(eui)]
            assert joined.is_initialized
            assert joined.endpoints[SE_ENDPOINT].profile_id == PROFILE_SE
            assert joined.endpoints[SE_ENDPOINT].device_type == device_id
        # Every permit was for one device with its link key; zigpy's start-up only closes joining.
        assert [entry for entry in app.permit_log if entry[0] != "link key"] == [("broadcast", 0), ("ncp", 0)]
        assert sum(entry[0] == "link key" for entry in app.permit_log) == 2
        # A stranger, and a logged device with the wrong key, are refused by the trust centre.
        stranger = EUI64("0011223344556677")
        hub.air.attach(stranger)
        assert not hub.air.join(stranger, SE_LINK_KEY)
        hub.air.leave(ihd)
        await asyncio.sleep(0.05)
        assert not hub.air.join(ihd, bytes(16))
        assert zigpy_eui(stranger) not in app.devices

    run(body, tmp_path, config)


def test_a_gbcs_command_and_its_response_cross_the_radio_through_tunneling(tmp_path: Path) -> None:
    async def body(hub: RadioHub) -> None:
        esme, app = device(hub, DeviceType.ESME), hub.hub.app
        command = read_identity(hub, esme, 3000)
        assert hub.premises.send(command) is None  # relayed to the meter
        [(_, response_bytes)] = await answered(hub)
        response = gbcs.decode(response_bytes)
        assert (response.originator, response.recipient, response.originator_counter) == (esme, ACB, 3000)
        assert gbcs.verify(response, pki(hub).keystore(), at=hub.premises.clock.now()).mac is Check.VALID
        # What went out on the radio: Tunneling transfer-data carrying the command, from the
        # Smart Energy endpoint, with the Smart Energy profile and APS encryption asked for.
        [packet] = [p for p in app.sent if p.data.serialize().endswith(command)]
        assert (packet.profile_id, packet.cluster_id, packet.src_ep, packet.dst_ep) == (PROFILE_SE, TUNNELING, SE_ENDPOINT, SE_ENDPOINT)
        assert t.TransmitOptions.APS_Encryption in packet.tx_options
        _, name, fields = decode_frame(TUNNELING, packet.data.serialize())
        assert name == "transfer_data" and bytes(fields.data) == command
        assert all(p.profile_id == PROFILE_SE and t.TransmitOptions.APS_Encryption in p.tx_options for p in app.sent)
        assert not hub.hub.dropped
        assert app.state.network_info.network_key.tx_counter > 0  # every frame took a network frame counter

    run(body, tmp_path)


def test_frames_from_unknown_devices_and_unsecured_frames_are_dropped(tmp_path: Path) -> None:
    async def body(hub: RadioHub) -> None:
        app, esme = hub.hub.app, device(hub, DeviceType.ESME)
        request = encode_command(Tunneling, "request_tunnel", 1, protocol_id=GB_HRGP, manufacturer_code=0xFFFF,
                                 flow_control_support=False, maximum_incoming_transfer_size=1500)  # fmt: skip

        def packet(nwk: int, options: t.TransmitOptions) -> t.ZigbeePacket:
            return t.ZigbeePacket(src=t.AddrModeAddress(addr_mode=t.AddrMode.NWK, address=nwk), src_ep=SE_ENDPOINT,
                                  dst=t.AddrModeAddress(addr_mode=t.AddrMode.NWK, address=0x0000), dst_ep=SE_ENDPOINT,
                                  tsn=1, profile_id=PROFILE_SE, cluster_id=TUNNELING, data=t.SerializableBytes(request),
                                  tx_options=options)  # fmt: skip

        # What a radio library hands zigpy: a frame from a NWK address no device of this network has.
        app.packet_received(packet(0x7777, t.TransmitOptions.APS_Encryption))
        assert hub.hub.dropped["unknown device"] == 1
        # The meter's own address, but without APS security: not from the meter as far as ZSE goes.
        app.packet_received(packet(app.devices[zigpy_eui(esme)].nwk, t.TransmitOptions.NONE))
        assert hub.hub.dropped["not APS-encrypted"] == 1
        await asyncio.sleep(0.1)
        assert not [p for p in app.sent if p.dst.address == 0x7777]  # no answer went to the stranger

    run(body, tmp_path)


def test_a_device_that_leaves_gets_nothing_and_the_hub_can_remove_one(tmp_path: Path) -> None:
    async def body(hub: RadioHub) -> None:
        app, esme, ihd = hub.hub.app, device(hub, DeviceType.ESME), device(hub, DeviceType.IHD)
        hub.premises.nodes[esme].transport.close()  # the meter leaves the network
        await asyncio.sleep(0.05)
        assert not hub.hub.is_joined(esme)
        with pytest.raises(LinkDown):
            hub.premises._tunnel_server.send_gbcs(esme, b"\xdd")
        assert hub.premises.send(read_identity(hub, esme, 3001)) is None
        events = [entry for entry in hub.premises.store.read().event_log(hub.premises.chf.eui) if entry.event == "relay-failed"]
        assert events, "the hub logs the relay it could not make"
        # The hub removes the display: zigpy's management leave reaches it and it goes.
        await app.remove(zigpy_eui(ihd))
        async with asyncio.timeout(5):
            while hub.air.is_joined(ihd):
                await asyncio.sleep(0.01)
        assert zigpy_eui(ihd) not in app.devices

    run(body, tmp_path)


def test_a_restarted_hub_has_the_same_network_and_its_devices_back(tmp_path: Path) -> None:
    async def first(hub: RadioHub) -> tuple:
        info = hub.hub.app.state.network_info
        await answered_after(hub, 3002)
        return hub.hub.eui, info.pan_id, bytes(info.network_key.key), hub.hub.app.state.network_info.network_key.tx_counter

    async def second(hub: RadioHub) -> tuple:
        info = hub.hub.app.state.network_info
        await answered_after(hub, 3003)
        assert info.network_key.tx_counter > counter_before  # never a counter used twice
        return hub.hub.eui, info.pan_id, bytes(info.network_key.key)

    async def answered_after(hub: RadioHub, counter: int) -> None:
        for outbox_id, _ in hub.premises.wan_outbox():
            hub.premises.mark_sent(outbox_id)
        hub.premises.send(read_identity(hub, device(hub, DeviceType.ESME), counter))
        await answered(hub)

    eui, pan_id, key, counter_before = run(first, tmp_path)  # its devices leave the air with it
    assert run(second, tmp_path) == (eui, pan_id, key)


def test_the_gas_meter_reports_to_the_gas_proxy_across_the_radio(tmp_path: Path) -> None:
    config = HilConfig(devices=(HilDevice(DeviceType.GSME),), gsme_wake_interval=timedelta(seconds=0.2))

    async def body(hub: RadioHub) -> None:
        gsme = device(hub, DeviceType.GSME)
        assert hub.premises.gas_mirror() == {}
        hub.premises.gas_consumed(1234)
        async with asyncio.timeout(5):
            while not hub.premises.gas_mirror():  # it wakes, polls, and reports to the GPF's mirror
                await asyncio.sleep(0.02)
        assert hub.premises.gas_mirror()["current_summation_delivered"] >= 1234
        assert hub.premises.tunnel_open(gsme)  # the hub's grant waited for it to wake
        assert not hub.hub.dropped

    run(body, tmp_path, config)


def test_a_frame_the_radio_cannot_deliver_fails_the_next_send(tmp_path: Path) -> None:
    async def body(hub: RadioHub) -> None:
        esme = device(hub, DeviceType.ESME)
        transport = hub.premises.nodes[hub.premises.chf.eui].transport
        hub.air.conditions(esme).out_of_range = True  # zigpy does not know: the radio finds out
        hub.premises._tunnel_server.send_gbcs(esme, b"\x01")  # handed to the radio
        await transport.drain()
        with pytest.raises(LinkDown, match="could not deliver"):
            hub.premises._tunnel_server.send_gbcs(esme, b"\x02")
        hub.air.conditions(esme).out_of_range = False  # back in range: the link works again
        hub.premises._tunnel_server.send_gbcs(esme, b"\x03")
        await transport.drain()
        hub.premises._tunnel_server.send_gbcs(esme, b"\x04")

    run(body, tmp_path)


def test_the_hub_reports_when_it_last_heard_each_device_on_its_own_clock(tmp_path: Path) -> None:
    """CCS06 (read the CHF device log and check HAN communications) on a hub whose HAN is the radio."""
    from emulator.headend import HeadEnd
    from gbcs.dlms import (
        AccessRequest,
        Data,
        Obis,
        RequestKind,
        RequestSpecification,
        decode_apdu,
        encode_apdu,
    )
    from gbcs.types import DlmsDateTime

    async def body(hub: RadioHub) -> None:
        esme, ihd, chf = device(hub, DeviceType.ESME), device(hub, DeviceType.IHD), hub.premises.chf.eui
        read_log = encode_apdu(AccessRequest(0x20000001, b"", (RequestSpecification(RequestKind.GET, 104, Obis("0.0.30.3.0.255"), 4),),
                                             (Data.null(),)))  # fmt: skip
        outcome = hub.premises.send(HeadEnd(pki(hub).keystore()).command(0x010F, chf, read_log, role=Role.ACCESS_CONTROL_BROKER))
        assert outcome.accepted, outcome.rejection
        entries = {bytes(entry.value[0].value): entry.value[8].value
                   for entry in decode_apdu(gbcs.decode(outcome.response).content).data[0].value}  # fmt: skip
        heard = DlmsDateTime.decode(entries[bytes(esme)]).to_datetime()
        assert heard is not None and heard <= hub.premises.clock.now()  # its tunnel request, through the radio
        assert DlmsDateTime.decode(entries[bytes(ihd)]).to_datetime() is None  # the display never spoke to the hub

    run(body, tmp_path)


def test_a_meter_that_leaves_and_rejoins_is_heard_again(tmp_path: Path) -> None:
    async def body(hub: RadioHub) -> None:
        esme = device(hub, DeviceType.ESME)
        hub.air.leave(esme)
        await asyncio.sleep(0.05)
        assert not hub.hub.is_joined(esme)
        assert hub.premises.join(esme)  # with the link key the radio kept: no window needed
        async with asyncio.timeout(5):
            while not hub.ready(esme):
                await asyncio.sleep(0.01)
        hub.premises.send(read_identity(hub, esme, 3100))
        [(_, response)] = await answered(hub)
        assert gbcs.decode(response).originator == esme
        assert "device left" not in hub.hub.dropped

    run(body, tmp_path)


def test_the_gas_meters_prepayment_reports_reach_the_gas_proxy_too(tmp_path: Path) -> None:
    from emulator.devices import gas

    config = HilConfig(devices=(HilDevice(DeviceType.GSME),), gsme_wake_interval=timedelta(seconds=0.2))

    async def body(hub: RadioHub) -> None:
        def mirrored() -> set[int]:
            held = hub.premises.store.read().register(hub.premises.gpf.eui, gas.GPF_MIRRORED, {})
            return {int(key.split(".")[0], 16) for key in held}

        async with asyncio.timeout(5):
            while mirrored() != set(gas.MIRRORED):
                await asyncio.sleep(0.02)
        assert mirrored() == {0x0702, 0x0705}  # Metering and Prepayment, as on the simulated HAN

    run(body, tmp_path, config)


def test_a_failure_to_one_device_is_not_blamed_on_another(tmp_path: Path) -> None:
    async def body(hub: RadioHub) -> None:
        esme = device(hub, DeviceType.ESME)
        chf = hub.premises.nodes[hub.premises.chf.eui]
        hub.air.conditions(esme).out_of_range = True
        hub.premises._tunnel_server.send_gbcs(esme, b"\x01")
        await chf.transport.drain()
        gsme = device(hub, DeviceType.GSME)  # another device, reachable (it holds frames for it while it sleeps)
        chf.send(gsme, Tunneling, "transfer_data", to_client=True, tunnel_id=1, data=b"\x02")
        with pytest.raises(LinkDown, match=str(esme)):
            hub.premises._tunnel_server.send_gbcs(esme, b"\x03")

    run(body, tmp_path)


def test_simulated_devices_beside_the_radio_stay_off_the_air_and_a_real_one_joins_it(tmp_path: Path) -> None:
    """Beside a real radio, simulated devices are on a simulated HAN with the hub; real ones
    join the radio. Here the simulated radio stands in for the real one, and the test plays
    the real device on its air."""
    from emulator.han.transport import HanFrame

    real = EUI64("0011223344556677")
    config = HilConfig(devices=(HilDevice(DeviceType.ESME), HilDevice(DeviceType.GSME), HilDevice(DeviceType.IHD),
                                HilDevice(DeviceType.HCALCS, simulated=False, eui=real, install_code=SE_INSTALL_CODE)),
                       gsme_wake_interval=timedelta(seconds=0.2))  # fmt: skip

    async def body(hub: RadioHub) -> None:
        app, esme, gsme = hub.hub.app, device(hub, DeviceType.ESME), device(hub, DeviceType.GSME)
        assert not hub.air.is_joined(esme) and hub.premises.medium.is_joined(esme)  # beside, not on the air
        assert set(hub.joined()) == {esme, gsme, device(hub, DeviceType.IHD)}  # the real one has not joined yet
        hub.premises.send(read_identity(hub, esme, 3200))
        [(_, response)] = await answered(hub)
        assert gbcs.decode(response).originator == esme
        assert not app.sent  # nothing went on the air for it
        assert [entry for entry in app.permit_log if entry[0] == "link key"] == [("link key", 254)]  # the real one only
        # The real device joins the radio with the key its label's install code gives.
        from hardware.sim_radio import device_descriptor

        heard: list[HanFrame] = []
        hub.air.describe(real, device_descriptor("HCALCS"))
        hub.air.attach(real).set_receiver(heard.append)
        assert hub.air.join(real, SE_LINK_KEY)
        async with asyncio.timeout(5):
            while not hub.hub.is_joined(real):
                await asyncio.sleep(0.01)
        chf = hub.premises.nodes[hub.premises.chf.eui]
        chf.send(real, Tunneling, "transfer_data", to_client=True, tunnel_id=1, data=b"\x01")
        async with asyncio.timeout(5):
            while not heard:
                await asyncio.sleep(0.01)
        assert heard[0].source == hub.premises.chf.eui and [p.cluster_id for p in app.sent] == [TUNNELING]
        # ... and the hub hears it over the radio: a load switch is no meter, so no tunnel.
        heard.clear()
        hub.air._nodes[real].transport.send(HanFrame(real, hub.premises.chf.eui, TUNNELING, encode_command(
            Tunneling, "request_tunnel", 1, protocol_id=GB_HRGP, manufacturer_code=0xFFFF, flow_control_support=False,
            maximum_incoming_transfer_size=1500)))  # fmt: skip
        async with asyncio.timeout(5):
            while not heard:
                await asyncio.sleep(0.01)
        _, name, fields = decode_frame(TUNNELING, heard[0].payload)
        assert name == "request_tunnel_response" and fields.tunnel_status != 0  # refused: not one of its meters
        assert real in hub.joined()
        # The gas meter, asleep beside the radio, still mirrors to the GPF when it wakes.
        async with asyncio.timeout(5):
            while not hub.premises.gas_mirror():
                await asyncio.sleep(0.02)
        assert not hub.hub.dropped

    async def main() -> None:
        hub = await RadioHub.start("sim", str(tmp_path / "radio.json"), tmp_path, config, simulate_beside=True)
        try:
            await body(hub)
        finally:
            await hub.stop()

    asyncio.run(main())


def test_a_device_the_air_was_not_told_about_still_passes_its_interview(tmp_path: Path) -> None:
    """Any zigpy-side joiner: with no descriptor given, it shows a bare Smart Energy endpoint."""

    async def body(hub: RadioHub) -> None:
        stranger = EUI64("0011223344556688")
        await hub.hub.admit(stranger, SE_LINK_KEY, seconds=10)
        hub.air.attach(stranger)
        assert hub.air.join(stranger, SE_LINK_KEY)
        async with asyncio.timeout(5):
            while not hub.hub.is_joined(stranger):
                await asyncio.sleep(0.01)
        assert hub.hub.app.devices[zigpy_eui(stranger)].endpoints[SE_ENDPOINT].profile_id == PROFILE_SE

    run(body, tmp_path, HilConfig(devices=(HilDevice(DeviceType.IHD),)))
