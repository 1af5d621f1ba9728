"""The SMWAN's commands of ``smets-emu``: ``run`` (premises on a broker), ``send`` (a
head-end command), ``listen`` (what comes up) and ``demo``. Parsing and printing only; the
work is in ``emulator.site``, ``emulator.wan`` and ``emulator.demo``.

A state directory (``--state``, default ``smets-emu-state``) ties them together: ``run``
keeps the PKI and the premises there and writes ``broker.json`` (where the broker it uses
listens), which ``send`` and ``listen`` read when no ``--broker`` is given; ``send`` keeps the
head-end's originator counters in ``head-end.json`` so that each command's exceeds the last.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import sys
from collections.abc import AsyncIterator
from pathlib import Path

from gbcs.commands import BUILDERS, KINDS, REQUIRED, ParameterError, builder
from gbcs.describe import Description, describe, to_text
from gbcs.errors import GbcsError, KeyStoreError
from gbcs.keystore import InMemoryKeyStore, KeyUsage
from gbcs.types import DeviceType, Role

from .cli_args import (
    EXIT_CHECK_FAILED,
    EXIT_NO_RESPONSE,
    EXIT_OK,
    EXIT_USAGE,
    eui64,
    fail,
    premises_number,
    seconds,
    stop_event,
)
from .cli_fleet import add_run_fleet_arguments, run_fleet
from .errors import ConfigError, EmulatorError, LinkDown, NoResponse
from .headend import HeadEnd
from .pki_store import PkiStore
from .premises import PremisesConfig
from .site import Site, SiteConfig
from .wan.control import COMMANDS
from .wan.link import NO_DELAY, Broker, control_topic, quiet_closed_socket_race

DEFAULT_STATE = Path("smets-emu-state")


def add_wan_commands(commands: argparse._SubParsersAction) -> None:
    run = commands.add_parser(
        "run", help="run premises on the SMWAN until stopped",
        description="Run a configured set of premises against an MQTT broker (an embedded one on a "
        "free port unless --broker or the configuration names one), with a live status display. "
        "Stop with Ctrl-C. Options override the configuration file.",
    )  # fmt: skip
    run.add_argument("--config", type=Path, metavar="FILE", help="TOML configuration (see emulator/site.py)")
    run.add_argument("--premises", type=int, metavar="N", help="how many premises (default 1)")
    run.add_argument("--state", type=Path, metavar="DIR", help=f"state directory (default {DEFAULT_STATE})")
    run.add_argument("--broker", metavar="URL", help="mqtt://[user:password@]host[:port]")
    run.add_argument("--speed", type=seconds, metavar="X", help="virtual seconds per real second (default 1)")
    run.add_argument("--duration", type=seconds, metavar="SECONDS", help="stop after this many real seconds")
    run.add_argument("--auth", type=Path, metavar="FILE", help="per-hub broker accounts (from smets-emu auth)")
    run.add_argument("--quiet", action="store_true", help="no live display; a summary at the end")
    add_run_fleet_arguments(run)
    run.set_defaults(run=_run_run)

    send = commands.add_parser(
        "send", help="send a use case's command to a hub and print its verified response",
        description="Build a command for USE_CASE from typed parameters, sign and MAC it as the use "
        "case's party with the PKI's keys, publish it for the hub, wait for the response, check its "
        "signature or MAC, and print it decoded. Exit 0: answered and checked; 1: the response "
        "failed its checks or reports a failure; 2: bad usage; 3: no response in time or no broker.",
    )  # fmt: skip
    send.add_argument("use_case", nargs="?", metavar="USE_CASE", help="e.g. ECS17b; --list shows them")
    send.add_argument("params", nargs="*", metavar="NAME=VALUE", help="the use case's parameters")
    send.add_argument("--params", dest="params_json", metavar="JSON", help="parameters as a JSON object (or @FILE)")
    send.add_argument("--list", action="store_true", help="list the use cases and their parameters")
    send.add_argument("--state", type=Path, default=DEFAULT_STATE, metavar="DIR", help=f"state directory (default {DEFAULT_STATE})")
    send.add_argument("--premises", type=premises_number, default=1, metavar="N", help="the premises to address (default 1)")
    send.add_argument("--fleet", type=Path, metavar="FILE", help="premises N of this fleet (its state directory in --state)")
    send.add_argument("--hub", type=eui64, metavar="EUI64", help="the CHF (default: premises N's)")
    send.add_argument("--to", type=eui64, metavar="EUI64", help="the device (default: premises N's of the use case's type)")
    send.add_argument("--role", type=_role, metavar="ROLE", help="send as this party (default: the use case's)")
    send.add_argument("--broker", metavar="URL", help="default: the one `smets-emu run` recorded in the state directory")
    send.add_argument("--timeout", type=seconds, default=30.0, metavar="SECONDS", help="wait this long for the response (default 30)")
    send.add_argument("--json", action="store_true", help="print the response as one JSON object")
    send.set_defaults(run=_run_send)

    listen = commands.add_parser("listen", help="print the responses and alerts hubs send, as they arrive")
    listen.add_argument("--state", type=Path, default=DEFAULT_STATE, metavar="DIR", help="for the PKI and the broker")
    listen.add_argument("--broker", metavar="URL")
    listen.add_argument("--hub", type=eui64, metavar="EUI64", help="only this hub (default: every hub)")
    listen.add_argument("--count", type=premises_number, metavar="N", help="stop after N messages")
    listen.add_argument("--timeout", type=seconds, metavar="SECONDS", help="stop after this many seconds")
    listen.add_argument("--json", action="store_true", help="one JSON object per message")
    listen.set_defaults(run=_run_listen)

    control = commands.add_parser(
        "control", help="cut or restore a premises' mains, cut its WAN, or tamper with its meter",
        description="Publish a command on the premises' control topic (smwan/<CHF>/control) for the "
        "emulator running it, and print the reply. The outage alerts reach the head-end as usual.",
    )  # fmt: skip
    control.add_argument("action", choices=COMMANDS, metavar="|".join(COMMANDS))
    control.add_argument("--seconds", type=seconds, help="for wan-outage: how long")
    control.add_argument("--premises", type=premises_number, default=1, metavar="N", help="the premises (default 1)")
    control.add_argument("--hub", type=eui64, metavar="EUI64", help="the CHF (default: premises N's)")
    control.add_argument("--state", type=Path, default=DEFAULT_STATE, metavar="DIR", help="for the broker (broker.json)")
    control.add_argument("--broker", metavar="URL")
    control.add_argument("--timeout", type=seconds, default=10.0, metavar="SECONDS", help="wait this long for the reply")
    control.set_defaults(run=_run_control)

    auth = commands.add_parser(
        "auth", help="make per-hub broker accounts and mosquitto's password and ACL files",
        description="Make an account for each premises' hub (its CHF EUI-64 as username) and for "
        "each head-end, write them to DIR/smwan-auth.json (mode 0600; `run --auth` reads it) and "
        "mosquitto's password_file and acl_file to DIR/mosquitto/. A hub may then publish only "
        "under its own topics.",
    )  # fmt: skip
    auth.add_argument("--premises", type=premises_number, default=1, metavar="N", help="premises 1..N (default 1)")
    auth.add_argument("--state", type=Path, default=DEFAULT_STATE, metavar="DIR", help=f"where to write (default {DEFAULT_STATE})")
    auth.add_argument("--head-end", action="append", dest="head_ends", metavar="NAME",
                      help="a head-end account (repeatable; default: head-end)")  # fmt: skip
    auth.set_defaults(run=_run_auth)

    demo = commands.add_parser(
        "demo", help="one premises on an embedded broker, driven through its use cases and an outage",
        description="Start an embedded broker (or use --broker), make a test PKI and one premises, "
        "commission it, send real use cases through the head-end (read registers, set a tariff, add "
        "credit, read the profile, read the gas register), cut the mains for four minutes of virtual "
        "time, and print every step's verified result and the outage alerts.",
    )  # fmt: skip
    demo.add_argument("--state", type=Path, metavar="DIR", help="keep the demo's state here (default: a temporary directory)")
    demo.add_argument("--broker", metavar="URL")
    demo.set_defaults(run=_run_demo)


def _role(text: str) -> Role:
    try:
        return Role[text.upper().replace("-", "_")]
    except KeyError:
        raise argparse.ArgumentTypeError(f"not a role: {text!r}; one of {', '.join(r.name.lower() for r in Role)}") from None


# -- broker.json: where the running site's broker is ---------------------------------------------


def recorded_broker(state: Path, given: str | None) -> Broker:
    """The broker named by ``--broker``, or the one ``run`` recorded in ``state``.

    Raises:
        ConfigError: neither, or a bad URL.
    """
    if given:
        return Broker.from_url(given)
    path = state / "broker.json"
    try:
        url = json.loads(path.read_text())["url"]
        if not isinstance(url, str):
            raise TypeError(f"its url is {url!r}, not text")
        return Broker.from_url(url)
    except FileNotFoundError:
        raise ConfigError(f"no --broker given and no {path} (written by a running `smets-emu run --state {state}`)") from None
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise ConfigError(f"{path} is unreadable: {error}") from None


# -- run ---------------------------------------------------------------------------------------------


def _run_run(args: argparse.Namespace) -> int:
    if args.fleet is not None:
        return run_fleet(args)
    if args.shard is not None or args.metrics_port is not None:
        return fail("run", "--shard and --metrics-port are for a fleet (--fleet FILE)")
    try:
        config = SiteConfig.from_toml(args.config) if args.config else SiteConfig()
        overrides = {key: value for key, value in (("premises", args.premises), ("state", args.state), ("speed", args.speed),
                                                   ("auth", args.auth)) if value is not None}  # fmt: skip
        if args.broker:
            overrides["broker"] = Broker.from_url(args.broker)
        config = SiteConfig(**{**config.__dict__, **overrides})
        site = Site.open(config)
    except EmulatorError as error:
        return fail("run", error)
    try:
        return asyncio.run(_serve(site, args))
    except LinkDown as error:
        return fail("run", error, EXIT_NO_RESPONSE)
    finally:
        site.close()


async def _serve(site: Site, args: argparse.Namespace) -> int:
    stop = stop_event(args.duration)
    asyncio.get_running_loop().set_exception_handler(quiet_closed_socket_race)
    async with site_broker(site.config.broker) as broker:
        record = Path(site.config.state) / "broker.json"
        ready = asyncio.Event()
        runner = asyncio.create_task(site.run(broker, ready=ready))
        announced = asyncio.create_task(announce_broker(ready, record, broker))  # once every hub listens
        try:
            if args.quiet:
                print(f"running {len(site.premises)} premises on {broker.url}; state in {site.config.state}", flush=True)
                await _until(stop, runner)
            else:
                await _live(site, broker, stop, runner)
        finally:
            announced.cancel()
            runner.cancel()
            await asyncio.gather(runner, announced, return_exceptions=True)
            forget_broker(record)
    status = site.status()
    print(f"stopped: {status['premises']} premises, {status['received']} commands received, {status['sent']} frames sent, "
          f"{status['reconnects']} reconnections; virtual time {status['time']:%Y-%m-%d %H:%M:%S}Z")  # fmt: skip
    if runner.done() and not runner.cancelled() and runner.exception() is not None:
        return fail("run", _cause(runner.exception()), EXIT_USAGE if _is_config(runner.exception()) else EXIT_NO_RESPONSE)
    return EXIT_OK


async def announce_broker(ready: asyncio.Event, record: Path, broker: Broker) -> None:
    await ready.wait()
    staging = record.with_suffix(".tmp")
    staging.write_text(json.dumps({"url": broker.url, "pid": os.getpid()}))
    staging.replace(record)


def forget_broker(record: Path) -> None:
    """Remove ``broker.json`` if this process wrote it."""
    try:
        if json.loads(record.read_text()).get("pid") == os.getpid():
            record.unlink()
    except (OSError, ValueError, AttributeError):
        pass


def _cause(error: BaseException) -> BaseException:
    """The first error inside a task group's exception group (the one worth printing)."""
    while isinstance(error, BaseExceptionGroup) and error.exceptions:
        error = error.exceptions[0]
    return error


