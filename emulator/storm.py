"""Outage storms: a region of a fleet loses its mains, and the alerts are counted.

``run_storm`` is the subscriber's side of ``smets-emu storm``: it listens on every hub's up
topic as the supplier and the network operator would (a persistent session, so a broker
restart loses nothing), publishes the storm on the fleet control topic, collects every
shard's reply, and counts each power-outage alert — ECS80, 8F35 or 8F36, from an electricity
meter — by its recipient's role. An alert is known by its originator, recipient and
originator counter: a second copy (a frame sent again after a broken connection) is a
duplicate, not a second alert. Each alert's signature is checked against its meter's key,
which comes from the fleet's seed (``FleetCredentials``).

Expected: one alert per electricity meter of the region to each of the two roles; anything
from another region's meter is counted as unexpected.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
import uuid
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import aiomqtt

import gbcs
from gbcs import crypto
from gbcs.dlms import decode_apdu
from gbcs.errors import GbcsError
from gbcs.types import EUI64, DeviceType, Role

from .errors import ConfigError, NoResponse
from .fleet import Fleet
from .fleet_credentials import FleetCredentials
from .fleet_shard import FleetState, fingerprint
from .pki_store import PkiStore
from .wan.fleet_control import FLEET_CONTROL, FLEET_REPLY
from .wan.link import NO_DELAY, Broker

__all__ = ["OUTAGE_ALERTS", "AlertCounter", "StormReport", "run_storm"]

OUTAGE_ALERTS = {0x8F35: "supply restored (outage under three minutes)", 0x8F36: "supply restored after three minutes or more"}
ROLES = {Role.SUPPLIER: "supplier", Role.NETWORK_OPERATOR: "network_operator"}
_ALERT_MESSAGE_CODE = 0x0067  # ECS80, the ESME's supply outage alert


@dataclass
class StormReport:
    """What a storm did and what the subscribers received. Times are wall-clock seconds
    since the epoch; ``restored_at`` is the earliest shard's power return."""

    region: str
    outage_s: float
    shards: int
    answered: set[int] = field(default_factory=set)  # the shards that answered
    premises: int = 0
    alerts_raised: int = 0
    expected: dict[str, int] = field(default_factory=dict)  # per role
    delivered: dict[str, int] = field(default_factory=dict)  # per role, each alert once
    duplicates: int = 0
    unexpected: int = 0  # from another region, or not an outage alert of the fleet
    bad_signatures: int = 0
    codes: dict[str, int] = field(default_factory=dict)  # alert code (hex) -> how many
    errors: list[str] = field(default_factory=list)  # shards' refusals
    restored_at: float | None = None
    raised_by: float | None = None  # the latest shard's last alert raised
    last_at: float | None = None

    @property
    def shards_answered(self) -> int:
        return len(self.answered)

    @property
    def complete(self) -> bool:
        """Every expected alert arrived, once each, checked, and nothing else did."""
        return (self.shards_answered == self.shards and not self.errors and self.delivered == self.expected
                and not self.unexpected and not self.bad_signatures)  # fmt: skip

    @property
    def last_alert_s(self) -> float | None:
        """From the power's return to the last alert's arrival."""
        return None if self.restored_at is None or self.last_at is None else max(0.0, self.last_at - self.restored_at)

    @property
    def raising_s(self) -> float | None:
        """From the power's return until every meter had raised its alerts: the emulation's
        own work, which ``last_alert_s`` includes."""
        return None if self.restored_at is None or self.raised_by is None else max(0.0, self.raised_by - self.restored_at)

    @property
    def alerts_per_s(self) -> float | None:
        seconds = self.last_alert_s
        return None if not seconds else sum(self.delivered.values()) / seconds

    def to_json(self) -> dict:
        return {"region": self.region, "outage_s": self.outage_s, "shards": self.shards, "shards_answered": self.shards_answered,
                "premises": self.premises, "alerts_raised": self.alerts_raised, "alerts_expected": self.expected,
                "alerts_delivered": self.delivered, "duplicates": self.duplicates, "unexpected": self.unexpected,
                "bad_signatures": self.bad_signatures, "codes": self.codes, "errors": self.errors,
                "alerts_per_s": self.alerts_per_s, "raising_s": self.raising_s, "last_alert_s": self.last_alert_s,
                "complete": self.complete}  # fmt: skip


