"""The emulated Communications Hub on a ZigBee radio (hardware in the loop).

``RadioHub.start`` starts a radio through its zigpy library, adopts the radio's IEEE address
as the CHF's HAN EUI-64 (a hub's network is its own: the extended PAN id is that EUI-64),
and puts the premises' CHF and GPF on it (``bridge.ZigpyHub``) with the same firmware that
runs on the simulated HAN. The premises' other devices are either real — they join over the
air by their install code — or simulated. On the simulated radio (``sim``) simulated devices
sit on its air and join it as a real device would; beside a real radio they sit on a
simulated HAN with the hub's logical devices (``ZigpyHub``'s ``beside``), off the air.

Commissioning is the field's: every device goes on the CHF's device log with its install code,
the hub is installed, and the trust centre opens the network to each logged device alone with
its link key (``permit_with_link_key``; never a plain ``permit()``). State lives in a state
directory (``pki/``, ``premises.sqlite``), so a restarted hub is the hub it was: devices
rejoin with the keys the radio kept.

The device list (TOML, ``--premises``; every key optional)::

    channel = 15                  # the ZigBee channel (11-26) a new network forms on
    pan_id = 0x1A2B               # default: from the hub's EUI-64
    gsme_wake_minutes = 30        # how often a simulated gas meter wakes

    [[device]]
    type = "ESME"                 # ESME, GSME, IHD, PPMID or HCALCS
    simulated = true              # default true; false: a real device, which then needs
    eui = "0011223344556677"      #   its EUI-64 (most significant byte first) and
    install_code = "83FE…C3B5"    #   the install code on its label, CRC included (hex)
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import importlib
import logging
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

import zigpy.application
import zigpy.backups
import zigpy.exceptions
import zigpy.types as t
import zigpy.util

from emulator.clock import Clock, RealClock
from emulator.devices import chf as chf_firmware
from emulator.errors import ConfigError, EmulatorError
from emulator.han.sim import HanMedium
from emulator.pki_store import PkiStore
from emulator.premises import HAN_DEVICES, Premises, PremisesConfig
from emulator.state_files import hold_lock
from emulator.store import Store
from emulator.toml_file import read_toml
from gbcs.pki import parse_device_type
from gbcs.types import EUI64, DeviceType

from .bridge import ZigpyHub, hub_application
from .frames import gbcs_eui, zigpy_eui
from .radio import CHANNELS, PAN_ID_RANGE, radio_config
from .sim_radio import SimAir, device_descriptor, parse_backup

__all__ = ["HilConfig", "HilDevice", "HilError", "RadioHub", "RadioProbe", "application_class", "backup_radio",
           "probe_radio", "read_backup", "restore_radio"]

LOGGER = logging.getLogger(__name__)

SIM_ENTRY_POINT = "smets-emu-sim"  # in the zigpy.radios group (pyproject.toml)
_LIBRARIES = {
    "ezsp": "bellows.zigbee.application",
    "znp": "zigpy_znp.zigbee.application",
    "deconz": "zigpy_deconz.zigbee.application",
}
DEFAULT_CHANNEL = 15
JOIN_WINDOW = 254  # seconds: the longest a ZDO permit lasts
# What a radio library raises when the radio fails (zigpy's two families, and the serial port's)
RADIO_ERRORS = (OSError, zigpy.exceptions.ZigbeeException, zigpy.exceptions.RadioException)
RESTORE_COUNTER_STEP = 10_000  # zigpy's own step for the network key's counter on a restore
PROVISIONED = "hil.provisioned"  # CHF register: the device list the premises was made from, once made whole


class HilError(EmulatorError):
    """The radio cannot be reached or cannot do what the hub needs; the message says which."""


def application_class(kind: str) -> type[zigpy.application.ControllerApplication]:
    """The zigpy ``ControllerApplication`` of a radio kind (``sim`` through its entry point,
    as any zigpy application finds it)."""
    if kind == "sim":
        found = entry_points(group="zigpy.radios", name=SIM_ENTRY_POINT)
        if not found:
            raise HilError(f"the {SIM_ENTRY_POINT} zigpy radio entry point is not installed (pip install -e .)")
        return next(iter(found)).load()
    if kind not in _LIBRARIES:
        radio_config(kind, "-", hub_eui=bytes(8), channel=DEFAULT_CHANNEL)  # raises the refusal, with its reason
    try:
        return importlib.import_module(_LIBRARIES[kind]).ControllerApplication
    except ImportError as error:
        raise HilError(f"the {kind} radio library is not installed ({error.name}); install the hil extra: "
                       "pip install 'smets-emu[hil]'") from None  # fmt: skip


@dataclass(frozen=True)
class HilDevice:
    device_type: DeviceType
    simulated: bool = True
    eui: EUI64 | None = None  # a real device's; a simulated one's is derived when absent
    install_code: bytes | None = None  # a real device's label (CRC included); derived for simulated ones


@dataclass(frozen=True)
class HilConfig:
    devices: tuple[HilDevice, ...] = (HilDevice(DeviceType.ESME), HilDevice(DeviceType.GSME), HilDevice(DeviceType.IHD))
    channel: int = DEFAULT_CHANNEL
    pan_id: int | None = None
    gsme_wake_interval: timedelta = field(default=timedelta(minutes=30))

    @classmethod
    def from_toml(cls, path: Path) -> HilConfig:
        return cls.from_mapping(read_toml(path), source=str(path))

    @classmethod
    def from_mapping(cls, document: Mapping[str, Any], *, source: str = "the device list") -> HilConfig:
        """Raises ``ConfigError`` naming the key or device that is wrong."""
        unknown = set(document) - {"channel", "pan_id", "gsme_wake_minutes", "device"}
        if unknown:
            raise ConfigError(f"{source}: unknown key(s) {', '.join(sorted(unknown))}")
        channel = document.get("channel", DEFAULT_CHANNEL)
        if isinstance(channel, bool) or not isinstance(channel, int) or channel not in CHANNELS:
            raise ConfigError(f"{source}: channel must be a ZigBee channel 11 to 26, not {channel!r}")
        pan_id = document.get("pan_id")
        if pan_id is not None and (isinstance(pan_id, bool) or not isinstance(pan_id, int) or pan_id not in PAN_ID_RANGE):
            raise ConfigError(f"{source}: pan_id must be 0x0001 to 0xFFFE, not {pan_id!r}")
        wake = document.get("gsme_wake_minutes", 30)
        if isinstance(wake, bool) or not isinstance(wake, int | float) or not 0 < wake <= 24 * 60:
            raise ConfigError(f"{source}: gsme_wake_minutes must be above 0 and at most a day, not {wake!r}")
        entries = document.get("device", [])
        if not isinstance(entries, list) or not all(isinstance(entry, Mapping) for entry in entries):
            raise ConfigError(f"{source}: device must be an array of tables ([[device]])")
        devices = tuple(_device(entry, f"{source}, device {number}") for number, entry in enumerate(entries, 1))
        euis = [device.eui for device in devices if device.eui is not None]
        if len(euis) != len(set(euis)):
            raise ConfigError(f"{source}: two devices have the same EUI-64")
        return cls(devices or cls.devices, channel, pan_id, timedelta(minutes=wake))


def _device(entry: Mapping[str, Any], where: str) -> HilDevice:
    unknown = set(entry) - {"type", "simulated", "eui", "install_code"}
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {', '.join(sorted(unknown))}")
    try:
        device_type = parse_device_type(str(entry.get("type", "")))
    except ValueError as error:
        raise ConfigError(f"{where}: {error}") from None
    if device_type not in HAN_DEVICES:
        raise ConfigError(f"{where}: a {device_type.name} is not a HAN device the hub admits")
    simulated = entry.get("simulated", True)
    if not isinstance(simulated, bool):
        raise ConfigError(f"{where}: simulated must be true or false")
    eui = code = None
    if "eui" in entry:
        try:
            eui = EUI64(str(entry["eui"]))
        except ValueError as error:
            raise ConfigError(f"{where}: eui: {error}") from None
    if "install_code" in entry:
        try:
            code = bytes.fromhex(str(entry["install_code"]).replace(" ", "").replace("-", ""))
        except ValueError:
            raise ConfigError(f"{where}: install_code must be hex") from None
        try:
            zigpy.util.convert_install_code(code)
        except ValueError as error:
            raise ConfigError(f"{where}: install_code is not a ZigBee install code (6, 8, 12 or 16 bytes and "
                              f"its CRC-16, as on the label): its length or CRC is wrong ({error})") from None  # fmt: skip
    if not simulated and (eui is None or code is None):
        raise ConfigError(f"{where}: a real device needs its eui and install_code (from its label)")
    return HilDevice(device_type, simulated, eui, code)


@dataclass(frozen=True)
class RadioProbe:
    """What a radio says of itself (``smets-emu hil probe``)."""

    kind: str
    ieee: EUI64 | None
    manufacturer: str | None
    model: str | None
    firmware: str | None
    formed: bool
    channel: int | None
    pan_id: int | None
    extended_pan_id: str | None
    cbke: str  # whether the CBKE library (or its certificate) is present, and how we know

    def to_dict(self) -> dict[str, Any]:
        return {**self.__dict__, "ieee": None if self.ieee is None else str(self.ieee)}


@contextlib.asynccontextmanager
async def _connected(kind: str, port: str, *, baudrate: int | None, timeout: float, doing: str) -> AsyncIterator[Any]:
    """A radio's application, connected but not started, for at most ``timeout`` seconds;
    disconnected after, whatever happened. Its failures become ``HilError``s naming ``doing``."""
    app = application_class(kind)(radio_config(kind, port, hub_eui=bytes(8), channel=DEFAULT_CHANNEL, baudrate=baudrate))
    try:
        async with asyncio.timeout(timeout):
            await app.connect()
            yield app
    except TimeoutError:
        raise HilError(f"the {kind} radio on {port} did not answer within {timeout:g} s") from None
    except RADIO_ERRORS as error:
        raise HilError(f"cannot {doing} the {kind} radio on {port}: {error}") from None
    finally:
        await app.disconnect()


async def probe_radio(kind: str, port: str, *, baudrate: int | None = None, timeout: float = 30.0) -> RadioProbe:
    """Connect to a radio and read what it is, without changing it.

    Raises:
        HilError: the radio does not answer, or the kind or port is unusable.
    """
    async with _connected(kind, port, baudrate=baudrate, timeout=timeout, doing="reach") as app:
        try:
            await app.load_network_info(load_devices=False)
            formed = True
        except zigpy.exceptions.NetworkNotFormed:
            formed = False
        cbke = await _cbke(kind, app)
        if kind == "ezsp" and app.state.node_info.ieee == t.EUI64.UNKNOWN:
            app.state.node_info.ieee = await _ezsp_eui64(app)
    node, network = app.state.node_info, app.state.network_info
    known = node.ieee != t.EUI64.UNKNOWN
    return RadioProbe(
        kind, gbcs_eui(node.ieee) if known else None, node.manufacturer, node.model, node.version, formed,
        network.channel if formed else None, network.pan_id if formed else None,
        str(network.extended_pan_id) if formed else None, cbke,
    )  # fmt: skip


async def _ezsp_eui64(app: zigpy.application.ControllerApplication) -> t.EUI64:
    """An EZSP NCP's own EUI-64 (bellows reports it only once a network is formed)."""
    try:
        (ieee,) = await app._ezsp.getEui64()  # type: ignore[attr-defined]
    except Exception:  # noqa: BLE001 — an older NCP may not answer; the caller asks for --hub-eui
        return t.EUI64.UNKNOWN
    return t.EUI64(ieee)


