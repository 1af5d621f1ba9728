"""A fleet's state directory and one shard of it, without a broker: premises split among shards
by a stable hash, made only when first touched and loaded after that, the ESME configured as
its template says, a storm's alerts queued for the WAN (each meter's, to each party, signed),
dark hubs deaf and their frames held back, idle premises sent back to the store and time
resumed across a restart."""

from __future__ import annotations

import asyncio
import hashlib
import json
import sqlite3
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.serialization import Encoding

import gbcs
from emulator.devices.esme_metering import metering
from emulator.errors import ConfigError, StoreError
from emulator.fleet import Fleet
from emulator.fleet_credentials import FleetCredentials
from emulator.fleet_shard import FleetShard, FleetState, shard_of
from emulator.pki_store import PkiStore
from gbcs.dlms import decode_apdu
from gbcs.keystore import InMemoryKeyStore, KeyUsage
from gbcs.security import Check
from gbcs.types import EUI64, Cra, DeviceType, Role
from tests.emulator.helpers import NOW

SEED = 21
# north: 12 single-element, 6 twin-element, 4 without an electricity meter; south: 8 dual fuel
FLEET = {
    "seed": SEED,
    "templates": {
        "single": {"devices": ["esme", "ihd"], "load_seed": 7},
        "twin": {"devices": ["esme", "ihd"], "esme": "twin"},
        "gas-only": {"devices": ["gsme", "ihd"]},
        "dual-fuel": {"devices": ["esme", "gsme", "ihd"]},
    },
    "group": [
        {"template": "single", "count": 12, "region": "north"},
        {"template": "twin", "count": 6, "region": "north"},
        {"template": "gas-only", "count": 4, "region": "north"},
        {"template": "dual-fuel", "count": 8, "region": "south"},
    ],
}
ECS80 = 0x0067  # the ESME's supply outage alert (GBCS)
LONG_OUTAGE, SHORT_OUTAGE = 0x8F36, 0x8F35  # supply restored after three minutes or more / before


def make_fleet(seed: int = SEED, **groups: int) -> Fleet:
    """FLEET, or a fleet of one template with ``groups`` as region → count."""
    if not groups:
        return Fleet.from_mapping({**FLEET, "seed": seed})
    return Fleet.from_mapping({"seed": seed, "templates": {"single": {"devices": ["esme", "ihd"]}},
                               "group": [{"template": "single", "count": count, "region": region}
                                         for region, count in groups.items()]})  # fmt: skip


def expected_shard(hub: bytes, shards: int) -> int:
    """The split as the module defines it: the first eight bytes of SHA-256 over a fixed label
    and the CHF's EUI-64, big-endian, modulo the shard count."""
    return int.from_bytes(hashlib.sha256(b"smets-emu shard" + hub).digest()[:8], "big") % shards


def of_shard(fleet: Fleet, shard: int, shards: int, region: str | None = None) -> list[int]:
    return [p.number for p in fleet.premises(region) if expected_shard(bytes(p.hub), shards) == shard]


def esmes(fleet: Fleet, numbers: list[int]) -> set[bytes]:
    return {bytes(eui) for number in numbers for eui in fleet.premises_number(number).config.of_type(DeviceType.ESME)}


def store_devices(state: FleetState, shard: int) -> set[bytes]:
    """The devices shard ``shard``'s store file holds, read straight from the file."""
    with sqlite3.connect(f"file:{state.store_path(shard)}?mode=ro", uri=True) as db:
        return {bytes.fromhex(eui) for (eui,) in db.execute("SELECT eui FROM device")}


def alert_keystore(state: FleetState, fleet: Fleet) -> InMemoryKeyStore:
    """The parties' keys, with every electricity meter's signing key as the fleet's seed gives it."""
    keystore = PkiStore.open(state.directory / "pki").keystore()
    credentials = FleetCredentials(fleet.seed)
    for eui in esmes(fleet, [p.number for p in fleet.premises()]):
        keystore.add_public_key(eui, KeyUsage.DS, credentials.public_key(eui, "ds"))
    return keystore


