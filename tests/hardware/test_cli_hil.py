"""``smets-emu hil`` as users run it: the hub on the simulated radio, its WAN on a real
mosquitto, a head-end command (``smets-emu send``) answered by a meter across the radio; and
bad input answered with a clear error and a usage exit status."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from emulator.cli import main
from emulator.wan.mosquitto import MosquittoProcess

SMETS_EMU = [sys.executable, "-m", "emulator.cli"]
ESME = "0A1B2C3D4E5F6071"  # given, so that the head-end can address it


@pytest.fixture
def hil_hub(tmp_path: Path, mosquitto: MosquittoProcess) -> Iterator[tuple[Path, str]]:
    """``smets-emu hil run --radio sim`` in its own process until the test ends: (state, CHF)."""
    state, radio, devices = tmp_path / "state", tmp_path / "radio.json", tmp_path / "devices.toml"
    devices.write_text(f'[[device]]\ntype = "ESME"\neui = "{ESME}"\n\n[[device]]\ntype = "IHD"\n')
    process = subprocess.Popen([*SMETS_EMU, "hil", "run", "--radio", "sim", "--port", str(radio), "--state", str(state),
                                "--premises", str(devices), "--broker", mosquitto.broker.url],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip
    deadline = time.monotonic() + 60
    while not (state / "broker.json").exists():
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, "smets-emu hil run did not start"
        time.sleep(0.1)
    chf = json.loads(radio.read_text())["coordinator_ieee"].upper()  # the radio's IEEE address is the CHF's
    yield state, chf
    process.send_signal(signal.SIGTERM)
    out, err = process.communicate(timeout=20)
    assert process.returncode == 0, err
    assert f"hub {chf} on the sim radio" in out and "2 device(s) joined" in out
    assert "stopped: 1 commands received" in out
    assert not (state / "broker.json").exists()


def test_a_head_end_command_reaches_the_meter_across_the_radio(hil_hub: tuple[Path, str], capsys) -> None:
    state, chf = hil_hub
    assert main(["send", "ECS17b", "--state", str(state), "--hub", chf, "--to", ESME, "--timeout", "20"]) == 0
    out = capsys.readouterr().out
    assert "0x0027 ECS17b" in out and "mac                   valid" in out and f"originator            {ESME}" in out


def test_running_on_a_radio_that_is_not_there_says_so(tmp_path: Path, capsys) -> None:
    assert main(["hil", "run", "--radio", "znp", "--port", "/dev/no-such-dongle", "--state", str(tmp_path)]) == 3
    assert "cannot reach the znp radio on /dev/no-such-dongle" in capsys.readouterr().err


@pytest.mark.parametrize(("content", "message"), [
    ("channel = 27", "channel must be a ZigBee channel 11 to 26"),
    ('[[device]]\ntype = "CHF"', "a CHF is not a HAN device"),
    ('[[device]]\ntype = "ESME"\nsimulated = false', "a real device needs its eui and install_code"),
    ('[[device]]\ntype = "ESME"\ninstall_code = "83FED3407A939723A5C639B26916D505C3B6"', "its length or CRC is wrong"),
    ('[[device]]\ntype = "ESME"\ncolour = "red"', "unknown key(s) colour"),
    ("channel = ", "not valid TOML"),
])  # fmt: skip
def test_a_bad_device_list_is_refused_with_what_is_wrong(tmp_path: Path, capsys, content: str, message: str) -> None:
    devices = tmp_path / "devices.toml"
    devices.write_text(content)
    assert main(["hil", "run", "--radio", "sim", "--port", str(tmp_path / "r.json"), "--state", str(tmp_path / "s"),
                 "--premises", str(devices)]) == 2  # fmt: skip
    assert message in capsys.readouterr().err
    assert not (tmp_path / "r.json").exists()  # refused before the radio was touched


@pytest.mark.parametrize(("kind", "message"), [("xbee", "is refused"), ("zigate", "is refused"), ("sonoff", "unknown radio kind")])
def test_unsupported_radios_are_refused_with_the_reason(tmp_path: Path, capsys, kind: str, message: str) -> None:
    assert main(["hil", "probe", "--radio", kind, "--port", "/dev/ttyUSB0"]) == 2
    assert message in capsys.readouterr().err


def test_a_radio_that_is_not_there_is_no_answer(capsys) -> None:
    assert main(["hil", "probe", "--radio", "znp", "--port", "/dev/no-such-dongle"]) == 3
    assert "cannot reach the znp radio on /dev/no-such-dongle" in capsys.readouterr().err


def test_a_simulated_radio_in_use_is_refused_to_a_second_process(tmp_path: Path, capsys) -> None:
    from emulator.state_files import hold_lock

    radio = tmp_path / "radio.json"
    with hold_lock(tmp_path / "radio.json.lock", "the test's radio"):
        assert main(["hil", "probe", "--radio", "sim", "--port", str(radio)]) == 2
    assert "another smets-emu process is running the simulated radio" in capsys.readouterr().err


def test_a_corrupt_simulated_radio_state_is_named(tmp_path: Path, capsys) -> None:
    radio = tmp_path / "radio.json"
    radio.write_text('{"metadata": ')
    assert main(["hil", "probe", "--radio", "sim", "--port", str(radio)]) == 3
    assert f"{radio} is not an open coordinator backup" in capsys.readouterr().err
    assert radio.read_text() == '{"metadata": '  # left as it was, for the user to look at


def test_the_benchmark_runs_both_ways_and_prints_its_figures(capsys) -> None:
    """No timing thresholds (the benchmark prints figures; a test judging them would flake):
    every command was answered by the meter (the benchmark checks each), both runs measured."""
    assert main(["hil", "bench", "--commands", "5", "--json"]) == 0
    figures = json.loads(capsys.readouterr().out)
    assert figures["commands"] == 5
    assert all(figures[key] > 0 for key in ("start_s", "round_trip_ms", "round_trip_baseline_ms", "commands_per_s",
                                             "commands_per_s_baseline"))  # fmt: skip
    assert figures["ratio"] == round(figures["commands_per_s"] / figures["commands_per_s_baseline"], 3)


def test_a_radio_failing_at_start_up_is_an_error_and_the_process_ends(tmp_path: Path) -> None:
    """Past the probe (``--hub-eui``), into zigpy's start-up: a clear error, exit 3, and the
    process gone at once (a thread left behind would keep it alive)."""
    radio = tmp_path / "radio.json"
    radio.write_text('{"metadata": ')
    process = subprocess.run([*SMETS_EMU, "hil", "run", "--radio", "sim", "--port", str(radio), "--state", str(tmp_path / "s"),
                              "--hub-eui", "0011223344556677"], capture_output=True, text=True, timeout=60)  # fmt: skip
    assert process.returncode == 3, process.stderr
    assert f"cannot start the sim radio on {radio}" in process.stderr and "Traceback" not in process.stderr