async def _cbke(kind: str, app: zigpy.application.ControllerApplication) -> str:
    if kind == "sim":
        return "absent: the simulated radio performs no key establishment"
    if kind == "znp":
        return "absent: Z-Stack has no CBKE library"
    if kind == "deconz":
        return "absent: deCONZ firmware has no CBKE library"
    # EZSP: bellows exposes no library-status query; the CBKE certificate token says whether
    # the NCP was provisioned for Smart Energy (a Certicom certificate in MFG_CBKE_DATA).
    try:
        from bellows.types import EzspMfgTokenId

        (data,) = await app._ezsp.getMfgToken(tokenId=EzspMfgTokenId.MFG_CBKE_DATA)  # type: ignore[attr-defined]
    except Exception as error:  # noqa: BLE001 — any NCP may refuse the token read; the probe says so
        return f"unknown: the NCP did not give its CBKE token ({error})"
    if not data or set(bytes(data)) == {0xFF}:
        return "no CBKE certificate in the NCP's manufacturing tokens"
    return "a CBKE certificate is in the NCP's manufacturing tokens (the library itself cannot be queried)"


async def backup_radio(kind: str, port: str, *, baudrate: int | None = None, timeout: float = 60.0) -> dict[str, Any]:
    """The radio's network as zigpy's open coordinator backup (JSON-ready): settings, keys,
    frame counters, devices and their link keys. The radio is left as it was.

    Raises:
        HilError: the radio does not answer or has no network to back up.
    """
    async with _connected(kind, port, baudrate=baudrate, timeout=timeout, doing="back up") as app:
        try:
            backup = await app.backups.create_backup(load_devices=True)
        except zigpy.exceptions.NetworkNotFormed:
            raise HilError(f"the {kind} radio on {port} has formed no network: nothing to back up") from None
    return backup.as_open_coordinator_json()


