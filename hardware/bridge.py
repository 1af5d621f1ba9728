"""The hub's HAN on a zigpy ``ControllerApplication``: ``ZigpyHanTransport``.

The CHF and GPF firmware talk to the HAN through ``emulator.han.transport.HanTransport``;
here that interface runs on a radio, so the same firmware that runs on the simulated HAN
runs on a dongle (or on ``SimControllerApplication``).

zigpy 2.4 parses ZCL only for the Home Automation and Light Link profiles: a Smart Energy
frame reaching ``zigpy.device`` is logged and dropped. So the application class is extended
(``hub_application``) to take Smart Energy frames out of ``packet_received`` before zigpy
sees them, passing every other packet (ZDO, the interview) on to zigpy as before; the
emulator's own Smart Energy layer (``emulator/han/clusters.py``) decodes them. Frames go out
through ``ControllerApplication.request`` from the Smart Energy endpoint, APS-encrypted with
the device's link key, as ZSE requires.

``ZigpyHub`` is one radio's share of the hub: it hosts the hub's logical devices (the CHF and
the GPF share the coordinator, one ZigBee node) and routes what the radio receives to them:
the clusters the GPF mirrors for the gas meter (Metering, Prepayment) to the GPF, the rest to
the CHF. It keeps from the firmware, counting why: frames from devices zigpy does not know
(not joined through this trust centre; zigpy is left to ask who they are), frames a Smart
Energy network must not accept unsecured, and frames from devices that left. Beside a real
radio it can also hold a simulated HAN (``beside``) for simulated devices, off the air.

Joining is the trust centre's: the hub never calls zigpy's ``permit()`` (on bellows it opens
the network to any joiner); ``admit`` opens it to one device with its install-code link key.
CBKE (certificate-based key establishment, the Key Establishment cluster) is not performed:
a real GB device that reaches it after joining waits for the hub's Initiate Key Establishment
response; ``ZigpyHub.on_key_establishment`` is where an implementation would answer it, and
until then such frames are counted and dropped (docs/hil.md says what that means on air).
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections import Counter
from collections.abc import Callable
from datetime import datetime
from typing import Any

import zigpy.application
import zigpy.device
import zigpy.exceptions
import zigpy.types as t

from emulator.clock import Clock, RealClock
from emulator.devices import gas
from emulator.errors import LinkDown, TransportClosed
from emulator.han.sim import HanMedium, SimulatedHan
from emulator.han.transport import HanFrame, Receiver
from gbcs.types import EUI64

from .frames import KEY_ESTABLISHMENT, gbcs_eui, zcl_tsn, zigpy_eui
from .radio import PROFILE_SMART_ENERGY, SE_ENDPOINT

__all__ = ["HubApplication", "ZigpyHanTransport", "ZigpyHub", "hub_application"]

LOGGER = logging.getLogger(__name__)

GPF_CLUSTERS = frozenset(gas.MIRRORED)  # to the GPF: what the gas meter reports to its mirror (Metering, Prepayment)


class HubApplication(zigpy.application.ControllerApplication):
    """Mixed into a radio library's ``ControllerApplication`` (``hub_application``): Smart
    Energy frames go to ``smart_energy_receiver`` instead of zigpy, which would drop them."""

    smart_energy_receiver: Callable[[t.ZigbeePacket], bool] | None = None  # True: taken; False: zigpy's to handle
    join_receiver: Callable[[t.EUI64], None] | None = None  # told of every join and rejoin

    def handle_join(self, nwk: t.NWK, ieee: t.EUI64, parent_nwk: t.NWK, *args: Any, **kwargs: Any) -> None:
        # zigpy emits no event for a device rejoining with the address it had
        super().handle_join(nwk, ieee, parent_nwk, *args, **kwargs)
        if self.join_receiver is not None:
            self.join_receiver(t.EUI64(ieee))

    def packet_received(self, packet: t.ZigbeePacket) -> None:
        if packet.profile_id == PROFILE_SMART_ENERGY and packet.dst_ep != 0 and self.smart_energy_receiver is not None:
            if self.smart_energy_receiver(packet):
                return
        super().packet_received(packet)  # and a frame from an unknown address: zigpy logs it and asks who it is


_HUB_CLASSES: dict[type, type] = {}


def hub_application(radio: type[zigpy.application.ControllerApplication]) -> type[HubApplication]:
    """``radio``'s application class with the hub's Smart Energy receive path."""
    if issubclass(radio, HubApplication):
        return radio
    if radio not in _HUB_CLASSES:
        _HUB_CLASSES[radio] = type(f"Hub{radio.__name__}", (HubApplication, radio), {"__module__": __name__})
    return _HUB_CLASSES[radio]


class ZigpyHub:
    """The hub's logical devices on one radio; implements ``emulator.han.transport.HubRadio``.

    Args:
        app: a started application of a ``hub_application`` class.
        require_aps_security: drop Smart Energy frames the radio library reports as received
            without APS encryption. bellows and zigpy-znp report it; zigpy-deconz does not,
            so for deconz this is off (best effort).
        clock: the premises' clock, which ``last_heard`` reads.
        beside: a simulated HAN beside the radio, for simulated devices next to a real radio:
            the hub's logical devices are on it too, and frames for its devices stay on it
            (they never reach the air).
    """

    def __init__(self, app: HubApplication, *, require_aps_security: bool = True, clock: Clock | None = None,
                 beside: HanMedium | None = None) -> None:  # fmt: skip
        if not isinstance(app, HubApplication):
            raise TypeError("the application must be of a hub_application(...) class")
        self.app = app
        self.beside = beside
        self.clock = clock or RealClock()
        self._heard: dict[EUI64, datetime] = {}  # on the hub's clock, as the CHF's device log reports it
        self.require_aps_security = require_aps_security
        self._hosted: dict[EUI64, ZigpyHanTransport] = {}
        self._gone: set[t.EUI64] = set()  # left or removed since they last joined
        self._last_endpoint: dict[t.EUI64, int] = {}  # the endpoint a device last sent from
        self.dropped: Counter[str] = Counter()
        self.on_key_establishment: Callable[[EUI64, bytes], None] | None = None  # the CBKE hook
        app.smart_energy_receiver = self._received
        app.join_receiver = self._gone.discard
        app.add_listener(self)

    @property
    def eui(self) -> EUI64:
        """The coordinator's EUI-64 (GBCS order): the identity the CHF adopts on this radio."""
        return gbcs_eui(self.app.state.node_info.ieee)

    def attach(self, eui: bytes) -> ZigpyHanTransport:
        """The transport of one of the hub's logical devices (the CHF, the GPF) on the radio."""
        eui = EUI64(eui)
        if eui in self._hosted:
            raise ValueError(f"{eui} is already attached to this radio")
        beside = self.beside.attach(eui) if self.beside is not None else None
        transport = self._hosted[eui] = ZigpyHanTransport(self, eui, beside)
        return transport

    def last_heard(self, eui: bytes) -> datetime | None:
        heard = self._heard.get(EUI64(eui))
        if heard is None and self.beside is not None:
            return self.beside.last_heard(eui)
        return heard

    async def admit(self, eui: bytes, link_key: bytes, *, seconds: int = 254) -> None:
        """Open the network to ``eui`` alone, for ``seconds``, with its install-code link key."""
        await self.app.permit_with_link_key(zigpy_eui(eui), t.KeyData(link_key), time_s=seconds)

    def is_joined(self, eui: bytes) -> bool:
        ieee = zigpy_eui(eui)
        device = self.app.devices.get(ieee)
        return device is not None and device.is_initialized and ieee not in self._gone

    # -- zigpy's listener events -----------------------------------------------------------------

    def device_joined(self, device: zigpy.device.Device) -> None:
        self._gone.discard(device.ieee)

    def device_initialized(self, device: zigpy.device.Device, *args: Any, **kwargs: Any) -> None:
        self._gone.discard(device.ieee)

    def device_left(self, device: zigpy.device.Device) -> None:
        self._gone.add(device.ieee)

    def device_removed(self, device: zigpy.device.Device) -> None:
        self._gone.add(device.ieee)

    # -- receiving -------------------------------------------------------------------------------

    def _received(self, packet: t.ZigbeePacket) -> bool:
        """Take a Smart Energy frame (True), or leave one from an unknown address to zigpy,
        which discovers who sent it (False); either way the firmware never sees the latter."""
        try:
            device = self.app.get_device_with_address(packet.src)
        except (KeyError, ValueError):
            self._drop("unknown device", packet)
            return False
        if device.ieee == self.app.state.node_info.ieee:
            self._drop("from the coordinator itself", packet)
            return True
        if device.ieee in self._gone:
            self._drop("device left", packet)
            return True
        if (self.require_aps_security and packet.cluster_id != KEY_ESTABLISHMENT
                and t.TransmitOptions.APS_Encryption not in packet.tx_options):  # fmt: skip
            self._drop("not APS-encrypted", packet)
            return True
        device.last_seen = packet.timestamp
        if packet.lqi is not None:
            device.lqi = packet.lqi
        if packet.rssi is not None:
            device.rssi = packet.rssi
        self._last_endpoint[device.ieee] = packet.src_ep
        source = gbcs_eui(device.ieee)
        self._heard[source] = self.clock.now()
        data = packet.data.serialize()
        if packet.cluster_id == KEY_ESTABLISHMENT:
            if self.on_key_establishment is not None:
                self.on_key_establishment(source, data)
            else:
                self._drop("key establishment (CBKE) not implemented", packet)
            return True
        transport = self._recipient(packet.cluster_id)
        if transport is None:
            self._drop("no logical device for it", packet)
            return True
        transport._deliver(HanFrame(source, transport.eui, packet.cluster_id, data, packet.profile_id))
        return True

    def _recipient(self, cluster_id: int) -> ZigpyHanTransport | None:
        """The CHF (the radio's own EUI-64) takes everything but the clusters the GPF (the
        other logical device on the node) mirrors for the gas meter."""
        chf = self._hosted.get(self.eui)
        gpf = next((transport for eui, transport in self._hosted.items() if eui != self.eui), None)
        return gpf if cluster_id in GPF_CLUSTERS and gpf is not None else chf

    def _drop(self, reason: str, packet: t.ZigbeePacket) -> None:
        self.dropped[reason] += 1
        LOGGER.debug("dropped a Smart Energy frame (%s): %r", reason, packet)

    # -- sending ---------------------------------------------------------------------------------

    def _destination(self, eui: EUI64) -> tuple[zigpy.device.Device, int]:
        ieee = zigpy_eui(eui)
        device = self.app.devices.get(ieee)
        if device is None or ieee in self._gone:
            raise LinkDown(f"{eui} has not joined the radio's network")
        endpoint = next((ep.endpoint_id for ep in device.non_zdo_endpoints if ep.profile_id == PROFILE_SMART_ENERGY),
                        self._last_endpoint.get(ieee))  # fmt: skip
        if endpoint is None:
            raise LinkDown(f"{eui} has no Smart Energy endpoint known yet (interview not finished)")
        return device, endpoint


