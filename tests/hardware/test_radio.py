"""hardware/radio.py: every generated configuration passes its radio library's own schema and
keeps what the hub asked for; zigpy-znp sends Smart Energy frames from the Smart Energy
endpoint; refused kinds and bad settings are refused with a message that says why.

The libraries are the truth: their schemas, types and endpoint choice run unmocked. The one
stand-in is ``RadiolessZNP`` below, which replaces zigpy-znp's only radio call on the path
under test."""

from __future__ import annotations

import asyncio
from typing import Any

import bellows.config
import bellows.types
import bellows.zigbee.application
import pytest
import voluptuous as vol
import zigpy.config
import zigpy.state
import zigpy.types as t
import zigpy.zdo.types as zdo_t
import zigpy_deconz.zigbee.application
import zigpy_znp.commands as znp_commands
import zigpy_znp.config
import zigpy_znp.zigbee.application
from bellows.ezsp import EZSP
from zigpy_znp.zigbee.device import ZNPCoordinator

from emulator.errors import ConfigError
from gbcs.types import EUI64
from hardware.radio import (
    PROFILE_SMART_ENERGY,
    RADIO_KINDS,
    REFUSED_KINDS,
    SE_ENDPOINT,
    RadioConfigError,
    radio_config,
)
from hardware.sim_radio import SimControllerApplication

APPLICATIONS = {
    "ezsp": bellows.zigbee.application.ControllerApplication,
    "znp": zigpy_znp.zigbee.application.ControllerApplication,
    "deconz": zigpy_deconz.zigbee.application.ControllerApplication,
    "sim": SimControllerApplication,
}
KINDS = sorted(APPLICATIONS)

HUB = EUI64("00DB1234567890A0")  # GBCS order; zigpy stores it reversed
KEY = bytes(range(0x10, 0x20))
PORT = "/dev/ttyUSB0"
TUNNELING = 0x0704
SE_CLUSTERS = {0x0700, 0x0702, 0x0703, 0x0704, 0x0705, 0x0800}


def config_for(kind: str, **overrides: Any) -> dict[str, Any]:
    port = overrides.pop("port", PORT)
    settings: dict[str, Any] = {"hub_eui": HUB, "channel": 15, "network_key": KEY, **overrides}
    return radio_config(kind, port, **settings)


def validated(kind: str, **overrides: Any) -> dict[str, Any]:
    """What the kind's ControllerApplication keeps: zigpy's __init__ runs ``self.SCHEMA``."""
    return APPLICATIONS[kind].SCHEMA(config_for(kind, **overrides))


def undeclared_keys(config: dict[str, Any], schema: vol.Schema, path: str = "") -> list[str]:
    """Keys a schema lets through without declaring them. zigpy's top level and ``ota`` allow
    extra keys, so a misspelt key would pass validation and be silently ignored."""
    declared = {getattr(marker, "schema", marker): value for marker, value in schema.schema.items()}
    wrong = []
    for key, value in config.items():
        if key not in declared:
            if not any(isinstance(d, type) and isinstance(key, d) for d in declared):
                wrong.append(path + key)
            continue
        inner = declared[key]
        if (
            isinstance(value, dict)
            and isinstance(inner, vol.Schema)
            and isinstance(inner.schema, dict)
        ):
            wrong += undeclared_keys(value, inner, f"{path}{key}.")
    return wrong


def test_kinds_are_the_libraries_we_test() -> None:
    assert set(RADIO_KINDS) == set(APPLICATIONS)
    assert not set(RADIO_KINDS) & set(REFUSED_KINDS)
    assert "best effort" in RADIO_KINDS["deconz"]


# --- each library's own schema ---------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_config_passes_the_library_schema_with_every_key_declared(kind: str) -> None:
    config = config_for(kind)
    APPLICATIONS[kind].SCHEMA(config)  # raises vol.Invalid on a wrong value or nested key
    assert undeclared_keys(config, APPLICATIONS[kind].SCHEMA) == []


def test_the_key_check_catches_a_misspelt_key() -> None:
    schema = APPLICATIONS["znp"].SCHEMA
    assert undeclared_keys({"znp_conifg": {}, "ota": {"enabeld": False}}, schema) == [
        "znp_conifg",
        "ota.enabeld",
    ]


@pytest.mark.parametrize("kind", KINDS)
def test_validated_config_keeps_the_network(kind: str) -> None:
    network = validated(kind)["network"]
    assert network["extended_pan_id"] == t.ExtendedPanId(HUB[::-1])
    assert isinstance(network["extended_pan_id"], t.ExtendedPanId)
    assert repr(network["extended_pan_id"]) == "00:db:12:34:56:78:90:a0"  # reads as GBCS's
    assert network["channel"] == 15
    assert network["channels"] == t.Channels.CHANNEL_15
    assert network["pan_id"] == t.PanId(0x90A0)
    assert network["key"] == t.KeyData(KEY)


