"""The simulated HAN: a ``HanMedium`` per premises, and a ``SimulatedHan`` transport per device.

What it models:

* The Communications Hub Function forms the network and is its trust centre: a device joins
  only if the trust centre admits its EUI-64 and link key (the CHF admits what its device log
  holds, with the link key derived from the install code). Until joined, it can neither send
  nor receive.
* Per-device link conditions: latency (delivery after that much clock time), loss (a seeded
  random share of frames vanishes, as radio frames do, without an error), and out of range
  (sending to or from the device raises ``LinkDown``).
* Sleepy devices (the battery-powered GSME): frames for them wait at the medium, as at their
  parent, until they poll on waking (``SimulatedHan.poll``).

What it leaves out: routing and hop counts, MAC-level retries and acknowledgements, channel
and PAN id, network keys and frame counters, and CBKE (the link key stands for the result of
key establishment). Every frame is delivered whole or not at all.

Delivery runs from the clock's timers, so with a ``VirtualClock`` nothing happens until the
clock advances, and everything then happens in time order.
"""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from gbcs.types import EUI64

from ..clock import Clock
from ..errors import LinkDown, TransportClosed
from .transport import HanFrame, Receiver

__all__ = ["HanMedium", "LinkConditions", "SimulatedHan"]

# The trust centre's decision: may this EUI-64 join with this link key?
Admission = Callable[[EUI64, bytes], bool]


@dataclass
class LinkConditions:
    """How a device's radio link behaves (applies to frames it sends and receives)."""

    latency: timedelta = timedelta(milliseconds=20)
    loss: float = 0.0  # share of frames lost, 0 to 1
    out_of_range: bool = False


@dataclass
class _Node:
    eui: EUI64
    transport: SimulatedHan
    conditions: LinkConditions = field(default_factory=LinkConditions)
    sleepy: bool = False
    joined: bool = False
    receiver: Receiver | None = None


class HanMedium:
    """The radio space of one premises.

    Args:
        clock: delivers frames (after their latency) from its timers.
        seed: for the loss model, so a run can be repeated exactly.
    """

    def __init__(self, clock: Clock, *, seed: int = 0) -> None:
        self.clock = clock
        self._random = random.Random(seed)
        self._nodes: dict[EUI64, _Node] = {}
        self._trust_centre: EUI64 | None = None
        self._admission: Admission | None = None
        self._held: dict[EUI64, list[HanFrame]] = defaultdict(list)  # for sleepy devices
        self._in_flight = 0  # frames handed to the clock, not yet delivered
        self._last_heard: dict[EUI64, datetime] = {}
        self.delivered = 0
        self.lost = 0

    def held(self) -> int:
        """How many frames are on their way or wait for sleepy devices to wake (they live only
        in memory)."""
        return self._in_flight + sum(len(frames) for frames in self._held.values())

    def attach(self, eui: bytes, *, sleepy: bool = False) -> SimulatedHan:
        """A device's transport. It must ``join`` before it can talk."""
        eui = EUI64(eui)
        if eui in self._nodes:
            raise ValueError(f"{eui} is already attached to this HAN")
        transport = SimulatedHan(self, eui)
        self._nodes[eui] = _Node(eui, transport, sleepy=sleepy)
        return transport

    def form(self, trust_centre: bytes, admission: Admission, *, members: tuple[bytes, ...] = ()) -> None:
        """The CHF forms the network as its trust centre; ``admission`` decides joins.
        ``members`` are the hub's other logical devices (the GPF), on the network with it."""
        node = self._node(EUI64(trust_centre))
        self._trust_centre, self._admission = node.eui, admission
        node.joined = True
        for member in members:
            self._node(EUI64(member)).joined = True

    def join(self, eui: bytes, link_key: bytes) -> bool:
        """Ask the trust centre to admit ``eui``; True if it joined."""
        node = self._node(EUI64(eui))
        if self._admission is None or node.conditions.out_of_range:
            return False
        node.joined = self._admission(node.eui, link_key)
        return node.joined

    def leave(self, eui: bytes) -> None:
        node = self._node(EUI64(eui))
        node.joined = False
        self._held.pop(node.eui, None)

    def conditions(self, eui: bytes) -> LinkConditions:
        """The link conditions of a device, to read or change."""
        return self._node(EUI64(eui)).conditions

    def last_heard(self, eui: bytes) -> datetime | None:
        """When a frame from ``eui`` last arrived anywhere on this HAN (None: never)."""
        return self._last_heard.get(EUI64(eui))

    @property
    def formed(self) -> bool:
        """Whether a trust centre has formed this network."""
        return self._trust_centre is not None

    def is_joined(self, eui: bytes) -> bool:
        node = self._nodes.get(EUI64(eui))
        return node is not None and node.joined

    def _node(self, eui: EUI64) -> _Node:
        try:
            return self._nodes[eui]
        except KeyError:
            raise LinkDown(f"{eui} is not on this HAN") from None

    def _send(self, frame: HanFrame) -> None:
        source, destination = self._node(frame.source), self._nodes.get(frame.destination)
        if destination is None:
            raise LinkDown(f"{frame.destination} is not on this HAN")
        for node in (source, destination):
            if not node.joined:
                raise LinkDown(f"{node.eui} has not joined the HAN")
            if node.conditions.out_of_range:
                raise LinkDown(f"{node.eui} is out of range")
        if self._random.random() < max(source.conditions.loss, destination.conditions.loss):
            self.lost += 1
            return
        if destination.sleepy:
            self._held[destination.eui].append(frame)
            return
        self._deliver_later(frame, source.conditions.latency + destination.conditions.latency)

    def _deliver_later(self, frame: HanFrame, latency: timedelta) -> None:
        self._in_flight += 1
        self.clock.call_later(latency, lambda: self._deliver(frame))

    def _deliver(self, frame: HanFrame) -> None:
        self._in_flight -= 1
        node = self._nodes.get(frame.destination)
        if node is None or not node.joined or node.conditions.out_of_range or node.receiver is None:
            self.lost += 1  # it left, went out of range, or is not listening while in flight
            return
        self.delivered += 1
        self._last_heard[frame.source] = self.clock.now()
        node.receiver(frame)

    def _poll(self, eui: EUI64) -> int:
        node = self._node(eui)
        if not node.joined or node.conditions.out_of_range:
            raise LinkDown(f"{eui} cannot reach its parent")
        held = self._held.pop(eui, [])
        for frame in held:
            self._deliver_later(frame, node.conditions.latency)
        return len(held)


class SimulatedHan:
    """A device's ``HanTransport`` on a ``HanMedium``."""

    def __init__(self, medium: HanMedium, eui: EUI64) -> None:
        self.medium = medium
        self.eui = eui
        self._closed = False

    def send(self, frame: HanFrame) -> None:
        if self._closed:
            raise TransportClosed(f"{self.eui}'s HAN transport is closed")
        if frame.source != self.eui:
            raise ValueError(f"{self.eui} cannot send a frame from {frame.source}")
        self.medium._send(frame)

    def set_receiver(self, receiver: Receiver) -> None:
        self.medium._node(self.eui).receiver = receiver

    def poll(self) -> int:
        """A sleepy device, awake, collects what waits for it; returns how many frames."""
        if self._closed:
            raise TransportClosed(f"{self.eui}'s HAN transport is closed")
        return self.medium._poll(self.eui)

    def close(self) -> None:
        self._closed = True
        self.medium.leave(self.eui)
