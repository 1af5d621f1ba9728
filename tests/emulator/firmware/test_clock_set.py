"""Setting a device's clock (ECS70 on the electricity meter, GCS28 on the gas meter): the
device takes the hub's time when it lies in the command's validity window, keeps it across a
restart, and answers what its clock says."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

import gbcs
from emulator.firmware.command import process_command
from emulator.firmware.device import Device
from emulator.headend import HeadEnd
from emulator.pki_store import PkiStore
from gbcs.der import decode_der, encode_der_value
from gbcs.dlms import (
    AccessRequest,
    Data,
    DataType,
    Obis,
    RequestKind,
    RequestSpecification,
    decode_apdu,
    encode_apdu,
)
from gbcs.types import EUI64, Cra, DeviceType, DlmsDateTime, Role
from tests.emulator.helpers import NOW, make_device, make_pki

ESME, GSME = EUI64("00DB1234567890A0"), EUI64("00DB1234567890A1")
CLOCK = Obis("0.0.1.0.0.255")
UNSPECIFIED = bytes.fromhex("FFFFFFFFFFFFFFFFFF8000FF")


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> PkiStore:
    return make_pki(tmp_path_factory.mktemp("pki"), {ESME: DeviceType.ESME, GSME: DeviceType.GSME})


def device(store: PkiStore, eui: EUI64, kind: DeviceType, tmp_path: Path) -> Device:
    return make_device(store, eui, kind, tmp_path)


def ecs70(window_start, window_end) -> bytes:
    """RTDS ECS70's shape: set clock base, preset (hub's time, window), adjust, read the time."""
    specifications = (RequestSpecification(RequestKind.SET, 8, CLOCK, 9), RequestSpecification(RequestKind.ACTION, 8, CLOCK, 5),
                      RequestSpecification(RequestKind.ACTION, 8, CLOCK, 4), RequestSpecification(RequestKind.GET, 8, CLOCK, 2))  # fmt: skip
    window = [Data.octet_string(DlmsDateTime.from_datetime(moment).encode()) for moment in (window_start, window_end)]
    data = (Data.integer(DataType.ENUM, 5), Data.structure(Data.octet_string(UNSPECIFIED), *window),
            Data.integer(DataType.INT8, 0), Data.null())  # fmt: skip
    return encode_apdu(AccessRequest(0x20000001, b"", specifications, data))


def test_the_electricity_meter_takes_the_hubs_time_inside_the_window(store: PkiStore, tmp_path: Path) -> None:
    esme, head_end = device(store, ESME, DeviceType.ESME, tmp_path), HeadEnd(store.keystore())
    with esme.store.transaction() as tx:
        esme.set_time(tx, NOW + timedelta(minutes=7))  # the meter has drifted seven minutes ahead
    outcome = process_command(esme, head_end.command(0x0062, ESME, ecs70(NOW - timedelta(minutes=1), NOW + timedelta(minutes=1)),
                                                     role=Role.SUPPLIER))  # fmt: skip
    assert outcome.accepted, outcome.rejection
    apdu = decode_apdu(gbcs.decode(outcome.response).content)
    assert [result.result for result in apdu.results] == [0, 0, 0, 0]
    assert DlmsDateTime.decode(apdu.data[3].value).to_datetime() == NOW
    assert esme.now == NOW
    assert Device.load(esme.store, esme.clock, ESME).now == NOW  # durable


def test_outside_the_window_the_clock_is_left_alone(store: PkiStore, tmp_path: Path) -> None:
    esme, head_end = device(store, ESME, DeviceType.ESME, tmp_path), HeadEnd(store.keystore())
    with esme.store.transaction() as tx:
        esme.set_time(tx, NOW + timedelta(minutes=7))
    process_command(esme, head_end.command(0x0062, ESME, ecs70(NOW + timedelta(hours=1), NOW + timedelta(hours=2)),
                                           role=Role.SUPPLIER))  # fmt: skip
    assert esme.now == NOW + timedelta(minutes=7)


@pytest.mark.parametrize(("offset", "status"), [(timedelta(0), "reliable"), (timedelta(hours=3), "unreliable")])
def test_the_gas_meter_sets_its_clock_by_gcs28(store: PkiStore, tmp_path: Path, offset: timedelta, status: str) -> None:
    gsme, head_end = device(store, GSME, DeviceType.GSME, tmp_path), HeadEnd(store.keystore())
    with gsme.store.transaction() as tx:
        gsme.set_time(tx, NOW - timedelta(minutes=3))
    window = {"validityIntervalStart": (NOW + offset - timedelta(minutes=30)).strftime("%Y%m%d%H%M%SZ"),
              "validityIntervalEnd": (NOW + offset + timedelta(minutes=30)).strftime("%Y%m%d%H%M%SZ")}  # fmt: skip
    outcome = process_command(gsme, head_end.command(0x007F, GSME, encode_der_value(0x007F, Cra.COMMAND, window),
                                                     role=Role.SUPPLIER))  # fmt: skip
    answer = decode_der(gbcs.decode(outcome.response).content, 0x007F, Cra.RESPONSE).to_json()
    assert answer["deviceTimeStatus"]["name"] == status
    expected = NOW if status == "reliable" else NOW - timedelta(minutes=3)
    assert answer["deviceTime"] == expected.strftime("%Y%m%d%H%M%SZ") and gsme.now == expected