@pytest.mark.parametrize("kind", KINDS)
def test_validated_config_registers_the_smart_energy_endpoint(kind: str) -> None:
    (descriptor,) = validated(kind)[zigpy.config.CONF_ADDITIONAL_ENDPOINTS]
    assert isinstance(descriptor, zdo_t.SimpleDescriptor)
    assert descriptor.endpoint == SE_ENDPOINT
    assert descriptor.endpoint not in (1, 2, 242)  # zigpy's HA, ZLL and Green Power endpoints
    assert descriptor.profile == PROFILE_SMART_ENERGY == 0x0109
    assert descriptor.device_type == 0x0500  # Energy Service Interface
    assert TUNNELING in descriptor.input_clusters
    assert set(descriptor.input_clusters) == SE_CLUSTERS


@pytest.mark.parametrize("kind", KINDS)
def test_validated_config_keeps_the_port_and_the_library_baudrate(kind: str) -> None:
    device = validated(kind)["device"]
    assert device["path"] == PORT
    assert device["baudrate"] == zigpy.config.SCHEMA_DEVICE({"path": PORT})["baudrate"]
    assert validated(kind, baudrate=460800)["device"]["baudrate"] == 460800


@pytest.mark.parametrize("kind", KINDS)
def test_without_a_key_zigpy_draws_one_when_it_forms(kind: str) -> None:
    assert validated(kind, network_key=None)["network"]["key"] is None


@pytest.mark.parametrize("kind", KINDS)
def test_the_application_is_built_from_the_config_without_a_radio(kind: str) -> None:
    app = APPLICATIONS[kind](config_for(kind))  # outside any event loop: no I/O, no tasks
    assert app.config["network"]["extended_pan_id"] == t.ExtendedPanId(HUB[::-1])
    assert not app.ota._providers  # OTA is off: no provider fetches anything


# --- bellows: the trust-centre policy --------------------------------------------------------

EZSP_VERSIONS = sorted(v for v in EZSP._BY_VERSION if v >= 8)  # bitmask decisions from EZSP 8


def test_ezsp_config_sets_install_code_only_joins() -> None:
    policies = validated("ezsp")[bellows.config.CONF_EZSP_POLICIES]
    decision = bellows.types.EzspDecisionBitmask(policies["TRUST_CENTER_POLICY"])
    assert decision == (
        bellows.types.EzspDecisionBitmask.ALLOW_JOINS
        | bellows.types.EzspDecisionBitmask.JOINS_USE_INSTALL_CODE_KEY
    )
    assert bellows.types.EzspDecisionBitmask.ALLOW_UNSECURED_REJOINS not in decision


@pytest.mark.parametrize("version", EZSP_VERSIONS)
def test_ezsp_policies_pass_each_protocol_schema(version: int) -> None:
    # bellows checks policy names only at start-up, against the NCP's protocol version
    schema = EZSP._BY_VERSION[version].SCHEMAS[bellows.config.CONF_EZSP_POLICIES]
    policies = schema(config_for("ezsp")[bellows.config.CONF_EZSP_POLICIES])
    assert policies["TRUST_CENTER_POLICY"] == 0x11


# --- zigpy-znp: the source endpoint of Smart Energy frames -----------------------------------


class RadiolessZNP(zigpy_znp.zigbee.application.ControllerApplication):
    """zigpy-znp's application with its one radio call on this path replaced: ``add_endpoint``
    (AF.Register to Z-Stack) puts the endpoint on the coordinator device, as the coordinator's
    interview (Active_EP_req, Simple_Desc_req) would find it after registration."""

    async def add_endpoint(self, descriptor: zdo_t.SimpleDescriptor) -> None:
        endpoint = self._device.add_endpoint(descriptor.endpoint)
        endpoint.profile_id = descriptor.profile
        endpoint.device_type = descriptor.device_type
        for cluster_id in descriptor.input_clusters:
            endpoint.add_input_cluster(cluster_id)
        for cluster_id in descriptor.output_clusters:
            endpoint.add_output_cluster(cluster_id)


def started_znp(config: dict[str, Any], build_id: int | None) -> RadiolessZNP:
    """The state ``start_network`` leaves: Z-Stack's version reply, the coordinator device and
    zigpy's ``register_endpoints`` (HA 1, ZLL 2, Green Power 242, then the config's own)."""
    app = RadiolessZNP(config)
    ieee = t.EUI64(HUB[::-1])
    app.state.node_info = zigpy.state.NodeInfo(
        nwk=t.NWK(0x0000), ieee=ieee, logical_type=zdo_t.LogicalType.Coordinator
    )
    app._version_rsp = znp_commands.SYS.Version.Rsp(
        TransportRev=2, ProductId=1, MajorRel=2, MinorRel=7, MaintRel=1, CodeRevision=build_id
    )  # build_id None: old Z-Stack builds leave CodeRevision out
    app.devices[ieee] = ZNPCoordinator(app, ieee, t.NWK(0x0000))
    asyncio.run(app.register_endpoints())
    assert app._znp is None  # never connected
    return app


