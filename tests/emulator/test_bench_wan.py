"""The SMWAN benchmark (``emulator.benchmarks.run_wan_benchmark``) on a real mosquitto:
small runs complete with every command answered and checked, and the figures hold together.
No timing thresholds: how fast is the benchmark's to print, not a test's to judge."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from emulator.benchmarks import WanFigures, run_wan_benchmark
from emulator.wan.mosquitto import MosquittoProcess, find_mosquitto
from gbcs.types import DeviceType
from tests.conftest import NO_MOSQUITTO


@pytest.fixture(autouse=True)
def needs_mosquitto() -> None:
    if find_mosquitto() is None:
        print(NO_MOSQUITTO)
        pytest.skip(NO_MOSQUITTO)


def child_mosquittos() -> list[int]:
    """The PIDs of this process's mosquitto children (Linux /proc; empty elsewhere)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue  # it ended while we looked
        name, fields = text[text.index("(") + 1:text.rindex(")")], text[text.rindex(")") + 1:].split()
        if name == "mosquitto" and int(fields[1]) == os.getpid():  # fields: state, parent PID, ...
            found.append(int(stat.parent.name))
    return found


@pytest.mark.parametrize(("premises", "commands", "target", "concurrency"), [
    (1, 20, DeviceType.CHF, None),
    (3, 30, DeviceType.ESME, None),
    (1, 20, DeviceType.ESME, 4),  # four in flight to one hub: counters still reach it in order
], ids=["1-premises-CHF", "3-premises-ESME", "1-premises-ESME-4-in-flight"])  # fmt: skip
def test_a_small_run_answers_every_command_and_its_figures_agree(
        premises: int, commands: int, target: DeviceType, concurrency: int | None) -> None:  # fmt: skip
    figures = run_wan_benchmark(premises, commands, target=target, concurrency=concurrency)
    assert isinstance(figures, WanFigures)
    assert (figures.premises, figures.commands, figures.answered) == (premises, commands, commands)
    assert figures.concurrency == (concurrency or premises)
    assert figures.target == {DeviceType.CHF: "CHF", DeviceType.ESME: "ESME over the HAN"}[target]
    assert figures.seconds > 0 and figures.round_trips_per_s > 0 and figures.cpu_seconds > 0
    assert figures.round_trips_per_s == pytest.approx(commands / figures.seconds)
    assert 0 < figures.latency_ms_p50 <= figures.latency_ms_p99
    assert figures.latency_ms_p99 <= figures.seconds * 1000  # no round trip outlasts the run
    assert figures.broker.startswith("mosquitto of our own at mqtt://127.0.0.1:")
    document = figures.to_json()
    assert {"premises", "target", "commands", "answered", "concurrency", "seconds", "round_trips_per_s",
            "latency_ms_p50", "latency_ms_p99", "cpu_seconds", "broker", "speed"} <= set(document)  # fmt: skip
    assert document["answered"] == commands
    assert f"{commands} commands" in figures.to_text() and "p99" in figures.to_text()
    assert child_mosquittos() == []  # its mosquitto stopped with it


def test_targets_other_than_the_hub_and_the_meter_are_refused_before_anything_starts() -> None:
    with pytest.raises(ValueError, match="CHF or the ESME"):
        run_wan_benchmark(1, 1, target=DeviceType.GSME)
    with pytest.raises(ValueError, match="at least 1"):
        run_wan_benchmark(1, 0)
    assert child_mosquittos() == []


def test_runs_on_a_broker_it_is_given_and_again_on_the_same_one(tmp_path: Path) -> None:
    with MosquittoProcess(tmp_path / "mosquitto") as mosquitto:
        first, second = (run_wan_benchmark(2, 10, target=DeviceType.ESME, broker=mosquitto.broker) for _ in range(2))
        assert mosquitto.running  # left as it was given
    for figures in (first, second):
        assert (figures.answered, figures.broker) == (10, mosquitto.broker.url)
