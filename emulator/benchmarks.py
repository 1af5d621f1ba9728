"""Benchmarks that print figures (never timed tests): ``smets-emu bench codec`` and
``smets-emu bench firmware``, the memory of many premises, and command round trips over the
SMWAN through mosquitto (``run_wan_benchmark``).

The firmware benchmark sends fresh MACed commands through an emulated CHF's command path
with a SQLite file store (WAL), then the same commands again (every one refused as a
replay), and compares with the codec work alone (verify the MAC, MAC the response).

The codec benchmark runs over the whole RTDS corpus and reports frames per second for
parse-only, parse+verify, full decode (header, verification and payload) and build+sign,
and the ratio of parse+verify to the bare
``cryptography`` cost of the same signature and MAC checks, measured in the same run:
ECDSA verifications with the DER signatures and public keys ready, and for each MAC the KDF
and the GCM tag with the shared secret ready (the codec caches it per key pair too). Each
figure is the best of ``passes`` passes, which is the least disturbed by the rest of the
machine.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.concatkdf import ConcatKDFHash

import gbcs
from gbcs import security
from gbcs.crypto import KDF_ALGORITHM_ID
from gbcs.errors import GbcsError
from gbcs.keystore import InMemoryKeyStore, KeyUsage
from gbcs.payload import decode_payload
from gbcs.security import Check
from gbcs.types import DeviceType

if TYPE_CHECKING:
    from .site import Site
    from .wan.link import Broker  # not imported at run time: aiomqtt only for the WAN benchmark


class CorpusError(Exception):
    """The corpus directory is missing or unusable."""


@dataclass(frozen=True)
class CodecFigures:
    frames: int
    signatures: int
    macs: int
    parse_seconds: float
    verify_seconds: float
    full_seconds: float
    build_seconds: float
    bare_seconds: float
    built_signed: int
    built_maced: int

    @property
    def ratio(self) -> float:
        return self.verify_seconds / self.bare_seconds

    def to_json(self) -> dict:
        return {
            "frames": self.frames,
            "signatures_checked": self.signatures,
            "macs_checked": self.macs,
            "parse_only_frames_per_second": round(self.frames / self.parse_seconds),
            "parse_verify_frames_per_second": round(self.frames / self.verify_seconds),
            "full_decode_frames_per_second": round(self.frames / self.full_seconds),
            "build_sign_frames_per_second": round(self.frames / self.build_seconds),
            "frames_signed_in_build": self.built_signed,
            "frames_maced_in_build": self.built_maced,
            "parse_verify_ms_per_pass": round(self.verify_seconds * 1000, 2),
            "bare_cryptography_ms_per_pass": round(self.bare_seconds * 1000, 2),
            "parse_verify_over_bare_cryptography": round(self.ratio, 2),
        }

    def to_text(self) -> str:
        figures = self.to_json()
        return "\n".join(
            [
                f"GBCS codec over the RTDS corpus: {self.frames} frames, {self.signatures} "
                f"signatures and {self.macs} MACs checked per pass (best of the passes, one core)",
                f"  parse only          {figures['parse_only_frames_per_second']:>10,} frames/s",
                f"  parse + verify      {figures['parse_verify_frames_per_second']:>10,} frames/s"
                f"   ({figures['parse_verify_ms_per_pass']} ms per pass)",
                f"  full decode         {figures['full_decode_frames_per_second']:>10,} frames/s"
                "   (header + verify + payload, decrypted where the keys allow)",
                f"  build + sign        {figures['build_sign_frames_per_second']:>10,} frames/s"
                f"   ({self.built_signed} signed, {self.built_maced} MACed per pass)",
                f"  bare cryptography   {figures['bare_cryptography_ms_per_pass']:>10} ms per pass"
                " (the same signature and MAC checks)",
                f"  parse + verify / bare cryptography = {self.ratio:.2f}x",
            ]
        )


def load_corpus(corpus: Path) -> tuple[list[bytes], InMemoryKeyStore]:
    """The corpus's messages as bytes and its key store.

    Raises:
        CorpusError: no messages, or the key store cannot be read.
    """
    files = sorted((corpus / "messages").glob("*/*.HEX"))
    if not files:
        raise CorpusError(f"no messages under {corpus / 'messages'} (expected */*.HEX)")
    try:
        keystore = InMemoryKeyStore.from_directory(corpus / "keystore")
        messages = [bytes.fromhex(file.read_text()) for file in files]
    except (GbcsError, OSError, ValueError) as error:
        raise CorpusError(str(error)) from error
    return messages, keystore


def run_codec_benchmark(corpus: Path, passes: int = 5) -> CodecFigures:
    messages, keystore = load_corpus(corpus)
    frames = [gbcs.decode(message) for message in messages]
    for frame in frames:  # warm the key store's caches: keys are built once, secrets per pair
        security.verify(frame, keystore)

    def parse() -> None:
        for message in messages:
            gbcs.decode(message)

    def parse_and_verify() -> None:
        for message in messages:
            security.verify(gbcs.decode(message), keystore)

    def full_decode() -> None:
        for message in messages:
            frame = gbcs.decode(message)
            security.verify(frame, keystore)
            decode_payload(frame, keystore)

    build, signed, maced = _build_and_sign(frames, keystore)
    bare, signatures, macs = _bare_cryptography(frames, keystore)
    return CodecFigures(
        frames=len(messages),
        signatures=signatures,
        macs=macs,
        parse_seconds=_best(parse, passes),
        verify_seconds=_best(parse_and_verify, passes),
        full_seconds=_best(full_decode, passes),
        build_seconds=_best(build, passes),
        bare_seconds=_best(bare, passes),
        built_signed=signed,
        built_maced=maced,
    )


def _best(work: Callable[[], None], passes: int) -> float:
    best = float("inf")
    for _ in range(passes):
        start = time.perf_counter()
        work()
        best = min(best, time.perf_counter() - start)
    return best


def _build_and_sign(frames, keystore) -> tuple[Callable[[], None], int, int]:
    """Rebuild every frame from typed values: signed where the corpus frame is signed and the
    originator's private key is held, MACed likewise, then encoded."""
    plans = []
    for frame in frames:
        if isinstance(frame, gbcs.Block):
            continue
        key = keystore.private_key(frame.originator, KeyUsage.DS) if frame.signature else None
        mac = frame.mac is not None and security.check_mac(frame, keystore) is Check.VALID
        typed = dataclasses.replace(frame, signature=None, mac=None)
        plans.append((typed, key, mac))

    def build() -> None:
        for typed, key, mac in plans:
            frame = typed
            if key is not None:
                frame = security.sign(frame, key)
            if mac:
                frame = security.add_mac(frame, keystore)
            gbcs.encode(frame)

    signed = sum(key is not None for _, key, _ in plans)
    maced = sum(mac for _, _, mac in plans)
    return build, signed, maced


