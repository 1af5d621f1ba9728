"""Devices as RTDS knows them (its EUI-64s, certificates and remote parties), for firmware
tests that feed them RTDS's own commands. RTDS holds no device private keys: the devices
check MACs and MAC responses with the remote parties' keys (``Device.peer_private_keys``)."""

from __future__ import annotations

from datetime import datetime

import gbcs
from emulator.clock import VirtualClock
from emulator.firmware.device import Credentials, Device, Identity, cells_from_keystore
from emulator.replay import RTDS_ERA
from emulator.store import Store
from gbcs.der import DerNode, decode_der
from gbcs.frame import Frame
from gbcs.keystore import InMemoryKeyStore
from gbcs.types import EUI64, DeviceType
from tests.conftest import RTDS

KEYSTORE = InMemoryKeyStore.from_directory(RTDS / "keystore")
ESME, GPF = EUI64("00DB1234567890A0"), EUI64("00DB1234567890A3")


def rtds_device(eui: EUI64, device_type: DeviceType, *, at: datetime = RTDS_ERA) -> Device:
    device = Device.create(Store(":memory:"), VirtualClock(at), Identity(eui, device_type),
                           Credentials.from_keystore(KEYSTORE, eui), cells_from_keystore(KEYSTORE),
                           lifecycle="commissioned")  # fmt: skip
    device.peer_private_keys = KEYSTORE
    return device


def message(name: str) -> bytes:
    """The bytes of RTDS file ``folder/file``."""
    return bytes.fromhex("".join((RTDS / "messages" / name).read_text().split()))


def frame(name: str) -> Frame:
    return gbcs.decode(message(name))


def der_of(data: bytes) -> DerNode:
    """The DER payload of a message (command, response or alert)."""
    decoded = gbcs.decode(data)
    return decode_der(decoded.content, decoded.other_information.message_code, decoded.cra)
