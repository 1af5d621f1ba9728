"""``smets-emu bench fleet``: a fleet's cost per premises and an outage storm of all of it.

One run measures a single-premises fleet first (the baseline) and then the fleet asked for,
the same way: ``fleet init``, the worker processes started (one per shard, as ``run
--fleet`` starts them) against a mosquitto of its own or ``--broker``, until every shard
says its hubs are subscribed (start-up); the workers' resident memory then, idle; a storm of
every premises (a four-minute outage in virtual time) counted by ``run_storm`` as the
supplier and the network operator.

Resident memory per idle premises is the fleet's workers' resident set minus the baseline
worker's, per premises: what each premises adds, not the interpreter every worker carries.
The storm's first cut touches every premises, which provisions it (made in the store, keys
derived, certificates issued) — ``touch_s`` — before the outage passes; ``last_alert_s`` runs
from the power's return to the last alert reaching the subscriber.
"""

from __future__ import annotations

import asyncio
import json
import tempfile
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

import aiomqtt

from .errors import EmulatorError
from .fleet import Fleet
from .fleet_shard import FleetState
from .fleet_worker import WorkerProcesses, resident_kib
from .storm import run_storm
from .wan.fleet_control import shard_state_topic
from .wan.link import NO_DELAY, Broker

__all__ = ["FleetBenchmarkError", "FleetFigures", "WanModeFigures", "run_fleet_benchmark", "run_wan_mode_benchmark"]

_FLEET = """seed = 20261201
[templates.standard]
devices = ["esme", "gsme", "ihd"]
[[group]]
template = "standard"
count = {count}
region = "all"
"""


class FleetBenchmarkError(EmulatorError):
    """The benchmark could not run to the end (a worker died, the fleet never came up)."""


@dataclass
class FleetRun:
    premises: int
    workers: int
    startup_s: float
    rss_kib: int  # all the workers', idle
    touch_s: float  # the storm's cut and outage, the first touch of every premises
    alerts_expected: dict[str, int]
    alerts_delivered: dict[str, int]
    duplicates: int
    alerts_per_s: float | None
    raising_s: float | None
    last_alert_s: float | None


@dataclass
class FleetFigures:
    premises: int
    workers: int
    premises_per_worker: float
    rss_per_premises_kb: float
    startup_s: float
    touch_s: float
    alerts_expected: int
    alerts_delivered: int
    alerts_expected_by_role: dict[str, int]
    alerts_delivered_by_role: dict[str, int]
    duplicates: int
    alerts_per_s: float | None
    raising_s: float | None  # power back → every meter had raised its alerts (the emulation's work)
    last_alert_s: float | None
    baseline: dict = field(default_factory=dict)  # the single-premises run, the same keys

    def to_json(self) -> dict:
        return asdict(self)

    def to_text(self) -> str:
        base = self.baseline

        def row(label: str, value: object, baseline: object, unit: str = "") -> str:
            return f"  {label:<38} {_fmt(value):>12}{unit}   (1 premises: {_fmt(baseline)}{unit})"

        return "\n".join([
            f"fleet benchmark: {self.premises} premises, {self.workers} worker(s), multiplexed WAN (one connection per worker)",
            row("premises per worker", self.premises_per_worker, base.get("premises_per_worker")),
            row("resident memory per idle premises", self.rss_per_premises_kb, base.get("rss_per_premises_kb"), " KB"),
            row("start-up (workers up, hubs subscribed)", self.startup_s, base.get("startup_s"), " s"),
            row("first touch (provision, cut, outage)", self.touch_s, base.get("touch_s"), " s"),
            row("alerts expected", self.alerts_expected_by_role, base.get("alerts_expected_by_role")),
            row("alerts delivered (each once)", self.alerts_delivered_by_role, base.get("alerts_delivered_by_role")),
            row("duplicates", self.duplicates, base.get("duplicates")),
            row("alerts per second", self.alerts_per_s, base.get("alerts_per_s")),
            row("power back → every alert raised", self.raising_s, base.get("raising_s"), " s"),
            row("power back → last alert at subscriber", self.last_alert_s, base.get("last_alert_s"), " s"),
        ])  # fmt: skip


def _fmt(value: object) -> str:
    if isinstance(value, float):
        return f"{value:,.2f}"
    if isinstance(value, dict):
        return "/".join(str(each) for each in value.values())
    return str(value)


def run_fleet_benchmark(premises: int, workers: int, *, broker: Broker | None = None) -> FleetFigures:
    """Measure the baseline and then ``premises`` premises on ``workers`` worker processes.

    Raises:
        FleetBenchmarkError: a worker died or the fleet did not come up.
        ConfigError: no mosquitto to start and no broker given.
    """
    try:
        return _measure(premises, workers, broker)
    except aiomqtt.MqttError as error:
        raise FleetBenchmarkError(f"the broker: {error}") from None