def drain(shard: FleetShard) -> list[tuple[int, bytes, gbcs.Frame]]:
    """What the shard's hubs have for the WAN, decoded, marked sent as a link would."""
    rows, _ = shard.unsent(limit=100_000)
    shard.mark_sent([row_id for row_id, _, _ in rows])
    return [(row_id, hub, gbcs.decode(frame)) for row_id, hub, frame in rows]


def alert_code(frame: gbcs.Frame) -> int:
    return decode_apdu(frame.content).value.value[0].value


@pytest.fixture
def fleet() -> Fleet:
    return make_fleet()


@pytest.fixture
def state(tmp_path: Path, fleet: Fleet) -> FleetState:
    return FleetState.init(tmp_path / "state", fleet, shards=2, start=NOW)


@pytest.fixture
def shard(fleet: Fleet, state: FleetState) -> Iterator[FleetShard]:
    opened = FleetShard(fleet, state, 0)
    yield opened
    opened.close()


# -- which shard ------------------------------------------------------------------------------------


def test_shard_of_is_a_stable_hash_of_the_hub() -> None:
    hub = bytes.fromhex("5E4D123400000100")
    # sha256(b"smets-emu shard" + hub) begins 6cf01dd850c965e9 (sha256sum, by hand)
    assert 0x6CF01DD850C965E9 % 4096 == 1513
    assert [shard_of(hub, shards) for shards in (1, 2, 3, 4096)] == [0, 1, 2, 1513]
    assert shard_of(EUI64(hub), 3) == expected_shard(hub, 3)  # an EUI64 is its bytes


@pytest.mark.parametrize("shards", [2, 3])
def test_every_premises_is_in_exactly_one_shard(tmp_path: Path, shards: int) -> None:
    fleet = make_fleet(north=200, south=100)
    state = FleetState.init(tmp_path / "state", fleet, shards=shards, start=NOW)
    opened = [FleetShard(fleet, state, number) for number in range(shards)]
    try:
        held = [set(shard.hubs) for shard in opened]
        every = {bytes(p.hub) for p in fleet.premises()}
        assert len(every) == 300
        assert sum(len(hubs) for hubs in held) == 300 and set().union(*held) == every  # no premises twice, none left out
        for number, hubs in enumerate(held):
            assert hubs == {hub for hub in every if expected_shard(hub, shards) == number}
            assert len(opened[number]) == len(hubs)
        for number, shard in enumerate(opened):
            assert shard.region("north") == of_shard(fleet, number, shards, "north")
            assert shard.number_of(fleet.hub_of(1)) == (1 if number == expected_shard(bytes(fleet.hub_of(1)), shards) else None)
    finally:
        for shard in opened:
            shard.close()


# -- the state directory ------------------------------------------------------------------------------


def test_init_makes_the_manifest_and_the_pki_once(tmp_path: Path, fleet: Fleet) -> None:
    directory = tmp_path / "state"
    state = FleetState.init(directory, fleet, shards=3, start=NOW)
    manifest = json.loads((directory / "fleet.json").read_text())
    assert (manifest["shards"], manifest["seed"], manifest["premises"]) == (3, SEED, 30)
    assert PkiStore.open(directory / "pki").keystore().parties_with_role(Role.SUPPLIER)
    assert sorted(path.name for path in directory.glob("shard-*.sqlite")) == ["shard-0.sqlite", "shard-1.sqlite", "shard-2.sqlite"]
    assert store_devices(state, 2) == set()  # the stores are made, and hold no premises until one is touched
    assert FleetState.open(directory, fleet) == state
    with pytest.raises(ConfigError, match="already holds a fleet"):
        FleetState.init(directory, fleet, shards=3, start=NOW)
    with pytest.raises(ConfigError, match="another fleet"):
        FleetState.open(directory, make_fleet(seed=SEED + 1))
    with pytest.raises(ConfigError, match="holds no fleet"):
        FleetState.open(tmp_path / "elsewhere", fleet)