def _is_config(error: BaseException) -> bool:
    return isinstance(_cause(error), ConfigError)


async def _until(stop: asyncio.Event, runner: asyncio.Task) -> None:
    stopping = asyncio.create_task(stop.wait())
    await asyncio.wait({stopping, runner}, return_when=asyncio.FIRST_COMPLETED)
    stopping.cancel()


async def _live(site: Site, broker: Broker, stop: asyncio.Event, runner: asyncio.Task) -> None:
    from rich.live import Live
    from rich.table import Table

    def table() -> Table:
        status = site.status()
        view = Table(title=f"smets-emu run — {broker.url} — state {site.config.state}")
        for column in ("virtual time", "premises", "connected", "mains off", "commands in", "frames out", "reconnects"):
            view.add_column(column, justify="right")
        view.add_row(f"{status['time']:%Y-%m-%d %H:%M:%S}Z", str(status["premises"]), str(status["connected"]),
                     str(status["mains_off"]), str(status["received"]), str(status["sent"]), str(status["reconnects"]))  # fmt: skip
        return view

    with Live(table(), refresh_per_second=4, transient=False) as live:
        while not stop.is_set() and not runner.done():
            live.update(table())
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 0.25)
        live.update(table())


@contextlib.asynccontextmanager
async def site_broker(broker: Broker | None) -> AsyncIterator[Broker]:
    if broker is not None:
        yield broker
        return
    from .wan.broker import EmbeddedBroker

    async with EmbeddedBroker() as embedded:
        yield embedded


