"""The fleet commands of ``smets-emu``: ``fleet init``, ``fleet show``, ``run --fleet`` and
``storm``. Parsing and printing only; the work is in ``emulator.fleet``, ``fleet_shard``,
``fleet_worker`` and ``storm``.

Exit statuses as the SMWAN commands': 0 ok, 1 a check failed (a storm's alerts incomplete),
2 bad usage or configuration, 3 no answer (no fleet running on the broker).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import time
from collections import Counter
from collections.abc import AsyncIterator
from datetime import datetime, timezone
from pathlib import Path

import aiomqtt

from .cli_args import (
    EXIT_CHECK_FAILED,
    EXIT_NO_RESPONSE,
    EXIT_OK,
    EXIT_USAGE,
    duration,
    fail,
    positive,
    stop_event,
)
from .errors import ConfigError, EmulatorError, NoResponse
from .fleet import Fleet
from .fleet_shard import MAX_SHARDS, FleetState
from .fleet_worker import WorkerProcesses, run_shard
from .wan.fleet_control import MAX_OUTAGE_S, shard_state_topic
from .wan.link import NO_DELAY, Broker, quiet_closed_socket_race

__all__ = ["DEFAULT_FLEET_STATE", "add_fleet_commands", "run_fleet"]

DEFAULT_FLEET_STATE = Path("smets-emu-fleet")


def add_fleet_commands(commands: argparse._SubParsersAction) -> None:
    fleet = commands.add_parser("fleet", help="fleets: many premises described once (fleet init, fleet show)")
    fleet_commands = fleet.add_subparsers(dest="fleet", required=True, metavar="ACTION")
    init = fleet_commands.add_parser(
        "init", help="make a fleet's state directory: its PKI and manifest, split into shards",
        description="Make the state directory for a fleet description: the organisations' test PKI and "
        "the manifest (fingerprint, shards, first moment). Premises are made in the shards' stores when "
        "first touched; device keys come from the fleet's seed. Run once; then `smets-emu run --fleet`.",
    )  # fmt: skip
    init.add_argument("file", type=Path, metavar="FILE")
    init.add_argument("--state", type=Path, default=DEFAULT_FLEET_STATE, metavar="DIR", help=f"default {DEFAULT_FLEET_STATE}")
    init.add_argument("--shards", type=_shards, default=os.cpu_count() or 1, metavar="N",
                      help="how many shards (worker processes) the fleet is split into (default: this machine's cores)")  # fmt: skip
    init.add_argument("--start", type=_moment, metavar="ISO8601", help="the virtual clock's first moment (default: now)")
    init.set_defaults(run=_run_init)

    show = fleet_commands.add_parser(
        "show", help="the premises a fleet description gives: counts by region, feeder and supplier, identities",
        description="Read a fleet description (TOML; see emulator/fleet.py) and print how many premises it "
        "holds where, or with --json one object per premises: its number, hub, devices, MPANs and MPRNs.",
    )  # fmt: skip
    show.add_argument("file", type=Path, metavar="FILE")
    show.add_argument("--region", metavar="NAME", help="only this region's premises")
    show.add_argument("--json", action="store_true", help="one JSON object per premises")
    show.set_defaults(run=_run_show)

    storm = commands.add_parser(
        "storm", help="cut the mains of a region of a running fleet and count the outage alerts",
        description="Publish a storm on the fleet control topic: every premises of REGION loses its mains "
        "at once, the outage passes in virtual time, the power returns. Count, as the supplier and the "
        "network operator, every outage alert from the region's meters (signature checked, each once). "
        "Exit 0: every expected alert arrived once and nothing else; 1: not so; 3: no fleet answered.",
    )  # fmt: skip
    storm.add_argument("--fleet", type=Path, required=True, metavar="FILE")
    storm.add_argument("--state", type=Path, default=DEFAULT_FLEET_STATE, metavar="DIR", help=f"default {DEFAULT_FLEET_STATE}")
    storm.add_argument("--region", required=True, metavar="NAME")
    storm.add_argument("--duration", type=_outage, default=240.0, metavar="TIME",
                       help=f"the outage: 240, 4m, 1h (default 4m; at most {MAX_OUTAGE_S // 3600} h)")  # fmt: skip
    storm.add_argument("--broker", metavar="URL", help="default: the one `run --fleet` recorded in the state directory")
    storm.add_argument("--timeout", type=duration, default=120.0, metavar="TIME", help="wait this long for the alerts (default 2m)")
    storm.add_argument("--json", action="store_true", help="print the report as one JSON object")
    storm.set_defaults(run=_run_storm)


def add_run_fleet_arguments(run: argparse.ArgumentParser) -> None:
    """``run``'s fleet options (``run`` itself is the SMWAN commands')."""
    run.add_argument("--fleet", type=Path, metavar="FILE", help="run this fleet (state from `fleet init`) instead of a site")
    run.add_argument("--shard", type=_shard, metavar="K", help="with --fleet: run only shard K, in this process")
    run.add_argument("--metrics-port", type=_port, metavar="PORT", help="with --fleet: Prometheus metrics on PORT (with --shard), or PORT + K for shard K")


def _shards(text: str) -> int:
    value = positive(text)
    if value > MAX_SHARDS:
        raise argparse.ArgumentTypeError(f"at most {MAX_SHARDS} shards")
    return value


def _shard(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a shard number: {text!r}") from None
    if not 0 <= value < MAX_SHARDS:
        raise argparse.ArgumentTypeError(f"a shard is numbered from 0, below {MAX_SHARDS}")
    return value


def _outage(text: str) -> float:
    value = duration(text)
    if value > MAX_OUTAGE_S:
        raise argparse.ArgumentTypeError(f"an outage of at most {MAX_OUTAGE_S // 3600} hours, not {text}")
    return value


def _port(text: str) -> int:
    value = positive(text)
    if value > 65535:
        raise argparse.ArgumentTypeError("a port is at most 65535")
    return value


def _moment(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an ISO 8601 moment: {text!r}") from None
    if not 2000 <= moment.year <= 2099:
        raise argparse.ArgumentTypeError("a moment from 2000 to 2099")
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


# -- fleet init and show ------------------------------------------------------------------------------


def _run_init(args: argparse.Namespace) -> int:
    try:
        fleet = Fleet.from_toml(args.file)
        FleetState.init(args.state, fleet, shards=args.shards, start=args.start or datetime.now(timezone.utc))
    except EmulatorError as error:
        return fail("fleet init", error)
    print(f"fleet of {fleet.size} premises in {len(fleet.regions)} region(s), {args.shards} shard(s); state in {args.state}")
    print(f"then: smets-emu run --fleet {args.file} --state {args.state}")
    return EXIT_OK


def _run_show(args: argparse.Namespace) -> int:
    try:
        fleet = Fleet.from_toml(args.file)
        if args.region is not None and args.region not in fleet.regions:
            raise ConfigError(f"the fleet has no region {args.region!r}; its regions: {', '.join(fleet.regions)}")
    except EmulatorError as error:
        return fail("fleet show", error)
    if args.json:
        for premises in fleet.premises(args.region):
            print(json.dumps({
                "number": premises.number, "hub": str(premises.hub), "template": premises.group.template.name,
                "region": premises.group.region, "feeder": premises.group.feeder, "supplier": premises.group.supplier,
                "devices": {str(eui): kind.name for eui, kind in premises.config.devices.items()},
                "mpans": list(premises.mpans), "mprns": list(premises.mprns), "load_seed": premises.load_seed,
            }))  # fmt: skip
        return EXIT_OK
    groups = [group for group in fleet.groups if args.region in (None, group.region)]
    print(f"fleet of seed {fleet.seed}: {sum(g.count for g in groups)} premises")
    for label in ("region", "feeder", "supplier"):
        counts: Counter[str] = Counter()
        for group in groups:
            counts[getattr(group, label)] += group.count
        print(f"  by {label}: " + ", ".join(f"{name} {count}" for name, count in counts.items()))
    return EXIT_OK


# -- run --fleet ----------------------------------------------------------------------------------------


def run_fleet(args: argparse.Namespace) -> int:
    """``smets-emu run --fleet FILE``: one shard in this process (``--shard``), or every shard
    of the fleet as worker processes with a live display."""
    if args.config or args.premises or args.auth:
        return fail("run", "--fleet runs a fleet description; --config, --premises and --auth are a site's")
    state_dir = args.state or DEFAULT_FLEET_STATE
    try:
        fleet = Fleet.from_toml(args.fleet)
        state = FleetState.open(state_dir, fleet)
        broker = Broker.from_url(args.broker) if args.broker else None
    except EmulatorError as error:
        return fail("run", error)
    if args.metrics_port is not None and args.metrics_port + (0 if args.shard is not None else state.shards - 1) > 65535:
        return fail("run", f"--metrics-port {args.metrics_port} leaves no port for shard {state.shards - 1} (PORT + K ≤ 65535)")
    try:
        if args.shard is not None:
            if broker is None:
                return fail("run", "--shard needs --broker: the fleet's shards meet on one broker")
            return asyncio.run(_one_shard(fleet, state, args, broker))
        return asyncio.run(_all_shards(fleet, state, args, broker))
    except EmulatorError as error:  # no mosquitto to start, say
        return fail("run", error)


async def _one_shard(fleet: Fleet, state: FleetState, args: argparse.Namespace, broker: Broker) -> int:
    asyncio.get_running_loop().set_exception_handler(quiet_closed_socket_race)
    stop = stop_event(args.duration)
    ready = asyncio.Event()
    runner = asyncio.create_task(run_shard(fleet, state, args.shard, broker, speed=args.speed or 1.0,
                                           metrics_port=args.metrics_port, ready=ready))  # fmt: skip
    announce = asyncio.create_task(ready.wait())
    await asyncio.wait({runner, announce}, return_when=asyncio.FIRST_COMPLETED)
    if ready.is_set():
        print(f"shard {args.shard} of {state.shards} running on {broker.url}", flush=True)
    stopping = asyncio.create_task(stop.wait())
    await asyncio.wait({stopping, runner}, return_when=asyncio.FIRST_COMPLETED)
    stopping.cancel()
    runner.cancel()
    results = await asyncio.gather(runner, return_exceptions=True)
    error = results[0]
    if isinstance(error, BaseException) and not isinstance(error, asyncio.CancelledError):
        return fail("run", error, EXIT_USAGE if isinstance(error, EmulatorError | OSError) else EXIT_NO_RESPONSE)
    print(f"shard {args.shard} stopped", flush=True)
    return EXIT_OK


async def _all_shards(fleet: Fleet, state: FleetState, args: argparse.Namespace, broker: Broker | None) -> int:
    from .cli_wan import announce_broker, forget_broker

    stop = stop_event(args.duration)
    async with _fleet_broker(broker, state.directory) as broker:
        record = state.directory / "broker.json"
        workers = WorkerProcesses(args.fleet, state.directory, broker, range(state.shards), speed=args.speed or 1.0,
                                  metrics_port=args.metrics_port, log_dir=state.directory)  # fmt: skip
        workers.start()
        try:
            watcher = ShardWatcher(broker, state.shards)
            watching = asyncio.create_task(watcher.run())
            ready = asyncio.Event()
            announced = asyncio.create_task(announce_broker(ready, record, broker))
            try:
                if args.quiet:
                    print(f"running {fleet.size} premises in {state.shards} worker process(es) on {broker.url}; "
                          f"state in {state.directory}", flush=True)  # fmt: skip
                await _watch(watcher, workers, stop, ready, quiet=args.quiet, title=f"smets-emu fleet — {broker.url}")
            finally:
                announced.cancel()
                watching.cancel()
                await asyncio.gather(watching, announced, return_exceptions=True)
                forget_broker(record)
        finally:
            await asyncio.to_thread(workers.stop)
    total = watcher.total()
    failed = workers.failed()
    print(f"stopped: {total['premises']} premises in {state.shards} shard(s), {total['commands']} commands received, "
          f"{total['sent']} frames sent, {total['alerts']} alerts raised, {total['reconnects']} reconnections")  # fmt: skip
    bad = {shard: code for shard, code in failed.items() if code not in (0, -signal.SIGTERM)}
    if bad:
        return fail("run", "worker(s) failed: " + ", ".join(f"shard {shard} (exit {code}, see {state.directory}/shard-{shard}.log)"
                                                           for shard, code in bad.items()), EXIT_NO_RESPONSE)  # fmt: skip
    return EXIT_OK


class ShardWatcher:
    """The shards' state topics, as the live display and the final summary read them."""

    def __init__(self, broker: Broker, shards: int) -> None:
        self.broker, self.shards = broker, shards
        self.states: dict[int, dict] = {}

    async def run(self) -> None:
        while True:
            with contextlib.suppress(aiomqtt.MqttError):
                async with aiomqtt.Client(self.broker.host, self.broker.port, username=self.broker.username,
                                          password=self.broker.password, socket_options=NO_DELAY) as client:  # fmt: skip
                    await client.subscribe([(shard_state_topic(shard), 1) for shard in range(self.shards)])
                    async for message in client.messages:
                        if message.retain:
                            continue  # perhaps a stopped run's: a live shard publishes every second
                        with contextlib.suppress(ValueError, TypeError):
                            state = json.loads(bytes(message.payload))  # type: ignore[arg-type]
                            if isinstance(state, dict) and isinstance(state.get("shard"), int):
                                self.states[state["shard"]] = state
            await asyncio.sleep(0.5)

    def online(self) -> int:
        return sum(bool(state.get("online") and state.get("connected")) for state in self.states.values())

    def total(self) -> dict[str, int]:
        keys = ("premises", "active", "dark", "commands", "sent", "alerts", "backlog", "reconnects", "rss_kib")
        return {key: sum(int(state.get(key, 0)) for state in self.states.values()) for key in keys}


