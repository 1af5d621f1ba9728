"""The embedded broker (amqtt, ``emulator.wan.broker``) carries the SMWAN as mosquitto does
for one premises: the head-end's command is answered through it, and a burst of alerts sent
while the head-end was away waits in its persistent session and arrives complete."""

from __future__ import annotations

import asyncio
import logging
import socket
import time

import aiomqtt
import pytest

import gbcs
from emulator.errors import LinkDown
from emulator.pki_store import PkiStore
from emulator.premises import Premises
from emulator.wan import Broker, HubLink, WanHeadEnd, up_topic
from emulator.wan.broker import EmbeddedBroker
from gbcs.security import Check
from gbcs.types import Role
from tests.emulator.wan.conftest import CHF, PARTY, drained, read_hub, with_link


def test_the_head_end_exchanges_a_command_through_the_embedded_broker(premises: Premises, pki: PkiStore) -> None:
    async def scenario() -> bytes:
        async with EmbeddedBroker() as broker:
            async def exchange(_link: HubLink) -> bytes:
                async with WanHeadEnd(broker) as head_end:
                    answer = await head_end.exchange(CHF, read_hub(pki, 30), timeout=10)
                await drained(premises)
                return answer

            return await with_link(premises, broker, exchange)

    frame = gbcs.decode(asyncio.run(scenario()))
    assert (frame.originator, frame.originator_counter) == (CHF, 30)
    assert gbcs.verify(frame, pki.keystore(), broker=PARTY[Role.ACCESS_CONTROL_BROKER]).mac is Check.VALID
    assert premises.wan_outbox() == []


BURST = 500


def test_a_burst_of_alerts_for_a_head_end_that_is_away_arrives_complete(premises: Premises) -> None:
    from emulator.firmware.alerts import raise_dlms_alert

    timings: dict[str, float] = {}

    async def scenario(broker: Broker) -> set[int]:
        async def burst(_link: HubLink) -> set[int]:
            async with aiomqtt.Client(broker.host, broker.port, identifier="head-end", clean_session=False) as client:
                await client.subscribe(up_topic(CHF), qos=1)  # its session, then it goes away
            with premises.store.transaction() as tx:
                for _ in range(BURST):  # signed hub alerts: firmware distribution receipts (0x00CE, 8F72)
                    raise_dlms_alert(premises.chf, tx, PARTY[Role.SUPPLIER], 0x00CE, 0x8F72)
            start = time.monotonic()
            while premises.wan_outbox() and time.monotonic() < start + 60:
                await asyncio.sleep(0.05)  # the hub hands them all to the broker
            assert premises.wan_outbox() == []
            timings["hub to broker"] = time.monotonic() - start
            start = time.monotonic()
            counters: set[int] = set()
            async with aiomqtt.Client(broker.host, broker.port, identifier="head-end", clean_session=False) as client:
                messages = aiter(client.messages)
                while len(counters) < BURST:
                    try:
                        message = await asyncio.wait_for(anext(messages), 3)
                    except TimeoutError:
                        break
                    counters.add(gbcs.decode(bytes(message.payload)).originator_counter)
            timings["broker to head-end"] = time.monotonic() - start
            return counters

        return await with_link(premises, broker, burst)

    async def run() -> set[int]:
        async with EmbeddedBroker() as broker:
            return await scenario(broker)

    counters = asyncio.run(run())
    print(f"{BURST} alerts through amqtt: " + ", ".join(f"{name} {seconds:.2f} s" for name, seconds in timings.items()))
    assert len(counters) == BURST


def test_a_port_in_use_is_reported_and_amqtt_stays_quiet(caplog: pytest.LogCaptureFixture) -> None:
    async def scenario() -> None:
        with socket.socket() as taken:
            taken.bind(("127.0.0.1", 0))
            taken.listen()
            with pytest.raises(LinkDown, match="cannot listen"):
                async with EmbeddedBroker(port=taken.getsockname()[1]):
                    pass
        async with EmbeddedBroker() as broker:
            async with aiomqtt.Client(broker.host, broker.port) as client:
                await client.publish("smwan/x/up", b"1", qos=1)

    with caplog.at_level(logging.INFO):
        asyncio.run(scenario())
    assert not [record for record in caplog.records if record.name.startswith("amqtt") and record.levelno < logging.WARNING]
    assert logging.getLogger("amqtt").level == logging.NOTSET  # given back once no broker runs