# -- send ------------------------------------------------------------------------------------------


def _run_send(args: argparse.Namespace) -> int:
    if args.list:
        for name, each in sorted(BUILDERS.items()):
            print(f"{name:<8} {each.target.name:<5} {each.summary}  (as {each.role.name.lower()})")
            for parameter in each.parameters:
                default = ("required" if parameter.default is REQUIRED else
                           "optional" if parameter.default in (None, "", ()) else f"default {parameter.default}")  # fmt: skip
                print(f"         {parameter.name}: {KINDS.get(parameter.kind, parameter.kind)}, {default} — {parameter.help}")
        return EXIT_OK
    if not args.use_case:
        return fail("send", "name a use case (smets-emu send --list shows them)")
    try:
        use_case = builder(args.use_case)
        params = _parameters(args)
        use_case.parse(params)  # bad parameters are found before anything is opened
        keystore = PkiStore.open(args.state / "pki").keystore()
        if args.fleet is not None:
            layout = _fleet_premises(args.fleet, args.state, args.premises, keystore)
        else:
            layout = PremisesConfig.standard(args.premises)
        hub = args.hub or layout.of_type(DeviceType.CHF)[0]
        recipient = args.to or (layout.of_type(use_case.target) or [None])[0]
        if recipient is None:
            raise ConfigError(f"premises {args.premises} has no {use_case.target.name}; give --to")
        broker = recorded_broker(args.state, args.broker)
        head_end = HeadEnd(keystore, counters=args.state / "head-end.json")  # each counter on disk before it leaves
        reply = asyncio.run(_send(head_end, broker, hub, use_case.name, recipient, params, args.role, args.timeout))
    except ParameterError as error:
        return fail("send", error)
    except (NoResponse, LinkDown) as error:
        return fail("send", error, EXIT_NO_RESPONSE)
    except (EmulatorError, KeyStoreError, LookupError) as error:
        return fail("send", error)
    print(json.dumps(reply.to_json()) if args.json else to_text(reply))
    return EXIT_CHECK_FAILED if reports_failure(reply) or not reply.passes_check else EXIT_OK


