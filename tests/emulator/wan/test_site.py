"""A site on a real mosquitto, end to end: the head-end's commands cross the broker to the
hub, which answers for itself or relays over the simulated HAN to the electricity meter and
the sleepy gas meter, and every response comes back verified; the mains cut and restored
through the control topic, in virtual time, by the three-minute rule; the broker restarted
mid-run with nothing lost."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import aiomqtt
import pytest

import gbcs
from emulator.errors import LinkDown
from emulator.headend import HeadEnd
from emulator.premises import PremisesConfig
from emulator.site import Site, SiteConfig
from emulator.wan import Broker, WanHeadEnd, control_topic, state_topic
from emulator.wan.mosquitto import MosquittoProcess
from gbcs.describe import describe
from gbcs.dlms import decode_apdu
from gbcs.keystore import KeyStore
from gbcs.security import Check
from gbcs.types import EUI64, DeviceType, Role
from tests.conftest import RTDS
from tests.emulator.helpers import NOW, PARTIES

MESSAGES = RTDS / "messages"
READ_HUB = MESSAGES / "6.2.4_ECS26n/ECS26n_6.2.4_SUCCESS_COMMAND_GBCS.HEX"  # CHF identity
READ_METER = MESSAGES / "6.2.4_ECS26e/ECS26e_6.2.4_SUCCESS_COMMAND_GBCS.HEX"  # ESME identity (DLMS)
READ_GAS = MESSAGES / "6.2.4_GCS21e/GCS21e_6.2.4_SUCCESS_COMMAND_GBCS.HEX"  # GSME identity (GBZ)


def addressed(path: Path, recipient: bytes, counter: int, keystore: KeyStore) -> bytes:
    """An RTDS read command from our Access Control Broker (for our supplier) to ``recipient``."""
    frame = gbcs.decode(bytes.fromhex(path.read_text()))
    other = dataclasses.replace(frame.other_information, supplementary_remote_party_id=PARTIES[Role.SUPPLIER])
    frame = dataclasses.replace(frame, originator=PARTIES[Role.ACCESS_CONTROL_BROKER], recipient=EUI64(recipient),
                                originator_counter=counter, other_information=other, mac=None)  # fmt: skip
    return gbcs.encode(gbcs.add_mac(frame, keystore, broker=PARTIES[Role.ACCESS_CONTROL_BROKER]))


@contextlib.asynccontextmanager
async def running(site: Site, broker: Broker) -> AsyncIterator[Site]:
    ready = asyncio.Event()
    task = asyncio.create_task(site.run(broker, ready=ready))
    try:
        await asyncio.wait_for(ready.wait(), 10)
        yield site
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


def open_site(tmp_path: Path, *, premises: int = 1, speed: float = 3600) -> Site:
    # 3600: an hour a second, so the gas meter (awake every 30 minutes) answers within half a second
    return Site.open(SiteConfig(premises=premises, state=tmp_path / "state", start=NOW, speed=speed))


def device(site: Site, kind: DeviceType, number: int = 1) -> EUI64:
    return site.hub(number).config.of_type(kind)[0]


def test_commands_cross_the_broker_to_the_hub_and_its_meters_and_come_back_verified(
        mosquitto: MosquittoProcess, tmp_path: Path) -> None:  # fmt: skip
    site = open_site(tmp_path)
    keystore = site.pki.keystore()
    chf = device(site, DeviceType.CHF)
    targets = [(READ_HUB, DeviceType.CHF), (READ_METER, DeviceType.ESME), (READ_GAS, DeviceType.GSME)]

    async def scenario() -> list[bytes]:
        async with running(site, mosquitto.broker), WanHeadEnd(mosquitto.broker) as head_end:
            return [await head_end.exchange(chf, addressed(path, device(site, kind), 100 + index, keystore), timeout=20)
                    for index, (path, kind) in enumerate(targets)]  # fmt: skip

    answers = asyncio.run(scenario())
    for answer, (_, kind) in zip(answers, targets, strict=True):
        frame, verdict = HeadEnd(keystore).check(answer, at=site.clock.now())
        assert (frame.cra.name, frame.originator) == ("RESPONSE", device(site, kind))
        assert verdict.mac is Check.VALID, verdict
    assert decode_apdu(gbcs.decode(answers[1]).content).data  # the meter's identity, read over the HAN


def test_the_head_end_builds_sends_and_verifies_the_use_cases_a_supplier_runs(
        mosquitto: MosquittoProcess, tmp_path: Path) -> None:  # fmt: skip
    """Typed parameters in, a verified and decoded response out: read registers, set a
    tariff, add credit, read a profile (electricity over the HAN) and the gas meter's
    register and profile (GBZ, the gas meter asleep between wakes)."""
    site = open_site(tmp_path)
    chf, esme, gsme = (device(site, kind) for kind in (DeviceType.CHF, DeviceType.ESME, DeviceType.GSME))
    day = NOW.replace(hour=0)
    steps = [("ECS17b", esme, {}), ("ECS01a", esme, {"tou_prices": "0.2412", "standing_charge": "0.25"}),
             ("ECS04a", esme, {"amount": "10.00"}), ("ECS22b", esme, {"start": day.isoformat(), "end": NOW.isoformat()}),
             ("GCS13a", gsme, {}), ("GCS17", gsme, ["start=" + day.isoformat(), "end=" + NOW.isoformat()])]  # fmt: skip

    async def scenario() -> list:
        async with running(site, mosquitto.broker), HeadEnd(site.pki.keystore()).connect(mosquitto.broker) as head_end:
            return [await head_end.send(chf, name, to, params, timeout=20) for name, to, params in steps]

    replies = dict(zip((name for name, _, _ in steps), asyncio.run(scenario()), strict=True))
    for (name, to, _), reply in zip(steps, replies.values(), strict=True):
        assert reply.passes_check, (name, reply.error, reply.payload_error)
        assert (reply.message.originator, reply.mac if reply.message.mac else reply.signature) == (to, Check.VALID), name
        payload = reply.to_json()["payload"]
        assert all(result["result"] == 0 for result in payload.get("results", [])), (name, payload["results"])
    assert replies["ECS04a"].to_json()["payload"]["results"] == [{"kind": "action", "result": 0, "result_name": "success"}]
    assert len(replies["ECS01a"].to_json()["payload"]["results"]) > 10  # every attribute of the tariff set
    [register] = replies["GCS13a"].to_json()["payload"]["components"]
    assert {field["attribute"]: field["status"] for field in register["fields"]}["current_summ_delivered"] == 0
    [profile] = replies["GCS17"].to_json()["payload"]["components"]
    assert profile["fields"]["number_of_samples"] == 25  # the half-hours from midnight to noon, both included


def test_the_same_round_trips_over_the_embedded_broker(tmp_path: Path) -> None:
    """What ``smets-emu run`` and ``demo`` use when no broker is installed: amqtt, in process."""
    from emulator.wan.broker import EmbeddedBroker

    site = open_site(tmp_path)
    keystore = site.pki.keystore()
    chf, esme, gsme = (device(site, kind) for kind in (DeviceType.CHF, DeviceType.ESME, DeviceType.GSME))

    async def scenario() -> list:
        async with EmbeddedBroker() as broker, running(site, broker), HeadEnd(keystore).connect(broker) as head_end:
            hub = await head_end.exchange(chf, addressed(READ_HUB, chf, 100, keystore), timeout=20)
            return [describe(hub, "hub", keystore)] + [await head_end.send(chf, name, to, timeout=20)
                                                       for name, to in (("ECS17b", esme), ("GCS13a", gsme))]  # fmt: skip

    replies = asyncio.run(scenario())
    assert [reply.message.originator for reply in replies] == [chf, esme, gsme]
    assert all(reply.passes_check and reply.mac is Check.VALID for reply in replies)


def test_the_demo_runs_its_steps_on_the_embedded_broker_and_again_on_its_state(tmp_path: Path) -> None:
    from emulator.demo import run_demo

    for _ in range(2):  # the second run goes on from the first's state: counters, time, premises
        lines: list[str] = []
        result = asyncio.run(run_demo(tmp_path, say=lines.append, now=NOW))
        assert [name for name, ok in result.steps if ok] == ["ECS17b", "ECS01a", "ECS04a", "ECS22b", "GCS13a"]
        assert sorted(frame.recipient for frame in result.alerts) == sorted([PARTIES[Role.SUPPLIER], PARTIES[Role.NETWORK_OPERATOR]])
        assert lines[0].startswith("1. broker: embedded amqtt at mqtt://127.0.0.1:")
        assert sum("alert 8F36" in line for line in lines) == 2 and lines[-1].startswith("done")


async def control(client: aiomqtt.Client, hub: bytes, message: object) -> dict:
    await client.publish(control_topic(hub), json.dumps(message) if not isinstance(message, bytes) else message, qos=1)
    async with asyncio.timeout(10):  # a plane that stopped answering fails the test, not hangs it
        async for reply in client.messages:
            if str(reply.topic) == control_topic(hub) + "/reply":
                return json.loads(reply.payload)
    raise AssertionError("the control plane stopped")


async def state_event(dashboard: aiomqtt.Client, event: str) -> dict:
    """The hub's next state on its state topic with ``event``."""
    async with asyncio.timeout(10):
        async for message in dashboard.messages:
            state = json.loads(message.payload)
            if state["event"] == event:
                return state
    raise AssertionError(f"no {event} state")


