"""A fleet on a real mosquitto: shards in worker processes, one SMWAN connection each, a storm's
alerts counted as the supplier and the network operator count them (and by a subscriber of
the test's own), a broker restarted mid-storm with nothing lost, the fleet control topic
refusing what it cannot carry out, a head-end's command answered through a shard's shared
connection, and the Prometheus figures."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import hashlib
import json
import re
import socket
import time
import urllib.request
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import aiomqtt
import pytest

import gbcs
from emulator.errors import NoResponse
from emulator.fleet import Fleet
from emulator.fleet_credentials import FleetCredentials
from emulator.fleet_shard import FleetState, fingerprint
from emulator.fleet_worker import WorkerProcesses, run_shard
from emulator.pki_store import PkiStore
from emulator.storm import StormReport, run_storm
from emulator.wan import Broker, WanHeadEnd
from emulator.wan.fleet_control import shard_state_topic
from emulator.wan.mosquitto import MosquittoProcess
from gbcs.dlms import decode_apdu
from gbcs.keystore import InMemoryKeyStore, KeyUsage
from gbcs.security import Check
from gbcs.types import EUI64, Cra, DeviceType, Role
from tests.conftest import RTDS
from tests.emulator.helpers import NOW
from tests.emulator.wan.conftest import free_port

CONTROL, REPLY = "smwan/fleet/control", "smwan/fleet/control/reply"
READ_HUB = RTDS / "messages/6.2.4_ECS26n/ECS26n_6.2.4_SUCCESS_COMMAND_GBCS.HEX"  # CHF identity, MAC only
ECS80, LONG_OUTAGE = 0x0067, 0x8F36

# 240 premises: north 150 (130 electricity meters, 30 of them twin-element; 20 premises gas only),
# south 90 (all with an electricity meter)
MIXED = """
seed = 314

[templates.single]
devices = ["esme", "ihd"]

[templates.twin]
devices = ["esme", "ihd"]
esme = "twin"

[templates.gas-only]
devices = ["gsme", "ihd"]

[templates.dual-fuel]
devices = ["esme", "gsme", "ihd"]

[[group]]
template = "single"
count = 100
region = "north"

[[group]]
template = "twin"
count = 30
region = "north"

[[group]]
template = "gas-only"
count = 20
region = "north"

[[group]]
template = "dual-fuel"
count = 60
region = "south"

[[group]]
template = "single"
count = 30
region = "south"
"""


def uniform(north: int, south: int, seed: int = 2718) -> str:
    return (f'seed = {seed}\n[templates.single]\ndevices = ["esme", "ihd"]\n'
            f'[[group]]\ntemplate = "single"\ncount = {north}\nregion = "north"\n'
            f'[[group]]\ntemplate = "single"\ncount = {south}\nregion = "south"\n')  # fmt: skip


@dataclasses.dataclass
class Lab:
    fleet_file: Path
    fleet: Fleet
    state: Path
    shards: int


def make_lab(tmp_path: Path, text: str, *, shards: int = 2) -> Lab:
    fleet_file = tmp_path / "fleet.toml"
    fleet_file.write_text(text)
    fleet = Fleet.from_toml(fleet_file)
    FleetState.init(tmp_path / "state", fleet, shards=shards, start=NOW)
    return Lab(fleet_file, fleet, tmp_path / "state", shards)


def expected_shard(hub: bytes, shards: int) -> int:
    """The split as ``fleet_shard`` defines it: SHA-256 of a label and the CHF's EUI-64."""
    return int.from_bytes(hashlib.sha256(b"smets-emu shard" + bytes(hub)).digest()[:8], "big") % shards


def meters(fleet: Fleet, region: str, shard: int | None = None, shards: int = 1) -> set[bytes]:
    """The electricity meters of ``region`` (of one shard's premises, if given), from the description."""
    return {bytes(eui) for p in fleet.premises(region) if shard is None or expected_shard(p.hub, shards) == shard
            for eui in p.config.of_type(DeviceType.ESME)}  # fmt: skip


