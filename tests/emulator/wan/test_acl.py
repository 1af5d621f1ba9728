"""Per-hub credentials and the ACL (``emulator.wan.auth``), against a real mosquitto: a hub may
write only its own up and state topics and read only its own down topic; a head-end reads
every hub's up and writes every hub's down; a wrong password or none is refused. Also the
files the broker is given: the password file is mosquitto_passwd's format, the credentials
file is private, and the shipped settings have one text."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import aiomqtt
import pytest

import gbcs
from emulator.errors import ConfigError
from emulator.pki_store import PkiStore
from emulator.premises import Premises
from emulator.wan import Broker, HubLink, WanHeadEnd, down_topic, up_topic
from emulator.wan.auth import (
    HubAuth,
    generate,
    hub_username,
    mosquitto_password_hash,
    write_mosquitto_files,
)
from emulator.wan.mosquitto import SHIPPED_CONFIG, MosquittoProcess
from gbcs.security import Check
from gbcs.types import Role
from tests.emulator.wan.conftest import CHF, PARTY, read_hub

OTHER = bytes.fromhex("00DB1234567890FF")  # another premises' hub
AUTH = generate([CHF, OTHER])
WITH_AUTH = pytest.mark.parametrize("mosquitto", [{"auth": AUTH}], ids=["auth"], indirect=True)
NOT_AUTHORIZED = 0x87  # MQTT v5 reason code (MQTT 5.0 §2.4, table 2-6)
SUCCESS = 0x00


class Client(aiomqtt.Client):
    """aiomqtt's client on MQTT v5 with an account's credentials, keeping each PUBACK's reason
    code: aiomqtt's ``publish`` returns nothing and drops it (its ``_on_publish``)."""

    def __init__(self, broker: Broker, **kwargs: Any) -> None:
        super().__init__(broker.host, broker.port, username=broker.username, password=broker.password,
                         protocol=aiomqtt.ProtocolVersion.V5, **kwargs)  # fmt: skip
        self.pubacks: list[int] = []

    def _on_publish(self, client, userdata, mid, reason_code, properties) -> None:  # noqa: ANN001
        self.pubacks.append(reason_code.value)
        super()._on_publish(client, userdata, mid, reason_code, properties)

    async def publish_code(self, topic: str, payload: bytes) -> int:
        """Publish at QoS 1 and return the PUBACK's reason code."""
        await self.publish(topic, payload, qos=1)
        return self.pubacks[-1]

    async def next_payload(self, within: float = 5.0) -> bytes:
        message = await asyncio.wait_for(anext(aiter(self.messages)), within)
        return bytes(message.payload)


def account(mosquitto: MosquittoProcess, who: bytes | str) -> Broker:
    return AUTH.broker_for(who, mosquitto.broker)


def topic(chf: bytes, kind: str) -> str:
    return f"smwan/{hub_username(chf)}/{kind}"


# -- against mosquitto ---------------------------------------------------------------------------


@WITH_AUTH
def test_a_hub_publishes_on_its_own_up_topic_and_on_no_other(mosquitto: MosquittoProcess) -> None:
    async def scenario() -> tuple[list[int], list[bytes]]:
        async with Client(account(mosquitto, "head-end")) as head_end, Client(account(mosquitto, CHF)) as hub:
            await head_end.subscribe("smwan/+/up", qos=1)
            codes = [
                await hub.publish_code(up_topic(CHF), b"own"),
                await hub.publish_code(up_topic(OTHER), b"forged"),  # as the other premises' hub
                await hub.publish_code(up_topic(CHF), b"marker"),  # after the forgery, on one connection
            ]
            return codes, [await head_end.next_payload(), await head_end.next_payload()]

    codes, received = asyncio.run(scenario())
    assert codes == [SUCCESS, NOT_AUTHORIZED, SUCCESS]
    assert received == [b"own", b"marker"]  # the forged frame never reached the head-end


