"""A zigpy radio backed by the simulated HAN: ``SimControllerApplication``.

It lets the real zigpy ``ControllerApplication`` (start-up, network formation, install-code
joins, device interviews, backups) run end to end with no dongle, so CI can test the hub's
radio bridge (``bridge.py``) through the same calls a real radio library answers; and any
zigpy application can join the emulated HAN (it is registered as the ``smets-emu-sim`` entry
point of the ``zigpy.radios`` group, and is the ``sim`` kind of ``radio.py``).

Its "air" is a ``SimAir``: a ``HanMedium`` (the simulated HAN of ``emulator/han/sim.py``)
whose trust centre is this radio, the network's coordinator. Simulated devices attach to the
air and join it with their install-code link key; the radio admits a join only as a real
trust centre would: with the link key ``permit_with_link_key`` gave for that device in its
window, or anyone while a plain permit is open (which the hub never does: ``permit_log``
records every call so tests can say so).

Below ZCL the emulator's device models have no ZigBee stack; the air supplies the part
zigpy talks to: each joined device gets a NWK address and answers the ZDO requests of an
interview (node descriptor, active endpoints, simple descriptors), a management leave, and
an IEEE address request, from the descriptor it was given (``describe``).

Its non-volatile memory is a file in zigpy's open coordinator backup format (the ``port``
of the radio): network settings, keys and their frame counters, and joined devices, written
whenever they change and on disconnect. So a backup taken from a real dongle with
``smets-emu hil backup`` is a state this radio can start from, and the reverse.

What it checks, as a Smart Energy network does: frames of the Smart Energy profile, except
Key Establishment's, must be sent with APS encryption (the device's link key); the network
frame counter and the partner's APS counters advance with each frame.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import os
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, ClassVar

import zigpy.application
import zigpy.backups
import zigpy.config
import zigpy.device
import zigpy.exceptions
import zigpy.state
import zigpy.types as t
import zigpy.zdo.types as zdo_t

from emulator.clock import Clock, RealClock
from emulator.han.sim import HanMedium, SimulatedHan
from emulator.han.transport import HanFrame
from emulator.state_files import hold_lock
from gbcs.types import EUI64

from .frames import KEY_ESTABLISHMENT, gbcs_eui, zcl_tsn, zigpy_eui
from .radio import PROFILE_SMART_ENERGY, SE_ENDPOINT

__all__ = ["SimAir", "SimControllerApplication", "SimRadioError", "device_descriptor", "parse_backup"]

LOGGER = logging.getLogger(__name__)

MANUFACTURER_CODE = 0xFFFF  # none assigned to us; ZSE's "no manufacturer" value
COUNTER_SAVE_EVERY = 1024  # frames between saves of the frame counters (see _skip_unsaved_counters)
STATE_KEY = "smets_emu_sim"  # ours in the backup's stack_specific: whether the file was saved at a stop
ZDO_REPLY_DELAY = 0.002  # seconds: a ZDO answer arrives after the request went out, as on air


class SimRadioError(zigpy.exceptions.ControllerException):
    """The simulated radio's state file cannot be read or written."""


# ZigBee Smart Energy device ids (ZSE's device descriptions).
DEVICE_METERING = 0x0501
DEVICE_IN_PREMISES_DISPLAY = 0x0502
DEVICE_LOAD_CONTROL = 0x0504
DEVICE_PREPAYMENT_TERMINAL = 0x0506

_SE_CLIENT_CLUSTERS = [0x0700, 0x0702, 0x0703, 0x0705]  # Price, Metering, Messaging, Prepayment
_DESCRIPTORS: dict[str, tuple[int, list[int], list[int]]] = {
    # kind: (device id, server clusters, client clusters)
    "ESME": (DEVICE_METERING, [0x0700, 0x0702, 0x0703, 0x0705, KEY_ESTABLISHMENT], [0x0704]),
    "GSME": (DEVICE_METERING, [0x0702, KEY_ESTABLISHMENT], [0x0704]),
    "IHD": (DEVICE_IN_PREMISES_DISPLAY, [KEY_ESTABLISHMENT], _SE_CLIENT_CLUSTERS),
    "PPMID": (DEVICE_PREPAYMENT_TERMINAL, [KEY_ESTABLISHMENT], _SE_CLIENT_CLUSTERS),
    "HCALCS": (DEVICE_LOAD_CONTROL, [KEY_ESTABLISHMENT], [0x0701]),
}


