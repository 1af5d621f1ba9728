"""An MQTT broker inside the emulator's own asyncio loop (amqtt), for users with no broker
installed: ``async with EmbeddedBroker() as broker: HubLink(premises, broker)``.

It speaks MQTT 3.1.1 only (amqtt 0.12 has no MQTT 5), takes any client without credentials,
checks no topics, and keeps everything in memory: persistent sessions (clean session off)
and the QoS 1 messages queued for them last as long as the ``async with`` block, never
across it. For per-hub credentials, an ACL, a restart that keeps sessions, or a fleet's load,
run mosquitto (``emulator.wan.mosquitto``, or ``docker/mosquitto/smwan.conf``).

Theory of operation — what we give amqtt 0.12.1 and why (its source, ``amqtt/broker.py``):

* ``plugins`` names one plugin, ``_Everyone`` below, in place of amqtt's defaults: the event
  and packet loggers (a line per packet), the ``$SYS`` publisher and ``AnonymousAuthPlugin``.
  That plugin, with ``allow_anonymous`` on, marks *every* session anonymous, even one with a
  username, and amqtt neither queues QoS 1 messages for an absent anonymous session nor
  keeps it once it disconnects (``_run_broadcast``, ``_session_monitor``; amqtt PR #248,
  issue #27): a head-end away for a minute would lose what hubs sent meanwhile, which is the
  point of our persistent sessions. ``_Everyone`` lets every client in without that mark.
* No topic plugin: amqtt then checks no topic (``is_topic_filtering_enabled``).
* amqtt's own loggers (``amqtt``, and ``transitions`` for its state machines) log every
  connection at INFO: raised to WARNING while a broker runs, unless the application set
  their levels itself.
* An absent session's queue has no limit (mosquitto's ``max_queued_messages``): it grows in
  memory for as long as the client stays away (amqtt issue #14).

Differences from mosquitto a client can see (amqtt 0.12.1, tried here): messages queued for
an absent session arrive with the retain flag set (``_publish_session_retained_messages``),
and a message is delivered at the subscription's QoS, not the lower of the two; an MQTT 5
client is refused with CONNACK 0x84; a client taking over its own session (a reconnect
before the old connection was seen to drop) is logged at WARNING. Our hubs and head-ends
look at none of these.
"""

from __future__ import annotations

import errno
import logging
import socket
from dataclasses import dataclass
from types import TracebackType

from amqtt.broker import Broker as _AmqttBroker
from amqtt.errors import BrokerError
from amqtt.plugins.base import BaseAuthPlugin
from amqtt.session import Session

from ..errors import LinkDown
from .link import Broker

__all__ = ["EmbeddedBroker"]

_QUIETED = ("amqtt", "transitions")
_quiet_brokers = 0  # how many running brokers keep amqtt's loggers at WARNING
_restore: dict[str, int] = {}


class _Everyone(BaseAuthPlugin):
    """Lets every client in, and leaves its session a persistent one (see above)."""

    @dataclass
    class Config:
        pass

    async def authenticate(self, *, session: Session) -> bool:
        return True


class EmbeddedBroker:
    """An MQTT 3.1.1 broker in this asyncio loop, for as long as the ``async with`` block.

    Args:
        host: the address to listen on (loopback by default: the broker lets anyone in).
        port: the port; default a free one.

    ``async with`` gives the ``emulator.wan.Broker`` to connect to (no credentials).

    Raises:
        LinkDown: the broker could not listen (the port is taken, the address is not ours).
    """

    def __init__(self, *, host: str = "127.0.0.1", port: int | None = None) -> None:
        self.host, self.port = host, port
        self._chosen_port = port is None
        self._amqtt: _AmqttBroker | None = None

    @property
    def broker(self) -> Broker:
        """Where it listens; the port is known once it runs (or was given)."""
        if self.port is None:
            raise LinkDown("the embedded broker is not running")
        return Broker(host=self.host, port=self.port)

    async def __aenter__(self) -> Broker:
        _quiet()
        try:
            for attempt in range(3):
                port = _free_port(self.host) if self._chosen_port else self.port
                amqtt = _AmqttBroker(_config(self.host, port))
                try:
                    await amqtt.start()
                except BrokerError as error:
                    # Another process took the free port between our probe and amqtt's bind.
                    if self._chosen_port and _address_in_use(error) and attempt < 2:
                        continue
                    raise LinkDown(f"the embedded MQTT broker cannot listen on {self.host}:{port}: "
                                   f"{error.__cause__ or error}") from None  # fmt: skip
                self._amqtt, self.port = amqtt, port
                return self.broker
            raise AssertionError("unreachable")
        except BaseException:
            _unquiet()
            raise

    async def __aexit__(self, kind: type[BaseException] | None, error: BaseException | None,
                        traceback: TracebackType | None) -> None:  # fmt: skip
        amqtt, self._amqtt = self._amqtt, None
        try:
            if amqtt is not None:
                await amqtt.shutdown()
        finally:
            if self._chosen_port:
                self.port = None
            _unquiet()


def _config(host: str, port: int) -> dict:
    return {
        "listeners": {"default": {"type": "tcp", "bind": f"{host}:{port}"}},
        "plugins": {f"{__name__}._Everyone": {}},
    }


def _free_port(host: str) -> int:
    with socket.socket() as probe:
        probe.bind((host, 0))
        return probe.getsockname()[1]


def _address_in_use(error: BaseException) -> bool:
    cause = error.__cause__
    return isinstance(cause, OSError) and cause.errno == errno.EADDRINUSE


def _quiet() -> None:
    global _quiet_brokers
    if _quiet_brokers == 0:
        for name in _QUIETED:
            logger = logging.getLogger(name)
            if logger.level == logging.NOTSET:  # the application has not chosen a level
                _restore[name] = logger.level
                logger.setLevel(logging.WARNING)
    _quiet_brokers += 1


def _unquiet() -> None:
    global _quiet_brokers
    _quiet_brokers -= 1
    if _quiet_brokers == 0:
        for name, level in _restore.items():
            logging.getLogger(name).setLevel(level)
        _restore.clear()