def _fleet_premises(fleet_file: Path, state: Path, number: int, keystore: InMemoryKeyStore) -> PremisesConfig:
    """Premises ``number`` of a fleet, its devices' public keys (from the fleet's seed) added
    to ``keystore`` so that their responses can be checked.

    Raises:
        ConfigError: not the fleet of ``state``, or no such premises.
    """
    from .fleet import Fleet
    from .fleet_credentials import FleetCredentials
    from .fleet_shard import FleetState

    fleet = Fleet.from_toml(fleet_file)
    FleetState.open(state, fleet)
    layout = fleet.premises_number(number).config
    credentials = FleetCredentials(fleet.seed)
    for eui in layout.devices:
        for usage, key_usage in (("ds", KeyUsage.DS), ("ka", KeyUsage.KA)):
            keystore.add_public_key(eui, key_usage, credentials.public_key(eui, usage))
    return layout


def reports_failure(reply: Description) -> bool:
    """Whether a response says its command failed: a DLMS result or a ZCL status not success."""
    payload = reply.to_json().get("payload") or {}
    if any(result.get("result") != 0 for result in payload.get("results") or []):
        return True
    for component in payload.get("components") or []:
        fields = component.get("fields")
        items = fields if isinstance(fields, list) else [fields] if isinstance(fields, dict) else []
        if any(isinstance(item, dict) and item.get("status") not in (None, 0) for item in items):
            return True
    return False


