"""Fixtures of the SMWAN tests: a test PKI; a commissioned premises; and the command the
tests send a hub (RTDS's ECS26n, re-MACed for our parties). The ``mosquitto`` fixture is
tests/conftest.py's."""

from __future__ import annotations

import asyncio
import dataclasses
import socket
from datetime import timedelta
from pathlib import Path

import pytest

import gbcs
from emulator.clock import VirtualClock
from emulator.pki_store import DEFAULT_PARTIES, PkiStore
from emulator.premises import Premises, PremisesConfig
from emulator.store import Store
from emulator.wan import Broker, HubLink
from gbcs.types import EUI64, DeviceType, Role
from tests.conftest import RTDS
from tests.emulator.helpers import NOW

CONFIG = PremisesConfig.standard(7)
CHF = CONFIG.of_type(DeviceType.CHF)[0]
PARTY = {party.role: party.eui for party in DEFAULT_PARTIES}
ECS26N = RTDS / "messages/6.2.4_ECS26n/ECS26n_6.2.4_SUCCESS_COMMAND_GBCS.HEX"


def free_port() -> int:
    """A loopback port nothing listens on (for a broker that is not there)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> PkiStore:
    return PkiStore.create(tmp_path_factory.mktemp("pki") / "store", now=NOW - timedelta(days=1))


@pytest.fixture
def premises(pki: PkiStore, tmp_path: Path) -> Premises:
    """A commissioned premises (CHF, GPF, ESME, GSME, IHD) whose hub is ``CHF``."""
    premises = Premises.create(Store(tmp_path / "premises.sqlite"), VirtualClock(NOW), pki, CONFIG)
    premises.commission()
    return premises


def read_hub(pki: PkiStore, counter: int) -> bytes:
    """RTDS's ECS26n (read the hub's identity), from our ACB for our supplier."""
    frame = gbcs.decode(bytes.fromhex(ECS26N.read_text()))
    other = dataclasses.replace(frame.other_information, supplementary_remote_party_id=PARTY[Role.SUPPLIER])
    frame = dataclasses.replace(frame, originator=PARTY[Role.ACCESS_CONTROL_BROKER], recipient=EUI64(CHF),
                                originator_counter=counter, other_information=other, mac=None)  # fmt: skip
    return gbcs.encode(gbcs.add_mac(frame, pki.keystore(), broker=PARTY[Role.ACCESS_CONTROL_BROKER]))


async def with_link(premises: Premises, broker: Broker, work):  # noqa: ANN001 - a coroutine function
    """Run ``work(link)`` while ``premises``' hub holds its link to ``broker``."""
    link = HubLink(premises, broker, backoff=(0.05, 0.5))
    task = asyncio.create_task(link.run())
    try:
        await asyncio.wait_for(link.connected.wait(), 10)
        return await work(link)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def drained(premises: Premises) -> None:
    """Until the outbox is empty: the head-end may hear a frame before the hub has its PUBACK."""
    async with asyncio.timeout(10):
        while premises.wan_outbox():
            await asyncio.sleep(0.05)