def _bare_cryptography(frames, keystore) -> tuple[Callable[[], None], int, int]:
    """The signature and MAC checks parse+verify makes, as bare ``cryptography`` calls."""
    ecdsa = ec.ECDSA(hashes.SHA256())
    signatures, macs = [], []
    for frame in frames:
        if isinstance(frame, gbcs.Block):
            continue
        apdu, signed_end = frame.general_signing_apdu()
        if frame.signature is not None:
            public_key = keystore.public_key(frame.originator, KeyUsage.DS)
            if public_key is not None:
                der = encode_dss_signature(int.from_bytes(frame.signature[:32], "big"),
                                           int.from_bytes(frame.signature[32:], "big"))  # fmt: skip
                signatures.append((public_key, der, apdu[1:signed_end]))
        if frame.mac is not None:
            parties = security.mac_parties(frame, keystore)
            secret = None if parties is None else keystore.shared_secret(*parties)
            if secret is not None:
                other_info = (KDF_ALGORITHM_ID + frame.originator + bytes((9, frame.cra))
                              + frame.originator_counter.to_bytes(8, "big") + frame.recipient)  # fmt: skip
                iv = frame.originator + frame.invocation_counter.to_bytes(4, "big")
                aad = bytes((frame.security_control,)) + bytes(5) + apdu
                macs.append((secret, other_info, iv, aad, frame.mac))

    def bare() -> None:
        for public_key, der, data in signatures:
            public_key.verify(der, data, ecdsa)
        for secret, other_info, iv, aad, tag in macs:
            key = ConcatKDFHash(hashes.SHA256(), 16, other_info).derive(secret)
            if AESGCM(key).encrypt(iv, b"", aad)[:12] != tag:
                raise AssertionError("the bare MAC check disagrees with the corpus")

    return bare, len(signatures), len(macs)