@pytest.mark.parametrize("shards", [0, -1, True, 5000, 2.0, "2"])
def test_a_bad_shard_count_is_refused(tmp_path: Path, fleet: Fleet, shards: object) -> None:
    with pytest.raises(ConfigError, match="shards must be"):
        FleetState.init(tmp_path / "state", fleet, shards=shards, start=NOW)  # type: ignore[arg-type]
    assert not (tmp_path / "state" / "fleet.json").exists()


@pytest.mark.parametrize("text", [
    "", "{not json", "[]", '{"shards": 2}',
    json.dumps({"shards": "two", "start": "2026-12-01T12:00:00+00:00", "fingerprint": "x"}),
])  # fmt: skip
def test_a_damaged_manifest_is_a_store_error(tmp_path: Path, fleet: Fleet, text: str) -> None:
    FleetState.init(tmp_path / "state", fleet, shards=2, start=NOW)
    (tmp_path / "state" / "fleet.json").write_text(text)
    with pytest.raises(StoreError, match="fleet.json"):
        FleetState.open(tmp_path / "state", fleet)


# -- opening a shard ----------------------------------------------------------------------------------


def test_one_process_at_a_time_runs_a_shard(fleet: Fleet, state: FleetState, shard: FleetShard) -> None:
    with pytest.raises(ConfigError, match="another smets-emu process is running shard 0"):
        FleetShard(fleet, state, 0)
    other = FleetShard(fleet, state, 1)  # another shard is free
    other.close()
    shard.close()
    FleetShard(fleet, state, 0).close()  # and a closed shard is free again


@pytest.mark.parametrize("number", [2, -1, True, "0"])
def test_a_shard_outside_the_fleet_is_refused(fleet: Fleet, state: FleetState, number: object) -> None:
    with pytest.raises(ConfigError, match="shards 0 to 1"):
        FleetShard(fleet, state, number)  # type: ignore[arg-type]


def test_premises_are_made_when_first_touched_and_loaded_after(tmp_path: Path) -> None:
    fleet = make_fleet(north=200)
    state = FleetState.init(tmp_path / "state", fleet, shards=2, start=NOW)
    shard = FleetShard(fleet, state, 0)
    assert len(shard) == len(of_shard(fleet, 0, 2)) and not shard.active
    assert store_devices(state, 0) == set()  # 200 premises described, none made

    number = of_shard(fleet, 0, 2)[3]
    described = fleet.premises_number(number)
    esme = described.config.of_type(DeviceType.ESME)[0]
    premises = shard.premises(number)
    assert list(shard.active) == [number]
    assert store_devices(state, 0) == {bytes(eui) for eui in described.config.devices}  # that premises, whole
    certificate = premises.devices[esme].credentials.ds_certificate
    assert certificate.public_key().public_numbers() == FleetCredentials(fleet.seed).public_key(esme, "ds").public_numbers()
    premises.cut_mains()  # something only the stored premises knows
    shard.close()

    shard = FleetShard(fleet, state, 0)
    try:
        assert not shard.active and shard.dark == {number}
        again = shard.premises(number)
        assert not again.mains_on  # loaded, not made afresh
        assert store_devices(state, 0) == {bytes(eui) for eui in described.config.devices}
        loaded = again.devices[esme].credentials.ds_certificate
        assert loaded.public_bytes(Encoding.DER) == certificate.public_bytes(Encoding.DER)  # kept, not issued again
    finally:
        shard.close()