def parties(lab: Lab) -> dict[str, bytes]:
    keystore = PkiStore.open(lab.state / "pki").keystore()
    return {"supplier": bytes(keystore.parties_with_role(Role.SUPPLIER)[0]),
            "network_operator": bytes(keystore.parties_with_role(Role.NETWORK_OPERATOR)[0])}  # fmt: skip


def client(broker: Broker) -> aiomqtt.Client:
    return aiomqtt.Client(broker.host, broker.port)


async def shards_up(broker: Broker, shards: int, *, reconnected: bool = False, timeout: float = 60) -> dict[int, dict]:
    """Once every shard's retained state says it is online with its hubs connected (and, if
    ``reconnected``, that its WAN link came back at least once): the states."""
    states: dict[int, dict] = {}

    def up(state: dict) -> bool:
        return bool(state.get("online") and state.get("connected")) and (not reconnected or state.get("reconnects", 0) > 0)

    async with asyncio.timeout(timeout), client(broker) as watcher:
        await watcher.subscribe("smwan/fleet/shard/+/state", qos=1)
        async for message in watcher.messages:
            state = json.loads(bytes(message.payload))  # type: ignore[arg-type]
            states[state["shard"]] = state
            if len(states) == shards and all(up(state) for state in states.values()):
                return states
    raise AssertionError("unreachable")


@contextlib.contextmanager
def workers(lab: Lab, mosquitto: MosquittoProcess, log_dir: Path) -> Iterator[WorkerProcesses]:
    """The fleet's shards as worker processes; afterwards, each exited cleanly and logged no traceback."""
    processes = WorkerProcesses(lab.fleet_file, lab.state, mosquitto.broker, range(lab.shards), log_dir=log_dir)
    processes.start()
    try:
        yield processes
    finally:
        processes.stop()
    assert processes.failed() == dict.fromkeys(range(lab.shards), 0)
    for shard in range(lab.shards):
        log = (log_dir / f"shard-{shard}.log").read_text()
        assert "Traceback" not in log, log


def check_complete(report: StormReport, fleet: Fleet, region: str) -> None:
    """Every alert expected from the description arrived, once each, and nothing else did."""
    expected = len(meters(fleet, region))
    assert report.errors == [] and report.shards_answered == report.shards
    assert report.expected == {"supplier": expected, "network_operator": expected}
    assert report.delivered == report.expected
    assert (report.unexpected, report.bad_signatures) == (0, 0)
    assert report.premises == sum(1 for _ in fleet.premises(region))
    assert report.alerts_raised == 2 * expected


# -- the storm, end to end --------------------------------------------------------------------------


def test_a_storm_over_two_worker_processes_delivers_every_alert_once(mosquitto: MosquittoProcess, tmp_path: Path) -> None:
    lab = make_lab(tmp_path, MIXED)
    north = meters(lab.fleet, "north")
    assert (len(north), len(meters(lab.fleet, "south"))) == (130, 90)  # as the description reads
    roles = parties(lab)

    async def scenario() -> tuple[StormReport, list[bytes]]:
        await shards_up(mosquitto.broker, 2)
        heard: list[bytes] = []
        async with client(mosquitto.broker) as listener:  # a subscriber of our own, besides the storm's
            await listener.subscribe("smwan/+/up", qos=1)

            async def listen() -> None:
                async for message in listener.messages:
                    heard.append(bytes(message.payload))  # type: ignore[arg-type]

            listening = asyncio.create_task(listen())
            try:
                report = await run_storm(mosquitto.broker, lab.fleet, lab.state, "north", timedelta(minutes=4), timeout=60)
                async with asyncio.timeout(30):
                    while len(heard) < 2 * len(north):
                        await asyncio.sleep(0.05)
                await asyncio.sleep(0.5)  # anything more (a copy, a stray) would be here by now
            finally:
                listening.cancel()
                await asyncio.gather(listening, return_exceptions=True)
        return report, heard

    with workers(lab, mosquitto, tmp_path):
        report, heard = asyncio.run(scenario())

    assert report.complete, report.to_json()
    check_complete(report, lab.fleet, "north")
    assert report.duplicates == 0
    assert report.codes == {"8F36": 2 * len(north)}

    seen: Counter[tuple[bytes, bytes, int]] = Counter()
    credentials = FleetCredentials(lab.fleet.seed)
    keystore = InMemoryKeyStore()
    for data in heard:
        frame = gbcs.decode(data)
        originator = bytes(frame.originator)
        assert originator in north  # only the north's meters spoke
        assert bytes(frame.recipient) in roles.values()
        assert frame.cra is Cra.ALERT and frame.other_information.message_code == ECS80
        assert decode_apdu(frame.content).value.value[0].value == LONG_OUTAGE
        keystore.add_public_key(originator, KeyUsage.DS, credentials.public_key(originator, "ds"))
        assert gbcs.verify(frame, keystore).signature is Check.VALID
        seen[(originator, bytes(frame.recipient), frame.originator_counter)] += 1
    assert len(heard) == 2 * len(north) and set(seen.values()) == {1}
    assert {(meter, party) for meter, party, _ in seen} == {(meter, party) for meter in north for party in roles.values()}


