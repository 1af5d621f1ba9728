"""The hub's SMWAN link against a real mosquitto: a command published for the hub comes back
answered on its up topic; what the hub queued while the broker was away arrives once it is
back (counted); bad input on the down topic stops nothing. The broker, the PKI and the
commissioned premises are conftest.py's fixtures."""

from __future__ import annotations

import asyncio

import aiomqtt
import pytest

import gbcs
from emulator.pki_store import PkiStore
from emulator.premises import Premises
from emulator.wan import Broker, HubLink, down_topic, up_topic
from emulator.wan.mosquitto import MosquittoProcess
from gbcs.security import Check
from gbcs.types import Role
from tests.emulator.wan.conftest import CHF, PARTY, drained, free_port, read_hub, with_link


async def collect(port: int, count: int, publish: list[bytes], *, within: float = 10.0) -> list[bytes]:
    """As a head-end: subscribe to the hub's up topic, publish ``publish`` on its down topic,
    and return the first ``count`` frames that come up."""
    received: list[bytes] = []
    async with aiomqtt.Client("127.0.0.1", port, identifier="head-end", clean_session=False) as client:
        await client.subscribe(up_topic(CHF), qos=1)
        for frame in publish:
            await client.publish(down_topic(CHF), frame, qos=1)

        async def take() -> None:
            async for message in client.messages:
                received.append(bytes(message.payload))
                if len(received) == count:
                    return

        await asyncio.wait_for(take(), within)
    return received


def test_a_command_for_the_hub_comes_back_answered(mosquitto: MosquittoProcess, premises: Premises, pki: PkiStore) -> None:
    command = read_hub(pki, 10)
    async def scenario(_: HubLink) -> list[bytes]:
        answers = await collect(mosquitto.port, 1, [command])
        await drained(premises)
        return answers

    [answer] = asyncio.run(with_link(premises, mosquitto.broker, scenario))
    frame = gbcs.decode(answer)
    assert (frame.cra.name, frame.originator, frame.originator_counter) == ("RESPONSE", CHF, 10)
    assert gbcs.verify(frame, pki.keystore(), broker=PARTY[Role.ACCESS_CONTROL_BROKER]).mac is Check.VALID
    assert premises.wan_outbox() == []  # marked sent once the broker had it


def test_bad_input_on_the_down_topic_stops_nothing(mosquitto: MosquittoProcess, premises: Premises, pki: PkiStore) -> None:
    answers = asyncio.run(with_link(premises, mosquitto.broker,
                                    lambda _: collect(mosquitto.port, 1, [b"", b"\xdf\x09garbage", read_hub(pki, 11)])))  # fmt: skip
    assert gbcs.decode(answers[0]).originator_counter == 11
    assert any(entry.event for entry in premises.store.read().security_log(premises.chf.eui))  # the refusals, logged


def test_what_the_hub_queued_while_the_broker_was_away_arrives_after_it_returns(
        mosquitto: MosquittoProcess, premises: Premises, pki: PkiStore) -> None:  # fmt: skip
    async def scenario(link: HubLink) -> list[bytes]:
        async with aiomqtt.Client("127.0.0.1", mosquitto.port, identifier="head-end", clean_session=False) as client:
            await client.subscribe(up_topic(CHF), qos=1)  # the head-end's session exists before the outage
        mosquitto.stop()
        await asyncio.sleep(0.2)
        for counter in range(20, 25):  # answered while the WAN is down: kept in the outbox
            assert premises.send(read_hub(pki, counter)).accepted
        assert len(premises.wan_outbox()) == 5
        mosquitto.start()
        await asyncio.wait_for(link.connected.wait(), 10)
        answers = await collect(mosquitto.port, 5, [])
        await drained(premises)
        return answers

    answers = asyncio.run(with_link(premises, mosquitto.broker, scenario))
    assert sorted(gbcs.decode(answer).originator_counter for answer in answers) == [20, 21, 22, 23, 24]
    assert premises.wan_outbox() == []


BURST = 5000


