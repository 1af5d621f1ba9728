"""A fleet's control plane: commands to every shard at once, and each shard's state.

A lab publishes JSON on ``smwan/fleet/control``; every shard's worker obeys for its own
premises and answers on ``smwan/fleet/control/reply`` with its shard number
(``{"ok": true, "shard": 0, ...}`` or ``{"ok": false, "shard": 0, "error": "..."}``), and
the message's ``id`` if it had one, so a sender knows when every shard has answered. The
commands:

* ``{"command": "storm", "region": "north-west", "seconds": 240}`` — every premises of the
  region loses its mains at once, ``seconds`` pass in virtual time, the power returns and
  the meters alert (``FleetShard.storm``); the reply counts premises and alerts and says
  when (wall clock) the power came back;
* ``{"command": "cut-mains", "region": R}`` and ``{"command": "restore-mains", "region": R}``;
* ``{"command": "status"}``.

A message may name its ``"fleet"`` (the first twelve hex digits of the fleet's fingerprint,
as every reply and state carries it): a worker of another fleet on the same broker then
refuses it. A command whose ``id`` a worker has answered already is answered again, not
carried out again (its sender may publish it twice across a broker restart).

Each worker also publishes its figures, retained, on ``smwan/fleet/shard/<K>/state`` every
``every`` seconds; its last will there says ``"online": false``. This is a connection of its
own with a clean session, as the per-hub control plane's: a command sent while no worker
listened was already unanswered and must not run at the next start. A command heard runs to
its end even if the connection drops meanwhile, and its reply waits for the next one.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Callable, Mapping
from datetime import timedelta
from typing import Any

import aiomqtt

from ..errors import ConfigError, EmulatorError
from ..fleet_shard import FleetShard
from .link import NO_DELAY, Broker, stop_if_cancelled, until_one_fails

__all__ = ["COMMANDS", "FLEET_CONTROL", "FLEET_REPLY", "FleetControl", "apply_fleet_control", "shard_state_topic"]

log = logging.getLogger(__name__)

FLEET_CONTROL = "smwan/fleet/control"
FLEET_REPLY = FLEET_CONTROL + "/reply"
COMMANDS = ("storm", "cut-mains", "restore-mains", "status")
MAX_OUTAGE_S = 7 * 86400


def shard_state_topic(shard: int) -> str:
    return f"smwan/fleet/shard/{shard}/state"


async def apply_fleet_control(shard: FleetShard, message: Any) -> dict:
    """Carry out one fleet control message for ``shard``; return the reply.

    Raises:
        ConfigError: the message is not a fleet control command (the error says why).
    """
    if not isinstance(message, Mapping) or not isinstance(message.get("command"), str):
        raise ConfigError('a fleet control message is a JSON object with a "command": ' + ", ".join(COMMANDS))
    command = message["command"]
    if command not in COMMANDS:
        raise ConfigError(f"unknown fleet control command {command!r}; known: {', '.join(COMMANDS)}")
    allowed = {"command", "id", "fleet"} | {"storm": {"region", "seconds"}, "cut-mains": {"region"}, "restore-mains": {"region"}}.get(command, set())
    unknown = set(message) - allowed
    if unknown:
        raise ConfigError(f"unknown field(s) in a {command!r} fleet control message: {', '.join(sorted(unknown))}")
    if command == "status":
        return {"ok": True, "command": command, **shard.status()}
    region = message.get("region")
    if not isinstance(region, str):
        raise ConfigError(f'"{command}" needs "region": the name of one of the fleet\'s regions')
    numbers = shard.region(region)
    if command == "cut-mains":
        shard.cut_mains(numbers)
        return {"ok": True, "command": command, "region": region, "premises": len(numbers)}
    if command == "restore-mains":
        return {"ok": True, "command": command, "region": region, "premises": len(numbers), "alerts": shard.restore_mains(numbers)}
    seconds = message.get("seconds")
    if isinstance(seconds, bool) or not isinstance(seconds, int | float) or not 0 < seconds <= MAX_OUTAGE_S:
        raise ConfigError(f'"storm" needs "seconds": the outage, a number from 0 to {MAX_OUTAGE_S}')
    result = await shard.storm(region, timedelta(seconds=seconds))
    return {"ok": True, "command": command, "region": region, "premises": result.premises, "alerts": result.alerts,
            "restored_at": result.restored_at, "raised_by": result.raised_by}  # fmt: skip


class FleetControl:
    """Serves the fleet control topic for ``shard`` and publishes its state until cancelled.

    Args:
        status: the worker's figures for the state topic (``FleetShard.status`` and the link's).
        every: seconds between state publications.
    """

    def __init__(self, shard: FleetShard, broker: Broker, status: Callable[[], dict], *,
                 identifier: str | None = None, every: float = 1.0) -> None:  # fmt: skip
        self.shard, self.broker, self.status, self.every = shard, broker, status, every
        self.identifier = identifier or f"fleet-{shard.fleet_id}-control-{shard.shard}-of-{shard.state.shards}"
        self.subscribed = asyncio.Event()
        self._topic = shard_state_topic(shard.shard)
        # Commands heard and replies not yet published outlive a connection: a storm runs on
        # through a broker restart, and its reply goes out on the next connection.
        self._commands: asyncio.Queue[object] = asyncio.Queue()
        self._replies: list[dict] = []
        self._replied = asyncio.Event()
        self._answered: dict[object, dict] = {}  # the replies to the last commands with an id
        self._offline = json.dumps({"shard": shard.shard, "fleet": shard.fleet_id, "online": False})

    async def run(self) -> None:
        await until_one_fails(self._obey(), self._connect())  # an error obeying stops the worker, loudly

    async def _connect(self) -> None:
        delay = 0.2
        while True:
            try:
                async with aiomqtt.Client(self.broker.host, self.broker.port, identifier=self.identifier,
                                          username=self.broker.username, password=self.broker.password,
                                          clean_session=True, socket_options=NO_DELAY,
                                          will=aiomqtt.Will(self._topic, self._offline, qos=1, retain=True)) as client:  # fmt: skip
                    await client.subscribe(FLEET_CONTROL, qos=1)
                    stop_if_cancelled()
                    self.subscribed.set()
                    delay = 0.2
                    await until_one_fails(self._receive(client), self._publish_replies(client), self._publish_state(client))
            except aiomqtt.MqttError as error:
                log.info("fleet control of shard %d down (%s); again in %.1f s", self.shard.shard, error, delay)
            self.subscribed.clear()
            stop_if_cancelled()
            await asyncio.sleep(delay)
            delay = min(delay * 2, 30.0)

    async def _receive(self, client: aiomqtt.Client) -> None:
        async for message in client.messages:
            self._commands.put_nowait(message.payload)

    async def _obey(self) -> None:
        """Carry out the commands in the order heard, whatever happens to the connection. A
        command heard again with an id already answered (its sender published it twice, not
        knowing the broker had it) gets the same reply and is not carried out twice."""
        while True:
            payload = await self._commands.get()
            identifier = _id_of(payload)
            reply = self._answered.get(identifier) if identifier is not None else None
            if reply is None:
                reply = await self.handle(payload)
                if identifier is not None:
                    self._answered[identifier] = reply
                    while len(self._answered) > _REMEMBERED:
                        del self._answered[next(iter(self._answered))]
            self._replies.append(reply)
            self._replied.set()

    async def _publish_replies(self, client: aiomqtt.Client) -> None:
        while True:
            while self._replies:
                await client.publish(FLEET_REPLY, json.dumps(self._replies[0]), qos=1)
                stop_if_cancelled()
                self._replies.pop(0)  # only once the broker has it
            self._replied.clear()
            await self._replied.wait()

    async def _publish_state(self, client: aiomqtt.Client) -> None:
        try:
            while True:
                await client.publish(self._topic, json.dumps({**self.status(), "online": True}), qos=1, retain=True)
                stop_if_cancelled()
                await asyncio.sleep(self.every)
        except asyncio.CancelledError:  # the worker stops: say so, as a clean disconnect sends no will
            with contextlib.suppress(aiomqtt.MqttError, TimeoutError):
                await asyncio.wait_for(client.publish(self._topic, self._offline, qos=1, retain=True), 1.0)
            raise

    async def handle(self, payload: object) -> dict:
        """One control message's reply: never raises for what a sender can publish."""
        reply: dict[str, Any] = {"shard": self.shard.shard, "fleet": self.shard.fleet_id}
        try:
            message = json.loads(_text(payload))
            identifier = _id_of(payload)
            if identifier is not None:
                reply["id"] = identifier
            if isinstance(message, Mapping) and message.get("fleet", self.shard.fleet_id) != self.shard.fleet_id:
                return {**reply, "ok": False, "error": f"for fleet {message.get('fleet')!r}, not this one"}
            return {**reply, **await apply_fleet_control(self.shard, message)}
        except (UnicodeDecodeError, json.JSONDecodeError) as error:
            return {**reply, "ok": False, "error": f"not JSON: {error}"}
        except EmulatorError as error:
            return {**reply, "ok": False, "error": str(error)}
        except (ValueError, RecursionError) as error:  # JSON nested too deep, a number too long to read
            return {**reply, "ok": False, "error": f"unreadable: {type(error).__name__}: {str(error)[:200]}"}


_REMEMBERED = 64  # replies kept for commands heard twice


def _text(payload: object) -> str:
    return bytes(payload).decode() if isinstance(payload, bytes | bytearray) else str(payload)


def _id_of(payload: object) -> str | int | None:
    """A control message's ``id``, if it is a JSON object with a text or whole-number one."""
    try:
        message = json.loads(_text(payload))
    except (UnicodeDecodeError, ValueError, RecursionError):
        return None
    if not isinstance(message, Mapping):
        return None
    identifier = message.get("id")
    return identifier if isinstance(identifier, str | int) and not isinstance(identifier, bool) else None