class ZigpyHanTransport:
    """One of the hub's logical devices on the radio: a ``HanTransport``.

    ``send`` is synchronous (firmware is); the radio's send is a coroutine, so it runs as a
    task on the radio's loop, in order, and a failure is raised as ``LinkDown`` by the next
    ``send`` to the same device (the interface's rule for radios)."""

    def __init__(self, hub: ZigpyHub, eui: EUI64, beside: SimulatedHan | None = None) -> None:
        self.hub = hub
        self.eui = eui
        self._beside = beside  # on the simulated HAN beside the radio, if there is one
        self._receiver: Receiver | None = None
        self._closed = False
        self._failures: dict[EUI64, Exception] = {}  # per destination: the last frame the radio could not deliver
        self._sending: set[asyncio.Task[Any]] = set()
        self.sent = 0

    def send(self, frame: HanFrame) -> None:
        if self._closed:
            raise TransportClosed(f"{self.eui}'s radio transport is closed")
        if frame.source != self.eui:
            raise ValueError(f"{self.eui} cannot send a frame from {frame.source}")
        sibling = self.hub._hosted.get(frame.destination)
        if sibling is not None:  # the other logical device on the same node: no radio involved
            asyncio.get_running_loop().call_soon(sibling._deliver, frame)
            return
        if self._beside is not None and self._beside.medium.is_joined(frame.destination):
            self._beside.send(frame)  # a simulated device beside the radio (a real one is on the radio)
            return
        failure = self._failures.pop(frame.destination, None)
        if failure is not None:
            raise LinkDown(f"the radio could not deliver an earlier frame to {frame.destination}: {failure}") from failure
        device, endpoint = self.hub._destination(frame.destination)
        request = self.hub.app.request(
            device, frame.profile_id, frame.cluster_id, SE_ENDPOINT, endpoint, zcl_tsn(frame.payload), frame.payload,
            expect_reply=False, aps_encryption=True,
        )  # fmt: skip
        task = asyncio.get_running_loop().create_task(request)
        self._sending.add(task)
        task.add_done_callback(functools.partial(self._sent, frame.destination))

    def _sent(self, destination: EUI64, task: asyncio.Task[Any]) -> None:
        self._sending.discard(task)
        if task.cancelled():
            return
        error = task.exception()
        if error is None:
            self.sent += 1
            return
        if not isinstance(error, (zigpy.exceptions.ZigbeeException, TimeoutError, OSError)):
            LOGGER.error("the radio failed to send a frame", exc_info=error)
        self._failures[destination] = error

    def set_receiver(self, receiver: Receiver) -> None:
        self._receiver = receiver
        if self._beside is not None:
            self._beside.set_receiver(self._deliver)

    def _deliver(self, frame: HanFrame) -> None:
        if self._receiver is not None and not self._closed:
            self._receiver(frame)

    async def drain(self) -> None:
        """Wait for the frames handed to the radio to be sent (or to fail)."""
        while self._sending:
            await asyncio.wait(set(self._sending))

    def close(self) -> None:
        self._closed = True
        for task in self._sending:
            task.cancel()
        if self._beside is not None:
            self._beside.close()
        self.hub._hosted.pop(self.eui, None)