def _measure(premises: int, workers: int, broker: Broker | None) -> FleetFigures:
    with tempfile.TemporaryDirectory(prefix="smets-emu-bench-fleet-") as scratch:
        directory = Path(scratch)
        if broker is not None:
            return _figures(_run(directory / "one", broker, 1, 1), _run(directory / "fleet", broker, premises, workers))
        from .wan.mosquitto import MosquittoProcess, find_mosquitto

        if find_mosquitto() is None:
            raise FleetBenchmarkError("no --broker given and no mosquitto installed to start one (apt-get install mosquitto)")
        with MosquittoProcess(directory / "mosquitto") as mosquitto:
            return _figures(_run(directory / "one", mosquitto.broker, 1, 1),
                            _run(directory / "fleet", mosquitto.broker, premises, workers))  # fmt: skip


def _figures(one: FleetRun, fleet: FleetRun) -> FleetFigures:
    def figures(run: FleetRun, rss_per_premises: float) -> FleetFigures:
        return FleetFigures(run.premises, run.workers, run.premises / run.workers, round(rss_per_premises, 2),
                            round(run.startup_s, 3), round(run.touch_s, 3), sum(run.alerts_expected.values()),
                            sum(run.alerts_delivered.values()), run.alerts_expected, run.alerts_delivered, run.duplicates,
                            None if run.alerts_per_s is None else round(run.alerts_per_s, 1),
                            None if run.raising_s is None else round(run.raising_s, 3),
                            None if run.last_alert_s is None else round(run.last_alert_s, 3))  # fmt: skip

    per_worker = one.rss_kib  # one worker with one premises: the interpreter and everything but premises
    result = figures(fleet, max(0.0, (fleet.rss_kib - fleet.workers * per_worker) * 1.024 / fleet.premises))
    result.baseline = asdict(figures(one, one.rss_kib * 1.024))
    result.baseline.pop("baseline")
    return result


def _run(directory: Path, broker: Broker, premises: int, workers: int) -> FleetRun:
    directory.mkdir(parents=True)
    fleet_file = directory / "fleet.toml"
    fleet_file.write_text(_FLEET.format(count=premises))
    fleet = Fleet.from_toml(fleet_file)
    state = directory / "state"
    FleetState.init(state, fleet, shards=workers, start=datetime(2026, 12, 1, tzinfo=timezone.utc))
    processes = WorkerProcesses(fleet_file, state, broker, range(workers), log_dir=directory)
    started = time.perf_counter()
    with processes:
        asyncio.run(_until_up(broker, workers, processes))
        startup = time.perf_counter() - started
        time.sleep(1.0)  # let the allocator settle before reading the resident set
        rss = sum(resident_kib(process.pid) for process in processes.processes.values())
        storm_started = time.time()  # wall clock: the shards report the power's return in it
        report = asyncio.run(run_storm(broker, fleet, state, "all", timedelta(minutes=4), timeout=1800.0))
        if processes.failed():
            raise FleetBenchmarkError(f"worker(s) died: {processes.failed()}; logs in {directory}")
    touch = (report.restored_at or storm_started) - storm_started
    return FleetRun(premises, workers, startup, rss, max(0.0, touch), report.expected, report.delivered,
                    report.duplicates, report.alerts_per_s, report.raising_s, report.last_alert_s)  # fmt: skip


async def _until_up(broker: Broker, shards: int, processes: WorkerProcesses, timeout: float = 600.0) -> None:
    """Until every shard's state topic says its connection is up and its hubs subscribed."""
    up: set[int] = set()
    async with aiomqtt.Client(broker.host, broker.port, username=broker.username, password=broker.password,
                              socket_options=NO_DELAY) as client:  # fmt: skip
        await client.subscribe([(shard_state_topic(shard), 1) for shard in range(shards)])
        deadline = asyncio.get_running_loop().time() + timeout
        messages = client.messages
        while len(up) < shards:
            if processes.failed():
                raise FleetBenchmarkError(f"worker(s) died while starting: {processes.failed()}")
            remaining = deadline - asyncio.get_running_loop().time()
            if remaining <= 0:
                raise FleetBenchmarkError(f"only {len(up)} of {shards} shards came up in {timeout:g} s")
            try:
                message = await asyncio.wait_for(messages.__anext__(), min(remaining, 1.0))
            except TimeoutError:
                continue
            if message.retain:
                continue  # what a stopped run left on the broker, not a live shard
            try:
                state = json.loads(bytes(message.payload))  # type: ignore[arg-type]
            except ValueError:
                continue
            if isinstance(state, dict) and state.get("online") and state.get("connected"):
                up.add(int(state.get("shard", -1)))



# -- the two WAN modes, side by side ----------------------------------------------------------------


