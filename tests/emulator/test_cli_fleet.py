"""``smets-emu fleet init``, ``run --fleet`` and ``storm`` as a lab types them: a state directory
made once, every wrong argument or file refused with a message and exit status 2, and a storm
with no fleet to answer it exit status 3. (``fleet show`` is tested with the fleet, in
test_fleet.py.)"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from emulator.cli import main
from emulator.wan.mosquitto import MosquittoProcess

FLEET = """
seed = 5

[templates.home]
devices = ["esme", "ihd"]

[[group]]
template = "home"
count = 6
region = "north"

[[group]]
template = "home"
count = 4
region = "south"
"""
NOBODY = "mqtt://127.0.0.1:9"  # a broker that is not there (never reached by the refusals below)


@pytest.fixture
def fleet_file(tmp_path: Path) -> Path:
    path = tmp_path / "fleet.toml"
    path.write_text(FLEET)
    return path


@pytest.fixture
def state(tmp_path: Path, fleet_file: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    """A state directory ``fleet init`` made for ``fleet_file``, in two shards."""
    directory = tmp_path / "state"
    assert main(["fleet", "init", str(fleet_file), "--state", str(directory), "--shards", "2",
                 "--start", "2026-12-01T12:00:00Z"]) == 0  # fmt: skip
    capsys.readouterr()
    return directory


def usage_error(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    """argparse's refusal of ``argv``: exit status 2 and what it printed."""
    with pytest.raises(SystemExit) as exited:
        main(argv)
    assert exited.value.code == 2
    return capsys.readouterr().err


