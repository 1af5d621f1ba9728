"""A fleet worker: one shard on the SMWAN, in one process (``smets-emu run --fleet --shard K``).

The worker runs the shard's virtual clock, its multiplexed WAN connection (``ShardLink``),
the fleet control plane and state topic (``FleetControl``), optionally a Prometheus endpoint,
and housekeeping: the clock saved and idle premises sent back to the store every few seconds.
``smets-emu run --fleet`` without ``--shard`` starts one worker process per shard
(``WorkerProcesses``), as one machine of a sharded fleet would.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from .fleet import Fleet
from .fleet_shard import FleetShard, FleetState
from .metrics import ShardMetrics
from .wan.fleet_control import FleetControl
from .wan.link import Broker, until_one_fails
from .wan.mux import ShardLink

__all__ = ["WorkerProcesses", "resident_kib", "run_shard"]


async def run_shard(fleet: Fleet, state: FleetState, shard_number: int, broker: Broker, *, speed: float = 1.0,
                    metrics_port: int | None = None, idle_after: float = 60.0,
                    ready: asyncio.Event | None = None, housekeeping: float = 5.0) -> None:  # fmt: skip
    """Run shard ``shard_number`` until cancelled. ``ready`` is set once its hubs' topics and
    the control topic are subscribed.

    Raises:
        ConfigError, StoreError: the shard cannot be opened (named).
        OSError: the metrics port is taken.
    """
    shard = FleetShard(fleet, state, shard_number, idle_after=idle_after)
    metrics: ShardMetrics | None = None
    try:
        link = ShardLink(shard, broker)

        def status() -> dict:
            return {**shard.status(), "sent": link.sent, "reconnects": link.reconnects, "connected": link.connected.is_set(),
                    "pid": os.getpid(), "rss_kib": resident_kib(os.getpid())}  # fmt: skip

        # Prometheus scrapes from a thread of its own: it reads this copy, refreshed on the
        # event loop, never the shard (whose store connection the loop is using).
        latest = status()
        link.metrics = metrics = ShardMetrics(shard_number, lambda: latest)
        if metrics_port is not None:
            metrics.serve(metrics_port)
        control = FleetControl(shard, broker, status)

        async def housekeep() -> None:
            nonlocal latest
            last = asyncio.get_running_loop().time()
            while True:
                await asyncio.sleep(1.0)
                latest = status()
                if asyncio.get_running_loop().time() - last >= housekeeping:
                    last = asyncio.get_running_loop().time()
                    shard.save_time()
                    shard.evict_idle()

        async def signal_ready() -> None:
            if ready is not None:
                await asyncio.gather(link.connected.wait(), control.subscribed.wait())
                ready.set()
            await asyncio.Event().wait()  # not the first to end

        await until_one_fails(shard.clock.flow(speed), link.run(), control.run(), housekeep(), signal_ready())
    finally:
        if metrics is not None:
            metrics.close()
        shard.close()


def resident_kib(pid: int) -> int:
    """A process's resident set size in KiB (Linux ``/proc``; 0 if it is gone)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return 0


class WorkerProcesses:
    """One ``smets-emu run --fleet --shard K`` process per shard given, started together and
    stopped together (SIGTERM, then SIGKILL after ``grace`` seconds)."""

    def __init__(self, fleet_file: Path, state: Path, broker: Broker, shards: Sequence[int], *,
                 speed: float = 1.0, metrics_port: int | None = None, log_dir: Path | None = None) -> None:  # fmt: skip
        self.processes: dict[int, subprocess.Popen[bytes]] = {}
        self._arguments = (fleet_file, state, broker, speed, metrics_port, log_dir)
        self.shards = list(shards)

    def start(self) -> None:
        fleet_file, state, broker, speed, metrics_port, log_dir = self._arguments
        for shard in self.shards:
            command = [sys.executable, "-m", "emulator.cli", "run", "--fleet", str(fleet_file), "--state", str(state),
                       "--shard", str(shard), "--broker", _url(broker), "--speed", repr(speed), "--quiet"]  # fmt: skip
            if metrics_port is not None:
                command += ["--metrics-port", str(metrics_port + shard)]
            output = open(log_dir / f"shard-{shard}.log", "ab") if log_dir else subprocess.DEVNULL  # noqa: SIM115
            self.processes[shard] = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT)
            if log_dir:
                output.close()  # type: ignore[union-attr]

    def failed(self) -> dict[int, int]:
        """Shards whose process has ended, with its exit status."""
        return {shard: code for shard, process in self.processes.items() if (code := process.poll()) is not None}

    def stop(self, grace: float = 10.0) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in self.processes.values():
            try:
                process.wait(grace)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()

    def __enter__(self) -> WorkerProcesses:
        self.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()


def _url(broker: Broker) -> str:
    if broker.username is None:
        return broker.url
    from urllib.parse import quote

    return f"mqtt://{quote(broker.username, safe='')}:{quote(broker.password or '', safe='')}@{broker.host}:{broker.port}"