def test_the_electricity_meter_is_configured_as_its_template_says(fleet: Fleet, shard: FleetShard) -> None:
    by_template: dict[str, int] = {}
    for premises in fleet.premises():
        if shard.number_of(premises.hub) is not None:  # a shard makes only its own premises
            by_template.setdefault(premises.group.template.name, premises.number)
    for template, elements in (("single", "single"), ("twin", "twin"), ("dual-fuel", "single")):
        number = by_template[template]
        esme = fleet.premises_number(number).config.of_type(DeviceType.ESME)[0]
        device = shard.premises(number).devices[esme]
        configured = metering(shard.store.read(), device)
        assert (configured.elements, configured.twin) == (elements, template == "twin"), template
    single = fleet.premises_number(by_template["single"]).config.of_type(DeviceType.ESME)[0]
    assert shard.store.read().register(single, "esme.metering")["seed"] == 7  # the template's load_seed


def test_a_shard_refuses_to_make_another_shards_premises(fleet: Fleet, shard: FleetShard) -> None:
    other = next(premises.number for premises in fleet.premises() if shard.number_of(premises.hub) is None)
    with pytest.raises(ConfigError, match="not of shard 0"):
        shard.premises(other)
    assert shard.store.read().device(fleet.premises_number(other).hub) is None  # nothing of it was made


# -- storms -------------------------------------------------------------------------------------------


def test_a_storm_queues_one_signed_alert_per_meter_of_the_region_to_each_party(fleet: Fleet, state: FleetState,
                                                                               shard: FleetShard) -> None:  # fmt: skip
    north = of_shard(fleet, 0, 2, "north")
    meters = esmes(fleet, north)
    assert north and meters and len(meters) < len(north)  # the shard has premises without an electricity meter too
    keystore = alert_keystore(state, fleet)
    parties = {bytes(keystore.parties_with_role(role)[0]) for role in (Role.SUPPLIER, Role.NETWORK_OPERATOR)}

    result = asyncio.run(shard.storm("north", timedelta(minutes=4)))
    assert (result.shard, result.premises, result.alerts) == (0, len(north), 2 * len(meters))
    assert set(shard.active) == set(north)  # the south was not touched
    assert not shard.dark

    queued = drain(shard)
    assert len(queued) == 2 * len(meters)
    assert {(bytes(frame.originator), bytes(frame.recipient)) for _, _, frame in queued} == {
        (meter, party) for meter in meters for party in parties}
    for _, hub, frame in queued:
        assert frame.cra is Cra.ALERT and frame.other_information.message_code == ECS80
        assert alert_code(frame) == LONG_OUTAGE
        assert hub == bytes(frame.originator)[:7] + b"\x00"  # up from the meter's own hub
        verdict = gbcs.verify(frame, keystore)
        assert verdict.signature is Check.VALID and verdict.ok
    assert shard.status()["alerts"] == 2 * len(meters)


def test_an_outage_under_three_minutes_restores_with_8F35(fleet: Fleet, shard: FleetShard) -> None:
    asyncio.run(shard.storm("north", timedelta(minutes=2, seconds=59)))
    codes = [alert_code(frame) for _, _, frame in drain(shard)]
    assert len(codes) == 2 * len(esmes(fleet, of_shard(fleet, 0, 2, "north")))
    assert set(codes) == {SHORT_OUTAGE}