@dataclass(frozen=True)
class FirmwareFigures:
    commands: int
    accepted_seconds: float
    refused_seconds: float
    codec_seconds: float  # verify the command's MAC and MAC the response: the crypto floor

    def to_json(self) -> dict:
        return {
            "commands": self.commands,
            "accepted_commands_per_second": round(self.commands / self.accepted_seconds),
            "refused_commands_per_second": round(self.commands / self.refused_seconds),
            "codec_only_commands_per_second": round(self.commands / self.codec_seconds),
            "accepted_over_codec_only": round(self.accepted_seconds / self.codec_seconds, 2),
        }

    def to_text(self) -> str:
        figures = self.to_json()
        return "\n".join([
            f"CHF command path, {self.commands} commands (ECS26n read, MACed by the ACB; SQLite WAL file store; one core)",
            f"  accepted            {figures['accepted_commands_per_second']:>10,} commands/s"
            "   (decode, MAC, anti-replay, execute, MACed response, commit)",
            f"  refused (replayed)  {figures['refused_commands_per_second']:>10,} commands/s   (logged in its own transaction)",
            f"  codec only          {figures['codec_only_commands_per_second']:>10,} commands/s   (verify + MAC the response, no store)",
            f"  accepted / codec only = {figures['accepted_over_codec_only']}x",
        ])  # fmt: skip


def run_firmware_benchmark(commands: int = 2000) -> FirmwareFigures:
    """Commands per second through ``process_command`` on an emulated CHF with a real store."""
    import tempfile
    from datetime import datetime, timedelta, timezone

    from gbcs.dlms import AccessRequest, Data, Obis, RequestKind, RequestSpecification, encode_apdu
    from gbcs.types import EUI64, DeviceType, Role

    from .clock import VirtualClock
    from .firmware.command import process_command
    from .firmware.device import Credentials, Device, Identity
    from .headend import HeadEnd
    from .pki_store import PkiStore
    from .store import Store

    now = datetime(2026, 12, 1, tzinfo=timezone.utc)
    chf_eui = EUI64("00DB1234567890A2")
    with tempfile.TemporaryDirectory() as directory:
        pki = PkiStore.create(Path(directory) / "pki", now=now - timedelta(days=1))
        pki.issue_device(chf_eui, DeviceType.CHF)
        keystore = pki.keystore()
        chf = Device.create(Store(Path(directory) / "premises.sqlite"), VirtualClock(now), Identity(chf_eui, DeviceType.CHF),
                            Credentials.from_keystore(keystore, chf_eui), pki.trust_anchor_cells())  # fmt: skip
        read_model = encode_apdu(AccessRequest(0x20000001, b"", (RequestSpecification(RequestKind.GET, 1, Obis("0.0.96.1.4.255"), 2),),
                                               (Data.null(),)))  # fmt: skip
        head_end = HeadEnd(keystore)
        frames = [head_end.command(0x00FA, chf_eui, read_model, role=Role.ACCESS_CONTROL_BROKER) for _ in range(commands)]

        start = time.perf_counter()
        for frame in frames:
            process_command(chf, frame)
        accepted = time.perf_counter() - start
        start = time.perf_counter()
        for frame in frames:
            process_command(chf, frame)  # every one a replay now
        refused = time.perf_counter() - start

        def codec_only() -> None:
            for data in frames:
                frame = gbcs.decode(data)
                security.check_mac(frame, chf.keystore(), broker=head_end.party(Role.ACCESS_CONTROL_BROKER))
                reply = dataclasses.replace(frame, cra=gbcs.Cra.RESPONSE, originator=frame.recipient, recipient=frame.originator, mac=None)
                gbcs.encode(gbcs.add_mac(reply, chf.keystore()))

        codec = _best(codec_only, 1)
        chf.store.close()
    return FirmwareFigures(commands, accepted, refused, codec)