async def alerts_after_outage(site: Site, broker: Broker, outage: timedelta) -> tuple[list[gbcs.Frame], dict, dict]:
    """Cut the mains through the control topic, let ``outage`` pass in virtual time, restore
    them; return the alerts the head-end received, and the hub's state during and after."""
    hub = device(site, DeviceType.CHF)
    async with running(site, broker), WanHeadEnd(broker) as head_end:
        async with aiomqtt.Client(broker.host, broker.port, identifier="lab-script") as lab, \
                aiomqtt.Client(broker.host, broker.port, identifier="dashboard") as dashboard:  # fmt: skip
            await lab.subscribe(control_topic(hub) + "/reply", qos=1)
            await dashboard.subscribe(state_topic(hub), qos=1)
            assert (await control(lab, hub, {"command": "cut-mains"}))["ok"]
            dark = await state_event(dashboard, "mains-lost")  # the hub's last word
            site.clock.advance(outage)
            assert (await control(lab, hub, {"command": "restore-mains"}))["alerts"] == 2
            site.clock.advance(timedelta(seconds=1))  # the alerts cross the HAN to the hub
            alerts = [gbcs.decode(await asyncio.wait_for(head_end.unsolicited.get(), 10)) for _ in range(2)]
            back = await state_event(dashboard, "mains-restored")
    return alerts, dark, back