async def _send(head_end: HeadEnd, broker: Broker, hub, use_case, recipient, params, role, timeout):  # noqa: ANN001, ANN202
    async with head_end.connect(broker, identifier=None, persistent=False) as wan:  # a session of its own
        return await wan.send(hub, use_case, recipient, params, role=role, timeout=timeout)


def _parameters(args: argparse.Namespace) -> dict | list[str]:
    if args.params_json is None:
        return list(args.params)
    if args.params:
        raise ConfigError("give parameters either as NAME=VALUE or with --params, not both")
    text = args.params_json
    try:
        if text.startswith("@"):
            text = Path(text[1:]).read_text()
        document = json.loads(text)
    except OSError as error:
        raise ConfigError(f"cannot read {args.params_json[1:]}: {error.strerror}") from None
    except json.JSONDecodeError as error:
        raise ConfigError(f"--params is not JSON: {error}") from None
    if not isinstance(document, dict):
        raise ConfigError("--params must be a JSON object of parameter names and values")
    return document


# -- listen ------------------------------------------------------------------------------------------


def _run_listen(args: argparse.Namespace) -> int:
    try:
        broker = recorded_broker(args.state, args.broker)
        pki_dir = args.state / "pki"
        keystore = PkiStore.open(pki_dir).keystore() if pki_dir.is_dir() else None
        return asyncio.run(_listen(broker, keystore, args))
    except LinkDown as error:
        return fail("listen", error, EXIT_NO_RESPONSE)
    except EmulatorError as error:
        return fail("listen", error)
    except KeyboardInterrupt:
        return EXIT_OK


async def _listen(broker: Broker, keystore, args: argparse.Namespace) -> int:  # noqa: ANN001
    import aiomqtt

    topic = f"smwan/{bytes(args.hub).hex().upper()}/up" if args.hub else "smwan/+/up"
    seen = 0
    try:
        async with aiomqtt.Client(broker.host, broker.port, username=broker.username, password=broker.password,
                                  socket_options=NO_DELAY) as client:  # fmt: skip
            await client.subscribe(topic, qos=1)
            print(f"listening on {topic} at {broker.url}", file=sys.stderr, flush=True)
            async with asyncio.timeout(args.timeout):
                async for message in client.messages:
                    data = bytes(message.payload) if isinstance(message.payload, bytes | bytearray) else b""
                    try:
                        description = describe(data, str(message.topic), keystore)
                    except GbcsError as error:  # describe reports decode errors itself; this is belt and braces
                        print(f"{message.topic}: {error}")
                        continue
                    print(json.dumps(description.to_json()) if args.json else to_text(description) + "\n", flush=True)
                    seen += 1
                    if args.count is not None and seen >= args.count:
                        break
    except TimeoutError:
        pass
    except (aiomqtt.MqttError, OSError) as error:
        raise LinkDown(f"the broker at {broker.url}: {error}") from None
    return EXIT_OK