# -- the broker restarted mid-storm -------------------------------------------------------------------


async def storm_and_restart(mosquitto: MosquittoProcess, lab: Lab, when: Callable[[aiomqtt.Client], Awaitable[Any]],
                            **storm: Any) -> tuple[StormReport, float, Any]:  # fmt: skip
    """Storm the north; restart the broker once ``when`` (reading the broker as a subscriber
    of smwan/+/up, the fleet control topic and its replies) returns; the report, the moment
    the restart began (wall clock) and what ``when`` returned."""
    await shards_up(mosquitto.broker, lab.shards)
    async with client(mosquitto.broker) as watcher:
        await watcher.subscribe([("smwan/+/up", 1), (CONTROL, 1), (REPLY, 1)])
        storming = asyncio.create_task(run_storm(mosquitto.broker, lab.fleet, lab.state, "north", timedelta(minutes=4),
                                                 **storm))  # fmt: skip
        async with asyncio.timeout(60):
            seen = await when(watcher)
    restarted_at = time.time()
    await asyncio.to_thread(mosquitto.restart)
    try:
        report = await storming
    except NoResponse as error:
        states = await shards_up(mosquitto.broker, lab.shards)
        pytest.fail(f"the shards' replies to the storm were lost across the broker restart ({error}); the shards: "
                    + "; ".join(f"shard {k}: {state['dark']} premises still dark, {state['alerts']} alerts raised"
                                for k, state in sorted(states.items())))  # fmt: skip
    return report, restarted_at, seen


def test_a_broker_restart_while_the_shards_carry_out_the_storm_loses_no_alert_and_no_reply(
        mosquitto: MosquittoProcess, tmp_path: Path) -> None:  # fmt: skip
    lab = make_lab(tmp_path, uniform(north=240, south=10))  # ~120 premises a shard to make: seconds of work

    async def once_the_shards_have_the_storm(watcher: aiomqtt.Client) -> None:
        async for message in watcher.messages:
            if message.topic.matches(CONTROL):
                await asyncio.sleep(0.3)  # in the shards' hands, and far from done
                return

    async def scenario() -> tuple[StormReport, float, dict[int, dict]]:
        report, restarted_at, _ = await storm_and_restart(mosquitto, lab, once_the_shards_have_the_storm, timeout=30)
        return report, restarted_at, await shards_up(mosquitto.broker, 2, reconnected=True)

    with workers(lab, mosquitto, tmp_path):
        report, restarted_at, states = asyncio.run(scenario())

    assert report.restored_at is not None and restarted_at < report.restored_at, "the restart came after the storm"
    assert all(state["reconnects"] > 0 for state in states.values())
    # the storm ran to its end in every shard: no premises left without mains, every meter alerted
    assert sum(state["dark"] for state in states.values()) == 0
    assert sum(state["alerts"] for state in states.values()) == 2 * len(meters(lab.fleet, "north"))
    check_complete(report, lab.fleet, "north")  # copies sent again are counted as duplicates, not alerts