def test_fleet_init_makes_the_state_once(tmp_path: Path, fleet_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    directory = tmp_path / "state"
    assert main(["fleet", "init", str(fleet_file), "--state", str(directory), "--shards", "3",
                 "--start", "2026-12-01T12:00:00Z"]) == 0  # fmt: skip
    out = capsys.readouterr().out
    assert "10 premises in 2 region(s), 3 shard(s)" in out and f"run --fleet {fleet_file}" in out
    manifest = json.loads((directory / "fleet.json").read_text())
    assert (manifest["shards"], manifest["premises"], manifest["start"]) == (3, 10, "2026-12-01T12:00:00+00:00")
    assert (directory / "pki").is_dir()

    assert main(["fleet", "init", str(fleet_file), "--state", str(directory), "--shards", "2"]) == 2
    assert "already holds a fleet" in capsys.readouterr().err
    assert json.loads((directory / "fleet.json").read_text())["shards"] == 3  # untouched


def test_fleet_init_refuses_a_bad_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("seed = 1\n[templates.a]\ndevices = ['toaster']\n[[group]]\ntemplate = 'a'\ncount = 1\n")
    for path, message in ((bad, "devices: a list of"), (tmp_path / "missing.toml", "cannot read")):
        assert main(["fleet", "init", str(path), "--state", str(tmp_path / "state")]) == 2
        err = capsys.readouterr().err
        assert err.startswith("smets-emu fleet init:") and message in err
    assert not (tmp_path / "state" / "fleet.json").exists()


@pytest.mark.parametrize(("argv", "message"), [
    (["--shards", "0"], "at least 1"),
    (["--shards", "5000"], "at most 4096 shards"),
    (["--start", "yesterday"], "not an ISO 8601 moment"),
    (["--start", "1999-12-31T00:00:00Z"], "from 2000 to 2099"),
])  # fmt: skip
def test_fleet_init_refuses_bad_options(tmp_path: Path, fleet_file: Path, capsys: pytest.CaptureFixture[str],
                                        argv: list[str], message: str) -> None:  # fmt: skip
    assert message in usage_error(["fleet", "init", str(fleet_file), "--state", str(tmp_path / "state"), *argv], capsys)
    assert not (tmp_path / "state").exists()


def test_run_refuses_a_state_directory_of_another_fleet(tmp_path: Path, state: Path,
                                                        capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    other = tmp_path / "other.toml"
    other.write_text(FLEET.replace("seed = 5", "seed = 6"))
    assert main(["run", "--fleet", str(other), "--state", str(state), "--shard", "0", "--broker", NOBODY]) == 2
    assert "holds another fleet" in capsys.readouterr().err
    assert main(["run", "--fleet", str(other), "--state", str(tmp_path / "empty"), "--shard", "0", "--broker", NOBODY]) == 2
    assert "holds no fleet" in capsys.readouterr().err


def test_run_refuses_a_shard_without_a_fleet_or_outside_it(fleet_file: Path, state: Path,
                                                          capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    assert main(["run", "--shard", "0", "--broker", NOBODY]) == 2
    assert "--shard and --metrics-port are for a fleet" in capsys.readouterr().err
    assert main(["run", "--fleet", str(fleet_file), "--state", str(state), "--shard", "0"]) == 2
    assert "--shard needs --broker" in capsys.readouterr().err
    assert main(["run", "--fleet", str(fleet_file), "--state", str(state), "--shard", "2", "--broker", NOBODY]) == 2
    assert "shards 0 to 1" in capsys.readouterr().err
    assert "not a shard number" in usage_error(["run", "--fleet", str(fleet_file), "--shard", "one"], capsys)
    assert "at most 65535" in usage_error(["run", "--fleet", str(fleet_file), "--metrics-port", "70000"], capsys)


def test_storm_refuses_a_duration_it_cannot_read(fleet_file: Path, state: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for duration in ("4d", "0", "-4m", "nan", "soon"):
        err = usage_error(["storm", "--fleet", str(fleet_file), "--state", str(state), "--region", "north",
                           "--broker", NOBODY, f"--duration={duration}"], capsys)  # fmt: skip
        assert "not a duration above 0" in err, duration


def test_storm_refuses_an_outage_longer_than_a_shard_carries_out(fleet_file: Path, state: Path,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    # every shard refuses an outage over seven days (wan/fleet_control.py, MAX_OUTAGE_S): a usage
    # error for the command line to name, as "4d" is, not a storm published for nothing
    argv = ["storm", "--fleet", str(fleet_file), "--state", str(state), "--region", "north", "--broker", NOBODY,
            "--duration", "169h", "--timeout", "1s"]  # fmt: skip
    try:
        status = main(argv)
    except SystemExit as exited:  # argparse's refusal, or the command's own: either is exit status 2
        status = exited.code
    assert status == 2
    assert "169h" in capsys.readouterr().err


def test_storm_refuses_a_region_the_fleet_does_not_have(fleet_file: Path, state: Path,
                                                        capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    assert main(["storm", "--fleet", str(fleet_file), "--state", str(state), "--region", "atlantis",
                 "--broker", NOBODY, "--timeout", "3s"]) == 2  # fmt: skip
    err = capsys.readouterr().err
    assert "no region 'atlantis'" in err and "north, south" in err


def test_storm_without_a_broker_says_what_is_missing(fleet_file: Path, state: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    assert main(["storm", "--fleet", str(fleet_file), "--state", str(state), "--region", "north"]) == 2
    assert "no --broker given" in capsys.readouterr().err


def test_storm_with_no_fleet_running_exits_3(fleet_file: Path, state: Path, mosquitto: MosquittoProcess,
                                             capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    assert main(["storm", "--fleet", str(fleet_file), "--state", str(state), "--region", "north",
                 "--broker", mosquitto.broker.url, "--timeout", "3s"]) == 3  # fmt: skip
    err = capsys.readouterr().err
    assert "no shard of the fleet answered the storm within 3 s" in err and mosquitto.broker.url in err


def test_run_fleet_runs_every_shard_as_a_worker_process_and_sums_them_up(fleet_file: Path, state: Path,
                                                                          mosquitto: MosquittoProcess,
                                                                          capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    status = main(["run", "--fleet", str(fleet_file), "--state", str(state), "--broker", mosquitto.broker.url,
                   "--quiet", "--duration", "8"])  # fmt: skip
    out = capsys.readouterr().out
    assert status == 0, out
    assert "running 10 premises in 2 worker process(es)" in out
    assert "stopped: 10 premises in 2 shard(s)" in out  # the shards' own figures, from their state topics
    for shard in (0, 1):
        assert "Traceback" not in (state / f"shard-{shard}.log").read_text()


def test_bench_fleet_measures_a_baseline_and_the_fleet_and_counts_every_alert(mosquitto: MosquittoProcess,
                                                                              capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    assert main(["bench", "fleet", "--premises", "6", "--workers", "2", "--broker", mosquitto.broker.url, "--json"]) == 0
    figures = json.loads(capsys.readouterr().out)
    # the benchmark's fleet: one template of ESME, GSME and IHD, so one alert per premises to each of two roles
    assert (figures["premises"], figures["workers"], figures["premises_per_worker"]) == (6, 2, 3)
    assert figures["alerts_expected"] == figures["alerts_delivered"] == 2 * 6
    assert figures["alerts_delivered_by_role"] == {"supplier": 6, "network_operator": 6}
    assert figures["baseline"]["alerts_delivered"] == 2 and figures["baseline"]["premises"] == 1
    for key in ("rss_per_premises_kb", "startup_s", "alerts_per_s", "last_alert_s"):
        assert figures[key] is not None and figures[key] >= 0, key


@pytest.mark.parametrize("command", [["bench", "fleet", "--premises", "2", "--workers", "1"], ["bench", "wan-modes", "--hubs", "2"]],
                         ids=["fleet", "wan-modes"])  # fmt: skip
def test_a_benchmark_against_no_broker_says_so(command: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main([*command, "--broker", NOBODY]) == 1
    error = capsys.readouterr().err
    assert "the broker" in error and "Traceback" not in error


def test_send_drives_a_fleet_premises_through_a_running_fleet(fleet_file: Path, state: Path, mosquitto: MosquittoProcess,
                                                               capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    import subprocess
    import sys
    import time

    from emulator.fleet import Fleet
    from gbcs.types import DeviceType

    run = subprocess.Popen([sys.executable, "-m", "emulator.cli", "run", "--fleet", str(fleet_file), "--state", str(state),
                            "--broker", mosquitto.broker.url, "--quiet", "--duration", "60"],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT)  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        while not (state / "broker.json").exists():  # written once every shard is up
            assert run.poll() is None and time.monotonic() < deadline, "the fleet did not come up"
            time.sleep(0.1)
        meter = Fleet.from_toml(fleet_file).premises_number(3).config.of_type(DeviceType.ESME)[0]
        for counter in (1, 2):  # the first wakes the premises (made, then its HAN settles); the second finds it up
            assert main(["send", "ECS17b", "--fleet", str(fleet_file), "--state", str(state), "--premises", "3",
                         "--timeout", "20", "--json"]) == 0  # fmt: skip
            reply = json.loads(capsys.readouterr().out)
            assert (reply["originator"], reply["counter"], reply["mac"]) == (str(meter), counter, "valid")
        assert main(["send", "ECS17b", "--fleet", str(fleet_file), "--state", str(state), "--premises", "11"]) == 2
        assert "the fleet has premises 1 to 10, not 11" in capsys.readouterr().err
    finally:
        run.terminate()
        run.wait(20)
