"""The device model's own small rules."""

from __future__ import annotations

import pytest

from emulator.firmware.device import CELL_ROLES, Identity
from gbcs.types import EUI64, DeviceType, Role


@pytest.mark.parametrize(("text", "expected"), [("1.2.3", "01020300"), ("0123ABCD", "0123ABCD"), ("2.0", "02000000"),
                                                ("1.2.3.4.5", "01020304"), ("beta", "00000000")])  # fmt: skip
def test_the_firmware_version_is_reported_in_four_bytes(text: str, expected: str) -> None:
    identity = Identity(EUI64(bytes(8)), DeviceType.ESME, firmware_version=text)
    assert identity.firmware_version_bytes.hex().upper() == expected


def test_each_device_type_holds_the_cells_gbcs_gives_it() -> None:
    assert Role.WAN_PROVIDER in CELL_ROLES[DeviceType.CHF] and Role.WAN_PROVIDER not in CELL_ROLES[DeviceType.ESME]
    assert Role.SUPPLIER in CELL_ROLES[DeviceType.ESME] and Role.SUPPLIER not in CELL_ROLES[DeviceType.CHF]
    assert CELL_ROLES[DeviceType.IHD] == frozenset()
    assert set(CELL_ROLES) == set(DeviceType)