@dataclass(frozen=True)
class MemoryFigures:
    premises: int
    shared_store: bool  # one SQLite store for every premises (a fleet worker's), or one each
    bytes_per_premises: int  # resident memory each commissioned premises adds, no log read yet
    log_read_bytes: int  # resident memory added by reading 13 months of half-hourly profile once
    log_rows: int
    log_read_seconds: float

    def to_json(self) -> dict:
        return {"premises": self.premises, "store": "shared" if self.shared_store else "one per premises",
                "resident_bytes_per_premises": self.bytes_per_premises,
                "resident_kib_per_premises": round(self.bytes_per_premises / 1024, 1),
                "log_read_resident_bytes": self.log_read_bytes, "log_rows": self.log_rows,
                "log_read_seconds": round(self.log_read_seconds, 3)}  # fmt: skip

    def to_text(self) -> str:
        figures = self.to_json()
        return "\n".join([
            f"{self.premises} commissioned premises (CHF, GPF, ESME, GSME, IHD; every log available), "
            f"{'one SQLite store for all' if self.shared_store else 'one SQLite store each'}",
            f"  resident memory per premises   {figures['resident_kib_per_premises']:>8} KiB   (no log read yet)",
            f"  reading 13 months of half-hours {self.log_rows:>7} rows in {figures['log_read_seconds']} s,"
            f" +{self.log_read_bytes // 1024} KiB resident while held",
        ])  # fmt: skip


def resident_bytes() -> int:
    """This process's resident set size (Linux /proc; elsewhere the peak, from getrusage)."""
    try:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:
        import resource

        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def run_memory_benchmark(premises: int = 100, *, shared_store: bool = True) -> MemoryFigures:
    """Resident memory per commissioned premises before any log is read, and what reading the
    longest log (13 months of half-hourly import) adds. A SQLite connection costs ~150 KiB of
    its own (page cache, lookaside, WAL index): premises sharing one store (``shared_store``;
    ``Premises.create`` takes any store, and each device's state is keyed by its EUI-64) pay
    it once, premises with a store each pay it each."""
    import gc
    import tempfile
    from datetime import datetime, timedelta, timezone

    from gbcs.dlms import (
        AccessRequest,
        Data,
        DataType,
        Obis,
        RequestKind,
        RequestSpecification,
        decode_apdu,
        encode_apdu,
    )
    from gbcs.types import Role

    from .clock import VirtualClock
    from .firmware.command import process_command
    from .firmware.cosem import seconds_since_2000
    from .headend import HeadEnd
    from .pki_store import PkiStore
    from .premises import Premises, PremisesConfig
    from .store import Store

    now = datetime(2026, 12, 1, tzinfo=timezone.utc)
    with tempfile.TemporaryDirectory() as directory:
        pki = PkiStore.create(Path(directory) / "pki", now=now - timedelta(days=1))
        configs = [PremisesConfig.standard(number) for number in range(premises + 1)]
        for config in configs:  # credentials first: issuing them is not the premises' cost
            for eui, device_type in config.devices.items():
                pki.issue_device(eui, device_type)
        clock = VirtualClock(now)
        shared = Store(Path(directory) / "premises.sqlite") if shared_store else None

        def commissioned(number: int) -> Premises:
            store = shared or Store(Path(directory) / f"premises-{number}.sqlite")
            site = Premises.create(store, clock, pki, configs[number])
            site.commission()
            return site

        held = [commissioned(0)]  # warm-up: imports, caches, the first of everything
        gc.collect()
        before = resident_bytes()
        held += [commissioned(number) for number in range(1, premises + 1)]
        gc.collect()
        per_premises = (resident_bytes() - before) // premises

        site = held[-1]
        esme = next(device for device in site.devices.values() if device.identity.device_type.name == "ESME")
        selection = Data.structure(
            Data.structure(Data.integer(DataType.UINT16, 8), Data.octet_string(bytes(Obis("0.0.1.0.0.255"))),
                           Data.integer(DataType.INT8, 2), Data.integer(DataType.UINT16, 0)),
            Data.integer(DataType.UINT32, seconds_since_2000(now - timedelta(days=396))),
            Data.integer(DataType.UINT32, seconds_since_2000(now)), Data.array())  # fmt: skip
        request = encode_apdu(AccessRequest(0x20000001, b"", (RequestSpecification(
            RequestKind.GET_WITH_SELECTION, 7, Obis("0.0.99.1.0.255"), 2, selector=1, selection=selection),), (Data.null(),)))  # fmt: skip
        frame = HeadEnd(pki.keystore()).command(0x0059, esme.eui, request, role=Role.SUPPLIER)
        gc.collect()
        before = resident_bytes()
        start = time.perf_counter()
        outcome = process_command(esme, frame)
        seconds = time.perf_counter() - start
        added = resident_bytes() - before
        rows = len(decode_apdu(gbcs.decode(outcome.response).content).data[0].value[1])
        for store in {id(site.store): site.store for site in held}.values():
            store.close()
    return MemoryFigures(premises, shared_store, per_premises, added, rows, seconds)


