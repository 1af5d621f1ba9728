"""The hub's end of the SMWAN over MQTT.

Topic layout (QoS 1 both ways):

* ``smwan/<CHF EUI-64>/down`` — GBCS commands for the hub and the devices behind it;
* ``smwan/<CHF EUI-64>/up`` — GBCS responses and alerts (the hub's own, the GPF's and the
  meters' it relays);
* ``smwan/<CHF EUI-64>/state`` — JSON, retained: the hub's current state for dashboards,
  with the event that changed it (``HubLink.state``); the broker publishes the hub's last will
  (``"online": false``) when its connection dies;
* ``smwan/<CHF EUI-64>/control`` — JSON commands to the emulation itself (cut the mains, a
  WAN outage), served by ``emulator.wan.control``, not by the hub: a hub without power
  still obeys "restore the mains".

``HubLink`` holds one premises' connection: a persistent session (clean session off, the
client id fixed by the CHF's EUI-64) so that commands published while the hub is away wait
at the broker; automatic reconnection with exponential backoff; and the premises' outbox as
the send queue. A frame is marked sent only once the broker has acknowledged it (PUBACK), so
a link that drops mid-send sends it again after reconnecting: at least once, never lost.
A command that does not decode is the CHF's to refuse (and log), as any other input; the
link itself never stops on bad input.

The hub runs on the premises' mains: when they are cut the link goes down (its last word is
a "mains-lost" state) and it comes back with the power. ``WanConditions`` adds latency,
loss and outages, per hub.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import json
import logging
import math
import random
import socket
from collections.abc import Coroutine
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import aiomqtt

import gbcs
from gbcs.errors import GbcsError

from ..errors import ConfigError, LinkDown
from ..premises import Premises

__all__ = ["NO_DELAY", "Broker", "HubLink", "WanConditions", "control_topic", "down_topic", "quiet_closed_socket_race",
           "state_topic", "up_topic"]

# Every SMWAN client sends at once (TCP_NODELAY). Without it a small PUBLISH waits behind an
# unacknowledged PUBACK for the peer's delayed ACK: about 43 ms a hop, 87 ms a round trip
# (measured), which paho-mqtt never turns off. smwan.conf does the same on mosquitto's side.
NO_DELAY = ((socket.IPPROTO_TCP, socket.TCP_NODELAY, 1),)

log = logging.getLogger(__name__)


def _hub(chf: bytes) -> str:
    return bytes(chf).hex().upper()


def down_topic(chf: bytes) -> str:
    return f"smwan/{_hub(chf)}/down"


def up_topic(chf: bytes) -> str:
    return f"smwan/{_hub(chf)}/up"


def state_topic(chf: bytes) -> str:
    return f"smwan/{_hub(chf)}/state"


def control_topic(chf: bytes) -> str:
    return f"smwan/{_hub(chf)}/control"


@dataclass(frozen=True)
class Broker:
    """Where the SMWAN's broker listens, and the client's credentials there."""

    host: str = "127.0.0.1"
    port: int = 1883
    username: str | None = None
    password: str | None = None

    @classmethod
    def from_url(cls, url: str) -> Broker:
        """``mqtt://[user:password@]host[:port]`` (port 1883 by default).

        Raises:
            ConfigError: not such a URL.
        """
        from urllib.parse import urlsplit

        try:
            parts = urlsplit(url)
            port = parts.port or 1883
        except ValueError as error:
            raise ConfigError(f"broker URL {url!r}: {error}") from None
        if parts.scheme not in ("mqtt", "tcp") or not parts.hostname or parts.path not in ("", "/"):
            raise ConfigError(f"broker URL {url!r}: expected mqtt://[user:password@]host[:port]")
        return cls(parts.hostname, port, parts.username, parts.password)

    @property
    def url(self) -> str:
        return f"mqtt://{self.host}:{self.port}"


@dataclass(frozen=True)
class WanConditions:
    """How the WAN treats one hub: ``latency`` seconds each way, the chance (0–1) that a
    frame is lost each way (the hub logs each loss as a ``wan-lost`` event), and ``seed`` for
    the losses, so a run is the same every time."""

    latency: float = 0.0
    loss: float = 0.0
    seed: int = 0

    def __post_init__(self) -> None:
        def number(value: object) -> bool:
            return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)

        if not number(self.latency) or not 0 <= self.latency <= 3600:
            raise ConfigError(f"WAN latency is a number of seconds from 0 to 3600, not {self.latency!r}")
        if not number(self.loss) or not 0 <= self.loss <= 1:
            raise ConfigError(f"WAN loss is a probability from 0 to 1, not {self.loss!r}")
        if not isinstance(self.seed, int) or isinstance(self.seed, bool):
            raise ConfigError(f"WAN seed is a whole number, not {self.seed!r}")


class _Dark(Exception):
    """The hub lost its mains power or its WAN: the link goes down until it returns."""


class HubLink:
    """One premises on the SMWAN. ``run()`` until cancelled; ``connected`` is set while the
    session is up. The outbox is sent when the hub answers or relays a meter's frame, and
    looked at every ``poll`` seconds besides (its own alerts, raised by timers)."""

    def __init__(self, premises: Premises, broker: Broker, *, backoff: tuple[float, float] = (0.2, 30.0),
                 poll: float = 0.25, conditions: WanConditions = WanConditions()) -> None:  # fmt: skip
        self.premises, self.broker = premises, broker
        self.backoff, self.poll, self.conditions = backoff, poll, conditions
        self.connected = asyncio.Event()
        self.reconnects = self.received = self.sent = self.lost = 0
        self._outbox_changed = asyncio.Event()
        self._powered = asyncio.Event()
        self._wan_back_at = 0.0  # loop time a WAN outage ends
        self._wake = asyncio.Event()  # the power or the WAN changed
        self._losses = random.Random(conditions.seed)
        chf = premises.chf.eui
        self.hub = _hub(chf)
        self._down, self._up, self._state = down_topic(chf), up_topic(chf), state_topic(chf)
        self._identifier = f"chf-{self.hub}"
        self._event = "connected"
        premises.mains_listeners.append(self._mains_changed)
        premises.outbox_listeners.append(self._outbox_changed.set)  # a meter's answer goes up at once
        if premises.mains_on:
            self._powered.set()

    # -- what the emulation does to the hub -------------------------------------------------------

    def wan_outage(self, seconds: float) -> None:
        """The hub's WAN goes away for ``seconds`` (real time): the link drops now and comes
        back after; the broker keeps what is published for it meanwhile."""
        self._wan_back_at = asyncio.get_running_loop().time() + seconds
        self._wake.set()

    def _mains_changed(self, on: bool) -> None:
        self._event = "mains-restored" if on else "mains-lost"
        (self._powered.set if on else self._powered.clear)()
        self._wake.set()

    # -- the link ---------------------------------------------------------------------------------

    async def run(self) -> None:
        delay = self.backoff[0]
        loop = asyncio.get_running_loop()
        while True:
            await self._powered.wait()
            if (wait := self._wan_back_at - loop.time()) > 0:
                await asyncio.sleep(wait)
                continue
            try:
                async with aiomqtt.Client(self.broker.host, self.broker.port, identifier=self._identifier,
                                          username=self.broker.username, password=self.broker.password,
                                          clean_session=False, socket_options=NO_DELAY, will=aiomqtt.Will(self._state, self._state_json("link-lost", online=False), qos=1, retain=True)) as client:  # fmt: skip
                    await client.subscribe(self._down, qos=1)
                    await self._publish_state(client, self._event)
                    self.connected.set()
                    delay = self.backoff[0]
                    stop_if_cancelled()  # one may have been dropped while connecting
                    await self._serve(client)
            except _Dark:
                self.connected.clear()
                stop_if_cancelled()
                continue  # back when the power or the WAN is
            except aiomqtt.MqttError as error:
                log.info("SMWAN link of %s down (%s); again in %.1f s", self._identifier, error, delay)
            self.connected.clear()
            stop_if_cancelled()
            self.reconnects += 1
            self._event = "reconnected"
            await asyncio.sleep(delay)
            delay = min(delay * 2, self.backoff[1])

    async def _serve(self, client: aiomqtt.Client) -> None:
        """Receive, send and watch the power until one of them stops; raise what stopped it.

        Not ``until_one_fails``, which cancels the tasks before the hub's last word ("stopped")
        goes out: with it, a site stopped under load hung at times (1 run in 6, reproduced);
        as here, 0 in 13."""
        tasks = [asyncio.create_task(work(client)) for work in (self._receive, self._send, self._until_dark)]
        try:
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
        except asyncio.CancelledError:  # the emulator stops: say so, as a clean disconnect sends no will
            with contextlib.suppress(aiomqtt.MqttError, TimeoutError):
                await asyncio.wait_for(self._publish_state(client, "stopped", online=False), 1.0)
            raise
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        for task in done:
            if task.exception() is not None:
                raise task.exception()  # type: ignore[misc]
        raise aiomqtt.MqttError("the link's tasks ended")  # they run until they fail: reconnect

    async def _until_dark(self, client: aiomqtt.Client) -> None:
        loop = asyncio.get_running_loop()
        while self._powered.is_set() and self._wan_back_at <= loop.time():
            self._wake.clear()
            await self._wake.wait()
        if not self._powered.is_set():
            await self._publish_state(client, "mains-lost", online=False)  # the last gasp, on the hub's reserve
        else:
            await self._publish_state(client, "wan-outage", online=False)  # as the WAN provider would report it
            self._event = "wan-restored"
        raise _Dark

    async def _receive(self, client: aiomqtt.Client) -> None:
        loop = asyncio.get_running_loop()
        async for message in client.messages:
            payload = bytes(message.payload) if isinstance(message.payload, bytes | bytearray) else b""
            if self._lose(payload, "down"):
                continue
            if self.conditions.latency:
                loop.call_later(self.conditions.latency, self._hear, payload)
            else:
                self._hear(payload)

    def _hear(self, command: bytes) -> None:
        self.received += 1
        try:
            self.premises.send(command)  # the CHF answers, relays, or refuses and logs
        except LinkDown:
            return  # the hub went dark while the command was on its way: it hears nothing
        self._outbox_changed.set()

    async def _send(self, client: aiomqtt.Client) -> None:
        while True:
            batch = self.premises.wan_outbox()
            if batch and self.conditions.latency:
                await asyncio.sleep(self.conditions.latency)  # the batch crosses the WAN together
            for row_id, frame in batch:
                if not self._lose(frame, "up"):
                    await client.publish(self._up, frame, qos=1)  # returns once the broker has it
                    self.sent += 1
                self.premises.mark_sent(row_id)
            self._outbox_changed.clear()
            try:
                await asyncio.wait_for(self._outbox_changed.wait(), self.poll)
            except TimeoutError:
                pass

    def _lose(self, frame: bytes, direction: str) -> bool:
        """Whether the WAN loses ``frame`` (by ``conditions.loss``); the hub logs each loss."""
        if not self.conditions.loss or self._losses.random() >= self.conditions.loss:
            return False
        self.lost += 1
        try:
            decoded = gbcs.decode(frame)
            what = f"counter {decoded.originator_counter} from {decoded.originator}"
        except (GbcsError, AttributeError):
            what = f"{len(frame)} bytes"
        with self.premises.store.transaction() as tx:
            tx.log_event(self.premises.chf.eui, self.premises.clock.now(), "wan-lost", f"{direction}: {what}")
        return True

    # -- the state topic ----------------------------------------------------------------------------

    def state(self, event: str, *, online: bool = True) -> dict:
        """The hub's state as its state topic carries it."""
        started = self.premises.outage_started()
        return {
            "hub": self.hub, "event": event, "online": online, "time": _iso(self.premises.clock.now()),
            "lifecycle": self.premises.chf.lifecycle, "mains": "on" if started is None else "off",
            "outage_started": None if started is None else _iso(started),
            "received": self.received, "sent": self.sent, "lost": self.lost, "reconnects": self.reconnects,
        }  # fmt: skip

    def _state_json(self, event: str, *, online: bool = True) -> bytes:
        return json.dumps(self.state(event, online=online)).encode()

    async def _publish_state(self, client: aiomqtt.Client, event: str, *, online: bool = True) -> None:
        await client.publish(self._state, self._state_json(event, online=online), qos=1, retain=True)