@WITH_AUTH
def test_only_a_head_end_publishes_commands(mosquitto: MosquittoProcess) -> None:
    """A hub may not publish on any down topic (its own nor another's), nor a head-end on an
    up topic: neither can pass for the other."""

    async def scenario() -> tuple[list[int], bytes]:
        async with (Client(account(mosquitto, OTHER)) as other, Client(account(mosquitto, CHF)) as hub,
                    Client(account(mosquitto, "head-end")) as head_end):  # fmt: skip
            await other.subscribe(down_topic(OTHER), qos=1)
            codes = [
                await hub.publish_code(down_topic(OTHER), b"forged command"),
                await hub.publish_code(down_topic(CHF), b"to itself"),
                await hub.publish_code(topic(OTHER, "control"), b"{}"),
                await head_end.publish_code(up_topic(OTHER), b"forged response"),
                await head_end.publish_code(down_topic(OTHER), b"marker"),
            ]
            return codes, await other.next_payload()

    codes, first = asyncio.run(scenario())
    assert codes == [NOT_AUTHORIZED] * 4 + [SUCCESS]
    assert first == b"marker"


@WITH_AUTH
def test_a_hub_hears_nothing_meant_for_another(mosquitto: MosquittoProcess) -> None:
    async def scenario() -> tuple[list[int], bytes]:
        async with Client(account(mosquitto, CHF)) as hub, Client(account(mosquitto, "head-end")) as head_end:
            granted = [code.value for code in await hub.subscribe(down_topic(OTHER), qos=1)]
            granted += [code.value for code in await hub.subscribe("smwan/+/down", qos=1)]
            await head_end.publish(down_topic(OTHER), b"for the other hub", qos=1)
            await head_end.publish(down_topic(CHF), b"marker", qos=1)
            return granted, await hub.next_payload()

    granted, first = asyncio.run(scenario())
    # mosquitto 2.0 grants the subscription (its ACL file is checked on delivery); a broker
    # that refuses it answers 0x80 (v3.1.1) or 0x87. Either way nothing arrives.
    assert all(code in (1, 0x80, NOT_AUTHORIZED) for code in granted)
    assert first == b"marker"


@WITH_AUTH
@pytest.mark.parametrize("protocol", [aiomqtt.ProtocolVersion.V311, aiomqtt.ProtocolVersion.V5], ids=["v3.1.1", "v5"])
@pytest.mark.parametrize("username, password", [(hub_username(CHF), "wrong"), (None, None), ("head-end", None),
                                                ("stranger", "password")],
                         ids=["wrong-password", "anonymous", "no-password", "unknown-user"])  # fmt: skip
def test_a_client_without_its_credentials_is_refused(mosquitto: MosquittoProcess, protocol: aiomqtt.ProtocolVersion,
                                                     username: str | None, password: str | None) -> None:  # fmt: skip
    async def connect() -> None:
        async with aiomqtt.Client("127.0.0.1", mosquitto.port, username=username, password=password, protocol=protocol):
            pass

    with pytest.raises(aiomqtt.MqttError) as refused:
        asyncio.run(connect())
    assert isinstance(refused.value, aiomqtt.MqttCodeError)
    assert refused.value.rc in (5, NOT_AUTHORIZED)  # v3.1.1 CONNACK 5 "not authorised", v5 0x87


@WITH_AUTH
def test_a_hub_link_with_its_own_credentials_answers_the_head_end(
        mosquitto: MosquittoProcess, premises: Premises, pki: PkiStore) -> None:  # fmt: skip
    async def scenario() -> tuple[bytes, dict]:
        link = HubLink(premises, account(mosquitto, CHF), backoff=(0.05, 0.5))
        task = asyncio.create_task(link.run())
        try:
            await asyncio.wait_for(link.connected.wait(), 10)
            async with WanHeadEnd(account(mosquitto, "head-end")) as head_end:
                response = await head_end.exchange(CHF, read_hub(pki, 40), timeout=10)
            async with Client(account(mosquitto, "head-end")) as watcher:  # the hub's retained state
                await watcher.subscribe(topic(CHF, "state"), qos=1)
                state = json.loads(await watcher.next_payload())
            return response, state
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    response, state = asyncio.run(scenario())
    frame = gbcs.decode(response)
    assert (frame.originator, frame.originator_counter) == (CHF, 40)
    assert gbcs.verify(frame, pki.keystore(), broker=PARTY[Role.ACCESS_CONTROL_BROKER]).mac is Check.VALID
    assert state["hub"] == hub_username(CHF)


# -- the files -----------------------------------------------------------------------------------


