"""The ``smets-emu`` command line: parse arguments, call the library, print.

Exit status: 0 success; 1 ``decode --check`` found a message that failed, ``pki show``
found a file that is not a readable certificate, or ``replay`` found a mismatch; 2 a usage error, an unreadable input, a bad
configuration, or a store that cannot be read or written (the message says which).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Iterator, Sequence
from datetime import datetime, timezone
from pathlib import Path

from gbcs.describe import Describer, Description, to_text
from gbcs.errors import KeyStoreError
from gbcs.keystore import InMemoryKeyStore
from gbcs.pki import parse_device_type
from gbcs.types import EUI64, DeviceType

from .cli_args import eui64, positive
from .cli_fleet import add_fleet_commands
from .cli_wan import add_wan_commands
from .errors import EmulatorError
from .pki_store import PkiConfig, PkiStore, list_certificates

EXIT_OK, EXIT_CHECK_FAILED, EXIT_USAGE = 0, 1, 2


class InputError(Exception):
    """An input cannot be read or is neither hex text nor a binary message."""


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        return args.run(args)
    except BrokenPipeError:  # `smets-emu decode ... | head`: the reader left, not an error
        sys.stderr.close()
        return EXIT_OK


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="smets-emu", description="Emulator of GB smart-metering device firmware (GBCS)."
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    decode = commands.add_parser(
        "decode",
        help="decode GBCS messages, check signatures and MACs, decrypt, re-encode",
        description="Decode GBCS messages. An INPUT is a file of hex text, a binary file, a "
        "directory (every file in it, recursively), or - for hex text on stdin.",
    )
    decode.add_argument("inputs", nargs="+", metavar="INPUT")
    decode.add_argument("--keystore", type=Path, metavar="DIR",
                        help="certificates and keys, <eui>-ds|ka|pp-ka.pem|key as in RTDS")  # fmt: skip
    decode.add_argument("--broker", type=eui64, metavar="EUI64",
                        help="the Access Control Broker (default: the key store's only party "
                        "with that role)")  # fmt: skip
    decode.add_argument("--at", type=_moment, metavar="WHEN",
                        help="judge certificates' validity at WHEN: an ISO 8601 date-time (UTC if "
                        "no offset), or 'message' for each message's own date-time; by default "
                        "validity periods are not judged")  # fmt: skip
    decode.add_argument("--json", action="store_true", help="print one JSON object per message")
    decode.add_argument("--check", action="store_true",
                        help="exit 1 if a message does not decode, does not re-encode byte for "
                        "byte, or has an invalid signature, MAC or encrypted block")  # fmt: skip
    decode.set_defaults(run=_run_decode)

    _add_pki_commands(commands)
    add_wan_commands(commands)
    add_fleet_commands(commands)
    _add_plugin_commands(commands)

    replay = commands.add_parser(
        "replay", help="feed recorded commands to emulated devices and compare their responses",
        description="For each COMMAND file in FOLDER (corpus layout: its RESPONSE files beside "
        "it), build the target device with the key store's identities and trust anchors, feed "
        "it the command, and compare the device's response with the recorded one: exact, "
        "structure (same header and payload structure), mismatch, or unsupported.",
    )  # fmt: skip
    replay.add_argument("folders", nargs="+", type=Path, metavar="FOLDER")
    replay.add_argument("--keystore", type=Path, metavar="DIR",
                        help="certificates and keys (default: a keystore/ directory beside or above FOLDER)")  # fmt: skip
    replay.add_argument("--device", action="append", default=[], type=_device_assignment, metavar="EUI64=TYPE",
                        help="the type of a device of your own recordings (RTDS's are known)")  # fmt: skip
    replay.add_argument("--json", action="store_true", help="print one JSON object per command")
    replay.set_defaults(run=_run_replay)

    bench = commands.add_parser("bench", help="measure performance")
    bench_commands = bench.add_subparsers(dest="bench", required=True, metavar="BENCHMARK")
    codec = bench_commands.add_parser(
        "codec", help="frames per second: parse, parse+verify, build+sign, against bare cryptography"
    )
    codec.add_argument("--corpus", type=Path, default=Path("../shared/rtds"), metavar="DIR",
                       help="the RTDS corpus (messages/ and keystore/); default ../shared/rtds")  # fmt: skip
    codec.add_argument("--passes", type=positive, default=5,
                       help="timed passes over the corpus; the best is reported (default 5)")  # fmt: skip
    codec.add_argument("--json", action="store_true", help="print the figures as one JSON object")
    codec.set_defaults(run=_run_bench_codec)
    firmware = bench_commands.add_parser("firmware", help="commands per second through an emulated hub's command path")
    firmware.add_argument("--commands", type=positive, default=2000, help="commands to send (default 2000)")
    firmware.add_argument("--json", action="store_true", help="print the figures as one JSON object")
    firmware.set_defaults(run=_run_bench_firmware)
    memory = bench_commands.add_parser("memory", help="resident memory per commissioned premises, and what reading a long log adds")
    memory.add_argument("--premises", type=positive, default=50, help="premises to build for each layout (default 50)")
    memory.add_argument("--store", choices=("shared", "per-premises", "both"), default="both",
                        help="one SQLite store shared by every premises, one per premises, or measure both (default)")  # fmt: skip
    memory.add_argument("--json", action="store_true", help="print the figures as one JSON object")
    memory.set_defaults(run=_run_bench_memory)
    wan = bench_commands.add_parser("wan", help="command round trips per second through an MQTT broker (mosquitto)")
    wan.add_argument("--premises", type=positive, default=1, help="premises the commands are spread over (default 1)")
    wan.add_argument("--commands", type=positive, default=500, help="commands to send (default 500)")
    wan.add_argument("--target", choices=("chf", "esme"), default="chf",
                     help="the hub itself, or the electricity meter over the HAN (default chf)")  # fmt: skip
    wan.add_argument("--concurrency", type=positive, help="commands in flight (default: one per premises)")
    wan.add_argument("--broker", metavar="URL", help="use this broker instead of starting a mosquitto")
    wan.add_argument("--json", action="store_true", help="print the figures as one JSON object")
    wan.set_defaults(run=_run_bench_wan)
    fleet = bench_commands.add_parser(
        "fleet", help="a fleet's memory per idle premises, start-up, and an outage storm of all of it",
        description="Start a mosquitto (or use --broker), run a single-premises fleet and then N premises on W "
        "worker processes (multiplexed WAN), storm every premises for four virtual minutes, and print premises "
        "per worker, resident memory per idle premises, start-up, alerts expected and delivered per role, "
        "alerts per second and the time from the power's return to the last alert at the subscriber.",
    )  # fmt: skip
    fleet.add_argument("--premises", type=positive, default=1000, help="premises (default 1000)")
    fleet.add_argument("--workers", type=positive, default=os.cpu_count() or 1, help="worker processes (default: cores)")
    fleet.add_argument("--broker", metavar="URL", help="use this broker instead of starting a mosquitto")
    fleet.add_argument("--json", action="store_true", help="print the figures as one JSON object")
    fleet.set_defaults(run=_run_bench_fleet)
    modes = bench_commands.add_parser(
        "wan-modes", help="per-hub connections against one multiplexed connection: set-up, memory, loop lag, delivery",
        description="Start a mosquitto (or use --broker) and carry N hubs' down topics first with a connection "
        "each (as a site's hubs) and then over one connection (as a fleet's worker); print for each the set-up "
        "time, resident memory per hub, event-loop lag and the delivery of one command to every hub.",
    )  # fmt: skip
    modes.add_argument("--hubs", type=positive, default=1000, help="hubs (default 1000)")
    modes.add_argument("--broker", metavar="URL", help="use this broker instead of starting a mosquitto")
    modes.add_argument("--json", action="store_true", help="print the figures as JSON")
    modes.set_defaults(run=_run_bench_wan_modes)
    return parser


def _add_pki_commands(commands: argparse._SubParsersAction) -> None:
    pki = commands.add_parser("pki", help="generate and list a test SMKI PKI (certificates and keys)")
    pki_commands = pki.add_subparsers(dest="pki", required=True, metavar="ACTION")

    init = pki_commands.add_parser(
        "init", help="create CAs and every remote party's certificates",
        description="Create a test PKI in DIR: Root and Issuing OCA and DCA, and a digital-signature "
        "(and where the role uses one, key-agreement) certificate for each remote party role. "
        "DIR must not exist or be empty unless --force is given.",
    )  # fmt: skip
    init.add_argument("directory", type=Path, metavar="DIR")
    init.add_argument("--config", type=Path, metavar="FILE",
                      help="TOML: parties (role, eui, name, usages), not_before, organisation_years")  # fmt: skip
    init.add_argument("--force", action="store_true", help="replace an existing store in DIR")
    init.set_defaults(run=_run_pki_init)

    device = pki_commands.add_parser(
        "device", help="issue a device's digital-signature and key-agreement credentials",
        description="Generate a device's key pairs and certificates (Issuing DCA) in the store DIR.",
    )  # fmt: skip
    device.add_argument("directory", type=Path, metavar="DIR")
    device.add_argument("--eui", type=eui64, required=True, metavar="EUI64")
    device.add_argument("--type", type=_device_type, required=True, dest="device_type",
                        metavar="|".join(t.name.lower() for t in DeviceType))  # fmt: skip
    device.add_argument("--regenerate", action="store_true",
                        help="new key pairs and certificates for a device the store already has "
                        "(GBCS 'issue security credentials')")  # fmt: skip
    device.set_defaults(run=_run_pki_device)

    show = pki_commands.add_parser("show", help="list the certificates of a store (or any RTDS-layout directory)")
    show.add_argument("directory", type=Path, metavar="DIR")
    show.add_argument("--json", action="store_true", help="print one JSON object per certificate")
    show.set_defaults(run=_run_pki_show)


def _add_plugin_commands(commands: argparse._SubParsersAction) -> None:
    """Commands of the packages built on the emulator (``hardware``'s ``hil``), found through
    the ``smets_emu.commands`` entry point so that the emulator does not import them. One that
    cannot be imported (its extra not installed) is left out, with a note in ``--help``."""
    from importlib.metadata import entry_points

    for entry in entry_points(group="smets_emu.commands"):
        try:
            add = entry.load()
        except ImportError as error:
            commands.add_parser(entry.name, help=f"unavailable: {error}")
            continue
        add(commands)


def _device_assignment(text: str) -> tuple[EUI64, DeviceType]:
    eui, _, kind = text.partition("=")
    return eui64(eui), _device_type(kind)


def _device_type(text: str) -> DeviceType:
    try:
        return parse_device_type(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _moment(text: str) -> datetime | str:
    if text == "message":
        return text
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an ISO 8601 date-time or 'message': {text!r}") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def _run_decode(args: argparse.Namespace) -> int:
    keystore = None
    if args.keystore is not None:
        try:
            keystore = InMemoryKeyStore.from_directory(args.keystore)
        except KeyStoreError as error:
            print(f"smets-emu decode: {error}", file=sys.stderr)
            return EXIT_USAGE
    describer = Describer(keystore, broker=args.broker, at=args.at)
    failed = unreadable = False
    for name, data in _read_inputs(args.inputs):
        if isinstance(data, InputError):
            unreadable = True
            descriptions = [Description(input=name, ok=False, error=str(data))]
        else:
            descriptions = describer.describe(data, name)
        for description in descriptions:
            failed |= not description.passes_check
            print(json.dumps(description.to_json()) if args.json else to_text(description) + "\n")
    if unreadable:
        return EXIT_USAGE
    return EXIT_CHECK_FAILED if args.check and failed else EXIT_OK


def _read_inputs(inputs: Sequence[str]) -> Iterator[tuple[str, bytes | InputError]]:
    for item in inputs:
        if item == "-":
            yield "-", _message_bytes(sys.stdin.buffer.read(), "-", text_only=True)
            continue
        path = Path(item)
        if path.is_dir():
            files = sorted(p for p in path.rglob("*") if p.is_file() and not p.name.startswith("."))
            if not files:
                yield item, InputError(f"{item}: directory holds no files")
            for file in files:
                yield str(file), _read_file(file)
        else:
            yield item, _read_file(path)


def _read_file(path: Path) -> bytes | InputError:
    try:
        raw = path.read_bytes()
    except OSError as error:
        return InputError(f"cannot read {path}: {error.strerror}")
    return _message_bytes(raw, str(path), text_only=False)


_HEX_DIGITS = frozenset(b"0123456789abcdefABCDEF")
_WHITESPACE = frozenset(b" \t\r\n")


def _message_bytes(raw: bytes, name: str, *, text_only: bool) -> bytes | InputError:
    """Hex text (whitespace allowed) or, for files, the raw bytes of a binary message. A GBCS
    message starts with DD or DF, never with printable ASCII, so the two cannot be confused."""
    if not raw.strip():
        return InputError(f"{name}: empty input")
    looks_like_text = 0x20 <= raw[0] < 0x7F or raw[0] in _WHITESPACE
    if not looks_like_text and not text_only:
        return raw
    digits = bytes(byte for byte in raw if byte not in _WHITESPACE)
    for position, byte in enumerate(digits):
        if byte not in _HEX_DIGITS:
            return InputError(f"{name}: not hex text: {chr(byte)!r} after {position} hex digits")
    if len(digits) % 2:
        return InputError(f"{name}: odd number of hex digits ({len(digits)})")
    return bytes.fromhex(digits.decode("ascii"))


def _run_pki_init(args: argparse.Namespace) -> int:
    try:
        config = PkiConfig.from_toml(args.config) if args.config else PkiConfig()
        store = PkiStore.create(args.directory, config, now=datetime.now(timezone.utc), overwrite=args.force)
    except EmulatorError as error:
        print(f"smets-emu pki init: {error}", file=sys.stderr)
        return EXIT_USAGE
    entries = store.entries()
    print(f"created {args.directory}: {len(entries)} certificates, valid from "
          f"{store.not_before:%Y-%m-%d}; private keys are mode 0600")  # fmt: skip
    return EXIT_OK


def _run_pki_device(args: argparse.Namespace) -> int:
    try:
        store = PkiStore.open(args.directory)
        written = store.issue_device(args.eui, args.device_type, regenerate=args.regenerate)
    except EmulatorError as error:
        print(f"smets-emu pki device: {error}", file=sys.stderr)
        return EXIT_USAGE
    for path in written:
        if path.suffix == ".pem":
            print(path)
    return EXIT_OK


def _run_pki_show(args: argparse.Namespace) -> int:
    try:
        listing = list_certificates(args.directory)
    except EmulatorError as error:
        print(f"smets-emu pki show: {error}", file=sys.stderr)
        return EXIT_USAGE
    if args.json:
        for entry in listing.entries:
            print(json.dumps(entry.to_json()))
    else:
        print(_table([["PATH", "KIND", "ROLE", "EUI-64", "USAGE", "NOT AFTER", "ISSUER"]] + [
            [str(entry.path), entry.kind.value, entry.role or "-", str(entry.eui or "-"), entry.usage,
             entry.to_json()["not_after"], str(entry.issuer_path or "-")]
            for entry in listing.entries
        ]))  # fmt: skip
    for path in listing.public_keys:
        print(f"smets-emu pki show: note: {path} is a bare public key, not a certificate", file=sys.stderr)
    for problem in listing.problems:
        print(f"smets-emu pki show: {problem}", file=sys.stderr)
    return EXIT_CHECK_FAILED if listing.problems else EXIT_OK


def _table(rows: list[list[str]]) -> str:
    widths = [max(len(row[column]) for row in rows) for column in range(len(rows[0]))]
    return "\n".join("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
                     for row in rows)  # fmt: skip


def _run_replay(args: argparse.Namespace) -> int:
    from .replay import command_files, replay_folders

    keystore_dir = args.keystore or _find_keystore(args.folders[0])
    if keystore_dir is None:
        print("smets-emu replay: no key store found beside or above the folders; give --keystore DIR", file=sys.stderr)
        return EXIT_USAGE
    if not any(True for _ in command_files(args.folders)):
        print(f"smets-emu replay: no COMMAND files (*COMMAND_GBCS.HEX) in {', '.join(map(str, args.folders))}",
              file=sys.stderr)  # fmt: skip
        return EXIT_USAGE
    try:
        keystore = InMemoryKeyStore.from_directory(keystore_dir)
    except KeyStoreError as error:
        print(f"smets-emu replay: {error}", file=sys.stderr)
        return EXIT_USAGE
    verdicts: dict[str, int] = {}
    accepted = total = 0
    for result in replay_folders(args.folders, keystore, dict(args.device)):
        total += 1
        accepted += result.accepted
        verdicts[result.verdict] = verdicts.get(result.verdict, 0) + 1
        if args.json:
            print(json.dumps(result.to_json()))
        else:
            print(f"{result.verdict:<11} {result.target or '-':<6} {result.use_case or '-':<11} {result.input}"
                  + (f"\n            {result.detail}" if result.detail else ""))  # fmt: skip
    if not args.json:
        summary = ", ".join(f"{count} {verdict}" for verdict, count in sorted(verdicts.items()))
        print(f"{total} commands: {summary}; {accepted} accepted")
    return EXIT_CHECK_FAILED if verdicts.get("mismatch") else EXIT_OK


def _find_keystore(folder: Path) -> Path | None:
    for directory in [folder.resolve(), *folder.resolve().parents]:
        if (directory / "keystore").is_dir():
            return directory / "keystore"
    return None


def _run_bench_firmware(args: argparse.Namespace) -> int:
    from .benchmarks import run_firmware_benchmark

    figures = run_firmware_benchmark(args.commands)
    print(json.dumps(figures.to_json(), indent=2) if args.json else figures.to_text())
    return EXIT_OK


def _run_bench_memory(args: argparse.Namespace) -> int:
    from .benchmarks import run_memory_benchmark

    layouts = {"shared": [True], "per-premises": [False], "both": [True, False]}[args.store]
    figures = [run_memory_benchmark(args.premises, shared_store=shared) for shared in layouts]
    if args.json:
        print(json.dumps([each.to_json() for each in figures], indent=2))
    else:
        print("\n".join(each.to_text() for each in figures))
    return EXIT_OK


def _run_bench_wan(args: argparse.Namespace) -> int:
    from .benchmarks import WanBenchmarkError, run_wan_benchmark
    from .wan.link import Broker

    try:
        broker = Broker.from_url(args.broker) if args.broker else None
        figures = run_wan_benchmark(args.premises, args.commands, target=DeviceType[args.target.upper()],
                                    broker=broker, concurrency=args.concurrency)  # fmt: skip
    except (EmulatorError, WanBenchmarkError) as error:
        print(f"smets-emu bench wan: {error}", file=sys.stderr)
        return EXIT_CHECK_FAILED if isinstance(error, WanBenchmarkError) else EXIT_USAGE
    print(json.dumps(figures.to_json(), indent=2) if args.json else figures.to_text())
    return EXIT_OK


def _run_bench_fleet(args: argparse.Namespace) -> int:
    from .fleet_bench import FleetBenchmarkError, run_fleet_benchmark
    from .wan.link import Broker

    try:
        broker = Broker.from_url(args.broker) if args.broker else None
        figures = run_fleet_benchmark(args.premises, args.workers, broker=broker)
    except FleetBenchmarkError as error:
        print(f"smets-emu bench fleet: {error}", file=sys.stderr)
        return EXIT_CHECK_FAILED
    except EmulatorError as error:
        print(f"smets-emu bench fleet: {error}", file=sys.stderr)
        return EXIT_USAGE
    print(json.dumps(figures.to_json(), indent=2) if args.json else figures.to_text())
    complete = figures.alerts_delivered == figures.alerts_expected and figures.baseline.get("alerts_delivered") == figures.baseline.get("alerts_expected")
    return EXIT_OK if complete else EXIT_CHECK_FAILED


def _run_bench_wan_modes(args: argparse.Namespace) -> int:
    from dataclasses import asdict

    from .fleet_bench import FleetBenchmarkError, run_wan_mode_benchmark
    from .wan.link import Broker

    try:
        broker = Broker.from_url(args.broker) if args.broker else None
        figures = run_wan_mode_benchmark(args.hubs, broker=broker)
    except FleetBenchmarkError as error:
        print(f"smets-emu bench wan-modes: {error}", file=sys.stderr)
        return EXIT_CHECK_FAILED
    except EmulatorError as error:
        print(f"smets-emu bench wan-modes: {error}", file=sys.stderr)
        return EXIT_USAGE
    if args.json:
        print(json.dumps([asdict(each) for each in figures], indent=2))
        return EXIT_OK
    print(f"{'mode':<12} {'hubs':>6} {'conns':>6} {'set-up s':>9} {'KB/hub':>8} {'lag p99 ms':>11} {'lag max ms':>11} "
          f"{'delivery s':>11} {'cmds/s':>9}")  # fmt: skip
    for each in figures:
        print(f"{each.mode:<12} {each.hubs:>6} {each.connections:>6} {each.setup_s:>9.2f} {each.rss_per_hub_kb:>8.1f} "
              f"{each.loop_lag_p99_ms:>11.2f} {each.loop_lag_max_ms:>11.2f} {each.delivery_s:>11.2f} {each.commands_per_s:>9.0f}")  # fmt: skip
    return EXIT_OK


def _run_bench_codec(args: argparse.Namespace) -> int:
    from .benchmarks import CorpusError, run_codec_benchmark

    try:
        figures = run_codec_benchmark(args.corpus, passes=args.passes)
    except CorpusError as error:
        print(f"smets-emu bench codec: {error}", file=sys.stderr)
        return EXIT_USAGE
    print(json.dumps(figures.to_json(), indent=2) if args.json else figures.to_text())
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
