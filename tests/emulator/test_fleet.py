"""A fleet description: templates and groups in TOML, identities derived from the seed (the
same file, the same fleet), MPAN cores with their check digit, and every wrong value named."""

from __future__ import annotations

from pathlib import Path

import pytest

from emulator.errors import ConfigError
from emulator.fleet import Fleet, mpan_check_digit
from gbcs.types import DeviceType

FLEET = """
seed = 42

[templates.dual-fuel]
devices = ["esme", "gsme", "ihd"]
esme = "twin"

[templates.electricity-only]
devices = ["esme", "ihd"]
load_seed = 7

[[group]]
template = "dual-fuel"
count = 300
region = "north-west"
feeder = "NW-014"
supplier = "supplier-a"

[[group]]
template = "electricity-only"
count = 200
region = "south-east"
"""


@pytest.fixture
def fleet(tmp_path: Path) -> Fleet:
    path = tmp_path / "fleet.toml"
    path.write_text(FLEET)
    return Fleet.from_toml(path)


def test_the_same_file_gives_the_same_fleet_and_another_seed_another(fleet: Fleet, tmp_path: Path) -> None:
    path = tmp_path / "again.toml"
    path.write_text(FLEET)
    assert [p.config for p in Fleet.from_toml(path).premises()] == [p.config for p in fleet.premises()]
    path.write_text(FLEET.replace("seed = 42", "seed = 43"))
    other = {eui for p in Fleet.from_toml(path).premises() for eui in p.config.devices}
    assert other.isdisjoint(eui for p in fleet.premises() for eui in p.config.devices)


def test_premises_are_numbered_across_groups_with_their_templates_and_places(fleet: Fleet) -> None:
    every = list(fleet.premises())
    assert (fleet.size, len(every), fleet.regions) == (500, 500, ("north-west", "south-east"))
    first, last = every[0], every[-1]
    assert (first.number, last.number) == (1, 500)
    assert sorted(first.config.devices.values()) == sorted([DeviceType.CHF, DeviceType.GPF, DeviceType.ESME,
                                                            DeviceType.GSME, DeviceType.IHD])  # fmt: skip
    assert DeviceType.GSME not in last.config.devices.values()
    assert (first.group.feeder, first.group.supplier, last.group.feeder) == ("NW-014", "supplier-a", "default")
    assert (first.mprns != (), last.mprns) == (True, ())
    assert last.load_seed == 7 and first.load_seed != every[1].load_seed
    assert [p.number for p in fleet.premises(region="south-east")][:2] == [301, 302]
    assert fleet.premises_number(301) == every[300]
    assert len({eui for p in every for eui in p.config.devices}) == 300 * 5 + 200 * 4  # no two devices share one


def test_mpan_cores_carry_the_check_digit() -> None:
    # by hand: 1·3 + 2·5 + 0·7 + 0·13 + 0·17 + 2·19 + 3·23 + 3·29 + 0·31 + 5·37 + 9·41 + 6·43 = 1019; 1019 mod 11 = 7
    assert mpan_check_digit("120002330596") == 7
    with pytest.raises(ValueError, match="twelve digits"):
        mpan_check_digit("12000233059")


def test_each_electricity_meter_has_a_valid_mpan_from_its_region(fleet: Fleet) -> None:
    north, south = fleet.premises_number(1), fleet.premises_number(301)
    for premises in (north, south):
        [mpan] = premises.mpans
        assert len(mpan) == 13 and int(mpan[-1]) == mpan_check_digit(mpan[:12])
    assert (north.mpans[0][:2], south.mpans[0][:2]) == ("10", "11")  # a distributor id per region


@pytest.mark.parametrize(("text", "message"), [
    ("seed = 'x'\n", "seed must be a whole number"),
    ("seed = 1\n", "at least one premises template"),
    ("[templates.a]\ndevices = ['esme']\n", r"at least one \[\[group\]\]"),
    ("[templates.a]\ndevices = ['toaster']\n[[group]]\ntemplate = 'a'\ncount = 1\n", "devices: a list of"),
    ("[templates.a]\ndevices = ['chf']\n[[group]]\ntemplate = 'a'\ncount = 1\n", "devices: a list of esme"),
    ("[templates.a]\ndevices = 'esme'\n[[group]]\ntemplate = 'a'\ncount = 1\n", "devices: a list of"),
    ("[templates.a]\nesme = 'quad'\n[[group]]\ntemplate = 'a'\ncount = 1\n", "esme: one of"),
    ("[templates.a]\n[[group]]\ntemplate = 'b'\ncount = 1\n", "template: one of a"),
    ("[templates.a]\n[[group]]\ntemplate = 'a'\ncount = 0\n", "count: a whole number"),
    ("[templates.a]\n[[group]]\ntemplate = 'a'\ncount = true\n", "count: a whole number"),
    ("[templates.a]\n[[group]]\ntemplate = 'a'\ncount = 1\nregion = 5\n", "region: a name"),
    ("[templates.a]\n[[group]]\ntemplate = 'a'\ncount = 1\ncolour = 'red'\n", "unknown key"),
    ("[templates.a]\n[[group]]\ntemplate = 'a'\ncount = 20000000\n", "at most 16777215"),
    ("seed = [\n", "not valid TOML"),
])  # fmt: skip
def test_a_bad_fleet_description_is_refused_with_what_is_wrong(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "fleet.toml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message):
        Fleet.from_toml(path)


def test_a_premises_outside_the_fleet_is_refused(fleet: Fleet) -> None:
    with pytest.raises(ConfigError, match="1 to 500"):
        fleet.premises_number(501)


def test_fleet_show_prints_the_fleet_and_refuses_what_it_cannot_read(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import json

    from emulator.cli import main

    path = tmp_path / "fleet.toml"
    path.write_text(FLEET)
    assert main(["fleet", "show", str(path)]) == 0
    out = capsys.readouterr().out
    assert "500 premises" in out and "by region: north-west 300, south-east 200" in out
    assert main(["fleet", "show", str(path), "--region", "south-east", "--json"]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert len(lines) == 200 and lines[0]["number"] == 301 and lines[0]["template"] == "electricity-only"
    assert main(["fleet", "show", str(path), "--region", "atlantis"]) == 2
    assert "no region 'atlantis'" in capsys.readouterr().err
    assert main(["fleet", "show", str(tmp_path / "missing.toml")]) == 2
    assert "cannot read" in capsys.readouterr().err