def test_a_broker_restart_while_the_alerts_are_on_their_way_loses_none(mosquitto: MosquittoProcess, tmp_path: Path) -> None:
    lab = make_lab(tmp_path, uniform(north=240, south=10))
    expected = 2 * len(meters(lab.fleet, "north"))

    async def once_the_first_alerts_arrived(watcher: aiomqtt.Client) -> int:
        # Not later (once both shards have answered, say): how many alerts are still on their
        # way then depends on the machine's speed, and on a fast one none are.
        alerts = 0
        async for message in watcher.messages:
            if not message.topic.matches(REPLY) and not message.topic.matches(CONTROL):
                alerts += 1
                if alerts == 10:
                    return alerts
        raise AssertionError("unreachable")

    async def scenario() -> tuple[StormReport, int, dict[int, dict]]:
        report, _, heard = await storm_and_restart(mosquitto, lab, once_the_first_alerts_arrived, timeout=60)
        return report, heard, await shards_up(mosquitto.broker, 2, reconnected=True)

    with workers(lab, mosquitto, tmp_path):
        report, heard, states = asyncio.run(scenario())

    assert heard < expected  # the broker restarted with most of the storm's alerts still to come
    check_complete(report, lab.fleet, "north")
    assert all(state["reconnects"] > 0 for state in states.values())


def test_a_broker_restart_after_every_alert_arrived_ends_the_storm_without_waiting_for_its_timeout(
        mosquitto: MosquittoProcess, tmp_path: Path) -> None:  # fmt: skip
    lab = make_lab(tmp_path, uniform(north=60, south=10))
    expected = 2 * len(meters(lab.fleet, "north"))

    async def once_everything_arrived(watcher: aiomqtt.Client) -> None:
        replies = alerts = 0
        async for message in watcher.messages:
            if message.topic.matches(REPLY):
                replies += 1
            elif not message.topic.matches(CONTROL):
                alerts += 1
            if replies == lab.shards and alerts == expected:
                return  # the storm's subscriber has it all too, and waits `settle` for strays

    async def scenario() -> StormReport:
        # a storm that has everything must not then wait for its timeout (120 s) because the
        # broker went away while it settled; 30 s is ten times what it needs
        report, _, _ = await asyncio.wait_for(storm_and_restart(mosquitto, lab, once_everything_arrived, timeout=120,
                                                                settle=3.0), 30)  # fmt: skip
        return report

    with workers(lab, mosquitto, tmp_path):
        try:
            report = asyncio.run(scenario())
        except TimeoutError:
            pytest.fail("run_storm had every alert and every reply, but after the broker restarted it waited for its timeout")
    check_complete(report, lab.fleet, "north")


def test_a_storm_every_shard_refuses_ends_once_they_have_answered(mosquitto: MosquittoProcess, tmp_path: Path) -> None:
    lab = make_lab(tmp_path, uniform(north=4, south=2), shards=1)

    async def scenario() -> StormReport:
        async with running_shard(lab, mosquitto.broker):
            # no alert can come once the only shard has refused: 15 s is ten times what answering takes
            return await asyncio.wait_for(run_storm(mosquitto.broker, lab.fleet, lab.state, "north", timedelta(days=8),
                                                    timeout=120), 15)  # fmt: skip

    try:
        report = asyncio.run(scenario())
    except TimeoutError:
        pytest.fail("every shard refused the storm, yet run_storm waited for alerts until its timeout")
    assert report.shards_answered == 1 and len(report.errors) == 1 and "seconds" in report.errors[0]
    assert not report.complete and report.delivered == {"supplier": 0, "network_operator": 0}



# -- one shard in this process -------------------------------------------------------------------------


@contextlib.asynccontextmanager
async def running_shard(lab: Lab, broker: Broker, shard: int = 0, **options: Any) -> AsyncIterator[asyncio.Task]:
    ready = asyncio.Event()
    task = asyncio.create_task(run_shard(lab.fleet, FleetState.open(lab.state, lab.fleet), shard, broker, ready=ready,
                                         **options))  # fmt: skip
    try:
        waiting = asyncio.create_task(ready.wait())
        await asyncio.wait({task, waiting}, timeout=30, return_when=asyncio.FIRST_COMPLETED)
        waiting.cancel()
        if task.done():
            task.result()  # its error
        assert ready.is_set(), "the shard did not come up"
        yield task
        assert not task.done(), "the shard stopped"
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


