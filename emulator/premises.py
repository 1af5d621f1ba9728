"""A premises: the Communications Hub (CHF and GPF), meters and displays on one simulated HAN,
sharing one store and one clock.

``Premises.create`` provisions every device (credentials from a PKI store, its trust anchor
cells, state in the store) in the pre-installed state. Commissioning goes as in the field:
``install_hub`` (the CHF forms the HAN as its trust centre), the ACB's CCS01 commands put
devices on the CHF device log with their install codes (``send``), and each device ``join``s
with the link key its install code gives; meters then open their GBCS tunnels.
``commission`` does all of it at once, putting devices on the log directly.

``send`` hands the premises a command from the WAN: the CHF and GPF answer for themselves,
and the CHF relays a meter's command through the meter's tunnel. Everything the hub sends
back (its own responses and alerts, and what its meters sent up their tunnels) waits in the
store's outbox (``wan_outbox``) until the WAN takes it (``mark_sent``); a meter's frames wait
in its own outbox until its tunnel carries them.

Lifecycle (``firmware/lifecycle.py``): pre-installed → installed-not-commissioned (joined
locally, no WAN) → commissioned; a returned hub is reset for redeployment. The GSME is
sleepy: frames for it wait until it wakes (every ``gsme_wake_interval``), when it also
reports to the GPF's mirror.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from zigpy.util import aes_mmo_hash

import gbcs
from gbcs.errors import DecodeError
from gbcs.types import EUI64, DeviceType, Role

from .clock import Clock
from .devices import chf as chf_firmware
from .devices import esme as esme_firmware
from .devices import esme_supply, gas
from .devices.gas import GasProxyMirror
from .devices.ihd import Display, display_state
from .errors import ConfigError, LinkDown, StoreError
from .firmware import scheduler
from .firmware.command import Outcome, process_command
from .firmware.device import Credentials, Device, Identity, TrustAnchorCell
from .firmware.lifecycle import Event, Lifecycle
from .han.node import HanNode, TunnelClient, TunnelServer
from .han.sim import HanMedium
from .han.transport import HubRadio
from .pki_store import PkiStore
from .store import Store

__all__ = ["Premises", "PremisesConfig", "install_code"]

HAN_DEVICES = (DeviceType.ESME, DeviceType.GSME, DeviceType.IHD, DeviceType.PPMID, DeviceType.HCALCS)
METERS = (DeviceType.ESME, DeviceType.GSME)
MAINS_LOST = "premises.mains_lost"  # CHF register: when the outage in progress began


def install_code(eui: bytes) -> bytes:
    """A device's 16-byte install code. Real devices carry a random one on their label; the
    emulator derives it from the EUI-64 so that a premises is the same on every run (we chose)."""
    return hashlib.sha256(b"smets-emu install code" + bytes(eui)).digest()[:16]


@dataclass(frozen=True, slots=True)
class PremisesConfig:
    """Which devices a premises has. ``devices`` maps EUI-64 to type; exactly one CHF and one
    GPF (the two halves of the Communications Hub)."""

    devices: dict[EUI64, DeviceType]
    gsme_wake_interval: timedelta = timedelta(minutes=30)
    install_codes: dict[EUI64, bytes] = field(default_factory=dict)  # from labels; the rest derived (install_code)

    def install_code_of(self, eui: bytes) -> bytes:
        """``eui``'s install code: as given (a real device's label), else derived."""
        return self.install_codes.get(EUI64(eui)) or install_code(eui)

    @classmethod
    def standard(cls, number: int = 1) -> PremisesConfig:
        """CHF, GPF, ESME, GSME and IHD with EUI-64s ``5E4D5500`` ‖ ``number`` (3 bytes) ‖
        0 to 4, so that premises ``number`` always has the same devices."""
        base = bytes.fromhex("5E4D5500") + number.to_bytes(3, "big")
        kinds = (DeviceType.CHF, DeviceType.GPF, DeviceType.ESME, DeviceType.GSME, DeviceType.IHD)
        return cls({EUI64(base + bytes((index,))): kind for index, kind in enumerate(kinds)})

    def of_type(self, device_type: DeviceType) -> list[EUI64]:
        return [eui for eui, kind in self.devices.items() if kind is device_type]

    def __post_init__(self) -> None:
        for kind in (DeviceType.CHF, DeviceType.GPF):
            if len(self.of_type(kind)) != 1:
                raise ConfigError(f"a premises has exactly one {kind.name}, not {len(self.of_type(kind))}")


@dataclass
class Premises:
    config: PremisesConfig
    store: Store
    clock: Clock
    devices: dict[EUI64, Device]
    medium: HanMedium  # where the simulated HAN devices are (with the hub, unless hub_radio)
    hub_radio: HubRadio | None = None  # a radio carrying the CHF and GPF (hardware/), which forms the HAN
    nodes: dict[EUI64, HanNode] = field(default_factory=dict)
    _tunnel_server: TunnelServer | None = None
    _tunnel_clients: dict[EUI64, TunnelClient] = field(default_factory=dict)
    mains_listeners: list[Callable[[bool], object]] = field(default_factory=list)  # called with mains_on
    outbox_listeners: list[Callable[[], object]] = field(default_factory=list)  # a frame for the WAN was queued

    @property
    def chf(self) -> Device:
        return self.devices[self.config.of_type(DeviceType.CHF)[0]]

    @property
    def gpf(self) -> Device:
        return self.devices[self.config.of_type(DeviceType.GPF)[0]]

    @classmethod
    def create(cls, store: Store, clock: Clock, pki: PkiStore, config: PremisesConfig | None = None,
               *, seed: int = 0, medium: HanMedium | None = None, hub_radio: HubRadio | None = None) -> Premises:  # fmt: skip
        """Provision a new premises in ``store`` (devices pre-installed, not yet on the HAN).
        Devices the PKI store does not know get credentials issued. ``medium`` and
        ``hub_radio`` put the HAN elsewhere than a new simulated one (``Premises.load``)."""
        config = config or PremisesConfig.standard()
        for eui, device_type in config.devices.items():
            if eui not in pki.devices:
                pki.issue_device(eui, device_type)
        keystore = pki.keystore()
        return cls.provision(store, clock, config, lambda eui, _: Credentials.from_keystore(keystore, eui),
                             pki.trust_anchor_cells(), seed=seed, medium=medium, hub_radio=hub_radio)  # fmt: skip

    @classmethod
    def provision(cls, store: Store, clock: Clock, config: PremisesConfig,
                  credentials: Callable[[EUI64, DeviceType], Credentials], cells: dict[Role, TrustAnchorCell],
                  *, seed: int = 0, medium: HanMedium | None = None, hub_radio: HubRadio | None = None) -> Premises:  # fmt: skip
        """Provision a new premises in ``store`` whose devices get their key pairs and
        certificates from ``credentials`` (a fleet derives them rather than keeping files)."""
        devices = {eui: Device.create(store, clock, Identity(eui, device_type), credentials(eui, device_type), dict(cells))
                   for eui, device_type in config.devices.items()}  # fmt: skip
        premises = cls(config, store, clock, devices, HanMedium(clock, seed=seed) if medium is None else medium, hub_radio)
        premises._attach()
        return premises

    @classmethod
    def load(cls, store: Store, clock: Clock, config: PremisesConfig, *, seed: int = 0,
             medium: HanMedium | None = None, hub_radio: HubRadio | None = None) -> Premises:  # fmt: skip
        """The premises ``store`` holds, after a restart: devices as they were, and the HAN
        re-formed from the CHF's device log (devices on it rejoin, meters reopen tunnels).

        Args:
            medium: the simulated HAN the devices are on (default: a new one).
            hub_radio: a radio carrying the CHF and GPF, which forms the network and admits
                joins itself; the devices of ``medium`` join it over its air.
        """
        try:
            devices = {eui: Device.load(store, clock, eui) for eui in config.devices}
        except KeyError as missing:
            raise StoreError(f"store {store.path} does not hold this premises: {missing.args[0]}") from None
        premises = cls(config, store, clock, devices, HanMedium(clock, seed=seed) if medium is None else medium, hub_radio)
        premises._attach()
        if premises.chf.lifecycle in (Lifecycle.INSTALLED_NOT_COMMISSIONED, Lifecycle.COMMISSIONED):
            premises._form_and_join()
        return premises

    def _attach(self) -> None:
        for eui, device_type in self.config.devices.items():
            # The GPF is the hub's second logical device: on the HAN with the CHF, as its own node.
            if self.hub_radio is not None and device_type in (DeviceType.CHF, DeviceType.GPF):
                transport = self.hub_radio.attach(eui)
            else:
                transport = self.medium.attach(eui, sleepy=device_type is DeviceType.GSME)
            self.nodes[eui] = HanNode(transport)
        for gsme in self.config.of_type(DeviceType.GSME)[:1]:
            GasProxyMirror(self.gpf, self.nodes[self.gpf.eui], self.store, gsme)
        self._tunnel_server = TunnelServer(self.nodes[self.chf.eui], self._from_meter, self._may_tunnel)
        for eui in self.config.of_type(DeviceType.IHD):
            Display(self.devices[eui], self.nodes[eui], self.store)
        for eui in self.config.devices:
            if self.config.devices[eui] in METERS:
                self._tunnel_clients[eui] = TunnelClient(
                    self.nodes[eui], self.chf.eui, lambda _, data, eui=eui: self._at_meter(eui, data),
                    on_open=lambda eui=eui: self._flush_meter(eui))  # fmt: skip
                self.devices[eui].alert_sink = lambda alert, eui=eui: self._flush_meter(eui)
        for device in self.devices.values():
            scheduler.arm(device)  # future-dated commands kept from before a restart
            if device.identity.device_type is DeviceType.ESME:
                esme_firmware.arm_activations(device)  # and the meters' pending activations
            elif device.identity.device_type is DeviceType.GSME:
                gas.arm_activations(device)
        self.chf.han_last_heard = self.medium.last_heard if self.hub_radio is None else self.hub_radio.last_heard

    # -- commissioning ---------------------------------------------------------------------------

    def commission(self, *, wan: bool = True) -> None:
        """Install the whole premises at once: the hub forms the HAN, every HAN device goes on
        its device log (as the ACB's CCS01 would put it there) and joins.

        Args:
            wan: the hub has a WAN connection; without one everything stays
                installed-not-commissioned.
        """
        with self.store.transaction() as tx:
            for eui, device_type in self.config.devices.items():
                if device_type in HAN_DEVICES:
                    chf_firmware.add_to_device_log(tx, self.chf, eui, int(device_type), self.config.install_code_of(eui))
        self.install_hub(wan=wan)
        for eui, device_type in self.config.devices.items():
            if device_type in HAN_DEVICES:
                self.join(eui)

    def install_hub(self, *, wan: bool = True) -> None:
        """The hub is installed: the CHF forms the HAN as its trust centre (the GPF with it)."""
        with self.store.transaction() as tx:
            for device in (self.chf, self.gpf):
                device.transition(tx, Event.INSTALLED)
                if wan:
                    device.transition(tx, Event.COMMISSIONED)
        self._form()
        self._schedule_gsme_wake()

    def join(self, eui: bytes) -> bool:
        """A HAN device asks to join with the link key of its install code; the CHF admits it
        if its device log holds it. A joined meter opens its GBCS tunnel. Returns whether it
        joined."""
        eui = EUI64(eui)
        if not self.medium.join(eui, aes_mmo_hash(self.config.install_code_of(eui)).serialize()):
            return False
        device = self.devices[eui]
        with self.store.transaction() as tx:
            if device.lifecycle == Lifecycle.PRE_INSTALLED:
                device.transition(tx, Event.INSTALLED)
            if self.chf.lifecycle == Lifecycle.COMMISSIONED and device.lifecycle == Lifecycle.INSTALLED_NOT_COMMISSIONED:
                device.transition(tx, Event.COMMISSIONED)
        if eui in self._tunnel_clients:
            self._tunnel_clients[eui].open()
        return True

    def tunnel_open(self, meter: bytes) -> bool:
        """Whether a simulated meter holds an open tunnel to the hub (the hub granted it)."""
        client = self._tunnel_clients.get(EUI64(meter))
        return client is not None and client.tunnel_id is not None

    def connect_wan(self) -> None:
        """The WAN reaches an installed-not-commissioned hub: the premises is commissioned."""
        with self.store.transaction() as tx:
            for device in self.devices.values():
                if device.lifecycle == Lifecycle.INSTALLED_NOT_COMMISSIONED:
                    device.transition(tx, Event.COMMISSIONED)

    def return_hub(self) -> None:
        """The Communications Hub is taken off site: it leaves the HAN and is returned."""
        with self.store.transaction() as tx:
            for device in (self.chf, self.gpf):
                device.transition(tx, Event.RETURNED)

    def reset_hub_for_redeployment(self) -> None:
        """A returned hub is reset: its consumer data (device logs, logs, queued frames) is
        erased and it is pre-installed again, ready for another premises."""
        with self.store.transaction() as tx:
            for device in (self.chf, self.gpf):
                device.transition(tx, Event.RESET_FOR_REDEPLOYMENT)

    def _form_and_join(self) -> None:
        """After a restart: the HAN as it was, every device on the log rejoining."""
        self._form()
        for eui, device_type in self.config.devices.items():
            if device_type in HAN_DEVICES and self.devices[eui].lifecycle != Lifecycle.PRE_INSTALLED:
                self.join(eui)
        self._schedule_gsme_wake()

    def _form(self) -> None:
        """The CHF forms the simulated HAN as its trust centre, unless a hub radio formed it
        already (the simulated radio's air, whose trust centre is the radio: ``hardware/``)."""
        if self.hub_radio is None or not self.medium.formed:
            self.medium.form(self.chf.eui, self._admit, members=(self.gpf.eui,))

    def _admit(self, eui: EUI64, link_key: bytes) -> bool:
        """The CHF as trust centre: only devices on its device log, with the right link key."""
        entries = chf_firmware.device_log(self.store.read(), self.chf)
        return any(entry.eui == eui and entry.link_key == link_key for entry in entries)

    def _schedule_gsme_wake(self) -> None:
        for eui in self.config.of_type(DeviceType.GSME):
            self.clock.call_later(self.config.gsme_wake_interval, lambda eui=eui: self._gsme_wakes(eui))

    def _gsme_wakes(self, eui: EUI64) -> None:
        """The GSME wakes: it collects what waits for it and reports to the GPF's mirror (what
        it could not send while out of reach goes up when its tunnel reopens)."""
        try:
            self.nodes[eui].transport.poll()  # type: ignore[attr-defined]
            gas.gsme_reports(self.store, self.devices[eui], self.nodes[eui], self.gpf.eui)
        except LinkDown:
            pass  # out of range: it tries again at its next wake
        self.clock.call_later(self.config.gsme_wake_interval, lambda: self._gsme_wakes(eui))

    # -- the WAN side ----------------------------------------------------------------------------

    def send(self, command: bytes) -> Outcome | None:
        """A command from the WAN reaches the CHF, which answers it or relays it.

        Returns:
            the outcome when the CHF or GPF processed it at once; None when it was relayed to
            a meter (its answer arrives through the tunnel, as clock time passes).

        Raises:
            LinkDown: the hub has no mains power (it hears nothing).
        """
        if not self.mains_on:
            raise LinkDown(f"the hub {self.chf.eui} has no mains power")
        try:
            recipient = gbcs.decode(command).recipient
        except (DecodeError, AttributeError):
            recipient = self.chf.eui  # the CHF refuses what it cannot read, and logs it
        if recipient in (self.chf.eui, self.gpf.eui):
            return process_command(self.devices[recipient], command)
        if recipient in self._tunnel_clients and self._tunnel_server is not None:
            try:
                self._tunnel_server.send_gbcs(recipient, command)
            except LinkDown as error:
                with self.store.transaction() as tx:
                    tx.log_event(self.chf.eui, self.clock.now(), "relay-failed", f"to {recipient}: {error}")
            return None
        return process_command(self.chf, command)  # not a device of this premises: the CHF refuses it

    def _at_meter(self, eui: EUI64, data: bytes) -> None:
        process_command(self.devices[eui], data)  # its response waits in its outbox
        self._flush_meter(eui)

    def _flush_meter(self, eui: EUI64) -> None:
        """Send up the meter's tunnel what waits in its outbox, oldest first, marking each
        sent once handed over; with no tunnel it keeps waiting (sent when the tunnel opens)."""
        for row_id, _, _, data in self.store.read().outbox(eui, unsent_only=True):
            try:
                self._tunnel_clients[eui].send_gbcs(data)
            except LinkDown:
                return
            with self.store.transaction() as tx:
                tx.mark_sent(row_id)

    def _may_tunnel(self, eui: EUI64) -> bool:
        """The hub grants tunnels to its meters on its device log, and to nothing else."""
        if eui not in self._tunnel_clients:
            return False
        return any(entry.eui == eui for entry in chf_firmware.device_log(self.store.read(), self.chf))

    def _from_meter(self, eui: EUI64, data: bytes) -> None:
        """A meter's response or alert reaches the CHF: queued for the WAN if the meter is its
        originator (a device cannot speak for another)."""
        try:
            originator = gbcs.decode(data).originator
        except (DecodeError, AttributeError):
            originator = None
        with self.store.transaction() as tx:
            if originator != eui:
                tx.log_event(self.chf.eui, self.clock.now(), "relay-refused", f"a frame from {eui} not originated by it")
                return
            tx.record_sent(self.chf.eui, self.clock.now(), "relayed", data)
        for listener in list(self.outbox_listeners):
            listener()

    # -- the mains supply ----------------------------------------------------------------------------

    @property
    def mains_on(self) -> bool:
        """Whether the premises has mains power (the hub and the electricity meters run on it)."""
        return self.store.read().register(self.chf.eui, MAINS_LOST) is None

    def cut_mains(self) -> None:
        """The premises loses mains power: the hub goes dark (its WAN link drops; what the
        broker holds for it waits) and the electricity meters note when. Durable, so an
        outage spanning a restart is measured whole. Cutting twice changes nothing."""
        with self.store.transaction() as tx:
            if tx.register(self.chf.eui, MAINS_LOST) is not None:
                return
            tx.set_register(self.chf.eui, MAINS_LOST, self.clock.now().isoformat())
            tx.log_event(self.chf.eui, self.clock.now(), "mains-lost", "the hub lost mains power")
            for eui in self.config.of_type(DeviceType.ESME):
                esme_firmware.mains_lost(self.devices[eui], tx)
        self._mains_changed()

    def restore_mains(self) -> list[bytes]:
        """Power returns: the hub comes back, and each electricity meter alerts the network
        operator and the supplier (ECS80: 8F36 after three minutes or more, 8F35 before),
        through the hub to the WAN. Returns those alerts (none if the mains were on)."""
        alerts: list[bytes] = []
        with self.store.transaction() as tx:  # one transaction: a crash keeps the outage whole or ends it whole
            lost = tx.register(self.chf.eui, MAINS_LOST)
            if lost is not None:
                tx.set_register(self.chf.eui, MAINS_LOST, None)
                tx.log_event(self.chf.eui, self.clock.now(), "mains-restored",
                             f"after {self.clock.now() - datetime.fromisoformat(lost)}")  # fmt: skip
            for eui in self.config.of_type(DeviceType.ESME):
                alerts += esme_firmware.mains_restored(self.devices[eui], tx)
        for eui in self.config.of_type(DeviceType.ESME):
            self._flush_meter(eui)
        if lost is not None:
            self._mains_changed()
        return alerts

    def outage_started(self) -> datetime | None:
        """When the outage in progress began (None: the mains are on)."""
        lost = self.store.read().register(self.chf.eui, MAINS_LOST)
        return None if lost is None else datetime.fromisoformat(lost)

    def _mains_changed(self) -> None:
        for listener in list(self.mains_listeners):
            listener(self.mains_on)

    def tamper(self, eui: EUI64) -> None:
        """Someone opens the electricity meter's cover: it alerts the supplier (8F3F)."""
        if self.config.devices.get(eui) is not DeviceType.ESME:
            raise ConfigError(f"{eui} is not an electricity meter of this premises")
        with self.store.transaction() as tx:
            alert = esme_firmware.tamper_detected(self.devices[eui], tx)
        if alert is not None:
            self._flush_meter(eui)

    # -- the consumer side -------------------------------------------------------------------------

    def press_meter_button(self, eui: EUI64) -> bool:
        """The consumer presses the electricity meter's button: an armed supply comes back.
        Returns whether it did."""
        if self.config.devices.get(eui) is not DeviceType.ESME:
            raise ConfigError(f"{eui} is not an electricity meter of this premises")
        with self.store.transaction() as tx:
            return esme_supply.consumer_closes(self.devices[eui], tx)

    def meter_message(self, text: str, *, message_id: int = 1) -> None:
        """The electricity meter shows the consumer a message on every display."""
        for eui in self.config.of_type(DeviceType.ESME):
            esme_firmware.publish_message(self.nodes[eui], self.config.of_type(DeviceType.IHD), message_id, text)

    def meter_price(self, price: int, *, trailing_digits: int = 2) -> None:
        """The electricity meter publishes its current price to every display."""
        for eui in self.config.of_type(DeviceType.ESME):
            esme_firmware.publish_price(self.nodes[eui], self.config.of_type(DeviceType.IHD), price=price,
                                        trailing_digits=trailing_digits, now=0)  # fmt: skip

    def gas_consumed(self, volume: int) -> None:
        """The gas meter registers ``volume`` more (until the meters' load model drives it)."""
        for eui in self.config.of_type(DeviceType.GSME):
            gas.gsme_consumes(self.store, self.devices[eui], volume)

    def gas_mirror(self) -> dict:
        """What the GPF holds of the GSME: ``current_summation_delivered`` and ``updated``."""
        return gas.mirror_of(self.store, self.gpf.eui)

    def display(self, eui: bytes | None = None) -> dict:
        """What a display (the first, by default) shows."""
        return display_state(self.store, eui or self.config.of_type(DeviceType.IHD)[0])

    def wan_outbox(self) -> list[tuple[int, bytes]]:
        """What the hub (CHF and GPF) has for the WAN and the WAN has not taken: ``(id, frame)``,
        in the order queued."""
        read = self.store.read()
        rows = read.outbox(self.chf.eui, unsent_only=True) + read.outbox(self.gpf.eui, unsent_only=True)
        return [(row_id, frame) for row_id, _, _, frame in sorted(rows)]

    def mark_sent(self, outbox_id: int) -> None:
        with self.store.transaction() as tx:
            tx.mark_sent(outbox_id)