@pytest.mark.parametrize(("region", "outage", "message"), [
    ("atlantis", timedelta(minutes=4), "no region 'atlantis'"),
    ("north", timedelta(0), "an outage lasts some time"),
    ("north", timedelta(seconds=-240), "an outage lasts some time"),
])  # fmt: skip
def test_a_storm_of_nothing_is_refused(shard: FleetShard, region: str, outage: timedelta, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        asyncio.run(shard.storm(region, outage))
    assert not shard.active and not shard.dark and shard.backlog() == 0


# -- dark hubs ----------------------------------------------------------------------------------------


def test_a_dark_hub_hears_nothing_and_its_frames_wait_for_the_power(fleet: Fleet, shard: FleetShard) -> None:
    first, second = [n for n in of_shard(fleet, 0, 2, "north") if esmes(fleet, [n])][:2]
    hub = bytes(fleet.hub_of(first))
    shard.cut_mains([first, second])
    shard.restore_mains([first, second])
    shard.clock.advance(timedelta(seconds=1))  # the alerts cross the HAN to the hubs
    rows, _ = shard.unsent()
    mine = {row_id for row_id, row_hub, _ in rows if row_hub == hub}
    assert len(mine) == 2 and len(rows) == 4

    shard.cut_mains([first])
    assert shard.deliver(hub, b"anything") is False
    assert (shard.dropped, shard.commands) == (1, 0)
    assert shard.deliver(bytes(fleet.hub_of(of_shard(fleet, 1, 2)[0])), b"x") is False  # not this shard's hub
    assert shard.dropped == 2
    rows, last = shard.unsent()
    assert len(rows) == 2 and not mine & {row_id for row_id, _, _ in rows}  # passed over, not lost
    assert last is not None and last >= max(mine)

    shard.restore_mains([first])
    shard.clock.advance(timedelta(seconds=1))
    rows, _ = shard.unsent()
    assert mine <= {row_id for row_id, _, _ in rows}  # sent once the power is back, with the new alerts
    assert sum(row_hub == hub for _, row_hub, _ in rows) == 4


# -- idle premises and restarts -----------------------------------------------------------------------


def test_idle_premises_go_back_to_the_store_and_come_back_as_they_were(fleet: Fleet, shard: FleetShard) -> None:
    north = of_shard(fleet, 0, 2, "north")
    asyncio.run(shard.storm("north", timedelta(minutes=4)))
    first = {(bytes(f.originator), bytes(f.recipient)): f.originator_counter for _, _, f in drain(shard)}
    assert set(shard.active) == set(north)

    with_gas = [n for n in north if DeviceType.GSME in fleet.premises_number(n).group.template.devices]
    assert with_gas and len(with_gas) < len(north)
    assert shard.evict_idle(older_than=3600) == 0  # touched just now
    # a gas meter's frames wait on the HAN until it wakes (every 30 minutes): its premises stays
    assert shard.evict_idle(older_than=0) == len(north) - len(with_gas)
    assert set(shard.active) == set(with_gas)
    shard.clock.advance(timedelta(minutes=31))
    assert shard.evict_idle(older_than=0) == len(with_gas)
    assert not shard.active

    shard.cut_mains(north[:1])  # an outage that spans an eviction
    assert shard.evict_idle(older_than=0) == 0  # loading it rejoined its HAN: frames are on their way
    shard.clock.advance(timedelta(seconds=1))
    assert shard.evict_idle(older_than=0) == 1 and shard.dark == {north[0]}
    asyncio.run(shard.storm("north", timedelta(minutes=4)))
    second = {(bytes(f.originator), bytes(f.recipient)): f.originator_counter for _, _, f in drain(shard)}
    assert second.keys() == first.keys()
    assert all(second[key] > first[key] for key in first)  # counters carried on from the store


def test_a_restarted_shard_resumes_its_time_and_never_goes_back(fleet: Fleet, state: FleetState) -> None:
    shard = FleetShard(fleet, state, 1)
    assert shard.clock.now() == NOW
    shard.clock.advance(timedelta(hours=2))
    shard.close()
    saved = json.loads((state.directory / "shard-1.clock.json").read_text())
    assert saved["now"].startswith("2026-12-01T14:00:00")

    shard = FleetShard(fleet, state, 1, now=NOW + timedelta(hours=1))  # an earlier moment cannot take time back
    assert shard.clock.now() == NOW + timedelta(hours=2)
    shard.close()
    shard = FleetShard(fleet, state, 1, now=NOW + timedelta(days=1))  # a later one moves it on
    assert shard.clock.now() == NOW + timedelta(days=1)
    shard.close()
    (state.directory / "shard-1.clock.json").write_text("{")
    with pytest.raises(StoreError, match="clock.json"):
        FleetShard(fleet, state, 1)
    (state.directory / "shard-1.clock.json").unlink()  # as the message says: start the clock afresh
    shard = FleetShard(fleet, state, 1)  # the refusal left the shard's lock free
    assert shard.clock.now() == NOW
    shard.close()