def read_backup(document: Any, *, source: str = "the backup") -> zigpy.backups.NetworkBackup:
    """An open coordinator backup, checked whole (``ConfigError`` says what is wrong)."""
    try:
        backup = parse_backup(document)
    except ValueError as error:
        raise ConfigError(f"{source} is not an open coordinator backup (zigpy's JSON): {error}") from None
    if not backup.is_complete():
        raise ConfigError(f"{source} is incomplete: it lacks the network key, PAN id or channel")
    return backup


async def restore_radio(kind: str, port: str, backup: zigpy.backups.NetworkBackup, *, baudrate: int | None = None,
                        destructive_ok: bool = False, timeout: float = 60.0) -> None:  # fmt: skip
    """Write ``backup``'s network onto the radio: the same PAN ids, channel, keys and devices'
    link keys; the outgoing frame counters (the network key's and each link key's) moved
    ``RESTORE_COUNTER_STEP`` past the backup's, so that none the old radio used is used again.

    Raises:
        HilError: the radio does not answer or cannot take these settings, or would take
            them only destructively (an EZSP NCP's EUI-64 can be written once) without
            ``destructive_ok``.
    """
    async with _connected(kind, port, baudrate=baudrate, timeout=timeout, doing="restore onto") as app:
        try:
            await app.can_write_network_settings(network_info=backup.network_info, node_info=backup.node_info)
        except zigpy.exceptions.DestructiveWriteNetworkSettings as warning:
            if not destructive_ok:
                raise HilError(f"restoring onto the {kind} radio on {port} cannot be undone: {warning}; "
                               "give --force to write it anyway") from None  # fmt: skip
        info = backup.network_info  # zigpy moves the network key's counter on; the link keys' too, here
        keys = [key.replace(tx_counter=key.tx_counter + RESTORE_COUNTER_STEP) for key in info.key_table]
        await app.backups.restore_backup(backup.replace(network_info=info.replace(key_table=keys)),
                                         counter_increment=RESTORE_COUNTER_STEP)  # fmt: skip