async def _watch(watcher: ShardWatcher, workers: WorkerProcesses, stop: asyncio.Event, ready: asyncio.Event, *,
                 quiet: bool, title: str) -> None:  # fmt: skip
    from rich.live import Live
    from rich.table import Table

    last = (time.monotonic(), watcher.total())
    rates = {"commands": 0.0, "alerts": 0.0}

    def table() -> Table:
        view = Table(title=title)
        for column in ("shard", "premises", "in memory", "up", "mains off", "commands", "frames out", "alerts", "backlog",
                       "reconnects", "RSS MiB"):  # fmt: skip
            view.add_column(column, justify="right")
        for shard in range(watcher.shards):
            state = watcher.states.get(shard, {})
            up = "yes" if state.get("online") and state.get("connected") else "no"
            view.add_row(str(shard), *(str(state.get(key, "-")) for key in ("premises", "active")), up,
                         *(str(state.get(key, "-")) for key in ("dark", "commands", "sent", "alerts", "backlog", "reconnects")),
                         f"{state.get('rss_kib', 0) / 1024:.0f}")  # fmt: skip
        total = watcher.total()
        view.caption = (f"shards up {watcher.online()}/{watcher.shards} · premises {total['premises']} · "
                        f"{rates['commands']:.0f} commands/s · "
                        f"{rates['alerts']:.0f} alerts/s · backlog {total['backlog']}")  # fmt: skip
        return view

    with Live(table(), refresh_per_second=2, transient=False) if not quiet else contextlib.nullcontext() as live:
        while not stop.is_set():
            if workers.failed():
                break
            if not ready.is_set() and watcher.online() == watcher.shards:
                ready.set()
            now, total = time.monotonic(), watcher.total()
            if now - last[0] >= 1.0:
                rates = {key: (total[key] - last[1][key]) / (now - last[0]) for key in rates}
                last = (now, total)
            if live is not None:
                live.update(table())
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 0.5)