@pytest.mark.parametrize(("outage", "code"), [(timedelta(minutes=2, seconds=59), 0x8F35), (timedelta(minutes=3), 0x8F36)],
                         ids=["2m59s", "3m00s"])  # fmt: skip
def test_a_mains_outage_alerts_the_supplier_and_the_network_operator_by_the_three_minute_rule(
        mosquitto: MosquittoProcess, tmp_path: Path, outage: timedelta, code: int) -> None:  # fmt: skip
    site = open_site(tmp_path, speed=1e-6)  # time stands all but still: the outage lasts what the test says
    alerts, dark, back = asyncio.run(alerts_after_outage(site, mosquitto.broker, outage))
    meter = device(site, DeviceType.ESME)
    assert sorted(frame.recipient for frame in alerts) == sorted([PARTIES[Role.SUPPLIER], PARTIES[Role.NETWORK_OPERATOR]])
    for frame in alerts:
        assert (frame.originator, frame.other_information.message_code) == (meter, 0x0067)
        assert gbcs.verify(frame, site.pki.keystore()).signature is Check.VALID
        assert decode_apdu(frame.content).value.value[0].value == code  # 8F36 only from three minutes on
    assert (dark["event"], dark["mains"], dark["online"]) == ("mains-lost", "off", False)
    assert (back["event"], back["mains"], back["online"]) == ("mains-restored", "on", True)


def test_the_control_plane_answers_bad_messages_and_carries_on(mosquitto: MosquittoProcess, tmp_path: Path) -> None:
    site = open_site(tmp_path, speed=1)
    hub = device(site, DeviceType.CHF)

    async def scenario() -> list[dict]:
        async with running(site, mosquitto.broker):
            async with aiomqtt.Client(mosquitto.broker.host, mosquitto.broker.port, identifier="lab") as lab:
                await lab.subscribe(control_topic(hub) + "/reply", qos=1)
                return [await control(lab, hub, message) for message in
                        (b"\xff\xfe", b"[1, 2]", {"command": "explode"}, {"command": "wan-outage", "seconds": -1},
                         {"command": "cut-mains", "when": "now"}, b"[" * 100_000,
                         b'{"command": "wan-outage", "seconds": 1' + b"0" * 5000 + b"}", {"command": None},
                         {"command": "wan-outage", "seconds": True}, {"command": "tamper"})]  # fmt: skip

    replies = asyncio.run(scenario())
    assert [reply["ok"] for reply in replies] == [False] * 9 + [True]
    assert "not JSON" in replies[0]["error"] and "unknown control command 'explode'" in replies[2]["error"]
    assert "seconds" in replies[3]["error"] and "when" in replies[4]["error"]
    assert site.hub(1).mains_on  # the refused cut-mains did nothing