def device_descriptor(kind: str, endpoint: int = SE_ENDPOINT) -> zdo_t.SimpleDescriptor:
    """The Smart Energy endpoint a simulated ``kind`` of device (``DeviceType`` name) shows."""
    device_id, servers, clients = _DESCRIPTORS[kind]
    return zdo_t.SimpleDescriptor(endpoint=endpoint, profile=PROFILE_SMART_ENERGY, device_type=device_id,
                                  device_version=0, input_clusters=list(servers), output_clusters=list(clients))  # fmt: skip


@dataclass
class _Member:
    """What the air keeps of a device below ZCL: its stack's answers."""

    descriptor: zdo_t.SimpleDescriptor
    end_device: bool  # sleepy (the GSME): a child of the coordinator, not a router
    nwk: t.NWK | None = None


class SimAir(HanMedium):
    """The radio space of one simulated radio: its devices, their NWK addresses and ZDO.

    One air per radio port in a process (``at``), as one dongle per serial port: the radio
    and the simulated devices meet through it."""

    _airs: ClassVar[dict[str, SimAir]] = {}

    def __init__(self, clock: Clock, *, seed: int = 0) -> None:
        super().__init__(clock, seed=seed)
        self.radio: SimControllerApplication | None = None
        self._members: dict[EUI64, _Member] = {}
        self._coordinator: SimulatedHan | None = None
        self._hosted: set[EUI64] = set()  # the nodes the radio answers for: coordinator and aliases

    @classmethod
    def at(cls, port: str | os.PathLike[str], clock: Clock | None = None) -> SimAir:
        """The air of the radio at ``port``, made on first use; ``clock`` times its frames
        (an idle air takes a new clock; a busy one must keep its own)."""
        key = str(Path(port).absolute())
        air = cls._airs.get(key)
        if air is None:
            air = cls._airs[key] = cls(clock or RealClock())
        elif clock is not None and air.clock is not clock:
            if air.radio is not None or any(eui not in air._hosted for eui in air._nodes):
                raise SimRadioError(f"the simulated radio's air at {port} is in use on another clock")
            air.clock = clock
        return air

    def describe(self, eui: bytes, descriptor: zdo_t.SimpleDescriptor, *, end_device: bool = False) -> None:
        """What ``eui``'s ZigBee stack answers an interview with."""
        self._members[EUI64(eui)] = _Member(descriptor, end_device)

    def nwk_of(self, eui: bytes) -> t.NWK | None:
        member = self._members.get(EUI64(eui))
        return None if member is None else member.nwk

    def eui_of(self, nwk: int) -> EUI64 | None:
        return next((eui for eui, member in self._members.items() if member.nwk == nwk and self.is_joined(eui)), None)

    def member(self, eui: bytes) -> _Member | None:
        return self._members.get(EUI64(eui))

    def join(self, eui: bytes, link_key: bytes) -> bool:
        eui = EUI64(eui)
        was_joined = self.is_joined(eui)
        joined = super().join(eui, link_key)
        if joined and self.radio is not None and eui != self.coordinator_eui:
            self.radio._joined(eui, link_key, rejoin=was_joined)
        return joined

    def leave(self, eui: bytes) -> None:
        eui = EUI64(eui)
        was_joined = self.is_joined(eui)
        super().leave(eui)
        if was_joined and self.radio is not None and eui != self.coordinator_eui:
            self.radio._left(eui)

    # -- the coordinator's side (used by SimControllerApplication) -------------------------------

    @property
    def coordinator_eui(self) -> EUI64 | None:
        return None if self._coordinator is None else self._coordinator.eui

    def host_coordinator(self, radio: SimControllerApplication, eui: EUI64) -> SimulatedHan:
        """``radio`` starts its network on this air as coordinator and trust centre."""
        if self._coordinator is not None and self._coordinator.eui != eui:
            self._nodes.pop(self._coordinator.eui, None)
        self.radio = radio
        if eui not in self._nodes:
            self._coordinator = self.attach(eui)
        self._coordinator = self._nodes[eui].transport
        self.form(eui, radio._admit)
        self._coordinator.set_receiver(radio._from_air)
        self._hosted.add(eui)
        return self._coordinator

    def host_alias(self, eui: bytes) -> None:
        """Frames to ``eui`` reach the coordinator: another logical device of the hub it
        carries (the GPF), which a simulated device addresses by EUI-64 and a radio by the
        coordinator's NWK address."""
        if self.radio is None:
            raise SimRadioError("no radio has started its network on this air")
        eui = EUI64(eui)
        if eui not in self._nodes:
            self.attach(eui)
        self._nodes[eui].joined = True
        self._nodes[eui].transport.set_receiver(self.radio._from_air)
        self._hosted.add(eui)

    def detach(self, eui: bytes) -> None:
        """Take a simulated device off this air altogether (its process ends); it keeps its
        network settings, and rejoins with its link key when it attaches again."""
        eui = EUI64(eui)
        self._nodes.pop(eui, None)
        self._held.pop(eui, None)

    def release(self, radio: SimControllerApplication) -> None:
        """The radio disconnects: the coordinator and its aliases are off the air, so frames
        to them fail as to an unpowered hub (devices stay joined, as they keep their network
        settings while the hub restarts)."""
        if self.radio is not radio:
            return
        self.radio = None
        self._admission = None
        for eui in self._hosted:
            node = self._nodes.get(eui)
            if node is not None:
                node.joined, node.receiver = False, None


