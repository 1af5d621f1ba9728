"""The electricity meter keeps what is set on its COSEM objects and reads it back; an
attribute never set is unavailable, an object it does not have is undefined."""

from __future__ import annotations

from pathlib import Path

import pytest

import gbcs
from emulator.firmware.command import process_command
from emulator.headend import HeadEnd
from emulator.pki_store import PkiStore
from gbcs.dlms import (
    AccessRequest,
    Data,
    Obis,
    RequestKind,
    RequestSpecification,
    decode_apdu,
    encode_apdu,
)
from gbcs.types import EUI64, DeviceType, Role
from tests.emulator.helpers import make_device, make_pki

ESME = EUI64("00DB1234567890A0")
SUPPLIER_NAME = (9000, Obis("0.0.96.13.1.255"))  # "supplier contact name" (GBCS extended data)


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> PkiStore:
    return make_pki(tmp_path_factory.mktemp("pki"), {ESME: DeviceType.ESME})


def request(*specifications: tuple[RequestKind, int, Obis, int, Data]) -> bytes:
    return encode_apdu(AccessRequest(0x20000001, b"", tuple(RequestSpecification(kind, class_id, obis, member)
                                                             for kind, class_id, obis, member, _ in specifications),
                                     tuple(data for *_, data in specifications)))  # fmt: skip


def results_and_data(outcome) -> tuple[list[int], list[Data]]:
    apdu = decode_apdu(gbcs.decode(outcome.response).content)
    return [result.result for result in apdu.results], list(apdu.data)


def test_what_is_set_is_read_back_and_the_unknown_is_refused(store: PkiStore, tmp_path: Path) -> None:
    from gbcs.cosem import OBJECTS

    assert (SUPPLIER_NAME[0], str(SUPPLIER_NAME[1])) in OBJECTS
    esme, head_end = make_device(store, ESME, DeviceType.ESME, tmp_path), HeadEnd(store.keystore())
    value = Data.octet_string(b"smets-emu test supplier")
    get = (RequestKind.GET, *SUPPLIER_NAME, 2, Data.null())
    # Read with ECS52 (a MAC-only read); written with ECS16 (write supplier contact details).
    outcome = process_command(esme, head_end.command(0x0059, ESME, request(get), role=Role.SUPPLIER))
    assert results_and_data(outcome)[0] == [11]  # object-unavailable: never set
    write = request((RequestKind.SET, *SUPPLIER_NAME, 2, value))
    assert results_and_data(process_command(esme, head_end.command(0x0059, ESME, write, role=Role.SUPPLIER)))[0] == [3]  # a read cannot write
    outcome = process_command(esme, head_end.command(0x0025, ESME, request((RequestKind.SET, *SUPPLIER_NAME, 2, value), get),
                                                     role=Role.SUPPLIER))  # fmt: skip
    results, data = results_and_data(outcome)
    assert results == [0, 0] and data[1] == value
    undefined = (RequestKind.GET, 1, Obis("0.0.96.99.99.255"), 2, Data.null())
    assert results_and_data(process_command(esme, head_end.command(0x0059, ESME, request(undefined), role=Role.SUPPLIER)))[0] == [4]
