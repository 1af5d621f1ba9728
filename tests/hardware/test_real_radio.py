"""On a real dongle (docs/hil.md): set SMETS_HIL_PORT to its serial port and SMETS_HIL_RADIO
to its kind (ezsp, znp or deconz; default ezsp). Reading it is harmless; the tests that write
a network onto it also need SMETS_HIL_WRITE=1. Without a port they are skipped, saying so."""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path

import pytest

from emulator.cli import main
from hardware.hub import HilConfig, RadioHub

PORT = os.environ.get("SMETS_HIL_PORT")
KIND = os.environ.get("SMETS_HIL_RADIO", "ezsp")
WRITE = os.environ.get("SMETS_HIL_WRITE") == "1"
NO_DONGLE = "no ZigBee dongle configured: set SMETS_HIL_PORT (and SMETS_HIL_RADIO) to run the hardware tests"
NO_WRITE = "writing a network onto the dongle needs SMETS_HIL_WRITE=1 (it replaces the dongle's network)"

pytestmark = pytest.mark.hil


@pytest.fixture(autouse=True)
def dongle() -> None:
    if not PORT:
        print(NO_DONGLE)
        pytest.skip(NO_DONGLE)


def test_the_dongle_says_what_it_is(capsys) -> None:
    assert main(["hil", "probe", "--radio", KIND, "--port", PORT, "--json"]) == 0
    probe = json.loads(capsys.readouterr().out)
    assert probe["kind"] == KIND and probe["cbke"]


def test_the_hub_forms_its_network_on_the_dongle_and_a_backup_restores_it(tmp_path: Path, capsys) -> None:
    if not WRITE:
        print(NO_WRITE)
        pytest.skip(NO_WRITE)

    async def form() -> tuple[str, int]:
        hub = await RadioHub.start(KIND, PORT, tmp_path / "state", HilConfig(devices=()))
        try:
            info = hub.hub.app.state.network_info
            assert str(info.extended_pan_id).replace(":", "").upper() == str(hub.hub.eui)
            return str(hub.hub.eui), info.pan_id
        finally:
            await hub.stop()

    eui, pan_id = asyncio.run(form())
    backup = tmp_path / "backup.json"
    assert main(["hil", "backup", "--radio", KIND, "--port", PORT, "--output", str(backup)]) == 0
    assert main(["hil", "restore", "--radio", KIND, "--port", PORT, "--backup", str(backup)]) == 0
    capsys.readouterr()
    assert main(["hil", "probe", "--radio", KIND, "--port", PORT, "--json"]) == 0
    probe = json.loads(capsys.readouterr().out)
    assert (probe["ieee"], probe["pan_id"], probe["formed"]) == (eui, pan_id, True)