class Control:
    """A sender on the fleet control topic: one message, the (one shard's) reply."""

    def __init__(self, mqtt: aiomqtt.Client) -> None:
        self.mqtt = mqtt

    async def ask(self, payload: bytes | dict) -> dict:
        data = json.dumps(payload).encode() if isinstance(payload, dict) else payload
        await self.mqtt.publish(CONTROL, data, qos=1)
        async with asyncio.timeout(20):
            async for message in self.mqtt.messages:
                return json.loads(bytes(message.payload))  # type: ignore[arg-type]
        raise AssertionError("unreachable")


@contextlib.asynccontextmanager
async def control(broker: Broker) -> AsyncIterator[Control]:
    async with client(broker) as mqtt:
        await mqtt.subscribe(REPLY, qos=1)
        yield Control(mqtt)


JUNK = [
    pytest.param(b"\xff\xfe\x00", "not JSON", id="not-utf8"),
    pytest.param(b"", "not JSON", id="empty"),
    pytest.param(b"{storm", "not JSON", id="not-json"),
    pytest.param(b"[1, 2]", "a JSON object", id="a-list"),
    pytest.param(b'"storm"', "a JSON object", id="a-string"),
    pytest.param({"command": 5}, "a JSON object", id="command-not-text"),
    pytest.param({"command": "explode"}, "unknown fleet control command", id="unknown-command"),
    pytest.param({"command": "status", "colour": "red"}, "unknown field", id="unknown-field"),
    pytest.param({"command": "storm", "seconds": 240}, "needs \"region\"", id="storm-without-region"),
    pytest.param({"command": "storm", "region": ["north"], "seconds": 240}, "needs \"region\"", id="region-a-list"),
    pytest.param({"command": "storm", "region": "atlantis", "seconds": 240}, "no region 'atlantis'", id="unknown-region"),
    pytest.param({"command": "cut-mains"}, "needs \"region\"", id="cut-without-region"),
    pytest.param({"command": "storm", "region": "north"}, "needs \"seconds\"", id="storm-without-seconds"),
    pytest.param({"command": "storm", "region": "north", "seconds": -240}, "needs \"seconds\"", id="seconds-negative"),
    pytest.param({"command": "storm", "region": "north", "seconds": 0}, "needs \"seconds\"", id="seconds-zero"),
    pytest.param({"command": "storm", "region": "north", "seconds": 10**12}, "needs \"seconds\"", id="seconds-huge"),
    pytest.param({"command": "storm", "region": "north", "seconds": True}, "needs \"seconds\"", id="seconds-boolean"),
    pytest.param({"command": "storm", "region": "north", "seconds": "240"}, "needs \"seconds\"", id="seconds-text"),
    pytest.param({"command": "storm", "region": "north", "seconds": 1e-300}, "an outage lasts some time", id="seconds-tiny"),
    pytest.param(b'{"command": "storm", "region": "north", "seconds": NaN}', "needs \"seconds\"", id="seconds-nan"),
    pytest.param(b'{"command": "storm", "region": "north", "seconds": Infinity}', "needs \"seconds\"", id="seconds-infinite"),
    pytest.param(b'{"command": "storm", "region": "north", "seconds": ' + b"9" * 5000 + b"}", "unreadable", id="seconds-5000-digits"),
    pytest.param(b"[" * 100_000 + b"]" * 100_000, "unreadable", id="deep-nesting"),
]  # fmt: skip