@contextlib.asynccontextmanager
async def _fleet_broker(broker: Broker | None, state: Path) -> AsyncIterator[Broker]:
    """The broker given, or a mosquitto of our own (the workers are other processes: an
    embedded broker would be theirs to share too, and amqtt is too slow for a fleet)."""
    if broker is not None:
        yield broker
        return
    from .wan.mosquitto import MosquittoProcess, find_mosquitto

    if find_mosquitto() is None:
        raise ConfigError("no --broker given and no mosquitto installed to start one (apt-get install mosquitto)")
    with MosquittoProcess(state / "mosquitto") as mosquitto:
        yield mosquitto.broker


# -- storm ------------------------------------------------------------------------------------------------


def _run_storm(args: argparse.Namespace) -> int:
    from datetime import timedelta

    from .cli_wan import recorded_broker
    from .storm import run_storm

    try:
        fleet = Fleet.from_toml(args.fleet)
        broker = recorded_broker(args.state, args.broker)
        report = asyncio.run(run_storm(broker, fleet, args.state, args.region, timedelta(seconds=args.duration),
                                       timeout=args.timeout))  # fmt: skip
    except NoResponse as error:
        return fail("storm", error, EXIT_NO_RESPONSE)
    except EmulatorError as error:
        return fail("storm", error)
    if args.json:
        print(json.dumps(report.to_json()))
    else:
        print(f"storm of region {report.region}: {report.premises} premises, {report.outage_s:g} s without mains; "
              f"{report.shards_answered}/{report.shards} shards answered, {report.alerts_raised} alerts raised")
        for role, expected in report.expected.items():
            print(f"  {role}: {report.delivered.get(role, 0)} of {expected} alerts delivered")
        print(f"  duplicates {report.duplicates}, unexpected {report.unexpected}, bad signatures {report.bad_signatures}"
              + "".join(f"; {error}" for error in report.errors))  # fmt: skip
        if report.last_alert_s is not None:
            print(f"  last alert {report.last_alert_s:.2f} s after the power returned; {report.alerts_per_s or 0:.0f} alerts/s")
    return EXIT_OK if report.complete else EXIT_CHECK_FAILED