class RadioHub:
    """The premises whose hub (CHF and GPF) runs on a radio."""

    def __init__(self, kind: str, hub: ZigpyHub, premises: Premises, air: SimAir | None, lock: Any,
                 simulated: frozenset[EUI64], beside: bool) -> None:  # fmt: skip
        self.kind, self.hub, self.premises, self.air = kind, hub, premises, air
        self.simulated = simulated  # the devices the emulator runs (the rest are real ones)
        self.beside = beside  # the simulated devices are on a simulated HAN beside the radio, not on the air
        self._lock = lock
        self._admitting: asyncio.Task[None] | None = None
        self.admit_failures: dict[EUI64, str] = {}  # devices the radio would not open the network to, and why

    @classmethod
    async def start(cls, kind: str, port: str, state: Path, config: HilConfig | None = None, *,
                    hub_eui: bytes | None = None, network_key: bytes | None = None, baudrate: int | None = None,
                    clock: Clock | None = None, join_timeout: float = 30.0,
                    simulate_beside: bool | None = None) -> RadioHub:  # fmt: skip
        """Start the radio and the hub on it; provision and commission the premises on the
        first start, load it on later ones.

        Args:
            hub_eui: the CHF's HAN EUI-64 when the radio cannot say its own (a new EZSP NCP
                reports it only once it has formed a network).
            simulate_beside: put the simulated devices on a simulated HAN beside the radio
                (``ZigpyHub``'s ``beside``) rather than on its air. The default: beside a
                real radio, on the simulated radio's air.

        Raises:
            HilError: the radio cannot be reached, or does not admit a device;
            ConfigError: another process holds ``state``, or the device list is wrong.
        """
        config = config or HilConfig()
        beside = kind != "sim" if simulate_beside is None else simulate_beside
        try:
            state.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise ConfigError(f"cannot use the state directory {state}: {error.strerror}") from None
        lock = hold_lock(state / "hil.lock", f"the hub in {state}")
        try:
            app_class = hub_application(application_class(kind))
            clock = clock or RealClock()
            air = SimAir.at(port, clock) if kind == "sim" else None  # before the probe, on our clock
            medium = HanMedium(clock) if beside else air
            if hub_eui is None:
                probe = await probe_radio(kind, port, baudrate=baudrate)
                if probe.ieee is None:
                    raise HilError(f"the {kind} radio on {port} did not report its IEEE address; give --hub-eui")
                hub_eui = probe.ieee
            settings = radio_config(kind, port, hub_eui=hub_eui, channel=config.channel, pan_id=config.pan_id,
                                    network_key=network_key, baudrate=baudrate)  # fmt: skip
            try:
                app = await app_class.new(settings, auto_form=True)
            except RADIO_ERRORS as error:
                raise HilError(f"cannot start the {kind} radio on {port}: {error}") from None
            try:
                hub = ZigpyHub(app, require_aps_security=kind != "deconz", clock=clock, beside=medium if beside else None)
                layout, simulated = _layout(hub.eui, config)
                if air is not None:
                    for eui, device_type in layout.devices.items():
                        if device_type in HAN_DEVICES and not (beside and eui in simulated):
                            air.describe(eui, device_descriptor(device_type.name), end_device=device_type is DeviceType.GSME)
                    air.host_alias(layout.of_type(DeviceType.GPF)[0])
                premises = _premises(state, clock, layout, simulated, medium, hub)
            except BaseException:
                await app.shutdown()
                raise
        except BaseException:
            lock.close()
            raise
        radio_hub = cls(kind, hub, premises, air, lock, simulated, beside)
        try:
            await radio_hub.commission(join_timeout=join_timeout)
        except BaseException:
            await radio_hub.stop()
            raise
        return radio_hub

    async def commission(self, *, join_timeout: float = 30.0) -> None:
        """Open the network to every device on the CHF's device log that the radio holds no
        link key for, each alone with its install-code key; the others rejoin with the key the
        radio kept. Simulated devices then join, and are waited for until ``ready``.

        The windows open in the background: zigpy-znp's ``permit_with_link_key`` returns only
        when its window closes, so they run together; zigpy-deconz keeps one key at a time, so
        there they run one after another, each until its device joins or its window ends."""
        premises = self.premises
        try:
            await self.hub.app.load_network_info(load_devices=True)  # the radio's key table
        except RADIO_ERRORS as error:
            raise HilError(f"the {self.kind} radio did not give its key table: {error}") from None
        kept = {key.partner_ieee for key in self.hub.app.state.network_info.key_table}
        log = chf_firmware.device_log(premises.store.read(), premises.chf)
        over_the_air = [entry for entry in log if not (self.beside and entry.eui in self.simulated)]
        new = [(entry.eui, entry.link_key) for entry in over_the_air if zigpy_eui(entry.eui) not in kept]
        self._admitting = asyncio.create_task(self._admit_in_turn(new) if self.kind == "deconz" else self._admit_together(new))
        if self.air is not None:
            await self._admitting  # the simulated radio's windows open at once
            if self.admit_failures:
                raise HilError("the radio would not admit " + "; ".join(f"{eui}: {why}" for eui, why in self.admit_failures.items()))
        ours = [entry.eui for entry in log if entry.eui in self.simulated]  # real devices join when they are told to
        for eui in ours:
            if not premises.medium.is_joined(eui):
                premises.join(eui)
        await self.wait_joined(ours, timeout=join_timeout)

    async def _admit_together(self, devices: list[tuple[EUI64, bytes]]) -> None:
        await asyncio.gather(*(self._admit(eui, key) for eui, key in devices))

    async def _admit_in_turn(self, devices: list[tuple[EUI64, bytes]]) -> None:
        for eui, key in devices:
            if not await self._admit(eui, key):
                continue
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(JOIN_WINDOW):
                    while not self.hub.is_joined(eui):
                        await asyncio.sleep(0.5)

    async def _admit(self, eui: EUI64, link_key: bytes) -> bool:
        """Open the network to ``eui``; a radio that will not is reported (``admit_failures``,
        and the log), not raised: the windows run in the background."""
        try:
            await self.hub.admit(eui, link_key, seconds=JOIN_WINDOW)
        except Exception as error:  # noqa: BLE001 — any failure of the radio library is the user's to know
            LOGGER.error("the %s radio would not open the network to %s: %s", self.kind, eui, error)
            self.admit_failures[eui] = f"{type(error).__name__}: {error}"
            return False
        return True

    def joined(self) -> list[EUI64]:
        """The premises' devices on the network: simulated ones ``ready``, real ones on the radio."""
        return [eui for eui, kind in self.premises.config.devices.items() if kind in HAN_DEVICES and self.ready(eui)]

    def ready(self, eui: EUI64) -> bool:
        """``eui`` has joined and been interviewed, and, if it is a simulated electricity meter,
        holds its tunnel to the hub (a command relayed before it would find none). A gas
        meter sleeps: the hub's grant waits for it, and its tunnel opens when it next wakes."""
        meter = eui in self.simulated and self.premises.config.devices.get(eui) is DeviceType.ESME
        joined = self.premises.medium.is_joined(eui) if self.beside and eui in self.simulated else self.hub.is_joined(eui)
        return joined and (not meter or self.premises.tunnel_open(eui))

    async def wait_joined(self, euis: list[EUI64], *, timeout: float = 30.0) -> None:
        """Until every one of ``euis`` is ``ready``."""
        try:
            async with asyncio.timeout(timeout):
                while not all(self.ready(eui) for eui in euis):
                    await asyncio.sleep(0.02)
        except TimeoutError:
            missing = ", ".join(str(eui) for eui in euis if not self.ready(eui))
            raise HilError(f"not joined, interviewed and (meters) tunnelled after {timeout:g} s: {missing}") from None

    async def stop(self) -> None:
        """Shut the radio down (its state saved) and let the state directory go. Simulated
        devices leave the air with the process they belong to (they keep their keys)."""
        try:
            self.premises.clock.close()  # the firmware's timers: none runs on a closed store
            if self._admitting is not None:
                self._admitting.cancel()
                await asyncio.gather(self._admitting, return_exceptions=True)
            for node in self.premises.nodes.values():
                node.transport.close()
            await self.hub.app.shutdown()
        finally:
            if self.air is not None:
                for eui in self.simulated:
                    self.air.detach(eui)
            self.premises.store.close()
            self._lock.close()


