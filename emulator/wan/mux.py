"""One SMWAN connection for all the hubs of a fleet's shard (the fleet's multiplexed mode).

A per-hub ``HubLink`` is what a real hub does: its own connection, account and last will.
It costs an asyncio client per hub (about 12 KB, and an event loop that lags past some
thousands of them). A WAN provider's aggregation point instead carries many hubs over one
link; ``ShardLink`` does that for a shard: one connection, subscribed to every hub's down
topic by name (in batches of ``SUBSCRIBE_BATCH`` filters a packet, so it receives no other
shard's traffic), publishing every hub's frames on that hub's up topic. The topics are the
same as a ``HubLink``'s, so a head-end cannot tell the modes apart.

What changes: the session (clean session off, the client id naming the fleet and shard)
belongs to the shard, not the hub, and so does the last will (on the shard's state topic,
``smwan/fleet/shard/<K>/state``, published by ``FleetControl``); a command for a dark hub is
dropped here (counted), where the per-hub mode's broker would hold it until the hub came back.

Frames go up from the shard's store, in the order queued, read ``batch`` at a time and
published ``window`` at a time in flight together; a window is marked sent once the broker has
acknowledged all of it (PUBACK), so a connection that drops mid-window sends it again: at
least once, never lost.
"""

from __future__ import annotations

import asyncio
import logging

import aiomqtt

from ..fleet_shard import FleetShard, fingerprint
from ..metrics import ShardMetrics
from .link import NO_DELAY, Broker, down_topic, stop_if_cancelled, until_one_fails, up_topic

__all__ = ["SUBSCRIBE_BATCH", "ShardLink"]

log = logging.getLogger(__name__)

SUBSCRIBE_BATCH = 1000  # topic filters in one SUBSCRIBE packet


class ShardLink:
    """The shard's hubs on the SMWAN: ``run()`` until cancelled; ``connected`` is set while
    the session is up and every hub's down topic is subscribed."""

    def __init__(self, shard: FleetShard, broker: Broker, *, identifier: str | None = None,
                 backoff: tuple[float, float] = (0.2, 30.0), poll: float = 0.25, batch: int = 500,
                 window: int = 64, metrics: ShardMetrics | None = None) -> None:  # fmt: skip
        self.shard, self.broker, self.backoff, self.poll, self.batch = shard, broker, backoff, poll, batch
        # Frames in flight at once. paho and aiomqtt walk every in-flight message for each one
        # sent or acknowledged, so a wide window costs its square: 500 took 6x the CPU of 64.
        self.window = window
        self.identifier = identifier or f"fleet-{fingerprint(shard.fleet)[:12]}-shard-{shard.shard}"
        self.metrics = metrics
        self.connected = asyncio.Event()
        self.reconnects = self.sent = 0
        self._outbox_changed = asyncio.Event()
        self._heard: dict[bytes, float] = {}  # hub -> loop time its last command arrived, for the latency
        shard.outbox_listeners.append(self._outbox_changed.set)

    async def run(self) -> None:
        delay = self.backoff[0]
        while True:
            try:
                async with aiomqtt.Client(self.broker.host, self.broker.port, identifier=self.identifier,
                                          username=self.broker.username, password=self.broker.password,
                                          clean_session=False, socket_options=NO_DELAY,
                                          max_inflight_messages=self.window) as client:  # fmt: skip
                    client.pending_calls_threshold = self.window + 10  # a full window is the plan, not a backlog
                    hubs = [(down_topic(hub), 1) for hub in self.shard.hubs]
                    for start in range(0, len(hubs), SUBSCRIBE_BATCH):
                        await client.subscribe(hubs[start:start + SUBSCRIBE_BATCH])
                    self.connected.set()
                    delay = self.backoff[0]
                    stop_if_cancelled()
                    await until_one_fails(self._receive(client), self._send(client))
            except aiomqtt.MqttError as error:
                log.info("SMWAN link of %s down (%s); again in %.1f s", self.identifier, error, delay)
            self.connected.clear()
            stop_if_cancelled()
            self.reconnects += 1
            await asyncio.sleep(delay)
            delay = min(delay * 2, self.backoff[1])

    async def _receive(self, client: aiomqtt.Client) -> None:
        loop = asyncio.get_running_loop()
        async for message in client.messages:
            try:
                hub = bytes.fromhex(str(message.topic).split("/")[1])
            except (ValueError, IndexError):
                continue  # not a hub's down topic: nothing of ours
            payload = bytes(message.payload) if isinstance(message.payload, bytes | bytearray) else b""
            if self.shard.deliver(hub, payload):  # the CHF answers, relays, or refuses and logs
                self._heard[hub] = loop.time()
                self._outbox_changed.set()

    async def _send(self, client: aiomqtt.Client) -> None:
        loop = asyncio.get_running_loop()
        after = 0
        while True:
            rows, last = self.shard.unsent(after=after, limit=self.batch)
            for start in range(0, len(rows), self.window):
                window = rows[start:start + self.window]
                results = await asyncio.gather(*(client.publish(up_topic(hub), frame, qos=1) for _, hub, frame in window),
                                               return_exceptions=True)  # fmt: skip
                stop_if_cancelled()
                failed = next((result for result in results if isinstance(result, BaseException)), None)
                if failed is not None:
                    raise failed  # the window goes again after reconnecting: at least once
                self.shard.mark_sent([row_id for row_id, _, _ in window])
                self.sent += len(window)
                for _, hub, _ in window:
                    heard = self._heard.pop(hub, None)
                    if heard is not None and self.metrics is not None:
                        self.metrics.latency.observe(loop.time() - heard)
            if last is not None:
                after = last
                continue  # more may wait behind this batch
            after = 0  # the end of the outbox: next time from the start (what a dark hub left, say)
            self._outbox_changed.clear()
            try:
                await asyncio.wait_for(self._outbox_changed.wait(), self.poll)
            except TimeoutError:
                pass
            stop_if_cancelled()
