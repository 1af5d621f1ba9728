"""The simulated radio's state file: what a crash, a foreign backup and a damaged file do to
it. A frame counter must never be used twice; a bad file is named, never a traceback."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from emulator.cli import main
from gbcs.types import EUI64, DeviceType
from hardware.hub import HilConfig, HilDevice, RadioHub
from hardware.sim_radio import COUNTER_SAVE_EVERY
from tests.hardware.test_sim_chain import answered, device, read_identity


def counter_in(path: Path) -> int:
    return json.loads(path.read_text())["network_key"]["frame_counter"]


def test_a_radio_killed_mid_run_never_reuses_a_frame_counter(tmp_path: Path) -> None:
    radio = tmp_path / "radio.json"

    async def work_then_die() -> int:
        hub = await RadioHub.start("sim", str(radio), tmp_path / "state")
        hub.premises.send(read_identity(hub, device(hub, DeviceType.ESME), 7000))
        await answered(hub)
        used = hub.hub.app.state.network_info.network_key.tx_counter
        hub.hub.app._lock.close()  # killed: nothing saved from here; its locks go with the process
        hub._lock.close()
        hub.premises.store.close()
        return used

    used = asyncio.run(work_then_die())
    assert counter_in(radio) < used  # the file lags behind what was used (saved every so many frames)
    backup = tmp_path / "backup.json"
    assert main(["hil", "backup", "--radio", "sim", "--port", str(radio), "--output", str(backup)]) == 0
    assert counter_in(backup) > used  # on restart the radio starts past anything it may have used


def test_a_clean_stop_keeps_the_exact_counter(tmp_path: Path) -> None:
    radio = tmp_path / "radio.json"

    async def start_and_stop() -> int:
        hub = await RadioHub.start("sim", str(radio), tmp_path / "state", HilConfig(devices=(HilDevice(DeviceType.IHD),)))
        used = hub.hub.app.state.network_info.network_key.tx_counter
        await hub.stop()
        return used

    used = asyncio.run(start_and_stop())
    assert counter_in(radio) == used
    for _ in range(2):  # reading it (probe, backup) changes nothing
        assert main(["hil", "probe", "--radio", "sim", "--port", str(radio)]) == 0
    assert counter_in(radio) == used


def test_a_backup_from_elsewhere_is_taken_as_not_cleanly_stopped(tmp_path: Path) -> None:
    asyncio.run(_start_and_stop(tmp_path / "a.json", tmp_path / "state"))
    document = json.loads((tmp_path / "a.json").read_text())
    del document["stack_specific"]  # as a dongle's backup has it: no word from us on how it stopped
    foreign = tmp_path / "foreign.json"
    foreign.write_text(json.dumps(document))
    assert main(["hil", "probe", "--radio", "sim", "--port", str(foreign)]) == 0
    assert counter_in(foreign) == document["network_key"]["frame_counter"] + COUNTER_SAVE_EVERY


async def _start_and_stop(radio: Path, state: Path, config: HilConfig | None = None) -> None:
    hub = await RadioHub.start("sim", str(radio), state, config)
    await hub.stop()


@pytest.mark.parametrize("damage", [
    lambda d: d.update(metadata="x"),
    lambda d: d["metadata"].update(internal=[]),
    lambda d: d.update(stack_specific="x"),
    lambda d: d["network_key"].update(frame_counter="9"),
    lambda d: d["network_key"].update(frame_counter=-1),
    lambda d: d.update(pan_id=7),
    lambda d: d["devices"][0].update(nwk_address=5),
    lambda d: d.pop("network_key"),
], ids=["metadata", "internal", "stack_specific", "counter-text", "counter-negative", "pan_id", "nwk", "no-key"])  # fmt: skip
def test_a_damaged_state_or_backup_is_named_not_a_traceback(tmp_path: Path, capsys, damage) -> None:
    asyncio.run(_start_and_stop(tmp_path / "a.json", tmp_path / "state"))
    document = json.loads((tmp_path / "a.json").read_text())
    damage(document)
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(document))
    assert main(["hil", "probe", "--radio", "sim", "--port", str(bad)]) == 3
    assert f"{bad} is not an open coordinator backup" in capsys.readouterr().err
    assert main(["hil", "restore", "--radio", "sim", "--port", str(tmp_path / "new.json"), "--backup", str(bad)]) == 2
    assert "is not an open coordinator backup" in capsys.readouterr().err


def test_an_edited_device_list_is_refused_not_loaded_as_other_devices(tmp_path: Path, capsys) -> None:
    first, swapped = tmp_path / "first.toml", tmp_path / "swapped.toml"
    first.write_text('[[device]]\ntype = "ESME"\n\n[[device]]\ntype = "IHD"\n')
    swapped.write_text('[[device]]\ntype = "IHD"\n\n[[device]]\ntype = "ESME"\n')
    common = ["hil", "run", "--radio", "sim", "--port", str(tmp_path / "r.json"), "--state", str(tmp_path / "s"),
              "--broker", "mqtt://127.0.0.1:1", "--duration", "1"]  # fmt: skip
    asyncio.run(_start_and_stop(tmp_path / "r.json", tmp_path / "s", HilConfig.from_toml(first)))
    assert main([*common, "--premises", str(swapped)]) == 2
    assert "the device list differs from the premises" in capsys.readouterr().err


def test_a_device_switched_between_simulated_and_real_is_refused(tmp_path: Path) -> None:
    from emulator.errors import ConfigError

    display = dict(eui=EUI64("0A1B2C3D4E5F6071"), install_code=bytes.fromhex("83FED3407A939723A5C639B26916D505C3B5"))
    asyncio.run(_start_and_stop(tmp_path / "r.json", tmp_path / "s", HilConfig(devices=(HilDevice(DeviceType.IHD, **display),))))
    real = HilConfig(devices=(HilDevice(DeviceType.IHD, simulated=False, **display),))
    with pytest.raises(ConfigError, match="0A1B2C3D4E5F6071"):
        asyncio.run(_start_and_stop(tmp_path / "r.json", tmp_path / "s", real))