# -- command round trips over the SMWAN -------------------------------------------------------

# Theory of operation (run_wan_benchmark): everything runs in this one process and on one
# asyncio loop, as `smets-emu run` does (a site of N premises, each hub with its HubLink and
# its own MQTT connection) plus one head-end connection; only mosquitto is another process.
# So a figure is what one emulator process answers through a real broker with a head-end
# beside it, not what the broker alone can carry.

_WAN_TARGETS = {"CHF": "CHF", "ESME": "ESME over the HAN"}
_WAN_TIMEOUT = 60.0  # seconds for one response; a broker or site that stalls fails the run


@dataclass(frozen=True)
class WanFigures:
    """What ``run_wan_benchmark`` measured."""

    premises: int
    commands: int
    answered: int  # responses that came back and checked (the run raises unless all did)
    concurrency: int  # commands in flight at once, from the one head-end
    seconds: float  # wall time from the first command sent to the last response received
    round_trips_per_s: float
    latency_ms_p50: float  # publish of the command to its response at the head-end
    latency_ms_p99: float
    cpu_seconds: float  # this process's CPU time (site and head-end; not mosquitto's) over ``seconds``
    broker: str
    target: str  # "CHF" (answered by the hub) or "ESME over the HAN" (relayed by the hub)
    speed: float  # the site's virtual seconds per real second

    def to_json(self) -> dict:
        return {
            "premises": self.premises, "target": self.target, "commands": self.commands,
            "answered": self.answered, "concurrency": self.concurrency, "seconds": round(self.seconds, 3),
            "round_trips_per_s": round(self.round_trips_per_s, 1),
            "latency_ms_p50": round(self.latency_ms_p50, 2), "latency_ms_p99": round(self.latency_ms_p99, 2),
            "cpu_seconds": round(self.cpu_seconds, 3), "cpu_ms_per_round_trip": round(self.cpu_seconds * 1000 / self.commands, 2),
            "broker": self.broker, "speed": self.speed,
        }  # fmt: skip

    def to_text(self) -> str:
        figures = self.to_json()
        return "\n".join([
            f"SMWAN round trips to the {self.target}: {self.premises} premises, {self.commands} commands, "
            f"{self.concurrency} in flight (broker {self.broker}; site and head-end in one process, one core)",
            f"  round trips         {figures['round_trips_per_s']:>10,} /s   ({self.answered} answered and MAC-checked "
            f"in {figures['seconds']} s)",
            f"  latency             {figures['latency_ms_p50']:>10} ms p50, {figures['latency_ms_p99']} ms p99"
            "   (command published to response received)",
            f"  emulator CPU        {figures['cpu_ms_per_round_trip']:>10} ms per round trip"
            f"   ({self.cpu_seconds / self.seconds:.0%} of a core: site and head-end, not mosquitto)",
        ])  # fmt: skip


class WanBenchmarkError(Exception):
    """Commands of the WAN benchmark went unanswered, or answers failed their checks."""


