"""A device's presence on the HAN: ZCL dispatch by cluster, and GBCS tunnels.

``HanNode`` decodes each received frame with ``clusters.decode_frame`` and hands it to the
handler registered for its cluster; a frame that does not decode is counted and dropped
(bad input from the air is normal input). It numbers its ZCL transactions.

GBCS travels through the Tunneling cluster as in the field: the meter (tunnel client)
requests a tunnel to the CHF (tunnel server) with the GB-HRGP protocol; both then send
``transfer_data`` carrying whole GBCS frames (GBCS's own block transfer splits long ones).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

from gbcs.types import EUI64

from ..errors import LinkDown
from .clusters import (
    GB_HRGP,
    Tunneling,
    TunnelStatus,
    ZclError,
    decode_frame,
    encode_command,
    encode_report,
)
from .transport import HanFrame, HanTransport

__all__ = ["HanNode", "TunnelClient", "TunnelServer"]

MAX_TRANSFER_SIZE = 1500  # bytes of GBCS a tunnel end accepts in one transfer (we chose)
Handler = Callable[[HanFrame, str, Any], None]  # (frame, command name, fields)
GbcsReceiver = Callable[[EUI64, bytes], None]  # (the other end, a GBCS frame)


class HanNode:
    def __init__(self, transport: HanTransport) -> None:
        self.transport = transport
        self.eui = transport.eui
        self._handlers: dict[int, Handler] = {}
        self._tsn = itertools.count(1)
        self.dropped = 0
        transport.set_receiver(self._receive)

    def handle(self, cluster_id: int, handler: Handler) -> None:
        self._handlers[cluster_id] = handler

    def send(self, destination: bytes, cluster: type, name: str, *, to_client: bool = False, **fields: Any) -> None:
        """Send a cluster command (raises ``LinkDown`` when the network cannot carry it)."""
        payload = encode_command(cluster, name, next(self._tsn) & 0xFF, to_client=to_client, **fields)
        self.transport.send(HanFrame(self.eui, EUI64(destination), cluster.cluster_id, payload))

    def report(self, destination: bytes, cluster: type, attributes: dict) -> None:
        """Report attribute values (``{attribute id: (ZCL type, value)}``) to ``destination``."""
        payload = encode_report(cluster, next(self._tsn) & 0xFF, attributes)
        self.transport.send(HanFrame(self.eui, EUI64(destination), cluster.cluster_id, payload))

    def _receive(self, frame: HanFrame) -> None:
        handler = self._handlers.get(frame.cluster_id)
        if handler is None:
            self.dropped += 1
            return
        try:
            _, name, fields = decode_frame(frame.cluster_id, frame.payload)
        except ZclError:
            self.dropped += 1
            return
        handler(frame, name, fields)


class TunnelServer:
    """The CHF's end: one tunnel per meter; GBCS from meters goes to ``on_gbcs``. Only the
    devices ``may_tunnel`` admits get a tunnel (the hub's meters)."""

    def __init__(self, node: HanNode, on_gbcs: GbcsReceiver, may_tunnel: Callable[[EUI64], bool] = lambda eui: True) -> None:
        self.node = node
        self.on_gbcs = on_gbcs
        self.may_tunnel = may_tunnel
        self._tunnels: dict[EUI64, int] = {}
        self._ids = itertools.count(1)
        node.handle(Tunneling.cluster_id, self._receive)

    def has_tunnel(self, client: bytes) -> bool:
        return EUI64(client) in self._tunnels

    def send_gbcs(self, client: bytes, data: bytes) -> None:
        tunnel = self._tunnels.get(EUI64(client))
        if tunnel is None:
            raise LinkDown(f"no tunnel to {EUI64(client)}")
        self.node.send(client, Tunneling, "transfer_data", to_client=True, tunnel_id=tunnel, data=data)

    def _receive(self, frame: HanFrame, name: str, fields: Any) -> None:
        if name == "request_tunnel":
            if not self.may_tunnel(frame.source):
                self._reply(frame.source, "request_tunnel_response", tunnel_id=0xFFFF,
                            tunnel_status=TunnelStatus.Busy, maximum_incoming_transfer_size=0)  # fmt: skip
                return
            if fields.protocol_id != GB_HRGP:
                self._reply(frame.source, "request_tunnel_response", tunnel_id=0xFFFF,
                            tunnel_status=TunnelStatus.Protocol_Not_Supported, maximum_incoming_transfer_size=0)  # fmt: skip
                return
            tunnel = self._tunnels.setdefault(frame.source, next(self._ids))
            self._reply(frame.source, "request_tunnel_response", tunnel_id=tunnel, tunnel_status=TunnelStatus.Success,
                        maximum_incoming_transfer_size=MAX_TRANSFER_SIZE)  # fmt: skip
        elif name == "transfer_data":
            if self._tunnels.get(frame.source) != fields.tunnel_id:
                self._reply(frame.source, "transfer_data_error", tunnel_id=fields.tunnel_id, transfer_data_status=0)
                return
            self.on_gbcs(frame.source, bytes(fields.data))
        elif name == "close_tunnel" and self._tunnels.get(frame.source) == fields.tunnel_id:
            del self._tunnels[frame.source]

    def _reply(self, client: EUI64, name: str, **fields: Any) -> None:
        try:
            self.node.send(client, Tunneling, name, to_client=True, **fields)
        except LinkDown:
            pass  # the client went away; it will ask again


class TunnelClient:
    """A meter's end: it asks the CHF for a tunnel and exchanges GBCS through it;
    ``on_open`` runs when the tunnel is granted (to send what waited for it)."""

    def __init__(self, node: HanNode, server: bytes, on_gbcs: GbcsReceiver,
                 on_open: Callable[[], None] = lambda: None) -> None:  # fmt: skip
        self.node = node
        self.server = EUI64(server)
        self.on_gbcs = on_gbcs
        self.on_open = on_open
        self.tunnel_id: int | None = None
        node.handle(Tunneling.cluster_id, self._receive)

    def open(self) -> None:
        self.node.send(self.server, Tunneling, "request_tunnel", protocol_id=GB_HRGP, manufacturer_code=0xFFFF,
                       flow_control_support=False, maximum_incoming_transfer_size=MAX_TRANSFER_SIZE)  # fmt: skip

    def send_gbcs(self, data: bytes) -> None:
        if self.tunnel_id is None:
            raise LinkDown(f"{self.node.eui} has no tunnel to {self.server} yet")
        self.node.send(self.server, Tunneling, "transfer_data", tunnel_id=self.tunnel_id, data=data)

    def _receive(self, frame: HanFrame, name: str, fields: Any) -> None:
        if frame.source != self.server:
            return
        if name == "request_tunnel_response" and fields.tunnel_status == TunnelStatus.Success:
            self.tunnel_id = fields.tunnel_id
            self.on_open()
        elif name == "transfer_data" and fields.tunnel_id == self.tunnel_id:
            self.on_gbcs(frame.source, bytes(fields.data))
        elif name in ("transfer_data_error", "tunnel_closure_notification"):
            self.tunnel_id = None
