"""``smets-emu hil``: the emulated hub on a ZigBee radio (``hardware/hub.py``).

``probe`` says what a radio is; ``run`` runs the hub (CHF and GPF) on it with its WAN on an
MQTT broker (an embedded one unless ``--broker``); ``backup`` and ``restore`` move a network
between radios as zigpy's open coordinator backup JSON, which the simulated radio (``--radio
sim``) also keeps its state in. emulator/cli.py adds these commands through the
``smets_emu.commands`` entry point, so the emulator does not depend on this package.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from emulator.cli_args import (
    EXIT_NO_RESPONSE,
    EXIT_OK,
    EXIT_USAGE,
    eui64,
    fail,
    positive,
    seconds,
    stop_event,
)
from emulator.errors import ConfigError, EmulatorError

if TYPE_CHECKING:
    from emulator.wan.link import Broker

    from .hub import HilConfig

__all__ = ["add_hil_commands"]

KINDS_HELP = "ezsp (bellows), znp (zigpy-znp), deconz (best effort) or sim (the simulated radio: PORT is its state file)"


def add_hil_commands(commands: argparse._SubParsersAction) -> None:
    hil = commands.add_parser("hil", help="hardware in the loop: the emulated hub's HAN on a ZigBee radio",
                              description="The emulated Communications Hub's HAN on a real ZigBee coordinator "
                              "dongle through zigpy, or on the simulated radio. docs/hil.md has the procedure.")  # fmt: skip
    actions = hil.add_subparsers(dest="hil", required=True, metavar="ACTION")

    probe = actions.add_parser("probe", help="what a radio is: its IEEE address, firmware, network, CBKE")
    _radio_arguments(probe)
    probe.add_argument("--json", action="store_true", help="print one JSON object")
    probe.set_defaults(run=_run_probe)

    run = actions.add_parser("run", help="run the hub (CHF and GPF) on the radio, its WAN on MQTT, until stopped",
                             description="Start the radio, adopt its IEEE address as the CHF's, form the network "
                             "(first run) and admit the premises' devices by install code; then serve the hub's "
                             "WAN on an MQTT broker until Ctrl-C.")  # fmt: skip
    _radio_arguments(run)
    run.add_argument("--premises", type=Path, metavar="FILE", help="the devices (TOML; hardware/hub.py shows the keys); "
                     "default: a simulated ESME, GSME and IHD")  # fmt: skip
    run.add_argument("--state", type=Path, default=Path("smets-emu-hil"), help="the hub's state directory (default: %(default)s)")
    run.add_argument("--hub-eui", type=eui64, help="the CHF's EUI-64 when the radio cannot report its own")
    run.add_argument("--network-key", type=_key, help="16 bytes in hex for a new network (default: random)")
    run.add_argument("--broker", help="the SMWAN's MQTT broker, mqtt://host:port (default: an embedded one)")
    run.add_argument("--duration", type=seconds, help="stop after this many seconds")
    run.set_defaults(run=_run_run)

    backup = actions.add_parser("backup", help="write the radio's network as an open coordinator backup (JSON)")
    _radio_arguments(backup)
    backup.add_argument("--output", type=Path, metavar="FILE", help="where to write it (default: standard output)")
    backup.set_defaults(run=_run_backup)

    restore = actions.add_parser("restore", help="put a backed-up network onto a radio")
    _radio_arguments(restore)
    restore.add_argument("--backup", type=Path, required=True, metavar="FILE", help="an open coordinator backup (JSON)")
    restore.add_argument("--force", action="store_true", help="write it even where the radio can take it only once")
    restore.set_defaults(run=_run_restore)

    bench = actions.add_parser("bench", help="what the radio bridge costs: start-up, round trip and commands/s on the "
                               "simulated radio, against the plain simulated HAN")  # fmt: skip
    bench.add_argument("--commands", type=positive, default=300, help="commands sent at once (default %(default)s)")
    bench.add_argument("--json", action="store_true", help="print one JSON object")
    bench.set_defaults(run=_run_bench)


def _radio_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--radio", required=True, metavar="KIND", help=KINDS_HELP)
    parser.add_argument("--port", required=True, help="the dongle's serial port (or the simulated radio's state file)")
    parser.add_argument("--baudrate", type=positive, help="the serial speed (default: the library's)")


def _key(text: str) -> bytes:
    try:
        key = bytes.fromhex(text)
    except ValueError:
        raise argparse.ArgumentTypeError("not hex") from None
    if len(key) != 16:
        raise argparse.ArgumentTypeError(f"a network key is 16 bytes, not {len(key)}")
    return key


def _failed(command: str, error: EmulatorError) -> int:
    return fail(command, error, EXIT_USAGE if isinstance(error, ConfigError) else EXIT_NO_RESPONSE)


def _run_probe(args: argparse.Namespace) -> int:
    from .hub import probe_radio

    try:
        probe = asyncio.run(probe_radio(args.radio, args.port, baudrate=args.baudrate))
    except EmulatorError as error:
        return _failed("hil probe", error)
    if args.json:
        print(json.dumps(probe.to_dict()))
        return EXIT_OK
    print(f"radio:     {probe.kind} on {args.port}")
    print(f"ieee:      {probe.ieee or 'not reported (no network formed yet)'}")
    print(f"device:    {probe.manufacturer or '?'} {probe.model or '?'}, firmware {probe.firmware or '?'}")
    if probe.formed:
        print(f"network:   channel {probe.channel}, PAN id 0x{probe.pan_id:04X}, extended PAN id {probe.extended_pan_id}")
    else:
        print("network:   none formed")
    print(f"CBKE:      {probe.cbke}")
    return EXIT_OK


def _run_bench(args: argparse.Namespace) -> int:
    from .bench import run_hil_benchmark

    figures = run_hil_benchmark(commands=args.commands)
    print(json.dumps(figures.to_dict()) if args.json else figures.to_text())
    return EXIT_OK


def _run_backup(args: argparse.Namespace) -> int:
    from .hub import backup_radio

    try:
        document = json.dumps(asyncio.run(backup_radio(args.radio, args.port, baudrate=args.baudrate)), indent=2)
    except EmulatorError as error:
        return _failed("hil backup", error)
    if args.output is None:
        print(document)
        return EXIT_OK
    staging = args.output.with_name(args.output.name + ".new")
    try:
        staging.write_text(document + "\n")
        os.replace(staging, args.output)
    except OSError as error:
        return fail("hil backup", f"cannot write {args.output}: {error.strerror}")
    print(f"backed up the {args.radio} radio on {args.port} to {args.output}", file=sys.stderr)
    return EXIT_OK


def _run_restore(args: argparse.Namespace) -> int:
    from .hub import read_backup, restore_radio

    try:
        document = json.loads(args.backup.read_text())
    except OSError as error:
        return fail("hil restore", f"cannot read {args.backup}: {error.strerror}")
    except ValueError as error:
        return fail("hil restore", f"{args.backup} is not JSON: {error}")
    try:
        backup = read_backup(document, source=str(args.backup))
        asyncio.run(restore_radio(args.radio, args.port, backup, baudrate=args.baudrate, destructive_ok=args.force))
    except EmulatorError as error:
        return _failed("hil restore", error)
    info = backup.network_info
    print(f"restored onto the {args.radio} radio on {args.port}: PAN id 0x{info.pan_id:04X}, channel {info.channel}, "
          f"{len(info.key_table)} device link key(s)")  # fmt: skip
    return EXIT_OK


def _run_run(args: argparse.Namespace) -> int:
    from .hub import HilConfig

    try:
        config = HilConfig.from_toml(args.premises) if args.premises else HilConfig()
        broker = None
        if args.broker:
            from emulator.wan.link import Broker

            broker = Broker.from_url(args.broker)
        return asyncio.run(_serve(args, config, broker))
    except EmulatorError as error:
        return _failed("hil run", error)


async def _serve(args: argparse.Namespace, config: HilConfig, broker: Broker | None) -> int:
    from emulator.cli_wan import announce_broker, forget_broker, site_broker
    from emulator.wan.link import HubLink, quiet_closed_socket_race

    from .hub import RadioHub

    stop = stop_event(args.duration)
    asyncio.get_running_loop().set_exception_handler(quiet_closed_socket_race)
    hub = await RadioHub.start(args.radio, args.port, args.state, config, hub_eui=args.hub_eui,
                               network_key=args.network_key, baudrate=args.baudrate)  # fmt: skip
    try:
        async with site_broker(broker) as wan:
            link = HubLink(hub.premises, wan)
            runner = asyncio.create_task(link.run())
            record = args.state / "broker.json"  # for `smets-emu send --state`, as `run` leaves it
            announced = asyncio.create_task(announce_broker(link.connected, record, wan))
            print(f"hub {hub.hub.eui} on the {args.radio} radio at {args.port}: {len(hub.joined())} device(s) joined; "
                  f"WAN on {wan.url}; state in {args.state}", flush=True)  # fmt: skip
            stopping = asyncio.create_task(stop.wait())
            await asyncio.wait({stopping, runner}, return_when=asyncio.FIRST_COMPLETED)
            stopping.cancel()
            for task in (runner, announced):
                task.cancel()
            await asyncio.gather(runner, announced, return_exceptions=True)
            forget_broker(record)
            if runner.done() and not runner.cancelled() and runner.exception() is not None:
                raise runner.exception()  # type: ignore[misc]
    finally:
        await hub.stop()
    dropped = ", ".join(f"{count} {reason}" for reason, count in hub.hub.dropped.items()) or "none"
    print(f"stopped: {link.received} commands received, {link.sent} frames sent; radio frames dropped: {dropped}")
    if hub.admit_failures:
        refused = "; ".join(f"{eui}: {why}" for eui, why in hub.admit_failures.items())
        return fail("hil run", f"the radio would not open the network to {refused}", EXIT_NO_RESPONSE)
    return EXIT_OK
