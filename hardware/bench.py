"""``smets-emu hil bench``: what the radio bridge costs, on the simulated radio.

The same premises (CHF, GPF, ESME, GSME, IHD; ESME commands ECS17b, read by the meter and
answered through its tunnel) runs twice on a real-time clock: once with the hub on the
simulated radio through zigpy (``RadioHub``), once on the plain simulated HAN (the baseline).
Both airs have the simulated HAN's default latency (20 ms per device per frame), so a round
trip has 80 ms of air in it; the throughput figure sends every command at once and is bound
by the meter's cryptography, which both runs share.
"""

from __future__ import annotations

import asyncio
import statistics
import tempfile
import time
from dataclasses import asdict, dataclass
from datetime import timedelta
from pathlib import Path

import gbcs
from emulator.clock import RealClock
from emulator.headend import HeadEnd
from emulator.pki_store import PkiStore
from emulator.premises import Premises, PremisesConfig
from emulator.store import Store
from gbcs.commands import builder
from gbcs.types import Cra, DeviceType

from .hub import RadioHub

__all__ = ["HilFigures", "run_hil_benchmark"]


@dataclass(frozen=True)
class HilFigures:
    start_s: float  # radio up, network formed, three devices joined and interviewed, the ESME's tunnel open
    round_trip_ms: float  # median, one command at a time, through the radio
    round_trip_baseline_ms: float  # the same on the plain simulated HAN
    commands_per_s: float  # all at once, through the radio
    commands_per_s_baseline: float
    commands: int

    @property
    def ratio(self) -> float:
        """Throughput through the radio over the baseline's (1.0: the bridge costs nothing)."""
        return self.commands_per_s / self.commands_per_s_baseline

    def to_dict(self) -> dict[str, float]:
        return {**asdict(self), "ratio": round(self.ratio, 3)}

    def to_text(self) -> str:
        return (f"start on the simulated radio:  {self.start_s:.3f} s\n"
                f"round trip (median):           {self.round_trip_ms:.1f} ms radio, {self.round_trip_baseline_ms:.1f} ms simulated HAN\n"
                f"{self.commands} commands at once:         {self.commands_per_s:.0f}/s radio, {self.commands_per_s_baseline:.0f}/s "
                f"simulated HAN (ratio {self.ratio:.2f})")  # fmt: skip


def run_hil_benchmark(commands: int = 300, round_trips: int = 30) -> HilFigures:
    with tempfile.TemporaryDirectory() as directory:
        return asyncio.run(_measure(Path(directory), commands, round_trips))


async def _measure(directory: Path, commands: int, round_trips: int) -> HilFigures:
    started = time.perf_counter()
    hub = await RadioHub.start("sim", str(directory / "radio.json"), directory / "radio-hub")
    start_s = time.perf_counter() - started
    try:
        radio = await _drive(hub.premises, PkiStore.open(directory / "radio-hub" / "pki"), commands, round_trips)
    finally:
        await hub.stop()
    clock = RealClock()
    pki = PkiStore.create(directory / "pki", now=clock.now() - timedelta(days=1))
    premises = Premises.create(Store(directory / "premises.sqlite"), clock, pki, PremisesConfig.standard(1))
    premises.commission()
    esme = premises.config.of_type(DeviceType.ESME)[0]
    while not premises.tunnel_open(esme):
        await asyncio.sleep(0.005)
    try:
        baseline = await _drive(premises, pki, commands, round_trips)
    finally:
        premises.store.close()
    return HilFigures(round(start_s, 4), radio[0], baseline[0], radio[1], baseline[1], commands)


async def _drive(premises: Premises, pki: PkiStore, commands: int, round_trips: int) -> tuple[float, float]:
    """(median round trip in ms, commands per second with all sent at once)."""
    head_end, read = HeadEnd(pki.keystore()), builder("ECS17b")
    esme = premises.config.of_type(DeviceType.ESME)[0]
    times = []
    for _ in range(round_trips):
        frame = head_end.build(read, esme)
        started = time.perf_counter()
        premises.send(frame)
        await _answers(premises, 1)
        times.append(time.perf_counter() - started)
    frames = [head_end.build(read, esme) for _ in range(commands)]
    started = time.perf_counter()
    for frame in frames:
        premises.send(frame)
    await _answers(premises, commands)
    return round(statistics.median(times) * 1000, 1), round(commands / (time.perf_counter() - started), 1)


async def _answers(premises: Premises, count: int, timeout: float = 120.0) -> None:
    """Until ``count`` responses wait in the outbox; they are then taken (marked sent). Each
    must be the meter's response: a refusal would be counted as fast as an answer."""
    async with asyncio.timeout(timeout):
        while len(premises.wan_outbox()) < count:
            await asyncio.sleep(0.002)
    esme = premises.config.of_type(DeviceType.ESME)[0]
    for outbox_id, data in premises.wan_outbox():
        frame = gbcs.decode(data)
        if frame.originator != esme or frame.cra is not Cra.RESPONSE:
            raise RuntimeError(f"the benchmark's command was not answered by the meter: {frame.cra} from {frame.originator}")
        premises.mark_sent(outbox_id)
