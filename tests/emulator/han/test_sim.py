"""The simulated HAN: trust-centre admission, latency in virtual time, loss, range, sleepy
devices, and ZCL frames (Tunneling, Messaging, Price) as zigpy types lay them out."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from emulator.clock import VirtualClock
from emulator.errors import LinkDown, TransportClosed
from emulator.han import clusters
from emulator.han.clusters import Messaging, Tunneling, ZclError, decode_frame, encode_command
from emulator.han.node import HanNode, TunnelClient, TunnelServer
from emulator.han.sim import HanMedium
from emulator.han.transport import HanFrame
from gbcs.types import EUI64

HUB, METER, STRANGER = EUI64("0000000000000001"), EUI64("0000000000000002"), EUI64("0000000000000003")
KEY = bytes(range(16))


@pytest.fixture
def clock() -> VirtualClock:
    return VirtualClock(datetime(2026, 1, 1, tzinfo=timezone.utc))


@pytest.fixture
def medium(clock: VirtualClock) -> HanMedium:
    medium = HanMedium(clock, seed=1)
    medium.attach(HUB)
    medium.form(HUB, lambda eui, key: eui == METER and key == KEY)
    return medium


def frame(source: EUI64, destination: EUI64, payload: bytes = b"\x11\x01\x02\x01\x00") -> HanFrame:
    return HanFrame(source, destination, Tunneling.cluster_id, payload)


def test_only_devices_the_trust_centre_admits_join(medium: HanMedium) -> None:
    meter, stranger = medium.attach(METER), medium.attach(STRANGER)
    with pytest.raises(LinkDown, match="has not joined"):
        meter.send(frame(METER, HUB))
    assert not medium.join(METER, bytes(16))  # wrong link key
    assert not medium.join(STRANGER, KEY)  # not on the device log
    assert medium.join(METER, KEY) and medium.is_joined(METER)
    with pytest.raises(LinkDown, match="has not joined"):
        stranger.send(frame(STRANGER, HUB))


def test_frames_arrive_after_their_latency_in_order(medium: HanMedium, clock: VirtualClock) -> None:
    meter = medium.attach(METER)
    medium.join(METER, KEY)
    received: list[tuple[datetime, bytes]] = []
    medium._nodes[HUB].transport.set_receiver(lambda f: received.append((clock.now(), f.payload)))
    medium.conditions(METER).latency = timedelta(milliseconds=100)
    meter.send(frame(METER, HUB, b"one"))
    meter.send(frame(METER, HUB, b"two"))
    clock.advance(timedelta(milliseconds=50))
    assert received == []  # nothing is delivered before its time, and nothing sleeps
    clock.advance(timedelta(milliseconds=100))
    start = datetime(2026, 1, 1, tzinfo=timezone.utc)
    assert [payload for _, payload in received] == [b"one", b"two"]
    assert received[0][0] == start + timedelta(milliseconds=120)  # 100 ms + the hub's 20 ms


def test_loss_is_random_but_repeatable_with_a_seed(clock: VirtualClock) -> None:
    def run(seed: int) -> list[int]:
        medium = HanMedium(clock, seed=seed)
        medium.attach(HUB)
        medium.form(HUB, lambda eui, key: True)
        meter = medium.attach(METER)
        medium.join(METER, KEY)
        got: list[int] = []
        medium._nodes[HUB].transport.set_receiver(lambda f: got.append(f.payload[0]))
        medium.conditions(METER).loss = 0.5
        for index in range(200):
            meter.send(frame(METER, HUB, bytes((index,))))
        clock.advance(timedelta(seconds=1))
        assert medium.lost + len(got) == 200
        return got

    first = run(7)
    assert first == run(7) and first != run(8)
    assert 60 < len(first) < 140


def test_out_of_range_raises_and_frames_in_flight_to_it_are_lost(medium: HanMedium, clock: VirtualClock) -> None:
    meter = medium.attach(METER)
    medium.join(METER, KEY)
    at_hub, at_meter = [], []
    medium._nodes[HUB].transport.set_receiver(at_hub.append)
    meter.set_receiver(at_meter.append)
    meter.send(frame(METER, HUB))  # in the air before the meter leaves: it arrives
    medium._nodes[HUB].transport.send(frame(HUB, METER))  # in the air to a meter that leaves: lost
    medium.conditions(METER).out_of_range = True
    with pytest.raises(LinkDown, match="out of range"):
        meter.send(frame(METER, HUB))
    with pytest.raises(LinkDown, match="out of range"):
        medium._nodes[HUB].transport.send(frame(HUB, METER))
    clock.advance(timedelta(seconds=1))
    assert (len(at_hub), len(at_meter), medium.lost) == (1, 0, 1)
    medium.conditions(METER).out_of_range = False
    meter.send(frame(METER, HUB))
    clock.advance(timedelta(seconds=1))
    assert len(at_hub) == 2


def test_a_sleepy_device_gets_its_frames_when_it_polls(medium: HanMedium, clock: VirtualClock) -> None:
    meter = medium.attach(METER, sleepy=True)
    medium.join(METER, KEY)
    got = []
    meter.set_receiver(got.append)
    medium._nodes[HUB].transport.send(frame(HUB, METER))
    clock.advance(timedelta(hours=1))
    assert got == []
    assert meter.poll() == 1
    clock.advance(timedelta(seconds=1))
    assert len(got) == 1 and meter.poll() == 0


def test_a_closed_transport_refuses_to_send(medium: HanMedium) -> None:
    meter = medium.attach(METER)
    medium.join(METER, KEY)
    meter.close()
    with pytest.raises(TransportClosed):
        meter.send(frame(METER, HUB))
    assert not medium.is_joined(METER)


def test_gbcs_travels_through_a_tunnel_both_ways(medium: HanMedium, clock: VirtualClock) -> None:
    meter_node, hub_node = HanNode(medium.attach(METER)), HanNode(medium._nodes[HUB].transport)
    medium.join(METER, KEY)
    at_hub, at_meter = [], []
    server = TunnelServer(hub_node, lambda eui, data: at_hub.append((eui, data)))
    client = TunnelClient(meter_node, HUB, lambda eui, data: at_meter.append(data))
    with pytest.raises(LinkDown, match="no tunnel"):
        server.send_gbcs(METER, b"\xdd\x00command")
    client.open()
    clock.advance(timedelta(seconds=1))
    assert client.tunnel_id == 1 and server.has_tunnel(METER)
    server.send_gbcs(METER, b"\xdd\x00command")
    clock.advance(timedelta(seconds=1))
    client.send_gbcs(b"\xdf\x09response")
    clock.advance(timedelta(seconds=1))
    assert at_meter == [b"\xdd\x00command"] and at_hub == [(METER, b"\xdf\x09response")]


def test_garbage_from_the_air_is_dropped_not_raised(medium: HanMedium, clock: VirtualClock) -> None:
    hub_node = HanNode(medium._nodes[HUB].transport)
    TunnelServer(hub_node, lambda eui, data: None)
    meter = medium.attach(METER)
    medium.join(METER, KEY)
    for payload in (b"", b"\x11", b"\x11\x01\x7f", b"\x00\x01\x00\x00"):
        meter.send(frame(METER, HUB, payload))
    meter.send(HanFrame(METER, HUB, 0x0006, b"\x01\x01\x00"))  # a cluster the HAN model lacks
    clock.advance(timedelta(seconds=1))
    assert hub_node.dropped == 5


def test_zcl_frames_have_the_zse_layout() -> None:
    # frame control 0x11 (cluster command, client to server, no default response), TSN, command
    # id, then the fields little-endian (ZSE Tunneling TransferData: tunnel id, data).
    assert encode_command(Tunneling, "transfer_data", 7, tunnel_id=0x0102, data=b"\xdf\x09") == bytes.fromhex("1107020201df09")
    assert encode_command(Tunneling, "request_tunnel", 1, protocol_id=clusters.GB_HRGP, manufacturer_code=0xFFFF,
                          flow_control_support=False, maximum_incoming_transfer_size=1500) == bytes.fromhex("11010006ffff00dc05")  # fmt: skip
    # server to client: frame control 0x19
    response = encode_command(Tunneling, "request_tunnel_response", 1, to_client=True, tunnel_id=1, tunnel_status=0,
                              maximum_incoming_transfer_size=1500)  # fmt: skip
    assert response == bytes.fromhex("190100010000dc05")
    _, name, fields = decode_frame(Tunneling.cluster_id, response)
    assert (name, fields.tunnel_id, fields.maximum_incoming_transfer_size) == ("request_tunnel_response", 1, 1500)
    message = encode_command(Messaging, "display_message", 3, to_client=True, message_id=9, message_control=0,
                             start_time=0, duration_in_minutes=60, message=b"hello")  # fmt: skip
    _, name, fields = decode_frame(Messaging.cluster_id, message)
    assert (name, fields.message_id, bytes(fields.message)) == ("display_message", 9, b"hello")
    with pytest.raises(ZclError, match="no command"):
        encode_command(Tunneling, "request_tunnel", 1, to_client=True)
    with pytest.raises(ZclError, match="left over"):
        decode_frame(Messaging.cluster_id, bytes.fromhex("190101" "0100000000" "ff"))


def test_attribute_reports_have_the_zcl_layout() -> None:
    from zigpy.zcl import foundation
    from zigpy.zcl.clusters import smartenergy

    from emulator.han.clusters import encode_report

    data = encode_report(smartenergy.Metering, 5, {0x0000: (foundation.DataTypeId.uint48, 0x0102030405)})
    # frame control 0x18 (global, server to client, no default response), TSN, 0x0A report
    # attributes, then attribute id 0x0000, type 0x25 (uint48), the value little-endian.
    assert data == bytes.fromhex("18050a" "0000" "25" "050403020100")
    _, name, fields = decode_frame(smartenergy.Metering.cluster_id, data)
    assert (name, fields) == ("report_attributes", {0: 0x0102030405})
    with pytest.raises(ZclError, match="global command 0x00"):
        decode_frame(smartenergy.Metering.cluster_id, bytes.fromhex("1805000000"))  # read attributes


def test_the_cluster_definitions_agree_with_the_codecs_command_table() -> None:
    """The HAN's zigpy definitions and gbcs.zcl_se's table (which decodes every RTDS GBZ
    payload) name the same commands with the same ids, directions and fields."""
    from emulator.han.clusters import Prepayment, Price
    from gbcs import zcl_se

    matched = 0
    for cluster in (Price, Messaging, Prepayment):
        for definitions, direction in ((cluster.ServerCommandDefs, zcl_se.Direction.CLIENT_TO_SERVER),
                                       (cluster.ClientCommandDefs, zcl_se.Direction.SERVER_TO_CLIENT)):  # fmt: skip
            for definition in definitions:
                codec = zcl_se.COMMANDS.get((cluster.cluster_id, direction, definition.id))
                if codec is None:
                    continue  # a HAN-only command the codec never meets in GBZ (get_last_message …)
                assert codec.name == definition.name, (cluster.__name__, definition.name)
                fields = list(definition.with_compiled_schema().schema.fields)
                assert [field.name for field in fields] == [field.name for field in codec.schema.fields]
                matched += 1
    assert matched == 16  # every command the two define alike (Price 2, Messaging 1, Prepayment 13)
    covered = {(cluster.cluster_id, definition.id) for cluster in (Price, Messaging, Prepayment)
               for definition in (*cluster.ServerCommandDefs, *cluster.ClientCommandDefs)}  # fmt: skip
    assert {(0x0705, 0x04), (0x0705, 0x01), (0x0700, 0x00), (0x0703, 0x00)} <= covered


@pytest.mark.parametrize("to_client", [False, True], ids=["to-server", "to-client"])
@pytest.mark.parametrize(("tunnel_id", "data"), [(0, b""), (1, b"\xdf\x09"), (0xFFFF, bytes(range(256)) * 3)])
def test_the_transfer_data_fast_path_is_byte_for_byte_zigpys(to_client: bool, tunnel_id: int, data: bytes) -> None:
    from zigpy.zcl import foundation

    definitions = Tunneling.ClientCommandDefs if to_client else Tunneling.ServerCommandDefs
    direction = foundation.Direction.Server_to_Client if to_client else foundation.Direction.Client_to_Server
    header = foundation.ZCLHeader.cluster(tsn=0xA5, command_id=definitions.transfer_data.id, direction=direction)
    header.frame_control = header.frame_control.replace(disable_default_response=True)
    zigpys = header.serialize() + definitions.transfer_data.with_compiled_schema().schema(tunnel_id=tunnel_id, data=data).serialize()
    assert encode_command(Tunneling, "transfer_data", 0xA5, to_client=to_client, tunnel_id=tunnel_id, data=data) == zigpys
    decoded_header, name, fields = decode_frame(Tunneling.cluster_id, zigpys)
    assert (name, fields.tunnel_id, bytes(fields.data), decoded_header.tsn) == ("transfer_data", tunnel_id, data, 0xA5)
    assert decoded_header.direction == direction


def test_frames_on_their_way_count_as_held() -> None:
    clock = VirtualClock(datetime(2026, 1, 1, tzinfo=timezone.utc))
    medium = HanMedium(clock)
    hub, meter = medium.attach(EUI64(bytes(8))), medium.attach(EUI64(bytes(7) + b"\x01"))
    medium.form(hub.eui, lambda eui, key: True)
    assert medium.join(meter.eui, bytes(16))
    meter.set_receiver(lambda frame: None)
    hub.send(HanFrame(hub.eui, meter.eui, Tunneling.cluster_id, b"\x01"))
    assert medium.held() == 1  # in flight: only in memory until it arrives
    clock.advance(timedelta(seconds=1))
    assert medium.held() == 0
