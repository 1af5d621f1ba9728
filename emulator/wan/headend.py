"""The central system's end of the SMWAN: a head-end that sends commands to hubs over MQTT
and takes back what they answer.

``WanHeadEnd`` subscribes to every hub's up topic (``smwan/+/up``) in a persistent session
(so what hubs send while it is away waits at the broker), publishes a command on its hub's
down topic, and returns the response that answers it: a response from the command's
recipient to its originator, with the command's counter. Everything else that comes up —
alerts, late or unmatched responses — waits in ``unsolicited``.
"""

from __future__ import annotations

import asyncio
import os
import secrets
from collections.abc import Mapping, Sequence
from types import TracebackType

import aiomqtt

import gbcs
from gbcs import commands
from gbcs.commands import CommandBuilder
from gbcs.describe import Description, describe
from gbcs.errors import GbcsError
from gbcs.frame import Frame
from gbcs.types import Cra, Role

from ..errors import ConfigError, LinkDown, NoResponse
from ..headend import HeadEnd
from .link import NO_DELAY, Broker, down_topic

__all__ = ["WanHeadEnd"]

_ALL_UP = "smwan/+/up"


class WanHeadEnd:
    """``async with WanHeadEnd(broker) as head_end: response = await head_end.exchange(hub, command)``;
    with a ``HeadEnd`` (the parties' keys), ``send`` builds the command from a use case's typed
    parameters and returns the response decoded and verified."""

    def __init__(self, broker: Broker, head_end: HeadEnd | None = None, *, identifier: str | None = "head-end",
                 persistent: bool = True) -> None:  # fmt: skip
        """``identifier`` None: a client id of its own (for one-off head-ends such as ``send``,
        which must not take over another's session); ``persistent``: the broker keeps what
        comes up while it is away (a head-end that runs for long, under a fixed identifier)."""
        self.broker, self.head_end, self.persistent = broker, head_end, persistent
        self.identifier = identifier or f"head-end-{os.getpid()}-{secrets.token_hex(4)}"
        self.unsolicited: asyncio.Queue[bytes] = asyncio.Queue()
        self._waiting: dict[tuple[bytes, bytes, int], asyncio.Future[bytes]] = {}
        self._client: aiomqtt.Client | None = None
        self._reader: asyncio.Task | None = None

    async def __aenter__(self) -> WanHeadEnd:
        self._client = aiomqtt.Client(self.broker.host, self.broker.port, identifier=self.identifier,
                                      username=self.broker.username, password=self.broker.password,
                                      clean_session=not self.persistent, socket_options=NO_DELAY)  # fmt: skip
        try:
            await self._client.__aenter__()
            await self._client.subscribe(_ALL_UP, qos=1)
        except (aiomqtt.MqttError, TimeoutError, OSError) as error:
            raise LinkDown(f"the SMWAN broker at {self.broker.host}:{self.broker.port}: {error}") from None
        self._reader = asyncio.create_task(self._read())
        return self

    async def __aexit__(self, kind: type[BaseException] | None, error: BaseException | None,
                        traceback: TracebackType | None) -> None:  # fmt: skip
        if self._reader is not None:
            self._reader.cancel()
            await asyncio.gather(self._reader, return_exceptions=True)
        if self._client is not None:
            await self._client.__aexit__(kind, error, traceback)

    async def exchange(self, hub: bytes, command: bytes, *, timeout: float = 10.0) -> bytes:
        """Publish ``command`` for ``hub`` (the CHF's EUI-64) and return its response.

        Raises:
            NoResponse: nothing answered it within ``timeout`` seconds.
            LinkDown: the broker is gone.
        """
        if self._client is None:
            raise LinkDown("the head-end is not connected")
        frame = gbcs.decode(command)
        key = (bytes(frame.recipient), bytes(frame.originator), frame.originator_counter)
        answer = self._waiting[key] = asyncio.get_running_loop().create_future()
        try:
            await self._client.publish(down_topic(hub), command, qos=1)
            return await asyncio.wait_for(answer, timeout)
        except aiomqtt.MqttError as error:
            raise LinkDown(f"the SMWAN broker: {error}") from None
        except TimeoutError:
            raise NoResponse(f"no response to counter {frame.originator_counter} from {frame.recipient} "
                             f"within {timeout} s") from None  # fmt: skip
        finally:
            self._waiting.pop(key, None)

    async def send(self, hub: bytes, use_case: str | CommandBuilder, recipient: bytes,
                   params: Mapping[str, object] | Sequence[str] = (), *, role: Role | None = None,
                   timeout: float = 10.0) -> Description:  # fmt: skip
        """Build a command of ``use_case`` (``gbcs.commands``) for ``recipient`` behind ``hub``,
        signed and MACed as its party, send it, and return its response decoded, with its
        signature and MAC checked (``Description.passes_check``).

        Raises:
            gbcs.commands.ParameterError: bad parameters (named); NoResponse; LinkDown.
        """
        if self.head_end is None:
            raise ConfigError("sending a use case needs the parties' keys: WanHeadEnd(broker, HeadEnd(keystore))")
        builder = commands.builder(use_case) if isinstance(use_case, str) else use_case
        command = self.head_end.build(builder, recipient, params, role=role)
        answer = await self.exchange(hub, command, timeout=timeout)
        return describe(answer, f"{builder.name} response", self.head_end.keystore)

    async def _read(self) -> None:
        assert self._client is not None
        async for message in self._client.messages:
            data = bytes(message.payload) if isinstance(message.payload, bytes | bytearray) else b""
            waiting = self._waiting.get(_answers(data)) if data else None
            if waiting is not None and not waiting.done():
                waiting.set_result(data)
            else:
                await self.unsolicited.put(data)


def _answers(data: bytes) -> tuple[bytes, bytes, int] | None:
    """The (recipient, originator, counter) of the command a response answers, or None."""
    try:
        frame = gbcs.decode(data)
    except GbcsError:
        return None
    if not isinstance(frame, Frame) or frame.cra is not Cra.RESPONSE:
        return None
    return bytes(frame.originator), bytes(frame.recipient), frame.originator_counter