class SimControllerApplication(zigpy.application.ControllerApplication):
    """A zigpy radio library whose radio is a ``SimAir``; ``device.path`` names its state
    file (open coordinator backup JSON)."""

    SCHEMA = zigpy.config.CONFIG_SCHEMA

    def __init__(self, config: dict[str, Any]) -> None:
        super().__init__(config)
        self._path = Path(self.config[zigpy.config.CONF_DEVICE][zigpy.config.CONF_DEVICE_PATH])
        self.air: SimAir | None = None
        self._nvram: zigpy.backups.NetworkBackup | None = None
        self._ieee = _ieee_for(self._path)
        self._endpoints: dict[int, zdo_t.SimpleDescriptor] = {}
        self._permits: dict[EUI64, tuple[bytes, float]] = {}  # eui -> (link key, until loop time)
        self._open_until = 0.0  # a plain permit's window: any joiner admitted
        self.permit_log: list[tuple[str, int]] = []  # ("ncp" | "broadcast" | "link key", seconds)
        self.sent: deque[t.ZigbeePacket] = deque(maxlen=1000)  # the last non-ZDO packets sent, to inspect
        self.running = False
        self._lock: IO[str] | None = None

    # -- connection and network ------------------------------------------------------------------

    async def connect(self) -> None:
        # One process at a time, as a serial port: another's saves would overwrite this one's.
        self._path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = hold_lock(self._path.with_name(self._path.name + ".lock"), f"the simulated radio {self._path}")
        self.air = SimAir.at(self._path)
        if self._path.exists():
            self._nvram = _read_state(self._path)
            self._ieee = self._nvram.node_info.ieee
            marker = self._nvram.network_info.stack_specific.get(STATE_KEY)
            if not (isinstance(marker, dict) and marker.get("clean") is True):  # ours saved at a stop, or assume not
                self._skip_unsaved_counters()
            self._save(clean=False)  # until a clean stop, the file's counters may lag behind
        # It says who it is before it has formed a network (as Z-Stack does; an EZSP NCP does not).
        self.state.node_info = self.state.node_info.replace(ieee=self._ieee)

    async def disconnect(self) -> None:
        if self.air is not None:
            self._save(clean=True)
            self.air.release(self)
        self.running = False
        if self._lock is not None:
            self._lock.close()
            self._lock = None

    async def start_network(self) -> None:
        if self._nvram is None:
            raise zigpy.exceptions.NetworkNotFormed("the simulated radio has formed no network")
        assert self.air is not None
        await self.load_network_info(load_devices=True)
        self.air.host_coordinator(self, gbcs_eui(self._ieee))
        self.running = True
        await self.register_endpoints()
        coordinator = _Coordinator(self, self._ieee, self.state.node_info.nwk)
        self.devices[self._ieee] = coordinator
        await coordinator.schedule_initialize()
        for ieee, nwk in self.state.network_info.nwk_addresses.items():  # known before the restart
            if ieee not in self.devices and self.air.is_joined(gbcs_eui(ieee)):
                self.handle_join(nwk, ieee, self.state.node_info.nwk)

    async def load_network_info(self, *, load_devices: bool = False) -> None:
        if self._nvram is None:
            raise zigpy.exceptions.NetworkNotFormed("the simulated radio has formed no network")
        self.state.network_info = self._nvram.network_info
        self.state.node_info = self._nvram.node_info

    async def write_network_info(self, *, network_info: zigpy.state.NetworkInfo, node_info: zigpy.state.NodeInfo) -> None:
        if node_info.ieee != t.EUI64.UNKNOWN:
            self._ieee = node_info.ieee  # as a radio whose EUI-64 can be written
        node_info = node_info.replace(ieee=self._ieee, nwk=t.NWK(node_info.nwk), model="simulated radio",
                                      manufacturer="smets-emu", version=_version())  # fmt: skip
        network_info = network_info.replace(pan_id=t.PanId(network_info.pan_id), nwk_manager_id=t.NWK(network_info.nwk_manager_id))
        self._nvram = zigpy.backups.NetworkBackup(network_info=network_info, node_info=node_info)
        self.state.network_info, self.state.node_info = network_info, node_info
        self._save(clean=False)

    async def reset_network_info(self) -> None:
        self._nvram = None
        self._path.unlink(missing_ok=True)

    async def force_remove(self, dev: zigpy.device.Device) -> None:
        if self.air is not None:
            self.air.leave(gbcs_eui(dev.ieee))

    async def add_endpoint(self, descriptor: zdo_t.SimpleDescriptor) -> None:
        self._endpoints[descriptor.endpoint] = descriptor

    @property
    def endpoints(self) -> dict[int, zdo_t.SimpleDescriptor]:
        """The endpoints registered on this radio (zigpy's three and ``additional_endpoints``)."""
        return dict(self._endpoints)

    # -- joining ---------------------------------------------------------------------------------

    async def permit_ncp(self, time_s: int = 60) -> None:
        self.permit_log.append(("ncp", time_s))
        self._open_until = self._loop_time() + time_s if time_s else 0.0

    async def permit_with_link_key(self, node: t.EUI64, link_key: t.KeyData, time_s: int = 60) -> None:
        self.permit_log.append(("link key", time_s))
        self._permits[gbcs_eui(node)] = (bytes(link_key), self._loop_time() + time_s)

    def _admit(self, eui: EUI64, link_key: bytes) -> bool:
        """The trust centre: a device with the link key permitted for it, in its window, or
        any device while a plain permit is open."""
        now = self._loop_time()
        if now < self._open_until:
            return True
        permit = self._permits.get(eui)
        if permit is not None and permit[0] == link_key and now < permit[1]:
            return True
        return self._link_key(eui) == link_key  # a device rejoining with its own link key

    def _joined(self, eui: EUI64, link_key: bytes, *, rejoin: bool) -> None:
        assert self.air is not None
        member = self.air.member(eui)
        if member is None:
            LOGGER.warning("%s joined the simulated radio undescribed: it shows a bare Smart Energy endpoint", eui)
            self.air.describe(eui, zdo_t.SimpleDescriptor(endpoint=SE_ENDPOINT, profile=PROFILE_SMART_ENERGY, device_type=0,
                                                          device_version=0, input_clusters=[], output_clusters=[]))  # fmt: skip
            member = self.air.member(eui)
            assert member is not None
        ieee = zigpy_eui(eui)
        if member.nwk is None:
            member.nwk = self._nwk_for(eui)
        self._permits.pop(eui, None)  # a transient key is used once
        info = self.state.network_info
        key_table = [key for key in info.key_table if key.partner_ieee != ieee]
        old = next((key for key in info.key_table if key.partner_ieee == ieee), None)
        key_table.append(old if old is not None and bytes(old.key) == link_key
                         else zigpy.state.Key(key=t.KeyData(link_key), partner_ieee=ieee))  # fmt: skip
        children = [child for child in info.children if child != ieee] + ([ieee] if member.end_device else [])
        self._update(key_table=key_table, children=children, nwk_addresses={**info.nwk_addresses, ieee: member.nwk})
        asyncio.get_running_loop().call_soon(self.handle_join, member.nwk, ieee, self.state.node_info.nwk)

    def _left(self, eui: EUI64) -> None:
        member = self.air.member(eui) if self.air is not None else None
        if member is not None and member.nwk is not None:
            asyncio.get_running_loop().call_soon(self.handle_leave, member.nwk, zigpy_eui(eui))

    def _link_key(self, eui: EUI64) -> bytes | None:
        ieee = zigpy_eui(eui)
        key = next((key for key in self.state.network_info.key_table if key.partner_ieee == ieee), None)
        return None if key is None else bytes(key.key)

    def _nwk_for(self, eui: EUI64) -> t.NWK:
        known = self.state.network_info.nwk_addresses.get(zigpy_eui(eui))
        if known is not None:
            return known
        taken = {*self.state.network_info.nwk_addresses.values(), self.state.node_info.nwk}
        nwk = int.from_bytes(hashlib.sha256(bytes(eui)).digest()[:2], "big") % 0xFFF0 + 1  # stable, as a rejoin keeps it
        while nwk in taken:
            nwk = nwk % 0xFFF0 + 1
        return t.NWK(nwk)

    # -- frames ----------------------------------------------------------------------------------

    async def send_packet(self, packet: t.ZigbeePacket) -> None:
        if not self.running or self.air is None:
            raise zigpy.exceptions.DeliveryError("the simulated radio is not running")
        self._advance_counters(packet, sent=True)
        if packet.dst.addr_mode == t.AddrMode.Broadcast:
            if packet.profile_id == 0 and packet.cluster_id == zdo_t.ZDOCmd.Mgmt_Permit_Joining_req:
                duration = packet.data.serialize()[1]
                self.permit_log.append(("broadcast", duration))
                self._open_until = self._loop_time() + duration if duration else 0.0
            return  # nothing else the hub broadcasts concerns the simulated devices
        eui = self._eui_at(packet.dst)
        if eui is None:
            raise zigpy.exceptions.DeliveryError(f"no device at {packet.dst!r} on the simulated network")
        if packet.dst_ep == 0 and packet.profile_id == 0:
            self._answer_zdo(eui, packet)
            return
        if (packet.profile_id == PROFILE_SMART_ENERGY and packet.cluster_id != KEY_ESTABLISHMENT
                and t.TransmitOptions.APS_Encryption not in packet.tx_options):  # fmt: skip
            raise zigpy.exceptions.DeliveryError("a Smart Energy frame must be sent with APS encryption")
        self.sent.append(packet)
        assert self.air._coordinator is not None
        frame = HanFrame(gbcs_eui(self._ieee), eui, packet.cluster_id, packet.data.serialize(), packet.profile_id)
        try:
            self.air._coordinator.send(frame)
        except Exception as error:  # LinkDown: left, out of range
            raise zigpy.exceptions.DeliveryError(f"{eui}: {error}") from error

    def _from_air(self, frame: HanFrame) -> None:
        """A simulated device's frame reaches the coordinator: handed to zigpy as a radio
        library hands what it receives."""
        if not self.running or self.air is None:
            return  # stopped: the radio hears nothing
        member = self.air.member(frame.source)
        if member is None or member.nwk is None:
            return  # not a device of this network
        secured = frame.profile_id == PROFILE_SMART_ENERGY and frame.cluster_id != KEY_ESTABLISHMENT
        packet = t.ZigbeePacket(
            src=t.AddrModeAddress(addr_mode=t.AddrMode.NWK, address=member.nwk),
            src_ep=member.descriptor.endpoint,
            dst=t.AddrModeAddress(addr_mode=t.AddrMode.NWK, address=self.state.node_info.nwk),
            dst_ep=SE_ENDPOINT,
            tsn=zcl_tsn(frame.payload),
            profile_id=frame.profile_id,
            cluster_id=frame.cluster_id,
            data=t.SerializableBytes(frame.payload),
            tx_options=t.TransmitOptions.APS_Encryption if secured else t.TransmitOptions.NONE,
            lqi=255,
            rssi=-40,
        )
        self._advance_counters(packet, sent=False)
        self.packet_received(packet)

    def _answer_zdo(self, eui: EUI64, packet: t.ZigbeePacket) -> None:
        """What ``eui``'s ZigBee stack answers (the coordinator answers for itself)."""
        data = packet.data.serialize()
        tsn, command = data[0], zdo_t.ZDOCmd(packet.cluster_id)
        nwk = self.state.node_info.nwk if eui == gbcs_eui(self._ieee) else self.air.nwk_of(eui)  # type: ignore[union-attr]
        descriptors = self._descriptors_of(eui)
        if command == zdo_t.ZDOCmd.Node_Desc_req:
            answer: tuple = (zdo_t.Status.SUCCESS, nwk, self._node_descriptor(eui))
        elif command == zdo_t.ZDOCmd.Active_EP_req:
            answer = (zdo_t.Status.SUCCESS, nwk, [t.uint8_t(endpoint) for endpoint in descriptors])
        elif command == zdo_t.ZDOCmd.Simple_Desc_req:
            endpoint = data[3]
            if endpoint not in descriptors:
                answer = (zdo_t.Status.NOT_ACTIVE, nwk, zdo_t.SizePrefixedSimpleDescriptor())
            else:
                answer = (zdo_t.Status.SUCCESS, nwk, zdo_t.SizePrefixedSimpleDescriptor(**descriptors[endpoint].as_dict()))
        elif command == zdo_t.ZDOCmd.IEEE_addr_req:
            answer = (zdo_t.Status.SUCCESS, zigpy_eui(eui), nwk, 0, 0, [])
        elif command == zdo_t.ZDOCmd.Mgmt_Leave_req:
            answer = (zdo_t.Status.SUCCESS,)
            self.air.leave(eui)  # type: ignore[union-attr]
        else:
            return  # not part of what the simulated stack answers: the request times out
        response = zdo_t.ZDOCmd(command | 0x8000)
        _, schema = zdo_t.CLUSTERS[response]
        reply = t.ZigbeePacket(
            src=t.AddrModeAddress(addr_mode=t.AddrMode.NWK, address=nwk),
            src_ep=0,
            dst=t.AddrModeAddress(addr_mode=t.AddrMode.NWK, address=self.state.node_info.nwk),
            dst_ep=0,
            tsn=tsn,
            profile_id=0,
            cluster_id=response,
            data=t.SerializableBytes(bytes([tsn]) + t.serialize(answer, schema)),
            lqi=255,
            rssi=-40,
        )
        asyncio.get_running_loop().call_later(ZDO_REPLY_DELAY, self.packet_received, reply)

    def _descriptors_of(self, eui: EUI64) -> dict[int, zdo_t.SimpleDescriptor]:
        if eui == gbcs_eui(self._ieee):
            return dict(sorted(self._endpoints.items()))
        member = self.air.member(eui) if self.air is not None else None
        return {} if member is None else {member.descriptor.endpoint: member.descriptor}

    def _node_descriptor(self, eui: EUI64) -> zdo_t.NodeDescriptor:
        caps = zdo_t.MACCapabilityFlags
        if eui == gbcs_eui(self._ieee):
            logical, flags = zdo_t.LogicalType.Coordinator, caps.FullFunctionDevice | caps.MainsPowered | caps.RxOnWhenIdle
        elif (member := self.air.member(eui)) is not None and member.end_device:  # type: ignore[union-attr]
            logical, flags = zdo_t.LogicalType.EndDevice, caps.AllocateAddress
        else:
            logical, flags = zdo_t.LogicalType.Router, caps.FullFunctionDevice | caps.MainsPowered | caps.RxOnWhenIdle
        return zdo_t.NodeDescriptor(
            logical_type=logical, complex_descriptor_available=0, user_descriptor_available=0, reserved=0,
            aps_flags=0, frequency_band=zdo_t.FrequencyBand.Freq2400MHz,
            mac_capability_flags=flags | caps.SecurityCapable | caps.AllocateAddress,
            manufacturer_code=MANUFACTURER_CODE, maximum_buffer_size=82, maximum_incoming_transfer_size=128,
            server_mask=0, maximum_outgoing_transfer_size=128,
            descriptor_capability_field=zdo_t.DescriptorCapability.NONE,
        )  # fmt: skip

    def _eui_at(self, address: t.AddrModeAddress) -> EUI64 | None:
        assert self.air is not None
        if address.addr_mode == t.AddrMode.IEEE:
            return gbcs_eui(address.address)
        if address.address == self.state.node_info.nwk:
            return gbcs_eui(self._ieee)
        return self.air.eui_of(address.address)

    def _advance_counters(self, packet: t.ZigbeePacket, *, sent: bool) -> None:
        """Every frame the coordinator sends takes a network frame counter; an APS-secured
        one also takes the partner's link-key counter (sent or received)."""
        info = self.state.network_info
        changes: dict[str, Any] = {}
        if sent:
            changes["network_key"] = info.network_key.replace(tx_counter=info.network_key.tx_counter + 1)
        if t.TransmitOptions.APS_Encryption in packet.tx_options:
            address = packet.dst if sent else packet.src
            eui = self._eui_at(address) if address is not None else None
            partner = zigpy_eui(eui) if eui is not None else None
            counter = "tx_counter" if sent else "rx_counter"
            changes["key_table"] = [key.replace(**{counter: getattr(key, counter) + 1}) if key.partner_ieee == partner
                                    else key for key in info.key_table]  # fmt: skip
        if changes:
            self._update(**changes)

    def _update(self, **changes: Any) -> None:
        """Change the network state; the file follows at once for keys and devices, and every
        ``COUNTER_SAVE_EVERY`` frames for counters (``_skip_unsaved_counters`` covers a crash)."""
        before = self.state.network_info
        self.state.network_info = before.replace(**changes)
        assert self._nvram is not None
        self._nvram = self._nvram.replace(network_info=self.state.network_info)
        counters_only = set(changes) <= {"network_key", "key_table"} and (
            [bytes(key.key) for key in before.key_table] == [bytes(key.key) for key in self.state.network_info.key_table])
        if not counters_only or self.state.network_info.network_key.tx_counter % COUNTER_SAVE_EVERY == 0:
            self._save(clean=False)

    def _skip_unsaved_counters(self) -> None:
        """The radio stopped without saving: counters may have moved up to
        ``COUNTER_SAVE_EVERY`` past the file's. Start past that, as an NCP's NVRAM does, so
        that no frame counter is ever used twice."""
        assert self._nvram is not None
        info = self._nvram.network_info
        info = info.replace(
            network_key=info.network_key.replace(tx_counter=info.network_key.tx_counter + COUNTER_SAVE_EVERY),
            key_table=[key.replace(tx_counter=key.tx_counter + COUNTER_SAVE_EVERY) for key in info.key_table],
        )
        self._nvram = self._nvram.replace(network_info=info)

    def _save(self, *, clean: bool = False) -> None:
        """The state file, written whole to a new file and renamed over the old: a crash
        leaves the old state or the new, never half of one. ``clean``: written at a stop, so
        its counters are exact."""
        if self._nvram is None:
            return
        info = self._nvram.network_info
        info = info.replace(stack_specific={**info.stack_specific, STATE_KEY: {"clean": clean}})
        self._nvram = self._nvram.replace(network_info=info)
        if self.running:
            self.state.network_info = info
        document = json.dumps(self._nvram.as_open_coordinator_json(), indent=2)
        temporary = self._path.with_name(self._path.name + ".new")
        try:
            self._path.parent.mkdir(parents=True, exist_ok=True)
            with open(temporary, "w", encoding="utf-8") as file:
                file.write(document)
                file.flush()
                os.fsync(file.fileno())  # on disk before it replaces the old state
            os.replace(temporary, self._path)
        except OSError as error:
            raise SimRadioError(f"cannot write the simulated radio's state {self._path}: {error}") from error

    def _loop_time(self) -> float:
        return asyncio.get_running_loop().time()