def test_the_fleet_control_topic_answers_junk_with_an_error_and_carries_on(mosquitto: MosquittoProcess,
                                                                         tmp_path: Path) -> None:  # fmt: skip
    lab = make_lab(tmp_path, uniform(north=6, south=4), shards=1)

    async def scenario() -> tuple[list[dict], dict, dict]:
        async with running_shard(lab, mosquitto.broker), control(mosquitto.broker) as sender:
            replies = [await sender.ask(junk.values[0]) for junk in JUNK]
            tagged = await sender.ask({"command": "explode", "id": "x-1"})
            status = await sender.ask({"command": "status"})
        return replies, tagged, status

    replies, tagged, status = asyncio.run(scenario())
    for junk, reply in zip(JUNK, replies, strict=True):
        assert (reply["ok"], reply["shard"]) == (False, 0), junk.id
        assert junk.values[1] in reply["error"], (junk.id, reply["error"])
    assert (tagged["ok"], tagged["id"]) == (False, "x-1")
    assert status["ok"] is True and status["premises"] == 10
    assert (status["dark"], status["alerts"], status["active"]) == (0, 0, 0)  # no junk stormed anything


def read_hub(keystore: InMemoryKeyStore, hub: bytes, counter: int) -> bytes:
    """RTDS's ECS26n (read the hub's identity) from our Access Control Broker for our supplier,
    MACed with the hub's key-agreement key as the fleet's seed gives it."""
    broker, supplier = (keystore.parties_with_role(role)[0] for role in (Role.ACCESS_CONTROL_BROKER, Role.SUPPLIER))
    frame = gbcs.decode(bytes.fromhex(READ_HUB.read_text()))
    other = dataclasses.replace(frame.other_information, supplementary_remote_party_id=supplier)
    frame = dataclasses.replace(frame, originator=broker, recipient=EUI64(hub), originator_counter=counter,
                                other_information=other, mac=None)  # fmt: skip
    return gbcs.encode(gbcs.add_mac(frame, keystore, broker=broker))


def test_a_head_end_command_is_answered_through_the_shards_shared_connection(mosquitto: MosquittoProcess,
                                                                           tmp_path: Path) -> None:  # fmt: skip
    lab = make_lab(tmp_path, uniform(north=8, south=4))
    ours = next(p.hub for p in lab.fleet.premises() if expected_shard(p.hub, 2) == 0)
    theirs = next(p.hub for p in lab.fleet.premises() if expected_shard(p.hub, 2) == 1)
    keystore = PkiStore.open(lab.state / "pki").keystore()
    credentials = FleetCredentials(lab.fleet.seed)
    for hub in (ours, theirs):
        keystore.add_public_key(hub, KeyUsage.KA, credentials.public_key(hub, "ka"))

    async def scenario() -> tuple[bytes, bytes, dict, dict]:
        async with running_shard(lab, mosquitto.broker), control(mosquitto.broker) as sender, \
                WanHeadEnd(mosquitto.broker, identifier=None, persistent=False) as head_end:  # fmt: skip
            first = await head_end.exchange(ours, read_hub(keystore, ours, 1000), timeout=20)
            with pytest.raises(NoResponse):  # shard 1 does not run, and shard 0 does not hear its hubs
                await head_end.exchange(theirs, read_hub(keystore, theirs, 1001), timeout=1)
            before = await sender.ask({"command": "status"})
            async with client(mosquitto.broker) as raw:
                await raw.publish(f"smwan/{EUI64(ours)}/down", b"\x00not a GBCS frame", qos=1)
            async with asyncio.timeout(20):
                while (after := await sender.ask({"command": "status"}))["commands"] == before["commands"]:
                    await asyncio.sleep(0.1)
            second = await head_end.exchange(ours, read_hub(keystore, ours, 1002), timeout=20)  # still answering
        return first, second, before, after

    first, second, before, after = asyncio.run(scenario())
    for response, counter in ((first, 1000), (second, 1002)):
        frame = gbcs.decode(response)
        assert frame.cra is Cra.RESPONSE and (bytes(frame.originator), frame.originator_counter) == (bytes(ours), counter)
        assert gbcs.verify(frame, keystore).mac is Check.VALID
    assert (before["commands"], before["dropped"]) == (1, 0)  # the other shard's hub was never heard here
    assert (after["commands"], after["dropped"]) == (2, 0)  # the junk reached the hub, which refused it


def scrape(port: int) -> dict[str, float]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
        text = response.read().decode()
    return {match[1]: float(match[2]) for match in re.finditer(r'^(\w+)\{shard="0"\} (\S+)$', text, re.MULTILINE)}