class AlertCounter:
    """Counts a fleet's outage alerts from one region as they arrive (``count``), and checks
    them once the storm is over (``check``).

    At arrival only the frame's header is read — enough to know the alert and to stamp its
    arrival — so that the subscriber, often on the machine it measures, does not compete with
    the fleet for the processor while the storm lasts; reading the alert code and checking the
    signature (a tenth of a millisecond each) wait for ``check``, which takes back whatever
    fails them."""

    def __init__(self, fleet: Fleet, region: str, parties: dict[Role, EUI64], report: StormReport) -> None:
        if region not in fleet.regions:
            raise ConfigError(f"the fleet has no region {region!r}; its regions: {', '.join(fleet.regions)}")
        self.fleet, self.region, self.report = fleet, region, report
        self._roles = {bytes(party): ROLES[role] for role, party in parties.items() if role in ROLES}
        self._meters = {bytes(eui) for premises in fleet.premises(region) for eui in premises.config.of_type(DeviceType.ESME)}
        report.expected = {name: len(self._meters) for name in ROLES.values()}
        report.delivered = dict.fromkeys(ROLES.values(), 0)
        self._credentials = FleetCredentials(fleet.seed)
        self._arrived: dict[tuple[bytes, bytes, int], tuple[gbcs.Frame, float]] = {}

    def count(self, frame_bytes: bytes, at: float) -> None:
        """One frame from a hub's up topic, arrived at ``at``."""
        try:
            frame = gbcs.decode(frame_bytes)
            if frame.other_information.message_code != _ALERT_MESSAGE_CODE:
                return  # not an outage alert: a response, say
            originator, recipient = bytes(frame.originator), bytes(frame.recipient)
        except (GbcsError, AttributeError):
            return
        if originator not in self._meters or recipient not in self._roles:
            self.report.unexpected += 1
            return
        key = (originator, recipient, frame.originator_counter)
        if key in self._arrived:
            self.report.duplicates += 1
            return
        self._arrived[key] = (frame, at)
        self.report.delivered[self._roles[recipient]] += 1
        self.report.last_at = at if self.report.last_at is None else max(self.report.last_at, at)

    def check(self) -> None:
        """Read each alert's code and check its signature with its meter's key; one that fails
        either is no longer counted as delivered, and the last arrival is the last good one's."""
        last = None
        for (originator, recipient, _), (frame, at) in self._arrived.items():
            try:
                code = decode_apdu(frame.content).value.value[0].value
            except (GbcsError, AttributeError, IndexError, TypeError, ValueError):
                code = None
            apdu, signed_end = frame.general_signing_apdu()
            if code not in OUTAGE_ALERTS:
                self.report.unexpected += 1
            elif frame.signature is None or not crypto.verify_signature(self._credentials.public_key(originator, "ds"),
                                                                        apdu[1:signed_end], frame.signature):  # fmt: skip
                self.report.bad_signatures += 1
            else:
                self.report.codes[f"{code:04X}"] = self.report.codes.get(f"{code:04X}", 0) + 1
                last = at if last is None else max(last, at)
                continue
            self.report.delivered[self._roles[recipient]] -= 1
        self.report.last_at = last
        self._arrived.clear()