# -- control ----------------------------------------------------------------------------------------


def _run_control(args: argparse.Namespace) -> int:
    if args.action == "wan-outage" and args.seconds is None:
        return fail("control", "wan-outage needs --seconds")
    message = {"command": args.action} | ({"seconds": args.seconds} if args.action == "wan-outage" else {})
    hub = args.hub or PremisesConfig.standard(args.premises).of_type(DeviceType.CHF)[0]
    try:
        broker = recorded_broker(args.state, args.broker)
        reply = asyncio.run(_control(broker, hub, message, args.timeout))
    except (LinkDown, NoResponse) as error:
        return fail("control", error, EXIT_NO_RESPONSE)
    except EmulatorError as error:
        return fail("control", error)
    print(json.dumps(reply))
    return EXIT_OK if reply.get("ok") else EXIT_CHECK_FAILED


async def _control(broker: Broker, hub: bytes, message: dict, timeout: float) -> dict:
    import aiomqtt

    topic = control_topic(hub)
    try:
        async with aiomqtt.Client(broker.host, broker.port, username=broker.username, password=broker.password,
                                  socket_options=NO_DELAY) as client:  # fmt: skip
            await client.subscribe(topic + "/reply", qos=1)
            await client.publish(topic, json.dumps(message), qos=1)
            async with asyncio.timeout(timeout):
                async for reply in client.messages:
                    try:
                        answer = json.loads(reply.payload)
                    except (ValueError, TypeError):
                        continue
                    if isinstance(answer, dict) and answer.get("command") in (message["command"], None):
                        return answer
    except TimeoutError:
        raise NoResponse(f"no emulator answered on {topic} within {timeout} s (is `smets-emu run` running it?)") from None
    except (aiomqtt.MqttError, OSError) as error:
        raise LinkDown(f"the broker at {broker.url}: {error}") from None
    raise NoResponse(f"the broker closed the subscription to {topic}/reply")


# -- auth ----------------------------------------------------------------------------------------------


def _run_auth(args: argparse.Namespace) -> int:
    from .wan.auth import generate, write_mosquitto_files

    hubs = [PremisesConfig.standard(number).of_type(DeviceType.CHF)[0] for number in range(1, args.premises + 1)]
    try:
        accounts = generate(hubs, args.head_ends or ("head-end",))
        args.state.mkdir(parents=True, exist_ok=True)
        accounts.save(args.state / "smwan-auth.json")
        passwords, acl = write_mosquitto_files(accounts, args.state / "mosquitto")
    except EmulatorError as error:
        return fail("auth", error)
    except OSError as error:
        return fail("auth", f"cannot write in {args.state}: {error.strerror}")
    print(f"{len(hubs)} hub and {len(accounts.head_ends)} head-end accounts in {args.state / 'smwan-auth.json'} (mode 0600)")
    print("for mosquitto.conf:")
    print(f"  allow_anonymous false\n  password_file {passwords.resolve()}\n  acl_file {acl.resolve()}")
    print(f"then: smets-emu run --premises {args.premises} --auth {args.state / 'smwan-auth.json'} --broker mqtt://HOST:PORT")
    return EXIT_OK


# -- demo --------------------------------------------------------------------------------------------


def _run_demo(args: argparse.Namespace) -> int:
    from .demo import DemoFailed, run_demo

    try:
        broker = Broker.from_url(args.broker) if args.broker else None
        asyncio.run(run_demo(args.state, broker, say=lambda line: print(line, flush=True)))
    except (NoResponse, LinkDown) as error:
        return fail("demo", error, EXIT_NO_RESPONSE)
    except DemoFailed as error:
        return fail("demo", error, EXIT_CHECK_FAILED)
    except EmulatorError as error:  # a bad broker URL, a state directory in use or unwritable
        return fail("demo", error)
    return EXIT_OK