def test_the_metrics_say_what_the_shard_holds_and_did(mosquitto: MosquittoProcess, tmp_path: Path) -> None:
    lab = make_lab(tmp_path, MIXED)
    ours = [p for p in lab.fleet.premises() if expected_shard(p.hub, 2) == 0]
    north_meters = meters(lab.fleet, "north", shard=0, shards=2)
    port = free_port()

    async def scenario() -> tuple[dict, dict, dict]:
        async with running_shard(lab, mosquitto.broker, metrics_port=port), control(mosquitto.broker) as sender:
            before = await asyncio.to_thread(scrape, port)
            reply = await sender.ask({"command": "storm", "region": "north", "seconds": 240})
            await asyncio.sleep(1.5)  # the metrics are the worker's figures of each second
            after = await asyncio.to_thread(scrape, port)
        return before, reply, after

    before, reply, after = asyncio.run(scenario())
    assert before["smets_emu_premises"] == len(ours) and 0 < len(ours) < 240
    assert (before["smets_emu_alerts_raised_total"], before["smets_emu_premises_in_memory"]) == (0, 0)
    assert reply["ok"] and reply["alerts"] == 2 * len(north_meters)
    assert after["smets_emu_alerts_raised_total"] == 2 * len(north_meters)
    assert after["smets_emu_premises_in_memory"] == sum(1 for p in ours if p.group.region == "north")
    assert after["smets_emu_premises"] == len(ours)


def test_the_metrics_endpoint_goes_with_its_shard(mosquitto: MosquittoProcess, tmp_path: Path) -> None:
    lab = make_lab(tmp_path, uniform(north=4, south=2), shards=1)
    port = free_port()

    async def scenario() -> None:
        async with running_shard(lab, mosquitto.broker, metrics_port=port):
            assert (await asyncio.to_thread(scrape, port))["smets_emu_premises"] == 6

    asyncio.run(scenario())
    with socket.socket() as probe:
        assert probe.connect_ex(("127.0.0.1", port)) != 0, f"port {port} still serves the metrics of a stopped shard"


def test_a_command_heard_twice_is_carried_out_once_and_another_fleets_is_refused(mosquitto: MosquittoProcess,
                                                                                tmp_path: Path) -> None:  # fmt: skip
    lab = make_lab(tmp_path, uniform(north=6, south=4), shards=1)
    storm = {"command": "storm", "region": "north", "seconds": 240, "id": "storm-1"}

    async def scenario() -> tuple[dict, dict, dict, dict]:
        async with running_shard(lab, mosquitto.broker), control(mosquitto.broker) as sender:
            first = await sender.ask(storm)
            again = await sender.ask(storm)  # as a sender does that never saw the broker's acknowledgement
            foreign = await sender.ask({**storm, "id": "storm-2", "fleet": "0123456789ab"})
            status = await sender.ask({"command": "status"})
        return first, again, foreign, status

    first, again, foreign, status = asyncio.run(scenario())
    assert first["ok"] and first["alerts"] == 2 * 6 and first["fleet"] == fingerprint(lab.fleet)[:12]
    assert again == first  # the same reply, not a second storm
    assert status["alerts"] == 2 * 6
    assert (foreign["ok"], foreign["id"]) == (False, "storm-2") and "not this one" in foreign["error"]


def test_a_stopped_shard_says_it_is_offline(mosquitto: MosquittoProcess, tmp_path: Path) -> None:
    lab = make_lab(tmp_path, uniform(north=2, south=2), shards=1)

    async def scenario() -> dict:
        async with running_shard(lab, mosquitto.broker):
            pass  # up, then stopped cleanly (no will: the worker must say it itself)
        async with client(mosquitto.broker) as dashboard:
            await dashboard.subscribe(shard_state_topic(0), qos=1)
            async with asyncio.timeout(10):
                async for message in dashboard.messages:
                    return json.loads(bytes(message.payload))  # type: ignore[arg-type]
        raise AssertionError("unreachable")

    state = asyncio.run(scenario())
    assert state["online"] is False and state["shard"] == 0