async def run_storm(broker: Broker, fleet: Fleet, state_dir: Path, region: str, outage: timedelta, *,
                    timeout: float = 120.0, settle: float = 1.0) -> StormReport:  # fmt: skip
    """Storm ``region`` of the fleet running on ``broker`` (its state in ``state_dir``) and
    count the alerts. Returns once every shard has answered and every expected alert has
    arrived (then ``settle`` seconds more, for duplicates and strays), or after ``timeout``.

    Raises:
        ConfigError: no such region, or a state directory of another fleet.
        NoResponse: no shard answered in ``timeout`` (no fleet running on this broker?).
    """
    state = FleetState.open(state_dir, fleet)
    keystore = PkiStore.open(state_dir / "pki").keystore()
    parties = {role: keystore.parties_with_role(role)[0] for role in ROLES}
    report = StormReport(region, outage.total_seconds(), state.shards)
    counter = AlertCounter(fleet, region, parties, report)
    storm = {"command": "storm", "region": region, "seconds": outage.total_seconds(), "id": uuid.uuid4().hex,
             "fleet": fingerprint(fleet)[:12]}  # fmt: skip
    identifier = f"storm-{storm['id'][:12]}"
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    published = False
    try:
        while True:  # the broker may restart mid-storm: the session (clean_session off) keeps what arrives meanwhile
            try:
                async with aiomqtt.Client(broker.host, broker.port, identifier=identifier, username=broker.username,
                                          password=broker.password, clean_session=False, socket_options=NO_DELAY) as client:  # fmt: skip
                    await client.subscribe([("smwan/+/up", 1), (FLEET_REPLY, 1)])
                    if not published:  # published again after a lost acknowledgement, the workers answer it once
                        await client.publish(FLEET_CONTROL, json.dumps(storm), qos=1)
                        published = True
                    if await _collect(client, counter, report, storm, deadline, settle):
                        break
            except aiomqtt.MqttError:
                if loop.time() >= deadline:
                    break
                await asyncio.sleep(0.5)
    finally:  # leave no session behind at the broker, to queue every hub's frames for nobody
        with contextlib.suppress(aiomqtt.MqttError):
            async with aiomqtt.Client(broker.host, broker.port, identifier=identifier, username=broker.username,
                                      password=broker.password, clean_session=True):  # fmt: skip
                pass
    counter.check()
    if report.shards_answered == 0:
        raise NoResponse(f"no shard of the fleet answered the storm within {timeout:g} s: is the fleet running on {broker.url}?")
    return report


async def _collect(client: aiomqtt.Client, counter: AlertCounter, report: StormReport, storm: dict,
                   deadline: float, settle: float) -> bool:  # fmt: skip
    """Count until everything has arrived (and ``settle`` seconds more) or the deadline
    passes: True. An MqttError (the broker went away) propagates: reconnect."""
    loop = asyncio.get_running_loop()
    done = asyncio.Event()

    async def read() -> None:
        async for message in client.messages:
            payload = bytes(message.payload) if isinstance(message.payload, bytes | bytearray) else b""
            if message.topic.matches(FLEET_REPLY):
                _answered(report, payload, storm)
            else:
                counter.count(payload, time.time())
            if _finished(report):
                done.set()
        raise aiomqtt.MqttError("the subscription ended")

    if _finished(report):  # everything came before the connection broke: only the settling is left
        done.set()
    reader = asyncio.create_task(read())
    waiter = asyncio.create_task(done.wait())
    try:
        await asyncio.wait({reader, waiter}, timeout=max(0.0, deadline - loop.time()), return_when=asyncio.FIRST_COMPLETED)
        if reader.done():
            reader.result()  # its MqttError: reconnect
        if done.is_set():
            await asyncio.wait({reader}, timeout=settle)  # duplicates and strays still on their way
            if reader.done():
                reader.result()
        return True
    finally:
        reader.cancel()
        waiter.cancel()
        await asyncio.gather(reader, waiter, return_exceptions=True)


def _finished(report: StormReport) -> bool:
    """Every shard has answered, and every alert expected has come (or every shard refused)."""
    if report.shards_answered < report.shards:
        return False
    return report.delivered == report.expected or len(report.errors) == report.shards


def _answered(report: StormReport, payload: bytes, storm: dict) -> None:
    """One reply on the fleet's reply topic: counted once per shard, if it answers this storm
    of this fleet."""
    try:
        reply = json.loads(payload)
    except (ValueError, RecursionError):
        return
    if not isinstance(reply, dict) or reply.get("id") != storm["id"] or reply.get("fleet") != storm["fleet"]:
        return  # another sender's command, or another fleet's worker
    shard = reply.get("shard")
    if not _whole(shard) or not 0 <= shard < report.shards or shard in report.answered:
        return  # a reply published twice across a broker restart, or nonsense
    report.answered.add(shard)
    if not reply.get("ok"):
        report.errors.append(f"shard {shard}: {reply.get('error')}")
        return
    premises, alerts = reply.get("premises"), reply.get("alerts")
    if not _whole(premises) or not _whole(alerts):
        report.errors.append(f"shard {shard}: a reply without its counts: {str(reply)[:200]}")
        return
    report.premises += premises
    report.alerts_raised += alerts
    restored, raised = reply.get("restored_at"), reply.get("raised_by")
    if isinstance(restored, int | float):
        report.restored_at = restored if report.restored_at is None else min(report.restored_at, restored)
    if isinstance(raised, int | float):
        report.raised_by = raised if report.raised_by is None else max(report.raised_by, raised)


def _whole(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)