def test_the_password_file_is_mosquitto_passwds_format(tmp_path: Path) -> None:
    """Hash the password with the salt and iterations mosquitto_passwd chose: the same line."""
    mosquitto_passwd = shutil.which("mosquitto_passwd")
    if mosquitto_passwd is None:
        print("mosquitto_passwd is not installed (Debian's mosquitto package has it)")
        pytest.skip("mosquitto_passwd is not installed")
    reference = tmp_path / "reference"
    subprocess.run([mosquitto_passwd, "-c", "-b", str(reference), "hub", "s3cret:!"], check=True)
    line = reference.read_text().strip()
    _, hashed = line.split(":", 1)
    _, seven, iterations, salt, _digest = hashed.split("$")
    assert seven == "7"
    assert mosquitto_password_hash("s3cret:!", salt=base64.b64decode(salt), iterations=int(iterations)) == hashed

    password_file, acl_file = write_mosquitto_files(AUTH, tmp_path / "broker")
    lines = password_file.read_text().splitlines()
    assert sorted(line.split(":")[0] for line in lines) == sorted(AUTH.accounts)
    assert all(line.split(":", 1)[1].startswith("$7$101$") for line in lines)
    assert "pattern write smwan/%u/up" in acl_file.read_text().splitlines()
    for path in (password_file, acl_file):
        assert path.stat().st_mode & 0o777 == 0o600


def test_credentials_are_saved_private_and_read_back(tmp_path: Path) -> None:
    path = tmp_path / "smwan-credentials.json"
    AUTH.save(path)
    assert path.stat().st_mode & 0o777 == 0o600
    loaded = HubAuth.load(path)
    assert loaded == AUTH
    assert loaded.broker_for(CHF, Broker(port=1)) == Broker(port=1, username=hub_username(CHF),
                                                            password=AUTH.hubs[hub_username(CHF)])  # fmt: skip
    assert "password" not in repr(loaded) and AUTH.hubs[hub_username(CHF)] not in repr(loaded)
    with pytest.raises(KeyError):
        loaded.broker_for(bytes(8), Broker())


@pytest.mark.parametrize("content, mode, complaint", [
    (None, 0o600, "cannot read"),
    ("{not json", 0o600, "not JSON"),
    ('{"format": 1, "hubs": {}, "head_ends": {}}', 0o644, "must be 0600"),
    ('{"hubs": {}, "head_ends": {}}', 0o600, "not a SMWAN credentials file"),
    ('{"format": 1, "hubs": ["x"], "head_ends": {}}', 0o600, "'hubs' must map"),
    ('{"format": 1, "hubs": {"00db1234567890ff": "pw"}, "head_ends": {}}', 0o600, "16 upper-case hex"),
    ('{"format": 1, "hubs": {}, "head_ends": {"smwan/+": "pw"}}', 0o600, "head-end account"),
    ('{"format": 1, "hubs": {"00DB1234567890FF": ""}, "head_ends": {}}', 0o600, "non-empty string"),
], ids=["missing", "not-json", "readable-by-others", "no-format", "hubs-not-a-map", "lower-case-hub",
        "wildcard-head-end", "empty-password"])  # fmt: skip
def test_a_bad_credentials_file_is_refused_with_a_reason(tmp_path: Path, content: str | None, mode: int,
                                                         complaint: str) -> None:  # fmt: skip
    path = tmp_path / "credentials.json"
    if content is not None:
        path.write_text(content)
        os.chmod(path, mode)
    with pytest.raises(ConfigError, match=complaint) as refused:
        HubAuth.load(path)
    assert str(path) in str(refused.value)


def test_passwords_are_random_or_derived_from_a_secret() -> None:
    assert generate([CHF]).hubs != generate([CHF]).hubs
    secret = b"a lab's shared secret, 16+ bytes"
    assert generate([CHF, OTHER], secret=secret) == generate([CHF, OTHER], secret=secret)
    assert generate([CHF], secret=secret).hubs != generate([CHF], secret=secret + b"!").hubs
    assert len(set(generate([CHF, OTHER], ["head-end", "dcc"], secret=secret).accounts.values())) == 4
    with pytest.raises(ConfigError):
        generate([CHF], secret=b"short")
    with pytest.raises(ConfigError):
        generate([CHF], head_ends=["00DB1234567890FF"])  # would pass for a hub


def test_the_shipped_settings_have_one_text() -> None:
    """emulator/wan/smwan.conf (in the package) is the source; docker/mosquitto's is a copy."""
    docker = Path(__file__).resolve().parents[3] / "docker" / "mosquitto" / "smwan.conf"
    assert docker.read_text() == SHIPPED_CONFIG.read_text()
    assert "max_queued_messages 200000" in SHIPPED_CONFIG.read_text().splitlines()
