"""A site: the premises one emulator process runs on the SMWAN (``smets-emu run``).

One state directory holds everything a restart needs: ``pki/`` (the test PKI, made on first
run), ``premises.sqlite`` (every premises' devices, one store) and nothing else. Premises
``1..N`` have the devices ``PremisesConfig.standard(n)`` gives, so the same configuration
always gives the same hubs; a premises the store lacks is provisioned and commissioned, one
it holds is loaded as it was. Time is a ``VirtualClock`` that flows ``speed`` times as fast
as real time, and jumps when a scenario says so.

The configuration file (TOML; every key optional)::

    premises = 1                      # how many premises
    state = "smets-emu-state"         # the state directory
    broker = "mqtt://127.0.0.1:1883"  # absent: the caller starts an embedded broker
    speed = 1.0                       # virtual seconds per real second
    start = 2026-12-01T00:00:00Z      # the virtual clock's first moment; default: now

    auth = "smwan-auth.json"          # per-hub broker accounts (emulator.wan.auth); absent: none

    [wan]                             # every hub's WAN (emulator.wan.WanConditions)
    latency = 0.0                     # seconds, each way
    loss = 0.0                        # probability, each way
    seed = 0

    [wan.premises.2]                  # premises 2's own (the rest as [wan])
    latency = 1.5
    loss = 0.2
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import IO, Any

from gbcs.types import DeviceType

from .clock import VirtualClock, utc
from .errors import ConfigError, StoreError
from .pki_store import PkiStore
from .premises import Premises, PremisesConfig
from .state_files import hold_lock, save_time, saved_time
from .store import Store
from .toml_file import read_toml
from .wan.auth import HubAuth
from .wan.control import ControlPlane
from .wan.link import Broker, HubLink, WanConditions

__all__ = ["Site", "SiteConfig"]

MAX_PREMISES = 10_000  # a site is one process; fleets (many processes) are another matter


@dataclass(frozen=True)
class SiteConfig:
    premises: int = 1
    state: Path = Path("smets-emu-state")
    broker: Broker | None = None
    speed: float = 1.0
    start: datetime | None = None
    wan: WanConditions = field(default_factory=WanConditions)
    wan_premises: Mapping[int, WanConditions] = field(default_factory=dict)  # premises number -> its own WAN
    auth: Path | None = None

    def __post_init__(self) -> None:
        if isinstance(self.premises, bool) or not isinstance(self.premises, int) or not 1 <= self.premises <= MAX_PREMISES:
            raise ConfigError(f"premises must be a whole number from 1 to {MAX_PREMISES}, not {self.premises!r}")
        if isinstance(self.speed, bool) or not isinstance(self.speed, int | float) or not 0 < self.speed <= 1e6:
            raise ConfigError(f"speed must be a number above 0 (at most 1e6), not {self.speed!r}")

    @classmethod
    def from_toml(cls, path: Path) -> SiteConfig:
        """Read a configuration file (the module docstring shows its keys).

        Raises:
            ConfigError: unreadable, not TOML, or a key or value that is wrong (named).
        """
        document = read_toml(path)
        return cls.from_mapping(document, source=str(path))

    @classmethod
    def from_mapping(cls, document: Mapping[str, Any], *, source: str = "the configuration") -> SiteConfig:
        unknown = set(document) - {"premises", "state", "broker", "speed", "start", "wan", "auth"}
        if unknown:
            raise ConfigError(f"{source}: unknown key(s) {', '.join(sorted(unknown))}")
        values: dict[str, Any] = {key: document[key] for key in ("premises", "speed") if key in document}
        for key in ("state", "auth"):
            if key in document:
                values[key] = Path(_typed(document, key, str, source))
        if "broker" in document:
            values["broker"] = Broker.from_url(_typed(document, "broker", str, source))
        if "start" in document:
            start = _typed(document, "start", datetime, source)
            if not 2000 <= start.year <= 2099:
                raise ConfigError(f"{source}: start must be a moment from 2000 to 2099, not {start}")
            values["start"] = start if start.tzinfo else start.replace(tzinfo=timezone.utc)
        wan = dict(document.get("wan", {})) if isinstance(document.get("wan", {}), Mapping) else None
        if wan is None or set(wan) - {"latency", "loss", "seed", "premises"}:
            raise ConfigError(f"{source}: [wan] takes latency, loss, seed and [wan.premises.N] tables")
        overrides = wan.pop("premises", {})
        try:
            values["wan"] = WanConditions(**wan)
            if not isinstance(overrides, Mapping):
                raise ConfigError("[wan.premises] holds a table per premises number")
            values["wan_premises"] = {}
            for number, table in overrides.items():
                if not str(number).isdigit() or not isinstance(table, Mapping) or set(table) - {"latency", "loss", "seed"}:
                    raise ConfigError(f"[wan.premises.{number}] must be a premises number's table of latency, loss and seed")
                values["wan_premises"][int(number)] = replace(values["wan"], **table)
            return cls(**values)
        except TypeError as error:
            raise ConfigError(f"{source}: {error}") from None
        except ConfigError as error:
            raise ConfigError(f"{source}: {error}") from None


PROVISIONED = "site.provisioned"  # CHF register: the premises was made and commissioned whole


def _premises(store: Store, clock: VirtualClock, pki: PkiStore, number: int) -> Premises:
    """Premises ``number`` as the store holds it; or, if the store lacks it or holds only part
    of it (a run stopped while provisioning it), provisioned and commissioned afresh."""
    layout = PremisesConfig.standard(number)
    chf = layout.of_type(DeviceType.CHF)[0]
    if store.read().register(chf, PROVISIONED):
        return Premises.load(store, clock, layout, seed=number)
    with store.transaction() as tx:
        for eui in layout.devices:
            tx.remove_device(eui)  # what a stopped provisioning left
    premises = Premises.create(store, clock, pki, layout, seed=number)
    premises.commission()
    with store.transaction() as tx:
        tx.set_register(chf, PROVISIONED, True)
    return premises


def _typed(document: Mapping[str, Any], key: str, kind: type, source: str) -> Any:
    value = document[key]
    if not isinstance(value, kind):
        raise ConfigError(f"{source}: {key} must be a {kind.__name__}, not {value!r}")
    return value


class Site:
    """The premises of one emulator process, each with its hub's link to ``broker``. One
    process at a time holds a state directory (``site.lock``)."""

    def __init__(self, config: SiteConfig, premises: list[Premises], clock: VirtualClock, pki: PkiStore,
                 lock: IO[str] | None = None) -> None:  # fmt: skip
        self.config, self.premises, self.clock, self.pki = config, premises, clock, pki
        self.links: dict[str, HubLink] = {}
        self._lock = lock

    @classmethod
    def open(cls, config: SiteConfig, *, now: datetime | None = None) -> Site:
        """Open (or make) the state directory: the PKI, the store, premises 1..N. Virtual time
        resumes where the last run left it (or at ``config.start`` if that is later).

        Raises:
            StoreError: the state directory cannot be made, read or written;
            ConfigError: another process holds it, or the start moment is out of range.
        """
        state = Path(config.state)
        try:
            state.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise StoreError(f"cannot use the state directory {state}: {error.strerror}") from None
        lock = hold_lock(state / "site.lock", f"the site in {state}")
        try:
            saved = saved_time(state / "clock.json")
            known = [utc(moment) for moment in (saved, config.start) if moment is not None]
            start = max(known) if known else utc(now or datetime.now(timezone.utc))
            pki_dir = state / "pki"
            pki = PkiStore.open(pki_dir) if pki_dir.is_dir() else PkiStore.create(pki_dir, now=start - timedelta(days=1))
            store, clock = Store(state / "premises.sqlite"), VirtualClock(start)
            premises = [_premises(store, clock, pki, number) for number in range(1, config.premises + 1)]
            clock.advance(timedelta(seconds=1))  # meters open their tunnels
        except (OverflowError, ValueError) as error:
            lock.close()
            raise ConfigError(f"the site's start moment is out of range: {error}") from None
        except BaseException:
            lock.close()
            raise
        site = cls(config, premises, clock, pki, lock)
        site.save_time()
        return site

    def save_time(self) -> None:
        """Keep the virtual time (``clock.json``), for the next run to resume from."""
        save_time(Path(self.config.state) / "clock.json", self.clock.now())

    def hub(self, number: int) -> Premises:
        """Premises ``number`` (from 1)."""
        return self.premises[number - 1]

    async def run(self, broker: Broker | None = None, *, ready: asyncio.Event | None = None) -> None:
        """Run until cancelled: time flows, every hub holds its link (with its own account if
        the configuration names an ``auth`` file), the control plane serves the hubs' control
        topics. ``ready`` is set once every hub is connected and the control topics are heard.

        Raises:
            ConfigError: no broker, or an unreadable ``auth`` file or one without a hub of this site.
        """
        broker = broker or self.config.broker
        if broker is None:
            raise ConfigError("no broker: give one in the configuration or start an embedded one")
        auth = HubAuth.load(self.config.auth) if self.config.auth is not None else None
        self.links = {}
        for premises in self.premises:
            try:
                hub_broker = broker if auth is None else auth.broker_for(premises.chf.eui, broker)
            except KeyError:
                raise ConfigError(f"{self.config.auth} has no account for the hub {premises.chf.eui}; "
                                  "make the accounts for every premises (smets-emu auth)") from None  # fmt: skip
            number = len(self.links) + 1
            conditions = self.config.wan_premises.get(number) or replace(self.config.wan, seed=self.config.wan.seed + number - 1)
            link = HubLink(premises, hub_broker, conditions=conditions)
            self.links[link.hub] = link
        if auth is None:
            planes = [ControlPlane(broker, self.links, identifier=f"control-{next(iter(self.links))}")]
        else:  # a hub's account reads only its own control topic: a plane per hub, as that hub
            planes = [ControlPlane(link.broker, {hub: link}, identifier=f"control-{hub}") for hub, link in self.links.items()]
        async with asyncio.TaskGroup() as group:
            group.create_task(self.clock.flow(self.config.speed))
            group.create_task(self._keep_time())
            for link in self.links.values():
                group.create_task(link.run())
            for plane in planes:
                group.create_task(plane.run())
            if ready is not None:  # a hub without mains stays dark: it is as ready as it can be
                await asyncio.gather(*(link.connected.wait() for link in self.links.values() if link.premises.mains_on),
                                     *(plane.subscribed.wait() for plane in planes))  # fmt: skip
                ready.set()

    async def _keep_time(self, every: float = 5.0) -> None:
        while True:
            await asyncio.sleep(every)
            self.save_time()

    def status(self) -> dict:
        """Figures for a status display: time, hubs connected, frames each way."""
        links = list(self.links.values())
        return {
            "time": self.clock.now(), "premises": len(self.premises),
            "connected": sum(link.connected.is_set() for link in links),
            "received": sum(link.received for link in links), "sent": sum(link.sent for link in links),
            "reconnects": sum(link.reconnects for link in links),
            "mains_off": sum(not premises.mains_on for premises in self.premises),
        }  # fmt: skip

    def close(self) -> None:
        """Keep the time, close the store, let another process have the state directory."""
        if self._lock is None:
            return
        self.save_time()
        if self.premises:
            self.premises[0].store.close()
        self._lock.close()
        self._lock = None
