"""The emulated hub's HAN on a real ZigBee coordinator dongle: the zigpy configuration.

``radio_config`` builds the configuration dict a radio library's zigpy
``ControllerApplication`` takes, so that the dongle forms the network a Communications Hub
would: the hub's HAN EUI-64 as extended PAN id, one fixed channel, a Smart Energy endpoint,
and a trust centre that admits only install-code joins where the library lets us say so. It
is pure: plain values in, a plain (JSON-serialisable) dict out, checked by the library's own
schema when the application is built (``tests/hardware/test_radio.py`` runs those schemas).

Theory of operation, per library (read from bellows 1.2, zigpy-znp 1.1, zigpy-deconz 1.1):

* ``ezsp`` (bellows, Silicon Labs EmberZNet). The trust-centre policy is configurable
  (``ezsp_policies``, applied at every start-up). We set the value bellows itself sets in
  ``permit_with_link_key``: joins only with a transient (install-code) key. It is a decision
  bitmask from EZSP 8 on; older NCPs read the same number as another decision, so the hub
  needs EZSP 8 or later. Frames leave from the source endpoint the packet names.
* ``znp`` (zigpy-znp, TI Z-Stack). No trust-centre setting: ``permit_with_link_key`` turns
  install-code-only joining on for its window and off after. On Z-Stack builds from 20210708
  every frame leaves from endpoint 1 unless ``prefer_endpoint_1`` is off; off (and on older
  builds), it picks the registered endpoint whose profile and clusters match
  (``_find_endpoint``), i.e. the Smart Energy one for profile 0x0109.
* ``deconz`` (zigpy-deconz, ConBee/RaspBee): best effort. No trust-centre setting, and its
  ``permit_with_link_key`` writes the key, then opens an ordinary join window that nothing in
  the library restricts to that device; it sends every frame from endpoint 1 (or 0), whatever
  the packet says; and on firmware with three endpoint slots (zigpy's own three fill them)
  registering ours fails at start-up.

On every radio the emulator keeps the policy itself: it never calls ``permit()`` (on bellows
that opens the network to any joiner), only ``permit_with_link_key``.

``xbee`` and ``zigate`` are refused (``REFUSED_KINDS`` says why, from zigpy-xbee's and
zigpy-zigate's sources).
"""

from __future__ import annotations

from typing import Any, Final

from emulator.errors import ConfigError

__all__ = [
    "PROFILE_SMART_ENERGY",
    "RADIO_KINDS",
    "REFUSED_KINDS",
    "SE_ENDPOINT",
    "RadioConfigError",
    "radio_config",
]

RADIO_KINDS: Final = {
    "ezsp": "bellows: Silicon Labs EmberZNet, EZSP 8 or later",
    "znp": "zigpy-znp: Texas Instruments Z-Stack 3",
    "deconz": "zigpy-deconz: dresden elektronik ConBee/RaspBee, best effort (module docstring)",
    "sim": "smets-emu's simulated radio (hardware/sim_radio.py): no hardware; the port is its state file",
}

REFUSED_KINDS: Final = {
    "xbee": (
        "zigpy-xbee cannot register the Smart Energy endpoint on the module (its add_endpoint "
        "only changes zigpy's model of the coordinator) and cannot set the PAN id"
    ),
    "zigate": (
        "zigpy-zigate has no install-code joins and cannot register endpoints (its add_endpoint "
        "does nothing); it sends every frame from endpoint 1 and cannot set the PAN id"
    ),
}

PROFILE_SMART_ENERGY: Final = 0x0109  # ZigBee Smart Energy (ZSE) application profile
# We chose it: zigpy takes 1 (HA), 2 (ZLL) and 242 (Green Power); peers find ours by profile.
SE_ENDPOINT: Final = 9
DEVICE_ESI: Final = 0x0500  # ZSE device id: Energy Service Interface, what a hub is
# The server clusters the hub serves (ZSE cluster ids); Tunneling carries GBCS.
SE_SERVER_CLUSTERS: Final = (
    0x0700,  # Price
    0x0702,  # Metering
    0x0703,  # Messaging
    0x0704,  # Tunneling
    0x0705,  # Prepayment
    0x0800,  # Key Establishment (CBKE: advertised, not implemented here)
)
# bellows EzspDecisionBitmask ALLOW_JOINS (0x01) | JOINS_USE_INSTALL_CODE_KEY (0x10): a join
# is admitted only with a transient key (permit_with_link_key's); no unsecured rejoins.
EZSP_TC_INSTALL_CODE_ONLY: Final = 0x0011
# bellows reads None as software (XON/XOFF) anyway; zigpy-znp and zigpy-deconz use none.
FLOW_CONTROL: Final = {"ezsp": "software", "znp": None, "deconz": None, "sim": None}
PAN_ID_RANGE: Final = range(0x0001, 0xFFFE + 1)  # 0xFFFF is broadcast; zigpy draws from 1 too
CHANNELS: Final = range(11, 26 + 1)  # the 2.4 GHz channels ZigBee uses