# Z-Stack builds from 20210708 on honour prefer_endpoint_1; older ones always choose by profile.
BUILD_IDS = [20240710, 20210708, 20190608, None]


@pytest.mark.parametrize("build_id", BUILD_IDS)
def test_znp_sends_smart_energy_frames_from_the_smart_energy_endpoint(build_id: int | None) -> None:
    app = started_znp(config_for("znp"), build_id)
    assert sorted(app._device.endpoints) == [0, 1, 2, SE_ENDPOINT, 242]
    assert app._find_endpoint(dst_ep=1, profile=0x0109, cluster=TUNNELING) == SE_ENDPOINT
    # a Smart Energy frame on a cluster the endpoint does not list still leaves from it
    assert app._find_endpoint(dst_ep=1, profile=0x0109, cluster=0x000A) == SE_ENDPOINT
    # Home Automation frames keep endpoint 1, ZDO endpoint 0
    assert app._find_endpoint(dst_ep=1, profile=0x0104, cluster=0x0006) == 1
    assert app._find_endpoint(dst_ep=0, profile=0x0000, cluster=0x0005) == 0


def test_znp_default_would_send_smart_energy_frames_from_endpoint_1() -> None:
    # why the setting is there: zigpy-znp's default on a current Z-Stack
    config = {**config_for("znp"), zigpy_znp.config.CONF_ZNP_CONFIG: {}}
    app = started_znp(config, 20240710)
    assert app.znp_config[zigpy_znp.config.CONF_PREFER_ENDPOINT_1] is True
    assert app._find_endpoint(dst_ep=1, profile=0x0109, cluster=TUNNELING) == 1


# --- refusals --------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", sorted(REFUSED_KINDS))
def test_refused_kinds_say_why(kind: str) -> None:
    with pytest.raises(RadioConfigError, match=f"{kind!r} is refused") as refused:
        config_for(kind)
    assert REFUSED_KINDS[kind] in str(refused.value)
    assert isinstance(refused.value, ValueError) and isinstance(refused.value, ConfigError)


def test_refusal_reasons_name_what_is_missing() -> None:
    assert "endpoint" in REFUSED_KINDS["xbee"]
    assert "install-code" in REFUSED_KINDS["zigate"] and "endpoint" in REFUSED_KINDS["zigate"]


BAD_SETTINGS = [
    ({"kind": "telegesis"}, r"unknown radio kind 'telegesis'; supported: ezsp, znp, deconz"),
    ({"kind": "EZSP"}, r"unknown radio kind 'EZSP'"),
    ({"port": ""}, r"port is empty"),
    ({"port": "  "}, r"port is empty"),
    ({"hub_eui": bytes(7)}, r"EUI-64 must be 8 bytes, got 7"),
    ({"hub_eui": bytes(9)}, r"EUI-64 must be 8 bytes, got 9"),
    ({"channel": 10}, r"channel must be 11 to 26, got 10"),
    ({"channel": 27}, r"channel must be 11 to 26, got 27"),
    ({"pan_id": 0x0000}, r"PAN id must be 0x0001 to 0xFFFE, got 0x0000"),
    ({"pan_id": 0xFFFF}, r"PAN id must be 0x0001 to 0xFFFE, got 0xffff"),
    ({"network_key": bytes(15)}, r"network key must be 16 bytes, got 15"),
]


@pytest.mark.parametrize(("overrides", "message"), BAD_SETTINGS, ids=[m for _, m in BAD_SETTINGS])
def test_bad_settings_are_refused_with_a_clear_message(
    overrides: dict[str, Any], message: str
) -> None:
    overrides = dict(overrides)  # the table is shared between runs
    kind = overrides.pop("kind", "znp")
    with pytest.raises(RadioConfigError, match=message):
        config_for(kind, **overrides)


# --- the PAN id derived from the hub's EUI-64 ------------------------------------------------


@pytest.mark.parametrize(
    ("eui", "pan_id"),
    [("00DB1234567890A0", 0x90A0), ("00DB123456780000", 0x0001), ("00DB12345678FFFF", 0xFFFE)],
)
def test_pan_id_comes_from_the_eui_low_bytes(eui: str, pan_id: int) -> None:
    assert config_for("ezsp", hub_eui=EUI64(eui))["network"]["pan_id"] == pan_id
    assert config_for("ezsp", hub_eui=EUI64(eui), pan_id=0x1234)["network"]["pan_id"] == 0x1234
