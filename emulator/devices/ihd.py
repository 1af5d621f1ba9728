"""In-Home Displays and other Type 2 consumer access devices: they join the HAN after a
join service and hold what they would show, from what the meters publish over ZCL
(Messaging: messages to the consumer; Price: the current price). No remote party addresses
a display, so it has no GBCS executor and no trust anchor cells.

What a display shows lives in its registers (``ihd.message``, ``ihd.price``), so it survives
a restart as a real display's memory would.
"""

from __future__ import annotations

from typing import Any

from ..firmware.device import Device
from ..han.clusters import Messaging, Price
from ..han.node import HanNode
from ..han.transport import HanFrame
from ..store import Store

__all__ = ["Display", "display_state"]


class Display:
    """The IHD's ZCL client side: it records what meters publish to it."""

    def __init__(self, device: Device, node: HanNode, store: Store) -> None:
        self.device = device
        self.store = store
        node.handle(Messaging.cluster_id, self._message)
        node.handle(Price.cluster_id, self._price)

    def _message(self, frame: HanFrame, name: str, fields: Any) -> None:
        with self.store.transaction() as tx:
            if name == "display_message":
                tx.set_register(self.device.eui, "ihd.message", {
                    "from": str(frame.source), "message_id": int(fields.message_id),
                    "text": bytes(fields.message).decode("latin-1"), "start_time": int(fields.start_time),
                    "duration_in_minutes": int(fields.duration_in_minutes)})  # fmt: skip
            elif name == "cancel_message":
                shown = tx.register(self.device.eui, "ihd.message")
                if shown is not None and shown["message_id"] == int(fields.message_id):
                    tx.set_register(self.device.eui, "ihd.message", None)

    def _price(self, frame: HanFrame, name: str, fields: Any) -> None:
        if name != "publish_price":
            return
        with self.store.transaction() as tx:
            tx.set_register(self.device.eui, "ihd.price", {
                "from": str(frame.source), "rate_label": bytes(fields.rate_label).decode("latin-1"),
                "price": int(fields.price), "currency": int(fields.currency),
                "trailing_digits": int(fields.price_trailing_digit_and_price_tier) >> 4,
                "start_time": int(fields.start_time)})  # fmt: skip


def display_state(store: Store, eui: bytes) -> dict[str, Any]:
    """What a display shows now: ``{"message": ..., "price": ...}`` (None where nothing)."""
    read = store.read()
    return {"message": read.register(eui, "ihd.message"), "price": read.register(eui, "ihd.price")}
