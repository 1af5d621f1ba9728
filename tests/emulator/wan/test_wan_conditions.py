"""The WAN a hub sees, per hub: latency each way, loss (logged by the hub), and an outage
during which the broker keeps the hub's commands until it is back."""

from __future__ import annotations

import asyncio
import json
import time

import aiomqtt
import pytest

from emulator.errors import ConfigError, NoResponse
from emulator.pki_store import PkiStore
from emulator.premises import Premises
from emulator.wan import HubLink, WanConditions, WanHeadEnd, state_topic
from emulator.wan.mosquitto import MosquittoProcess
from tests.emulator.wan.conftest import CHF, read_hub


async def linked(premises: Premises, mosquitto: MosquittoProcess, conditions: WanConditions, work):  # noqa: ANN001
    link = HubLink(premises, mosquitto.broker, backoff=(0.05, 0.5), conditions=conditions)
    task = asyncio.create_task(link.run())
    try:
        await asyncio.wait_for(link.connected.wait(), 10)
        async with WanHeadEnd(mosquitto.broker) as head_end:
            return await work(link, head_end)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


def test_latency_delays_each_way(mosquitto: MosquittoProcess, premises: Premises, pki: PkiStore) -> None:
    async def work(link: HubLink, head_end: WanHeadEnd) -> float:
        started = time.monotonic()
        await head_end.exchange(CHF, read_hub(pki, 20), timeout=10)
        return time.monotonic() - started

    assert asyncio.run(linked(premises, mosquitto, WanConditions(latency=0.25), work)) >= 0.5  # there and back


def test_a_lossy_wan_loses_frames_and_the_hub_logs_each(mosquitto: MosquittoProcess, premises: Premises, pki: PkiStore) -> None:
    async def work(link: HubLink, head_end: WanHeadEnd) -> int:
        with pytest.raises(NoResponse):
            await head_end.exchange(CHF, read_hub(pki, 21), timeout=1)
        return link.lost

    assert asyncio.run(linked(premises, mosquitto, WanConditions(loss=1.0), work)) == 1
    [lost] = [entry for entry in premises.store.read().event_log(premises.chf.eui) if entry.event == "wan-lost"]
    assert "down" in lost.detail and "counter 21" in lost.detail


def test_losses_follow_the_seed(mosquitto: MosquittoProcess, premises: Premises, pki: PkiStore) -> None:
    """Some commands or their answers lost, the same ones for the same seed: a run repeats."""
    def run_once(first_counter: int) -> list[bool]:
        async def work(link: HubLink, head_end: WanHeadEnd) -> list[bool]:
            answered = []
            for counter in range(first_counter, first_counter + 10):
                try:
                    await head_end.exchange(CHF, read_hub(pki, counter), timeout=0.5)
                    answered.append(True)
                except NoResponse:
                    answered.append(False)
            return answered

        return asyncio.run(linked(premises, mosquitto, WanConditions(loss=0.3, seed=7), work))

    first, again = run_once(30), run_once(40)  # new counters: the hub refuses a replay
    assert first == again
    assert 0 < first.count(True) < 10


def test_a_wan_outage_holds_commands_at_the_broker_until_the_hub_is_back(
        mosquitto: MosquittoProcess, premises: Premises, pki: PkiStore) -> None:  # fmt: skip
    async def work(link: HubLink, head_end: WanHeadEnd) -> tuple[bool, float]:
        link.wan_outage(1.0)
        await asyncio.sleep(0.2)
        down = not link.connected.is_set()
        started = time.monotonic()
        await head_end.exchange(CHF, read_hub(pki, 50), timeout=10)
        return down, time.monotonic() - started

    down, waited = asyncio.run(linked(premises, mosquitto, WanConditions(), work))
    assert down and waited >= 0.5  # answered once the outage ended, not lost


def test_the_state_topic_says_when_the_hub_is_off_the_wan(mosquitto: MosquittoProcess, premises: Premises) -> None:
    async def work(link: HubLink, head_end: WanHeadEnd) -> list[dict]:
        states = []
        async with aiomqtt.Client(mosquitto.broker.host, mosquitto.port, identifier="dashboard") as dashboard:
            await dashboard.subscribe(state_topic(CHF), qos=1)
            link.wan_outage(0.5)
            async with asyncio.timeout(10):
                async for message in dashboard.messages:
                    states.append(json.loads(message.payload))
                    if states[-1]["event"] == "wan-restored":
                        return states
        return states

    states = asyncio.run(linked(premises, mosquitto, WanConditions(), work))
    assert [(s["event"], s["online"]) for s in states] == [("connected", True), ("wan-outage", False), ("wan-restored", True)]


def test_impossible_conditions_are_refused() -> None:
    with pytest.raises(ConfigError, match="latency"):
        WanConditions(latency=-1)
    with pytest.raises(ConfigError, match="loss"):
        WanConditions(loss=1.5)