class _Coordinator(zigpy.device.Device):
    """The radio itself as zigpy sees it: its model and maker are the radio's, not read over
    the air (as radio libraries do for their coordinators)."""

    @property
    def manufacturer(self) -> str:
        return "smets-emu"

    @manufacturer.setter
    def manufacturer(self, value: str) -> None:
        pass  # fixed by the radio

    @property
    def model(self) -> str:
        return "simulated radio"

    @model.setter
    def model(self, value: str) -> None:
        pass  # fixed by the radio


def parse_backup(document: Any) -> zigpy.backups.NetworkBackup:
    """An open coordinator backup (parsed JSON), checked so that nothing later trips on it.

    Raises:
        ValueError: not one, or a field of the wrong type (the message says which).
    """
    try:
        backup = zigpy.backups.NetworkBackup.from_open_coordinator_json(document)
        info = backup.network_info
        keys = [info.network_key, info.tc_link_key, *info.key_table]
        counters = [counter for key in keys for counter in (key.tx_counter, key.rx_counter)]
        if not all(type(counter) is int and 0 <= counter < 1 << 32 for counter in counters):
            raise ValueError("its frame counters must be whole numbers from 0 to 2^32 - 1")
        if not isinstance(info.stack_specific, dict):
            raise ValueError("its stack_specific must be an object")
        zigpy.backups.NetworkBackup.from_open_coordinator_json(backup.as_open_coordinator_json())  # writes back whole
    except (KeyError, TypeError, AttributeError) as error:
        raise ValueError(f"a field is missing or of the wrong type: {error!r}") from None
    return backup


def _read_state(path: Path) -> zigpy.backups.NetworkBackup:
    try:
        return parse_backup(json.loads(path.read_text()))
    except OSError as error:
        raise SimRadioError(f"cannot read the simulated radio's state {path}: {error}") from error
    except ValueError as error:
        raise SimRadioError(f"{path} is not an open coordinator backup (zigpy's JSON): {error}") from error


def _ieee_for(path: Path) -> t.EUI64:
    """A new simulated radio's EUI-64, the same for the same state file (no OUI: locally
    administered, as test equipment's may be)."""
    digest = bytearray(hashlib.sha256(b"smets-emu simulated radio " + str(path.absolute()).encode()).digest()[:8])
    digest[0] = (digest[0] & 0xFC) | 0x02  # the most significant byte: locally administered, unicast
    return zigpy_eui(bytes(digest))


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("smets-emu")
    except PackageNotFoundError:
        return "unknown"