class RadioConfigError(ConfigError, ValueError):
    """A radio kind or network setting the hub cannot use; the message says which and why."""


def radio_config(
    kind: str,
    port: str,
    *,
    hub_eui: bytes,
    channel: int,
    pan_id: int | None = None,
    network_key: bytes | None = None,
    baudrate: int | None = None,
) -> dict[str, Any]:
    """The configuration a ``kind`` radio library's ``ControllerApplication`` takes.

    Args:
        kind: one of ``RADIO_KINDS``.
        port: the dongle's serial port (or a URL the library accepts).
        hub_eui: the hub's HAN EUI-64, 8 bytes in GBCS order (most significant first, as
            ``gbcs.types.EUI64``); it becomes the extended PAN id. It should be the dongle's
            own IEEE address: the CHF adopts it as its HAN identity.
        channel: the one channel (11-26) the network forms on; the channel mask holds only it.
        pan_id: 0x0001-0xFFFE. None derives it from ``hub_eui``: its two least significant
            bytes, as Z-Stack does when left to choose (TI's "PAN ID assignment" FAQ), with
            0x0000 and 0xFFFF moved to 0x0001 and 0xFFFE.
        network_key: 16 bytes; None lets zigpy draw a random one when it forms the network.
        baudrate: None leaves the library's default.

    Returns:
        Plain values (lists of ints for keys, ``aa:bb:…`` for the extended PAN id), which the
        library's schema converts to zigpy types.

    Raises:
        RadioConfigError: an unknown or refused kind, an empty port, or a hub EUI, channel,
            PAN id or network key out of range.
    """
    if kind in REFUSED_KINDS:
        raise RadioConfigError(f"radio kind {kind!r} is refused: {REFUSED_KINDS[kind]}")
    if kind not in RADIO_KINDS:
        raise RadioConfigError(f"unknown radio kind {kind!r}; supported: {', '.join(RADIO_KINDS)}")
    if not port.strip():
        raise RadioConfigError("the radio port is empty; give the dongle's serial port")
    if len(hub_eui) != 8:
        raise RadioConfigError(f"the hub EUI-64 must be 8 bytes, got {len(hub_eui)}")
    if channel not in CHANNELS:
        raise RadioConfigError(f"ZigBee channel must be 11 to 26, got {channel}")
    if pan_id is None:
        pan_id = _pan_id_from(hub_eui)
    elif pan_id not in PAN_ID_RANGE:
        raise RadioConfigError(f"PAN id must be 0x0001 to 0xFFFE, got {pan_id:#06x}")
    if network_key is not None and len(network_key) != 16:
        raise RadioConfigError(f"the network key must be 16 bytes, got {len(network_key)}")

    device: dict[str, Any] = {"path": port, "flow_control": FLOW_CONTROL[kind]}
    if baudrate is not None:
        device["baudrate"] = baudrate
    network: dict[str, Any] = {
        "channel": channel,
        "channels": [channel],
        "extended_pan_id": ":".join(f"{octet:02x}" for octet in hub_eui),
        "pan_id": pan_id,
    }
    if network_key is not None:
        network["key"] = list(network_key)
    config: dict[str, Any] = {
        "device": device,
        "network": network,
        "additional_endpoints": [
            {
                "endpoint": SE_ENDPOINT,
                "profile": PROFILE_SMART_ENERGY,
                "device_type": DEVICE_ESI,
                "device_version": 0,
                "input_clusters": list(SE_SERVER_CLUSTERS),
                "output_clusters": [],
            }
        ],
        # GB firmware travels inside GBCS, not ZCL OTA; zigpy's providers would fetch online.
        "ota": {"enabled": False},
    }
    if kind == "ezsp":
        config["ezsp_policies"] = {"TRUST_CENTER_POLICY": EZSP_TC_INSTALL_CODE_ONLY}
    elif kind == "znp":
        config["znp_config"] = {"prefer_endpoint_1": False}
    return config


def _pan_id_from(hub_eui: bytes) -> int:
    low = int.from_bytes(hub_eui[-2:], "big")
    return min(max(low, PAN_ID_RANGE.start), PAN_ID_RANGE.stop - 1)
