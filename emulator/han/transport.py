"""The HAN transport interface: what device firmware needs of a ZigBee network, and nothing
more, so that the simulated HAN (``sim.py``) and a real radio (``hardware/``, through zigpy)
are interchangeable.

It is synchronous and callback-based on purpose. Firmware is synchronous (one command, one
store transaction); zigpy hands received packets to synchronous listeners too; and a virtual
clock delivers frames from its timers without an event loop. A radio transport that must
await its send schedules it on its own loop and reports a failure through ``LinkDown`` on the
next send.

Addresses are ``gbcs.types.EUI64`` in GBCS byte order (most significant first); only the
radio bridge converts to zigpy's little-endian ``zigpy.types.EUI64``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from gbcs.types import EUI64

from .clusters import PROFILE_SMART_ENERGY

__all__ = ["HanFrame", "HanTransport", "HubRadio", "Receiver"]


@dataclass(frozen=True, slots=True)
class HanFrame:
    """One ZCL frame between two HAN devices (Smart Energy profile, endpoint to endpoint)."""

    source: EUI64
    destination: EUI64
    cluster_id: int  # 0x0704 Tunneling carries GBCS
    payload: bytes  # the ZCL frame: header and command (``clusters.encode_command``)
    profile_id: int = PROFILE_SMART_ENERGY


Receiver = Callable[[HanFrame], None]


class HanTransport(Protocol):
    """One device's attachment to a HAN."""

    eui: EUI64

    def send(self, frame: HanFrame) -> None:
        """Hand a frame to the network.

        Raises:
            LinkDown: this device or the destination is not joined, or out of range.
            TransportClosed: the transport was closed.
        """

    def set_receiver(self, receiver: Receiver) -> None:
        """Call ``receiver`` with every frame addressed to this device."""

    def close(self) -> None:
        """Leave the network; later sends raise ``TransportClosed``."""


class HubRadio(Protocol):
    """A radio carrying the hub's logical devices (the CHF and the GPF) in place of the
    simulated HAN (``hardware.bridge.ZigpyHub``). The radio formed its network and is its
    trust centre; the premises' simulated HAN is either that radio's air (the simulated
    radio's, already formed) or one beside it that the CHF forms as usual."""

    def attach(self, eui: bytes) -> HanTransport:
        """The transport of one of the hub's logical devices."""

    def last_heard(self, eui: bytes) -> datetime | None:
        """When the radio last received a frame from ``eui`` (None: never)."""