def test_a_broker_restart_mid_run_loses_no_response_and_no_alert(mosquitto: MosquittoProcess, tmp_path: Path) -> None:
    """Three premises; commands sent before and after a broker restart, and outage alerts
    raised while it is down: every one arrives, counted at the head-end."""
    site = open_site(tmp_path, premises=3)
    keystore = site.pki.keystore()

    async def scenario() -> tuple[int, list[gbcs.Frame]]:
        answered = 0
        async with running(site, mosquitto.broker):
            async with WanHeadEnd(mosquitto.broker) as head_end:
                for number in (1, 2, 3):
                    hub = device(site, DeviceType.CHF, number)
                    await head_end.exchange(hub, addressed(READ_METER, device(site, DeviceType.ESME, number), 10, keystore))
                    answered += 1
                for premises in site.premises:
                    premises.cut_mains()
                site.clock.advance(timedelta(minutes=5))
            mosquitto.stop()
            for premises in site.premises:
                premises.restore_mains()  # six alerts wait in the hubs' outboxes
            mosquitto.start()
            async with WanHeadEnd(mosquitto.broker) as head_end:  # the same persistent session
                for number in (1, 2, 3):
                    hub = device(site, DeviceType.CHF, number)
                    await head_end.exchange(hub, addressed(READ_METER, device(site, DeviceType.ESME, number), 11, keystore),
                                            timeout=30)  # fmt: skip
                    answered += 1
                alerts = [gbcs.decode(await asyncio.wait_for(head_end.unsolicited.get(), 30)) for _ in range(6)]
                await asyncio.sleep(0.5)
                assert head_end.unsolicited.empty()  # and each exactly once
        return answered, alerts

    answered, alerts = asyncio.run(scenario())
    assert answered == 6
    assert sorted((frame.originator, frame.recipient) for frame in alerts) == sorted(
        (device(site, DeviceType.ESME, number), PARTIES[role]) for number in (1, 2, 3)
        for role in (Role.SUPPLIER, Role.NETWORK_OPERATOR))  # fmt: skip
    assert all(site.hub(n).mains_on for n in (1, 2, 3))


def test_a_site_with_per_hub_accounts_answers_and_obeys_its_control_topics(tmp_path: Path) -> None:
    """``smets-emu auth`` then ``run --auth``: each hub on its own account under the ACL, a
    head-end on its own, and the control plane as each hub (it may read only its own topic)."""
    from emulator.wan.auth import generate
    from emulator.wan.mosquitto import find_mosquitto

    if find_mosquitto() is None:
        print("mosquitto is not installed (scripts/install-system-deps test installs it)")
        pytest.skip("mosquitto is not installed (scripts/install-system-deps test installs it)")
    hubs = [site_hub(number) for number in (1, 2)]
    accounts = generate(hubs, ["lab"])
    accounts.save(tmp_path / "smwan-auth.json")
    site = Site.open(SiteConfig(premises=2, state=tmp_path / "state", start=NOW, speed=3600, auth=tmp_path / "smwan-auth.json"))
    keystore = site.pki.keystore()

    async def scenario(mosquitto: MosquittoProcess) -> tuple[list, dict]:
        lab = accounts.broker_for("lab", mosquitto.broker)
        async with running(site, mosquitto.broker), HeadEnd(keystore).connect(lab) as head_end:
            replies = [await head_end.send(hub, "ECS26e", device(site, DeviceType.ESME, number), timeout=20)
                       for number, hub in enumerate(hubs, start=1)]  # fmt: skip
            async with aiomqtt.Client(lab.host, lab.port, username=lab.username, password=lab.password) as script:
                await script.subscribe(control_topic(hubs[1]) + "/reply", qos=1)
                reply = await control(script, hubs[1], {"command": "cut-mains"})
        return replies, reply

    with MosquittoProcess(tmp_path / "mosquitto", auth=accounts) as mosquitto:
        replies, reply = asyncio.run(scenario(mosquitto))
        with pytest.raises(LinkDown):  # and nobody without an account
            asyncio.run(WanHeadEnd(mosquitto.broker).__aenter__())
    assert [r.message.originator for r in replies] == [device(site, DeviceType.ESME, n) for n in (1, 2)]
    assert all(r.passes_check for r in replies)
    assert reply == {"ok": True, "command": "cut-mains", "mains": "off"}
    assert site.hub(1).mains_on and not site.hub(2).mains_on


def site_hub(number: int) -> EUI64:
    return PremisesConfig.standard(number).of_type(DeviceType.CHF)[0]


def test_each_premises_can_have_a_wan_of_its_own(mosquitto: MosquittoProcess, tmp_path: Path) -> None:
    from emulator.errors import NoResponse
    from emulator.wan import WanConditions

    site = Site.open(SiteConfig(premises=2, state=tmp_path / "state", start=NOW, speed=3600,
                                wan_premises={2: WanConditions(loss=1.0)}))  # fmt: skip
    keystore = site.pki.keystore()

    async def scenario() -> tuple[bool, bool]:
        async with running(site, mosquitto.broker), WanHeadEnd(mosquitto.broker) as head_end:
            answered = []
            for number in (1, 2):
                hub = device(site, DeviceType.CHF, number)
                try:
                    await head_end.exchange(hub, addressed(READ_HUB, hub, 10, keystore), timeout=2)
                    answered.append(True)
                except NoResponse:
                    answered.append(False)
            return tuple(answered)

    assert asyncio.run(scenario()) == (True, False)  # premises 2's WAN loses everything; premises 1's nothing