async def until_one_fails(*work: Coroutine[Any, Any, object]) -> None:
    """Run ``work`` together until one of them fails; cancel the rest and raise its error.

    Not a TaskGroup: Python 3.11's drops a cancellation that arrives as a child fails (a hub
    going dark as the emulator stops), and a link would never stop."""
    tasks = [asyncio.create_task(coroutine) for coroutine in work]
    try:
        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    for task in done:
        if task.exception() is not None:
            raise task.exception()  # type: ignore[misc]
    raise aiomqtt.MqttError("the link's tasks ended")  # they run until they fail: reconnect


def quiet_closed_socket_race(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
    """An event-loop exception handler: paho asks aiomqtt (from whatever thread publishes) to
    watch its socket for writing, and when the broker has just gone, the socket may be closed
    before the loop gets to it — asyncio then reports EBADF from ``add_writer`` with a traceback,
    although the link goes on and reconnects. That one case is logged as what it is; anything
    else goes to the loop's default handler."""
    error = context.get("exception")
    if isinstance(error, OSError) and error.errno == errno.EBADF and "add_writer" in repr(context.get("handle")):
        log.info("a socket closed as the MQTT client asked to write on it (the broker went away)")
        return
    loop.default_exception_handler(context)


def stop_if_cancelled() -> None:
    """Stop if this task is being cancelled: Python 3.11's ``wait_for`` (inside aiomqtt's
    connect, subscribe, publish and disconnect) drops a cancellation that arrives as what it
    waits for completes, and a link or plane would otherwise go on for ever."""
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError


def _iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")