def _layout(hub_eui: EUI64, config: HilConfig) -> tuple[PremisesConfig, frozenset[EUI64]]:
    """The premises, and which of its devices are simulated. The CHF is the radio; the GPF and
    simulated devices get EUI-64s derived from the hub's, so the same hub always has the same
    devices."""

    def derived(index: int) -> EUI64:
        return EUI64(hashlib.sha256(b"smets-emu hil device" + bytes(hub_eui) + index.to_bytes(2, "big")).digest()[:8])

    devices = {EUI64(hub_eui): DeviceType.CHF, derived(0): DeviceType.GPF}
    codes: dict[EUI64, bytes] = {}
    simulated: set[EUI64] = set()
    for index, device in enumerate(config.devices, 1):
        eui = device.eui or derived(index)
        if eui in devices:
            raise ConfigError(f"the device {eui} is the hub's own EUI-64, or listed twice")
        devices[eui] = device.device_type
        if device.install_code is not None:
            codes[eui] = device.install_code
        if device.simulated:
            simulated.add(eui)
    return PremisesConfig(devices, gsme_wake_interval=config.gsme_wake_interval, install_codes=codes), frozenset(simulated)


def _described(layout: PremisesConfig, simulated: frozenset[EUI64]) -> dict[str, list[Any]]:
    """What the state directory records of the device list: each device's type, whether it is
    simulated, and a given install code."""
    return {str(eui): [kind.name, eui in simulated, layout.install_codes[eui].hex() if eui in layout.install_codes else None]
            for eui, kind in layout.devices.items()}  # fmt: skip


