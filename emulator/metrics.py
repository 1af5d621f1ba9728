"""A fleet worker's Prometheus metrics (``prometheus_client``), served over HTTP on the
port ``smets-emu run --fleet --metrics-port`` gives (shard K on that port + K).

The figures are read from the worker's own status at each scrape, so the status topic, the
live display and Prometheus can never disagree; only the command latency is a histogram of
its own. Every metric carries the worker's ``shard`` label, so one scrape configuration
covers every worker of every machine.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from prometheus_client import CollectorRegistry, Histogram, start_http_server
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

__all__ = ["FIGURES", "ShardMetrics"]

# status key -> (gauge or counter, metric name, help)
FIGURES = {
    "premises": ("gauge", "smets_emu_premises", "Premises this worker runs"),
    "active": ("gauge", "smets_emu_premises_in_memory", "Premises materialised (touched lately)"),
    "dark": ("gauge", "smets_emu_premises_without_mains", "Premises whose mains are cut"),
    "backlog": ("gauge", "smets_emu_wan_backlog_frames", "Frames the hubs have queued for the WAN, not yet sent"),
    "commands": ("counter", "smets_emu_commands", "Commands the hubs heard from the WAN"),
    "dropped": ("counter", "smets_emu_commands_dropped", "Commands for a dark hub or a hub of another shard"),
    "sent": ("counter", "smets_emu_frames_sent", "Responses and alerts published to the WAN"),
    "alerts": ("counter", "smets_emu_alerts_raised", "Power-outage alerts the meters raised"),
    "reconnects": ("counter", "smets_emu_wan_reconnects", "Times the worker's WAN connection came back"),
}


class _Status(Collector):
    def __init__(self, status: Callable[[], Mapping[str, object]], shard: int) -> None:
        self._status, self._shard = status, str(shard)

    def collect(self) -> Iterator[Metric]:
        status = self._status()
        for key, (kind, name, text) in FIGURES.items():
            family = (GaugeMetricFamily if kind == "gauge" else CounterMetricFamily)(name, text, labels=["shard"])
            family.add_metric([self._shard], float(status.get(key, 0)))  # type: ignore[arg-type]
            yield family


class ShardMetrics:
    """One shard's metrics, in a registry of its own (a process may run several in tests).

    Args:
        shard: the shard's number, the ``shard`` label.
        status: the worker's status (``FIGURES`` names the keys read).
    """

    def __init__(self, shard: int, status: Callable[[], Mapping[str, object]]) -> None:
        self.registry = CollectorRegistry()
        self.registry.register(_Status(status, shard))
        self._server: tuple[Any, threading.Thread] | None = None
        self.latency = Histogram("smets_emu_command_latency_seconds", "From a command's arrival to its hub's next frame published",
                                 ["shard"], registry=self.registry,
                                 buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)).labels(str(shard))  # fmt: skip

    def serve(self, port: int, host: str = "0.0.0.0") -> None:
        """Serve ``/metrics`` on ``host:port`` from a thread, until ``close``.

        Raises:
            OSError: the port is taken.
        """
        self._server = start_http_server(port, addr=host, registry=self.registry)

    def close(self) -> None:
        """Stop serving and free the port (the shard is gone: its figures must go too)."""
        if self._server is not None:
            server, thread = self._server
            server.shutdown()
            server.server_close()
            thread.join()
            self._server = None
