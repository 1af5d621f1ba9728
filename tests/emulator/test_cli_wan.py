"""``smets-emu run``, ``send`` and ``listen`` as a lab uses them, against a real mosquitto:
a site runs in its own process, the head-end's commands reach its meters and come back
verified, counters carry across invocations, and every bad input gets a clear message and
its exit status."""

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


@pytest.fixture
def site(tmp_path: Path, mosquitto: MosquittoProcess) -> Iterator[Path]:
    """``smets-emu run`` in its own process (an hour of virtual time a second), until the test ends."""
    state = tmp_path / "state"
    process = subprocess.Popen([*SMETS_EMU, "run", "--quiet", "--state", str(state), "--broker", mosquitto.broker.url,
                                "--speed", "3600"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip
    deadline = time.monotonic() + 60
    while not (state / "broker.json").exists():
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, "smets-emu run did not start"
        time.sleep(0.1)
    yield state
    process.send_signal(signal.SIGTERM)
    out, err = process.communicate(timeout=20)
    assert process.returncode == 0, err
    assert "stopped: 1 premises" in out
    assert not (state / "broker.json").exists()  # a stopped site does not pretend to run


def test_send_reads_the_meter_and_prints_the_verified_response(site: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["send", "ECS17b", "--state", str(site)]) == 0
    out = capsys.readouterr().out
    assert "0x0027 ECS17b" in out and "mac                   valid" in out and "originator            5E4D550000000102" in out


def test_send_takes_json_parameters_and_counters_carry_across_invocations(site: Path, capsys: pytest.CaptureFixture[str]) -> None:
    supplier = "02534D4554450002"  # the default test PKI's supplier, the originator of ECS04a

    def counters() -> dict:
        return json.loads((site / "head-end.json").read_text())

    assert main(["send", "ECS04a", "--params", '{"amount": "5.00"}', "--state", str(site), "--json"]) == 0
    first = json.loads(capsys.readouterr().out)
    assert first["signature"] == "valid" and first["payload"]["results"][0]["result_name"] == "success"
    used = counters()[supplier]
    # a second head-end invocation: its command's counter must exceed the first's, or the meter refuses a replay
    assert main(["send", "ECS04a", "amount=-2.50", "--state", str(site), "--json"]) == 0
    second = json.loads(capsys.readouterr().out)
    assert second["payload"]["results"][0]["result_name"] == "success"
    assert counters()[supplier] == used + 1
    # the meter's response names the command it answers: its invoke-id is the command counter's low 24 bits
    assert (first["payload"]["invoke_id"], second["payload"]["invoke_id"]) == (used & 0xFFFFFF, (used + 1) & 0xFFFFFF)


def test_a_command_that_got_no_answer_still_used_its_counter(site: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The counter is on disk before the command leaves: a timed-out send does not hand it to the next."""
    assert main(["send", "GCS13a", "--state", str(site), "--timeout", "0.001"]) == 3
    late = json.loads((site / "head-end.json").read_text())["02534D4554450002"]
    capsys.readouterr()
    assert main(["send", "GCS13a", "--state", str(site), "--json"]) == 0
    answer = json.loads(capsys.readouterr().out)
    assert answer["ok"] and json.loads((site / "head-end.json").read_text())["02534D4554450002"] == late + 1


def test_listen_prints_what_hubs_send(site: Path, capsys: pytest.CaptureFixture[str]) -> None:
    listener = subprocess.Popen([*SMETS_EMU, "listen", "--state", str(site), "--count", "1", "--timeout", "30", "--json"],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip
    assert "listening on smwan/+/up" in listener.stderr.readline()  # its subscription is in place
    assert main(["send", "GCS13a", "--state", str(site), "--timeout", "30"]) == 0
    out, err = listener.communicate(timeout=40)
    assert listener.returncode == 0, err
    [line] = out.splitlines()
    heard = json.loads(line)
    assert (heard["cra"], heard["message_code"], heard["mac"]) == ("response", 0x0074, "valid")


@pytest.mark.parametrize(("argv", "message"), [
    (["send"], "name a use case"),
    (["send", "XYZ99"], "XYZ99"),
    (["send", "ECS04a"], "'amount'"),
    (["send", "ECS04a", "amount=lots"], "'amount'"),
    (["send", "ECS22b", "start=yesterday", "end=2026-01-01T00:00:00Z"], "'start'"),
    (["send", "ECS04a", "--params", "{not json"], "not JSON"),
    (["send", "ECS04a", "--params", "[1]"], "JSON object"),
    (["send", "ECS04a", "--params", "@/nonexistent/params.json"], "cannot read"),
])  # fmt: skip
def test_send_refuses_bad_input_with_a_clear_message(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                      argv: list[str], message: str) -> None:  # fmt: skip
    assert main([*argv, "--state", str(tmp_path)]) == 2
    assert message in capsys.readouterr().err


def test_send_without_a_site_or_a_broker_says_what_is_missing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["pki", "init", str(tmp_path / "pki")]) == 0
    assert main(["send", "ECS17b", "--state", str(tmp_path)]) == 2
    assert "no --broker given and no" in capsys.readouterr().err
    assert main(["send", "ECS17b", "--state", str(tmp_path), "--broker", "http://x"]) == 2
    assert "mqtt://" in capsys.readouterr().err


def test_send_with_nobody_answering_exits_3(tmp_path: Path, mosquitto: MosquittoProcess,
                                           capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    assert main(["pki", "init", str(tmp_path / "pki")]) == 0
    assert main(["pki", "device", str(tmp_path / "pki"), "--eui", "5E4D550000000102", "--type", "esme"]) == 0  # premises 1's
    assert main(["send", "ECS17b", "--state", str(tmp_path), "--broker", mosquitto.broker.url, "--timeout", "0.5"]) == 3
    assert "no response" in capsys.readouterr().err


def test_run_refuses_a_bad_configuration(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "site.toml"
    config.write_text("premises = 0\n")
    assert main(["run", "--config", str(config), "--state", str(tmp_path / "s")]) == 2
    assert "premises must be" in capsys.readouterr().err
    config.write_text("premises = 1\n[wan]\nloss = 2\n")
    assert main(["run", "--config", str(config)]) == 2
    assert "loss" in capsys.readouterr().err
    config.write_text("premises = [\n")
    assert main(["run", "--config", str(config)]) == 2
    assert "not valid TOML" in capsys.readouterr().err
    assert main(["run", "--config", str(tmp_path / "missing.toml")]) == 2
    assert "cannot read" in capsys.readouterr().err


def test_listen_says_when_the_broker_is_not_there(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["listen", "--state", str(tmp_path), "--broker", "mqtt://127.0.0.1:9", "--timeout", "2"]) == 3
    assert "the broker at mqtt://127.0.0.1:9" in capsys.readouterr().err


def test_auth_writes_private_accounts_and_mosquitto_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from emulator.wan.auth import HubAuth

    assert main(["auth", "--premises", "2", "--state", str(tmp_path), "--head-end", "lab"]) == 0
    accounts = HubAuth.load(tmp_path / "smwan-auth.json")  # refuses a file others can read
    assert sorted(accounts.hubs) == ["5E4D550000000100", "5E4D550000000200"] and list(accounts.head_ends) == ["lab"]
    acl = (tmp_path / "mosquitto" / "acl").read_text()
    assert "pattern write smwan/%u/up" in acl and "user lab" in acl
    assert f"password_file {(tmp_path / 'mosquitto' / 'passwords').resolve()}" in capsys.readouterr().out
    assert main(["auth", "--premises", "2", "--state", str(tmp_path), "--head-end", "5E4D550000000100"]) == 2
    assert "not 16 hex digits" in capsys.readouterr().err


def test_control_cuts_and_restores_the_mains_of_a_running_site(site: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["control", "cut-mains", "--state", str(site)]) == 0
    assert json.loads(capsys.readouterr().out) == {"ok": True, "command": "cut-mains", "mains": "off"}
    assert main(["send", "ECS17b", "--state", str(site), "--timeout", "1"]) == 3  # a dark hub answers nothing
    capsys.readouterr()
    assert main(["control", "restore-mains", "--state", str(site)]) == 0
    restored = json.loads(capsys.readouterr().out)
    assert (restored["ok"], restored["mains"], restored["alerts"]) == (True, "on", 2)
    assert restored["outage_s"] >= 3600  # an hour of virtual time a real second: far beyond three minutes
    assert main(["control", "wan-outage", "--state", str(site)]) == 2
    assert "needs --seconds" in capsys.readouterr().err