def _same_devices(state: Path, recorded: Any, layout: PremisesConfig, simulated: frozenset[EUI64]) -> None:
    """The device list must still describe the premises ``state`` holds: a simulated device's
    EUI-64 comes from its place in the list, so an edited list would load one device as another."""
    listed = _described(layout, simulated)
    if recorded != listed:
        recorded = recorded if isinstance(recorded, dict) else {}
        changed = sorted(set(recorded) ^ set(listed) | {eui for eui in set(recorded) & set(listed) if recorded[eui] != listed[eui]})
        raise ConfigError(f"the device list differs from the premises in {state} (made from an earlier list) for "
                          f"{', '.join(changed)}; use the earlier list, or a new --state")  # fmt: skip


def _premises(state: Path, clock: Clock, layout: PremisesConfig, simulated: frozenset[EUI64], medium: HanMedium | None,
              hub: ZigpyHub) -> Premises:  # fmt: skip
    pki_dir = state / "pki"
    pki = PkiStore.open(pki_dir) if pki_dir.is_dir() else PkiStore.create(pki_dir, now=clock.now() - timedelta(days=1))
    store = Store(state / "premises.sqlite")
    medium = medium if medium is not None else HanMedium(clock)  # a real radio, every device real: nothing joins it
    chf = layout.of_type(DeviceType.CHF)[0]
    recorded = store.read().register(chf, PROVISIONED)
    if recorded:
        try:
            _same_devices(state, recorded, layout, simulated)
            return Premises.load(store, clock, layout, medium=medium, hub_radio=hub)
        except BaseException:
            store.close()
            raise
    with store.transaction() as tx:
        for eui in layout.devices:
            tx.remove_device(eui)  # what a stopped provisioning left
    premises = Premises.create(store, clock, pki, layout, medium=medium, hub_radio=hub)
    with store.transaction() as tx:
        for eui, device_type in layout.devices.items():
            if device_type in HAN_DEVICES:
                chf_firmware.add_to_device_log(tx, premises.chf, eui, int(device_type), layout.install_code_of(eui))
    premises.install_hub()
    with store.transaction() as tx:
        tx.set_register(chf, PROVISIONED, _described(layout, simulated))
    return premises