@dataclass
class WanModeFigures:
    """One WAN mode carrying ``hubs`` hubs' down topics, in one process."""

    mode: str  # per-hub or multiplexed
    hubs: int
    connections: int
    setup_s: float  # connecting and subscribing every hub
    rss_per_hub_kb: float  # this process's resident set added, per hub
    loop_lag_p99_ms: float  # how late a 10 ms timer fires, while idle
    loop_lag_max_ms: float
    delivery_s: float  # one command published to every hub until the last is heard
    commands_per_s: float


def run_wan_mode_benchmark(hubs: int, *, broker: Broker | None = None) -> list[WanModeFigures]:
    """Carry ``hubs`` hubs' down topics multiplexed (one connection, as ``ShardLink``) and
    then per hub (a connection each, as ``HubLink``), and measure each: set-up, memory per
    hub, event-loop lag, and the delivery of one command to every hub. Multiplexed goes first:
    memory the per-hub run frees would otherwise be reused and hide what it costs.

    Raises:
        FleetBenchmarkError: no mosquitto to start and no broker given, or a mode failed.
    """
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:  # a connection each needs a descriptor each, here and at a broker we start
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    if hubs + 100 > hard:
        raise FleetBenchmarkError(f"{hubs} connections need more file descriptors than this machine allows ({hard})")
    if broker is not None:
        try:
            return [asyncio.run(_wan_mode(mode, hubs, broker)) for mode in ("multiplexed", "per-hub")]
        except aiomqtt.MqttError as error:
            raise FleetBenchmarkError(f"the broker: {error}") from None
    from .wan.mosquitto import MosquittoProcess, find_mosquitto

    if find_mosquitto() is None:
        raise FleetBenchmarkError("no --broker given and no mosquitto installed to start one (apt-get install mosquitto)")
    with tempfile.TemporaryDirectory(prefix="smets-emu-bench-wan-modes-") as scratch:
        with MosquittoProcess(Path(scratch)) as mosquitto:
            return [asyncio.run(_wan_mode(mode, hubs, mosquitto.broker)) for mode in ("multiplexed", "per-hub")]


async def _wan_mode(mode: str, hubs: int, broker: Broker) -> WanModeFigures:
    import contextlib
    import os

    from .wan.link import down_topic

    topics = [down_topic(bytes.fromhex("5E4DBE4C") + number.to_bytes(4, "big")) for number in range(hubs)]
    heard: set[str] = set()
    all_heard = asyncio.Event()
    before = resident_kib(os.getpid())
    started = time.perf_counter()
    async with contextlib.AsyncExitStack() as stack:

        def connect(identifier: str) -> aiomqtt.Client:
            return aiomqtt.Client(broker.host, broker.port, identifier=identifier, username=broker.username,
                                  password=broker.password, clean_session=True, socket_options=NO_DELAY)  # fmt: skip

        async def listen(client: aiomqtt.Client) -> None:
            async for message in client.messages:
                heard.add(str(message.topic))
                if len(heard) == hubs:
                    all_heard.set()

        if mode == "per-hub":
            clients = []
            for start in range(0, hubs, 200):  # connect in waves, as hubs coming up would
                wave = [connect(f"bench-hub-{number}") for number in range(start, min(hubs, start + 200))]
                await asyncio.gather(*(stack.enter_async_context(client) for client in wave))
                await asyncio.gather(*(client.subscribe(topic, qos=1) for client, topic in zip(wave, topics[start:], strict=False)))
                clients += wave
        else:
            clients = [await stack.enter_async_context(connect("bench-multiplexed"))]
            for start in range(0, hubs, 1000):
                await clients[0].subscribe([(topic, 1) for topic in topics[start:start + 1000]])
        setup = time.perf_counter() - started
        await asyncio.sleep(1.0)
        rss = resident_kib(os.getpid()) - before
        listeners = [asyncio.create_task(listen(client)) for client in clients]
        lags = []
        for _ in range(300):  # three seconds of 10 ms timers
            asked = time.perf_counter()
            await asyncio.sleep(0.01)
            lags.append((time.perf_counter() - asked - 0.01) * 1000)
        lags.sort()
        async with connect("bench-head-end") as head_end:
            sent = time.perf_counter()
            for topic in topics:
                await head_end.publish(topic, b"\x00", qos=0)
            try:
                await asyncio.wait_for(all_heard.wait(), 120)
            except TimeoutError:
                raise FleetBenchmarkError(f"{mode}: only {len(heard)} of {hubs} hubs heard their command in 120 s") from None
            delivery = time.perf_counter() - sent
        for listener in listeners:
            listener.cancel()
        await asyncio.gather(*listeners, return_exceptions=True)
    return WanModeFigures(mode, hubs, len(clients), round(setup, 3), round(rss * 1.024 / hubs, 2),
                          round(lags[int(len(lags) * 0.99) - 1], 2), round(lags[-1], 2), round(delivery, 3),
                          round(hubs / delivery, 1))  # fmt: skip
