"""Backups: the simulated radio's network → open coordinator backup JSON (``hil backup``) →
restored onto a fresh radio (``hil restore``) → the same network, and the hub back on it."""

from __future__ import annotations

import asyncio
import json
import shutil
from pathlib import Path

import pytest

from emulator.cli import main
from gbcs.types import DeviceType
from hardware.hub import HilConfig, HilDevice, RadioHub
from tests.hardware.test_sim_chain import (
    SE_INSTALL_CODE,
    SE_LINK_KEY,
    answered,
    device,
    read_identity,
)

CONFIG = HilConfig(devices=(HilDevice(DeviceType.ESME, install_code=SE_INSTALL_CODE), HilDevice(DeviceType.IHD)))
ZIGPY_COUNTER_INCREMENT = 10_000  # what zigpy's restore_backup adds to the network frame counter (we add it to link keys too)


async def hub_answers(radio: Path, state: Path, counter: int) -> dict:
    """Start the hub on ``radio``, have its meter answer a command, stop; the network it had."""
    hub = await RadioHub.start("sim", str(radio), state, CONFIG)
    try:
        for outbox_id, _ in hub.premises.wan_outbox():
            hub.premises.mark_sent(outbox_id)
        hub.premises.send(read_identity(hub, device(hub, DeviceType.ESME), counter))
        await answered(hub)
        info = hub.hub.app.state.network_info
        return {"ieee": hub.hub.eui, "esme": device(hub, DeviceType.ESME), "pan_id": info.pan_id,
                "extended_pan_id": info.extended_pan_id, "channel": info.channel, "key": bytes(info.network_key.key),
                "tx_counter": info.network_key.tx_counter,
                "permits": [entry for entry in hub.hub.app.permit_log if entry[0] == "link key"]}  # fmt: skip
    finally:
        await hub.stop()


@pytest.fixture
def backed_up(tmp_path: Path) -> tuple[dict, Path, Path]:
    """A hub that has worked on radio A, and A's backup."""
    network = asyncio.run(hub_answers(tmp_path / "a.json", tmp_path / "state", 4000))
    backup = tmp_path / "backup.json"
    assert main(["hil", "backup", "--radio", "sim", "--port", str(tmp_path / "a.json"), "--output", str(backup)]) == 0
    return network, backup, tmp_path


def test_the_backup_is_an_open_coordinator_backup_of_the_network(backed_up: tuple[dict, Path, Path]) -> None:
    network, backup, _ = backed_up
    document = json.loads(backup.read_text())  # read as the format says, not through zigpy
    assert document["metadata"]["format"] == "zigpy/open-coordinator-backup"
    assert document["coordinator_ieee"] == str(network["ieee"]).lower()
    assert document["pan_id"] == f"{network['pan_id']:04x}"
    assert document["channel"] == network["channel"] == 15
    assert document["network_key"]["key"] == network["key"].hex()
    assert document["network_key"]["frame_counter"] >= network["tx_counter"] > 0
    [meter] = [entry for entry in document["devices"] if entry["ieee_address"] == str(network["esme"]).lower()]
    assert meter["link_key"]["key"] == SE_LINK_KEY.hex()  # the install code's key, kept for the rejoin
    assert meter["link_key"]["tx_counter"] > 0 and meter["link_key"]["rx_counter"] > 0  # APS frames both ways


def test_a_restored_radio_has_the_same_network_and_the_hub_works_on_it(backed_up: tuple[dict, Path, Path]) -> None:
    network, backup, folder = backed_up
    fresh = folder / "b.json"
    assert main(["hil", "restore", "--radio", "sim", "--port", str(fresh), "--backup", str(backup)]) == 0
    original, restored = json.loads(backup.read_text()), json.loads(fresh.read_text())
    for key in ("coordinator_ieee", "pan_id", "extended_pan_id", "channel", "nwk_update_id", "security_level"):
        assert restored[key] == original[key], key
    assert restored["network_key"]["key"] == original["network_key"]["key"]
    # The frame counter moves on past the backup's, so no counter of the old radio is reused.
    assert restored["network_key"]["frame_counter"] == original["network_key"]["frame_counter"] + ZIGPY_COUNTER_INCREMENT
    before = {entry["ieee_address"]: entry["link_key"] for entry in original["devices"]}
    after = {entry["ieee_address"]: entry["link_key"] for entry in restored["devices"]}
    assert after.keys() == before.keys()
    for ieee, key in before.items():  # the same link keys; their outgoing counters moved on as well
        assert (after[ieee]["key"], after[ieee]["rx_counter"]) == (key["key"], key["rx_counter"])
        assert after[ieee]["tx_counter"] == key["tx_counter"] + ZIGPY_COUNTER_INCREMENT
    # The old radio is gone; the hub (same state directory) starts on the new one: the same
    # CHF, its devices rejoining with the link keys the backup carried, its meter answering.
    again = asyncio.run(hub_answers(fresh, folder / "state", 4001))
    assert (again["ieee"], again["pan_id"], again["key"]) == (network["ieee"], network["pan_id"], network["key"])
    assert again["tx_counter"] > original["network_key"]["frame_counter"]
    assert network["permits"] and not again["permits"]  # rejoined by their kept keys: no join window opened


def test_a_backup_file_is_a_state_the_simulated_radio_starts_from(backed_up: tuple[dict, Path, Path], capsys) -> None:
    network, backup, folder = backed_up
    shutil.copy(backup, folder / "c.json")
    assert main(["hil", "probe", "--radio", "sim", "--port", str(folder / "c.json"), "--json"]) == 0
    probe = json.loads(capsys.readouterr().out)
    assert (probe["ieee"], probe["formed"], probe["pan_id"]) == (str(network["ieee"]), True, network["pan_id"])


@pytest.mark.parametrize(("content", "message"), [("{not json", "is not JSON"), ('{"metadata": {}}', "not an open coordinator backup"),
                                                   ("[]", "not an open coordinator backup")])  # fmt: skip
def test_a_bad_backup_is_refused_and_the_radio_left_alone(tmp_path: Path, capsys, content: str, message: str) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(content)
    assert main(["hil", "restore", "--radio", "sim", "--port", str(tmp_path / "r.json"), "--backup", str(bad)]) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "r.json").exists()


def test_backing_up_a_radio_without_a_network_says_so(tmp_path: Path, capsys) -> None:
    assert main(["hil", "backup", "--radio", "sim", "--port", str(tmp_path / "new.json")]) == 3
    assert "formed no network" in capsys.readouterr().err


