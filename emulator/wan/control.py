"""The emulation's control plane: commands to the simulated world, not to any device.

A lab's script or dashboard publishes JSON on ``smwan/<CHF EUI-64>/control``; the emulator
process that runs that hub obeys and answers on ``smwan/<CHF EUI-64>/control/reply``
(``{"ok": true, ...}`` or ``{"ok": false, "error": "..."}``). This is a connection of the
emulator's own, not the hub's: a hub whose mains are cut is dark, yet "restore the mains"
must reach it. The commands:

* ``{"command": "cut-mains"}`` and ``{"command": "restore-mains"}`` — the premises' supply;
  a restoration after three minutes or more raises the meters' 8F36 alerts, a shorter one
  8F35 (``Premises.restore_mains``);
* ``{"command": "wan-outage", "seconds": 30}`` — the hub's WAN goes away for a while;
* ``{"command": "tamper"}`` — someone opens the electricity meter's cover (8F3F).

Anything else gets a reply naming what is wrong; nothing a sender publishes stops the plane.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import aiomqtt

from gbcs.types import DeviceType

from ..errors import ConfigError, EmulatorError
from .link import NO_DELAY, Broker, HubLink, control_topic, stop_if_cancelled

__all__ = ["COMMANDS", "ControlPlane", "apply_control"]

log = logging.getLogger(__name__)

COMMANDS = ("cut-mains", "restore-mains", "wan-outage", "tamper")


def apply_control(link: HubLink, message: Any) -> dict:
    """Carry out one control message for ``link``'s premises; return the reply.

    Raises:
        ConfigError: the message is not a control command (the reply says why).
    """
    if not isinstance(message, Mapping) or not isinstance(message.get("command"), str):
        raise ConfigError('a control message is a JSON object with a "command": ' + ", ".join(COMMANDS))
    command, premises = message["command"], link.premises
    unknown = set(message) - {"command", "seconds"}
    if unknown:
        raise ConfigError(f"unknown field(s) in a {command!r} control message: {', '.join(sorted(unknown))}")
    if command == "cut-mains":
        premises.cut_mains()
        return {"ok": True, "command": command, "mains": "off"}
    if command == "restore-mains":
        started = premises.outage_started()
        alerts = premises.restore_mains()
        outage = None if started is None else (premises.clock.now() - started).total_seconds()
        return {"ok": True, "command": command, "mains": "on", "outage_s": outage, "alerts": len(alerts)}
    if command == "wan-outage":
        seconds = message.get("seconds")
        if isinstance(seconds, bool) or not isinstance(seconds, int | float) or not 0 < seconds <= 86400:
            raise ConfigError('"wan-outage" needs "seconds": a number from 0 to 86400')
        link.wan_outage(float(seconds))
        return {"ok": True, "command": command, "seconds": seconds}
    if command == "tamper":
        meters = premises.config.of_type(DeviceType.ESME)
        if not meters:
            raise ConfigError("this premises has no electricity meter to tamper with")
        premises.tamper(meters[0])
        return {"ok": True, "command": command, "meter": str(meters[0])}
    raise ConfigError(f"unknown control command {command!r}; known: {', '.join(COMMANDS)}")


@dataclass
class ControlPlane:
    """Serves the control topics of ``links`` (keyed by ``HubLink.hub``) until cancelled: one
    connection for them all, or, where each hub has its own broker account (``auth.py``: a
    hub may read only its own control topic), one per hub with that hub's credentials."""

    broker: Broker
    links: Mapping[str, HubLink]
    identifier: str = "smets-emu-control"
    subscribed: asyncio.Event = field(default_factory=asyncio.Event)  # set once it hears its topics
    _connected: bool = False

    async def run(self) -> None:
        delay = 0.2
        while True:  # the broker may go away; the plane comes back with it
            self._connected = False
            try:
                await self._serve()
            except aiomqtt.MqttError as error:
                log.info("control plane down (%s); again in %.1f s", error, delay)
            stop_if_cancelled()
            delay = 0.2 if self._connected else min(delay * 2, 30.0)
            await asyncio.sleep(delay)

    async def _serve(self) -> None:
        # A clean session: a command sent while no emulator listens was already unanswered;
        # it must not run at the next start.
        async with aiomqtt.Client(self.broker.host, self.broker.port, identifier=self.identifier,
                                  username=self.broker.username, password=self.broker.password,
                                  clean_session=True, socket_options=NO_DELAY) as client:  # fmt: skip
            for link in self.links.values():
                await client.subscribe(control_topic(link.premises.chf.eui), qos=1)
            stop_if_cancelled()
            self._connected = True
            self.subscribed.set()
            async for message in client.messages:
                hub = str(message.topic).split("/")[1]
                link = self.links.get(hub)
                if link is None:
                    continue  # another emulator process's hub
                reply = self.handle(link, message.payload)
                await client.publish(f"{message.topic}/reply", json.dumps(reply), qos=1)
                stop_if_cancelled()

    @staticmethod
    def handle(link: HubLink, payload: object) -> dict:
        """One control message's reply: never raises for what a sender can publish."""
        try:
            text = bytes(payload).decode() if isinstance(payload, bytes | bytearray) else str(payload)
            return apply_control(link, json.loads(text))
        except (UnicodeDecodeError, json.JSONDecodeError) as error:
            return {"ok": False, "error": f"not JSON: {error}"}
        except EmulatorError as error:
            return {"ok": False, "error": str(error)}
        except (ValueError, RecursionError) as error:  # JSON nested too deep, a number too long to read
            return {"ok": False, "error": f"unreadable: {type(error).__name__}: {str(error)[:200]}"}
