"""The hub's end of the SMWAN over MQTT.

Topic layout (GBCS bytes as the payload, QoS 1 both ways):

* ``smwan/<CHF EUI-64>/down`` — commands for the hub and the devices behind it;
* ``smwan/<CHF EUI-64>/up`` — the hub's responses and alerts (its own, the GPF's and the
  meters' it relays).

``HubLink`` holds one premises' connection: a persistent session (clean session off, the
client id fixed by the CHF's EUI-64) so that commands published while the hub is away wait
at the broker; automatic reconnection with exponential backoff; and the premises' outbox as
the send queue. A frame is marked sent only once the broker has acknowledged it (PUBACK), so
a link that drops mid-send sends it again after reconnecting: at least once, never lost.
A command that does not decode is the CHF's to refuse (and log), as any other input; the
link itself never stops on bad input.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

import aiomqtt

from ..premises import Premises

__all__ = ["Broker", "HubLink", "down_topic", "up_topic"]

log = logging.getLogger(__name__)


def down_topic(chf: bytes) -> str:
    return f"smwan/{bytes(chf).hex().upper()}/down"


def up_topic(chf: bytes) -> str:
    return f"smwan/{bytes(chf).hex().upper()}/up"


@dataclass(frozen=True)
class Broker:
    """Where the SMWAN's broker listens, and the hub's credentials there."""

    host: str = "127.0.0.1"
    port: int = 1883
    username: str | None = None
    password: str | None = None


class HubLink:
    """One premises on the SMWAN. ``run()`` until cancelled; ``connected`` is set while the
    session is up. ``poll``: how often the outbox is looked at when nothing woke it (a
    meter's answer arrives as the HAN's time passes)."""

    def __init__(self, premises: Premises, broker: Broker, *, backoff: tuple[float, float] = (0.2, 30.0),
                 poll: float = 0.05) -> None:  # fmt: skip
        self.premises, self.broker = premises, broker
        self.backoff, self.poll = backoff, poll
        self.connected = asyncio.Event()
        self.reconnects = 0
        self._outbox_changed = asyncio.Event()
        chf = premises.chf.eui
        self._down, self._up, self._identifier = down_topic(chf), up_topic(chf), f"chf-{bytes(chf).hex().upper()}"

    async def run(self) -> None:
        delay = self.backoff[0]
        while True:
            try:
                async with aiomqtt.Client(self.broker.host, self.broker.port, identifier=self._identifier,
                                          username=self.broker.username, password=self.broker.password,
                                          clean_session=False) as client:  # fmt: skip
                    await client.subscribe(self._down, qos=1)
                    self.connected.set()
                    delay = self.backoff[0]
                    async with asyncio.TaskGroup() as group:  # one fails: both stop, then reconnect
                        group.create_task(self._receive(client))
                        group.create_task(self._send(client))
            except* aiomqtt.MqttError as errors:
                log.info("SMWAN link of %s down (%s); again in %.1f s", self._identifier, errors.exceptions[0], delay)
            self.connected.clear()
            self.reconnects += 1
            await asyncio.sleep(delay)
            delay = min(delay * 2, self.backoff[1])

    async def _receive(self, client: aiomqtt.Client) -> None:
        async for message in client.messages:
            payload = message.payload if isinstance(message.payload, bytes | bytearray) else b""
            self.premises.send(bytes(payload))  # the CHF answers, relays, or refuses and logs
            self._outbox_changed.set()

    async def _send(self, client: aiomqtt.Client) -> None:
        while True:
            for row_id, frame in self.premises.wan_outbox():
                await client.publish(self._up, frame, qos=1)  # returns once the broker has it
                self.premises.mark_sent(row_id)
            self._outbox_changed.clear()
            try:
                await asyncio.wait_for(self._outbox_changed.wait(), self.poll)
            except TimeoutError:
                pass