def run_wan_benchmark(premises: int = 1, commands: int = 500, *, target: DeviceType = DeviceType.CHF,
                      broker: Broker | None = None, concurrency: int | None = None,
                      speed: float = 60.0) -> WanFigures:  # fmt: skip
    """Command round trips per second through an MQTT broker to a site of ``premises`` hubs.

    A site of ``premises`` commissioned premises is made in a temporary state directory and
    run on ``broker`` (default: a mosquitto of our own, started in a temporary directory with
    the shipped settings and stopped after). One ``WanHeadEnd`` sends ``commands`` read
    commands round-robin across the hubs, at most ``concurrency`` in flight, and checks each
    response's MAC.

    Args:
        premises: how many premises (hubs) the site runs.
        commands: how many commands in all.
        target: ``DeviceType.CHF`` (default; ECS26n, read the hub's identity, answered by the
            hub itself) or ``DeviceType.ESME`` (ECS26e, read the meter's identity, relayed by
            the hub over the simulated HAN and answered through its tunnel).
        broker: a broker already running. The hubs' sessions (``chf-<EUI-64>``, the same
            EUI-64s every run) stay on it, as a site's do; the head-end's is removed after.
            Commands queued there for those hubs by an earlier run would confuse this one.
        concurrency: commands in flight at once; default one per premises, as a head-end
            keeps one outstanding command per hub.
        speed: the site's virtual clock speed (see the comment in the body).

    Returns:
        the figures; commands == answered.

    Raises:
        WanBenchmarkError: a command went unanswered within 60 s, or a response failed its
            checks (not a MACed response from the target).
        emulator.wan.mosquitto.MosquittoError: no mosquitto to start.
        ValueError: premises, commands or concurrency below 1, or another target.
    """
    import asyncio
    import contextlib
    import tempfile
    from datetime import datetime, timezone

    from .site import Site, SiteConfig
    from .wan.mosquitto import MosquittoProcess

    target = DeviceType(target)
    if target.name not in _WAN_TARGETS:
        raise ValueError(f"target must be the CHF or the ESME, not {target.name}")
    concurrency = premises if concurrency is None else concurrency
    if min(premises, commands, concurrency) < 1:
        raise ValueError("premises, commands and concurrency must be at least 1")
    with tempfile.TemporaryDirectory(prefix="smets-emu-bench-wan-") as directory, contextlib.ExitStack() as stack:
        if broker is None:
            mosquitto = stack.enter_context(MosquittoProcess(Path(directory) / "mosquitto"))  # stopped on any exit
            broker, where = mosquitto.broker, f"mosquitto of our own at {mosquitto.broker.url}"
        else:
            where = broker.url
        # Speed: a command to the ESME and its answer each cross the simulated HAN (40 ms of
        # virtual time a frame: 20 ms per node, emulator/han/sim.py), and the meter answers
        # only as virtual time passes. The site's clock moves in 10 ms real ticks
        # (VirtualClock.flow), so from speed 8 on the 80 ms round trip fits in one tick; at
        # 60 (a minute a second) it is 1.3 ms real, and the figures measure the emulator and
        # the broker, not simulated radio delay. Faster buys nothing here and costs much:
        # meters' timed work scales with speed (each sleepy GSME wakes every 30 virtual
        # minutes, ~5 ms of CPU a wake): a virtual hour of 100 premises takes ~1 s of CPU, so
        # at 3600 the loop never catches up and hubs miss their MQTT keepalives (measured:
        # mosquitto dropped 77 of 100 for "exceeded timeout"). At 60 it is ~2% of a core.
        site = Site.open(SiteConfig(premises=premises, state=Path(directory) / "state", speed=speed,
                                    start=datetime.now(timezone.utc)))  # fmt: skip
        stack.callback(site.close)
        latencies, seconds, cpu = asyncio.run(_wan_round_trips(site, broker, target, commands, concurrency))
    latencies.sort()
    return WanFigures(premises=premises, commands=commands, answered=len(latencies), concurrency=concurrency,
                      seconds=seconds, round_trips_per_s=len(latencies) / seconds,
                      latency_ms_p50=_percentile(latencies, 0.50) * 1000, latency_ms_p99=_percentile(latencies, 0.99) * 1000,
                      cpu_seconds=cpu, broker=where, target=_WAN_TARGETS[target.name], speed=speed)  # fmt: skip


def _quiet_pending_publishes(record: logging.LogRecord) -> bool:
    return not record.getMessage().endswith("pending publish calls.")


def _percentile(ordered: list[float], fraction: float) -> float:
    """The nearest-rank percentile of sorted values."""
    import math

    return ordered[max(math.ceil(fraction * len(ordered)), 1) - 1]


