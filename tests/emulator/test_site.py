"""A site's state directory across runs, without a broker: one process at a time, virtual
time that resumes, premises that come back as they were, and configurations refused with a
reason."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

import gbcs
from emulator.errors import ConfigError
from emulator.site import Site, SiteConfig
from gbcs.dlms import decode_apdu
from gbcs.types import DeviceType
from tests.emulator.helpers import NOW


def test_one_process_at_a_time_holds_a_state_directory(tmp_path: Path) -> None:
    site = Site.open(SiteConfig(state=tmp_path, start=NOW))
    with pytest.raises(ConfigError, match="another smets-emu process"):
        Site.open(SiteConfig(state=tmp_path, start=NOW))
    site.close()
    Site.open(SiteConfig(state=tmp_path, start=NOW)).close()  # free again once closed


def test_virtual_time_and_an_outage_resume_after_a_restart(tmp_path: Path) -> None:
    site = Site.open(SiteConfig(state=tmp_path, start=NOW))
    site.clock.advance(timedelta(days=10))
    site.hub(1).cut_mains()
    site.close()
    again = Site.open(SiteConfig(state=tmp_path, start=NOW))  # the configured start is earlier than the saved time
    assert again.clock.now() >= NOW + timedelta(days=10)
    assert not again.hub(1).mains_on
    again.clock.advance(timedelta(minutes=3))
    again.hub(1).restore_mains()
    again.clock.advance(timedelta(seconds=1))
    codes = [decode_apdu(gbcs.decode(frame).content).value.value[0].value for _, frame in again.hub(1).wan_outbox()]
    assert codes == [0x8F36, 0x8F36]  # measured across the restart, not from its start
    again.close()


def test_a_later_configured_start_moves_time_on(tmp_path: Path) -> None:
    Site.open(SiteConfig(state=tmp_path, start=NOW)).close()
    later = NOW + timedelta(days=30)
    site = Site.open(SiteConfig(state=tmp_path, start=later))
    assert site.clock.now() >= later
    site.close()


@pytest.mark.parametrize("stopped_after", ["one device", "every device", "the hub's installation"])
def test_a_premises_a_stopped_run_left_half_made_is_made_whole_on_the_next_open(tmp_path: Path, stopped_after: str) -> None:
    from emulator.clock import VirtualClock
    from emulator.firmware.device import Credentials, Device, Identity
    from emulator.pki_store import PkiStore
    from emulator.premises import Premises, PremisesConfig
    from emulator.store import Store

    state = tmp_path / "state"
    state.mkdir()
    pki = PkiStore.create(state / "pki", now=NOW - timedelta(days=1))
    store, layout = Store(state / "premises.sqlite"), PremisesConfig.standard(1)
    if stopped_after == "one device":
        chf = layout.of_type(DeviceType.CHF)[0]
        pki.issue_device(chf, DeviceType.CHF)
        Device.create(store, VirtualClock(NOW), Identity(chf, DeviceType.CHF), Credentials.from_keystore(pki.keystore(), chf),
                      pki.trust_anchor_cells())  # fmt: skip
    else:
        premises = Premises.create(store, VirtualClock(NOW), pki, layout, seed=1)
        if stopped_after == "the hub's installation":
            premises.install_hub()  # the meters never joined
    store.close()
    site = Site.open(SiteConfig(state=state, start=NOW))
    assert {device.lifecycle for device in site.hub(1).devices.values()} == {"commissioned"}
    site.close()


@pytest.mark.parametrize(("document", "message"), [
    ({"premises": 0}, "premises must be"),
    ({"premises": True}, "premises must be"),
    ({"premises": "3"}, "premises must be"),
    ({"speed": 0}, "speed must be"),
    ({"speed": "fast"}, "speed must be"),
    ({"start": "2026-01-01"}, "start must be a datetime"),
    ({"state": 5}, "state must be a str"),
    ({"broker": "http://x"}, "mqtt://"),
    ({"wan": {"latency": "a"}}, "latency"),
    ({"wan": {"latency": -1}}, "latency"),
    ({"wan": {"latency": float("inf")}}, "latency"),
    ({"wan": {"latency": True}}, "latency"),
    ({"wan": {"loss": 2}}, "loss"),
    ({"wan": {"seed": "x"}}, "seed"),
    ({"wan": {"seed": 1.5}}, "seed"),
    ({"wan": {"jitter": 1}}, r"\[wan\] takes"),
    ({"wan": {"premises": {"x": {"loss": 0.1}}}}, r"\[wan.premises.x\]"),
    ({"wan": {"premises": {"2": {"loss": 3}}}}, "loss"),
    ({"wan": {"premises": 4}}, "a table per premises"),
    ({"wan": 3}, r"\[wan\] takes"),
    ({"colour": "red"}, "unknown key"),
])  # fmt: skip
def test_a_bad_configuration_is_refused_with_the_key_named(document: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        SiteConfig.from_mapping(document)


def test_start_moments_out_of_range_are_refused(tmp_path: Path) -> None:
    config = tmp_path / "site.toml"
    for moment in ("0001-01-01T00:00:00Z", "9999-12-31T23:59:59Z"):
        config.write_text(f"start = {moment}\n")
        with pytest.raises(ConfigError, match="from 2000 to 2099"):
            SiteConfig.from_toml(config)


def test_a_premises_can_have_a_wan_of_its_own(tmp_path: Path) -> None:
    config = tmp_path / "site.toml"
    config.write_text("premises = 3\n[wan]\nlatency = 0.1\n[wan.premises.2]\nloss = 0.25\n")
    site_config = SiteConfig.from_toml(config)
    assert site_config.wan_premises[2].loss == 0.25 and site_config.wan_premises[2].latency == 0.1  # the rest from [wan]
    assert 1 not in site_config.wan_premises and site_config.wan.loss == 0