@pytest.mark.parametrize("mosquitto", [False, True], ids=["shipped-settings", "stock-mosquitto"], indirect=True)
def test_a_burst_of_alerts_for_a_head_end_that_is_away_arrives_complete(mosquitto: MosquittoProcess, premises: Premises) -> None:
    """Several thousand alerts published while the head-end is disconnected: with the shipped
    settings every one arrives; stock mosquitto (1000 queued at most) silently drops the rest,
    the trap the settings exist for."""
    from emulator.firmware.alerts import raise_dlms_alert

    hub = premises.chf

    async def scenario(link: HubLink) -> set[int]:
        async with aiomqtt.Client("127.0.0.1", mosquitto.port, identifier="head-end", clean_session=False) as client:
            await client.subscribe(up_topic(CHF), qos=1)  # its session, then it goes away
        with premises.store.transaction() as tx:
            for _ in range(BURST):  # signed hub alerts: firmware distribution receipts (0x00CE, 8F72)
                raise_dlms_alert(hub, tx, PARTY[Role.SUPPLIER], 0x00CE, 0x8F72)
        deadline = asyncio.get_running_loop().time() + 60
        while premises.wan_outbox() and asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(0.1)  # the hub hands them all to the broker
        assert premises.wan_outbox() == []
        counters: set[int] = set()
        async with aiomqtt.Client("127.0.0.1", mosquitto.port, identifier="head-end", clean_session=False) as client:
            messages = aiter(client.messages)
            while len(counters) < BURST:
                try:
                    message = await asyncio.wait_for(anext(messages), 3)
                except TimeoutError:
                    break  # three quiet seconds: what was dropped never comes
                counters.add(gbcs.decode(bytes(message.payload)).originator_counter)
        return counters

    counters = asyncio.run(with_link(premises, mosquitto.broker, scenario))
    if mosquitto.stock:
        assert len(counters) <= 1100  # stock mosquitto kept about a thousand and dropped the rest
    else:
        assert len(counters) == BURST


def test_the_head_end_exchanges_a_command_for_its_response_and_says_when_none_comes(
        mosquitto: MosquittoProcess, premises: Premises, pki: PkiStore) -> None:  # fmt: skip
    from emulator.errors import NoResponse
    from emulator.wan import WanHeadEnd

    async def exchange(_link: HubLink) -> bytes:
        async with WanHeadEnd(Broker(port=mosquitto.port)) as head_end:
            return await head_end.exchange(CHF, read_hub(pki, 30), timeout=10)

    frame = gbcs.decode(asyncio.run(with_link(premises, mosquitto.broker, exchange)))
    assert (frame.originator, frame.originator_counter) == (CHF, 30)
    assert gbcs.verify(frame, pki.keystore(), broker=PARTY[Role.ACCESS_CONTROL_BROKER]).mac is Check.VALID

    async def unanswered() -> None:  # no hub link running: nobody answers
        async with WanHeadEnd(Broker(port=mosquitto.port), identifier="another-head-end") as head_end:
            await head_end.exchange(CHF, read_hub(pki, 31), timeout=0.5)

    with pytest.raises(NoResponse):
        asyncio.run(unanswered())


def test_a_head_end_without_a_broker_is_told_so() -> None:
    from emulator.errors import LinkDown
    from emulator.wan import WanHeadEnd

    async def connect() -> None:
        async with WanHeadEnd(Broker(port=free_port())):
            pass

    with pytest.raises(LinkDown):
        asyncio.run(connect())


def test_only_the_closed_socket_race_is_quietened(caplog: pytest.LogCaptureFixture) -> None:
    import errno

    from emulator.wan.link import quiet_closed_socket_race

    loop = asyncio.new_event_loop()
    try:
        race = asyncio.Handle(loop.add_writer, (11, print), loop)  # as asyncio reports the race: add_writer(fd, callback)
        with caplog.at_level("INFO"):
            quiet_closed_socket_race(loop, {"message": "Exception in callback", "exception": OSError(errno.EBADF, "Bad file descriptor"),
                                            "handle": race})  # fmt: skip
            quiet_closed_socket_race(loop, {"message": "Exception in callback", "exception": OSError(errno.EPIPE, "Broken pipe"),
                                            "handle": race})  # fmt: skip
        asyncio_errors = [record for record in caplog.records if record.name == "asyncio"]
        assert len(asyncio_errors) == 1 and "Broken pipe" in str(asyncio_errors[0].exc_info[1])  # only the other error
        assert any("broker went away" in record.getMessage() for record in caplog.records if record.name == "emulator.wan.link")
    finally:
        loop.close()