async def _wan_round_trips(site: Site, broker: Broker, target: DeviceType, commands: int, concurrency: int) -> tuple[list[float], float, float]:
    """Run ``site`` on ``broker``, send the commands from one head-end, and return each round
    trip's seconds, the wall time of them all and the CPU time this process spent meanwhile."""
    import asyncio
    import contextlib

    import aiomqtt

    from gbcs.commands import builder
    from gbcs.dlms import AccessRequest, Data, Obis, RequestKind, RequestSpecification, encode_apdu
    from gbcs.types import Role

    from .errors import LinkDown, NoResponse
    from .headend import HeadEnd
    from .wan.headend import WanHeadEnd

    mqtt_log = logging.getLogger("mqtt")  # aiomqtt's
    identifier = f"bench-head-end-{os.getpid()}"
    keystore = site.pki.keystore()
    head_end = HeadEnd(keystore)  # one for every command: each party's counters only grow
    hubs = [(bytes(premises.chf.eui), premises.config.of_type(target)[0]) for premises in site.premises]
    read_identity = builder("ECS26e")
    identity_params = read_identity.parse({})

    def command(recipient: bytes) -> bytes:
        # Takes the party's next counter now: commands are built in the order they are sent.
        if target is DeviceType.CHF:  # ECS26n as RTDS 6.2.4_ECS26n has it: the ACB, for the supplier
            counter = head_end.next_counter(head_end.party(Role.ACCESS_CONTROL_BROKER))
            request = AccessRequest(0x20 << 24 | counter & 0xFFFFFF, b"", tuple(
                RequestSpecification(RequestKind.GET, 1, Obis(obis), 2) for obis in ("0.0.96.1.4.255", "0.0.96.1.6.255")),
                (Data.null(), Data.null()))  # fmt: skip
            return head_end.command(0x00FA, recipient, encode_apdu(request), role=Role.ACCESS_CONTROL_BROKER,
                                    for_party=Role.SUPPLIER, counter=counter)  # fmt: skip
        originator = head_end.party(read_identity.role)
        counter = head_end.next_counter(originator)
        content = read_identity.content(identity_params, counter=counter, originator=originator, recipient=recipient)
        return head_end.command(read_identity.message_code, recipient, content, role=read_identity.role, counter=counter)

    latencies: list[float] = []
    failures: list[str] = []

    async def worker(wan: WanHeadEnd, first: int) -> None:
        # Worker w sends commands w, w + concurrency, ...: with the default concurrency (one
        # per premises) that is always the same hub, one command outstanding at a time.
        for index in range(first, commands, concurrency):
            hub, recipient = hubs[index % len(hubs)]
            data = command(recipient)
            sent = time.perf_counter()
            try:
                response = await wan.exchange(hub, data, timeout=_WAN_TIMEOUT)
            except (NoResponse, LinkDown) as error:
                failures.append(str(error))
                continue
            answered = time.perf_counter()
            frame, verdict = head_end.check(response, at=site.clock.now())
            if frame.originator != recipient or verdict.mac is not Check.VALID:
                failures.append(f"a response from {frame.originator} (expected {recipient.hex().upper()}), "
                                f"MAC {verdict.mac.name}")  # fmt: skip
                continue
            latencies.append(answered - sent)

    ready = asyncio.Event()
    running = asyncio.create_task(site.run(broker, ready=ready))
    try:
        waiting = asyncio.create_task(ready.wait())
        await asyncio.wait({running, waiting}, timeout=max(30.0, 0.5 * len(hubs)), return_when=asyncio.FIRST_COMPLETED)
        waiting.cancel()
        if running.done():
            running.result()  # raises what stopped the site
        if not ready.is_set():
            raise WanBenchmarkError(f"the site's {len(hubs)} hubs did not all connect to {broker.url}")
        # aiomqtt warns of more than 10 publishes awaiting their PUBACK on one client, as
        # the head-end has by design here; the warning would only bury the figures.
        mqtt_log.addFilter(_quiet_pending_publishes)
        async with WanHeadEnd(broker, identifier=identifier) as wan:
            start, cpu_start = time.perf_counter(), time.process_time()
            async with asyncio.TaskGroup() as group:
                for first in range(min(concurrency, commands)):
                    group.create_task(worker(wan, first))
            seconds, cpu = time.perf_counter() - start, time.process_time() - cpu_start
    finally:
        mqtt_log.removeFilter(_quiet_pending_publishes)
        running.cancel()
        await asyncio.gather(running, return_exceptions=True)
        with contextlib.suppress(aiomqtt.MqttError):  # a clean session ends the head-end's persistent one
            async with aiomqtt.Client(broker.host, broker.port, identifier=identifier, username=broker.username,
                                      password=broker.password, clean_session=True):  # fmt: skip
                pass
    if failures:
        raise WanBenchmarkError(f"{len(failures)} of {commands} commands failed; the first: {failures[0]}")
    return latencies, seconds, cpu
