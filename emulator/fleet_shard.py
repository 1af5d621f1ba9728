"""A fleet's state directory, and the shard of it one worker process runs.

``smets-emu fleet init`` makes the state directory::

    fleet.json          the fleet's fingerprint, its shard count and the clock's first moment
    pki/                the organisations' PKI (device keys come from the fleet's seed)
    shard-K.sqlite      shard K's store: the state of every premises of the shard it has touched
    shard-K.clock.json  shard K's virtual time, for a restart to resume from
    shard-K.lock        held by the process running shard K

Premises belong to shards by a stable hash of their CHF's EUI-64 (``shard_of``): the same
fleet and shard count always give the same split, so shards can run on different machines
against one broker (cluster) and each machine keeps only its shards' files.

An idle premises costs a dictionary entry: nothing of it is in memory and, until it is first
touched (a command for its hub, a storm), nothing of it is in the store either. Touching it
materialises it — provisioned and commissioned the first time (keys from the fleet's seed,
the ESME configured as its template says), loaded from the store after that. Premises not
touched for ``idle_after`` seconds go back to the store (``evict_idle``). What a hub has for
the WAN is in the store's outbox, so a shared WAN connection sends it whether or not the
premises is in memory.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from gbcs.types import DeviceType

from .clock import Clock, Timer, VirtualClock, utc
from .devices import esme as esme_firmware
from .errors import ConfigError, LinkDown, StoreError
from .fleet import Fleet, FleetPremises
from .fleet_credentials import FleetCredentials
from .pki_store import PkiStore
from .premises import MAINS_LOST, Premises
from .state_files import hold_lock, save_time, saved_time
from .store import Store

__all__ = ["FleetShard", "FleetState", "StormResult", "shard_of"]

PROVISIONED = "fleet.provisioned"  # CHF register: the premises was made and commissioned whole
MAX_SHARDS = 4096
_HAN_CROSSING = timedelta(milliseconds=50)  # a meter's frame to the hub: two hops of the simulated HAN's 20 ms
_HAN_SETTLING = timedelta(seconds=1)  # a premises brought up: its meters rejoined and their tunnels open


def shard_of(hub: bytes, shards: int) -> int:
    """The shard of the premises whose CHF is ``hub``: stable across runs, machines and
    Python versions (SHA-256, not ``hash``)."""
    return int.from_bytes(hashlib.sha256(b"smets-emu shard" + bytes(hub)).digest()[:8], "big") % shards


def fingerprint(fleet: Fleet) -> str:
    """What identifies a fleet's premises: its seed, templates and groups (not the file's
    comments or layout)."""
    return hashlib.sha256(repr((fleet.seed, sorted(fleet.templates.items()), fleet.groups)).encode()).hexdigest()


@dataclass(frozen=True)
class FleetState:
    """A fleet's state directory (the module docstring shows its files)."""

    directory: Path
    shards: int
    start: datetime

    @classmethod
    def init(cls, directory: Path, fleet: Fleet, *, shards: int, start: datetime) -> FleetState:
        """Make the state directory: the manifest, the organisations' PKI and the shards'
        (empty) stores.

        Raises:
            ConfigError: a bad shard count, or the directory already holds a fleet.
            StoreError: the directory cannot be written.
        """
        if isinstance(shards, bool) or not isinstance(shards, int) or not 1 <= shards <= MAX_SHARDS:
            raise ConfigError(f"shards must be a whole number from 1 to {MAX_SHARDS}, not {shards!r}")
        directory = Path(directory)
        if (directory / "fleet.json").exists():
            raise ConfigError(f"{directory} already holds a fleet; remove it to start afresh")
        start = utc(start)
        try:
            directory.mkdir(parents=True, exist_ok=True)
            PkiStore.create(directory / "pki", now=start - timedelta(days=1))
            for shard in range(shards):  # empty until premises are touched, but there
                Store(directory / f"shard-{shard}.sqlite").close()
            manifest = {"fingerprint": fingerprint(fleet), "seed": fleet.seed, "premises": fleet.size,
                        "shards": shards, "start": start.isoformat()}  # fmt: skip
            staging = directory / "fleet.json.tmp"
            staging.write_text(json.dumps(manifest, indent=2) + "\n")
            staging.replace(directory / "fleet.json")  # last: a directory with a manifest is whole
        except OSError as error:
            raise StoreError(f"cannot make the fleet's state in {directory}: {error}") from None
        return cls(directory, shards, start)

    @classmethod
    def open(cls, directory: Path, fleet: Fleet) -> FleetState:
        """A state directory ``fleet init`` made for ``fleet``.

        Raises:
            ConfigError: no fleet there, or another fleet's.
            StoreError: the manifest is unreadable.
        """
        directory = Path(directory)
        try:
            manifest = json.loads((directory / "fleet.json").read_text())
            shards, start, kept = int(manifest["shards"]), datetime.fromisoformat(manifest["start"]), manifest["fingerprint"]
        except FileNotFoundError:
            raise ConfigError(f"{directory} holds no fleet: make it with smets-emu fleet init") from None
        except (OSError, ValueError, KeyError, TypeError) as error:
            raise StoreError(f"{directory / 'fleet.json'} is unreadable: {error}") from None
        if kept != fingerprint(fleet):
            raise ConfigError(f"{directory} holds another fleet (its seed, templates or groups differ from this file's); "
                              "use the file it was made from, or a new state directory")  # fmt: skip
        if not 1 <= shards <= MAX_SHARDS:
            raise StoreError(f"{directory / 'fleet.json'} names {shards} shards")
        return cls(directory, shards, utc(start))

    def store_path(self, shard: int) -> Path:
        return self.directory / f"shard-{shard}.sqlite"


@dataclass(frozen=True)
class StormResult:
    """What one shard did in a storm: premises cut and restored, alerts its meters raised,
    when (wall-clock seconds since the epoch) the power came back to its first premises, and
    when its last premises had raised its alerts."""

    shard: int
    premises: int
    alerts: int
    restored_at: float
    raised_by: float  # when the last of them had raised its alerts (wall clock)


class _PremisesClock(Clock):
    """The shard's clock as one premises sees it: its timers can all be cancelled when the
    premises goes back to the store."""

    def __init__(self, shared: VirtualClock) -> None:
        super().__init__()
        self._shared = shared
        self._timers: dict[int, Timer] = {}  # by sequence (timers compare by due time, so cannot be a set)

    def now(self) -> datetime:
        return self._shared.now()

    def call_at(self, due: datetime, callback: Callable[[], object]) -> Timer:
        def run() -> None:
            self._timers.pop(timer.sequence, None)
            callback()

        timer = self._shared.call_at(due, run)
        self._timers[timer.sequence] = timer
        return timer

    def close(self) -> None:
        for timer in self._timers.values():
            timer.cancel()
        self._timers.clear()


class FleetShard:
    """Shard ``shard`` of a fleet: its premises, its store and its virtual clock. One process
    at a time runs a shard (its lock file)."""

    def __init__(self, fleet: Fleet, state: FleetState, shard: int, *, now: datetime | None = None,
                 idle_after: float = 60.0) -> None:  # fmt: skip
        """Open the shard (its store, time resumed where its last run left it).

        Raises:
            ConfigError: no such shard, or another process runs it.
            StoreError: its files cannot be used.
        """
        if isinstance(shard, bool) or not isinstance(shard, int) or not 0 <= shard < state.shards:
            raise ConfigError(f"the fleet has shards 0 to {state.shards - 1}, not {shard!r}")
        self.fleet, self.state, self.shard, self.idle_after = fleet, state, shard, idle_after
        self._lock = hold_lock(state.directory / f"shard-{shard}.lock", f"shard {shard} of the fleet in {state.directory}")
        try:
            self.pki = PkiStore.open(state.directory / "pki")
            self.store = Store(state.store_path(shard))
            saved = saved_time(self._clock_path)
            self.clock = VirtualClock(max(moment for moment in (saved, state.start, utc(now) if now else None) if moment))
        except BaseException:
            self._lock.close()
            raise
        self.fleet_id = fingerprint(fleet)[:12]
        self.credentials = FleetCredentials(fleet.seed, self.pki)
        self._cells = self.pki.trust_anchor_cells()
        self._hubs: dict[bytes, int] = {}  # an idle premises: its hub's EUI-64 → its number
        self._regions: dict[str, list[int]] = {}
        number = 0
        for group in fleet.groups:
            region = self._regions.setdefault(group.region, [])
            for _ in range(group.count):
                number += 1
                hub = fleet.hub_of(number)
                if shard_of(hub, state.shards) == shard:
                    self._hubs[hub] = number
                    region.append(number)
        self.active: OrderedDict[int, tuple[Premises, _PremisesClock, float]] = OrderedDict()
        self._settled_at: dict[int, datetime] = {}  # premises just brought up: when their HAN has settled
        self.dark = self._dark_in_store()
        self.commands = self.dropped = self.alerts = 0
        self.outbox_listeners: list[Callable[[], object]] = []
        self.save_time()

    # -- which premises -----------------------------------------------------------------------------

    @property
    def hubs(self) -> Iterator[bytes]:
        """The CHF EUI-64 of every premises of this shard."""
        return iter(self._hubs)

    def __len__(self) -> int:
        return len(self._hubs)

    def number_of(self, hub: bytes) -> int | None:
        """The number of the premises whose CHF is ``hub``, if this shard runs it."""
        return self._hubs.get(bytes(hub))

    def region(self, region: str) -> list[int]:
        """This shard's premises in ``region``, by number.

        Raises:
            ConfigError: the fleet has no such region.
        """
        if region not in self._regions:
            raise ConfigError(f"the fleet has no region {region!r}; its regions: {', '.join(self._regions)}")
        return list(self._regions[region])

    # -- materialising ------------------------------------------------------------------------------

    def premises(self, number: int) -> Premises:
        """Premises ``number`` in memory: as it was if it is, loaded from the store if it was
        touched before, provisioned and commissioned if never.

        Raises:
            ConfigError: the premises is another shard's (or not of the fleet).
        """
        entry = self.active.get(number)
        if entry is None and shard_of(self.fleet.hub_of(number), self.state.shards) != self.shard:
            raise ConfigError(f"premises {number} is not of shard {self.shard}")
        if entry is not None:
            self.active[number] = (entry[0], entry[1], time.monotonic())
            self.active.move_to_end(number)
            return entry[0]
        described = self.fleet.premises_number(number)
        clock = _PremisesClock(self.clock)
        try:
            if self.store.read().register(described.hub, PROVISIONED):
                premises = Premises.load(self.store, clock, described.config, seed=number)
            else:
                premises = self._provision(described, clock)
        except BaseException:
            clock.close()  # nothing of a premises that failed to come may run later
            raise
        premises.outbox_listeners.append(self._outbox_changed)
        self.active[number] = (premises, clock, time.monotonic())
        self._settled_at[number] = self.clock.now() + _HAN_SETTLING
        return premises

    def _provision(self, described: FleetPremises, clock: Clock) -> Premises:
        """Make and commission a premises the store lacks (or holds half of: a stopped
        provisioning's leftovers go first), configured as its template says."""
        with self.store.transaction() as tx:
            for eui in described.config.devices:
                tx.remove_device(eui)
        premises = Premises.provision(self.store, clock, described.config, self.credentials.credentials,
                                      self._cells, seed=described.number)  # fmt: skip
        premises.commission()
        with self.store.transaction() as tx:
            for esme in described.config.of_type(DeviceType.ESME):
                esme_firmware.configure_metering(tx, premises.devices[esme], elements=described.group.template.esme,
                                                 seed=described.load_seed)  # fmt: skip
            tx.set_register(described.hub, PROVISIONED, True)
        return premises

    def evict_idle(self, *, older_than: float | None = None) -> int:
        """Send premises untouched for ``older_than`` seconds (default ``idle_after``) back to
        the store, unless frames are on their way across its HAN or wait for a sleepy device
        (those live only in memory). Returns how many went.

        A premises in the store has no timers: its future-dated commands and activations run
        when it is next touched (they are kept, and armed again on loading)."""
        limit = time.monotonic() - (self.idle_after if older_than is None else older_than)
        evicted = 0
        for number, (premises, clock, touched) in list(self.active.items()):
            if touched > limit or premises.medium.held():
                continue
            clock.close()
            del self.active[number]
            self._settled_at.pop(number, None)
            evicted += 1
        return evicted

    # -- the WAN side -------------------------------------------------------------------------------

    def deliver(self, hub: bytes, command: bytes) -> bool:
        """A command from the WAN for ``hub``'s premises. Returns whether the hub heard it (a
        hub without mains hears nothing; a hub not of this shard is not ours)."""
        number = self._hubs.get(bytes(hub))
        if number is None or number in self.dark:
            self.dropped += 1
            return False
        premises = self.premises(number)
        self.commands += 1
        settled_at = self._settled_at.get(number)
        if settled_at is not None and self.clock.now() < settled_at:
            # Just brought up: its meters are rejoining the HAN and reopening their tunnels.
            # The hub holds the command until they have, as it would after a restart.
            self.active[number][1].call_at(settled_at, lambda: self._hear(premises, command))
            return True
        self._settled_at.pop(number, None)
        self._hear(premises, command)
        return True

    def _hear(self, premises: Premises, command: bytes) -> None:
        try:
            premises.send(command)  # the CHF answers, relays, or refuses and logs
        except LinkDown:
            self.dropped += 1  # its mains went while the command waited

    def unsent(self, *, after: int = 0, limit: int = 500) -> tuple[list[tuple[int, bytes, bytes]], int | None]:
        """What the hubs of powered premises have for the WAN, from any premises, in memory
        or not: ``(outbox id, hub, frame)`` in the order queued, after outbox id ``after``,
        looking at ``limit`` frames at most; and the last id looked at (None: nothing after
        ``after``). A meter's own frames wait for its tunnel, not for the WAN, and a dark hub's
        for the power: both are passed over."""
        rows, last = [], None
        for row_id, device, frame in self.store.read().unsent(after=after, limit=limit):
            last = row_id
            eui = bytes.fromhex(device)
            if not Fleet.is_hub_device(eui):
                continue
            number = Fleet.number_of_device(eui)
            if number in self.dark:
                continue
            rows.append((row_id, self.fleet.hub_of(number), frame))
        return rows, last

    def backlog(self) -> int:
        """Frames queued and not yet sent (a meter's for its tunnel too)."""
        return self.store.read().unsent_count()

    def mark_sent(self, outbox_ids: list[int]) -> None:
        with self.store.transaction() as tx:
            for outbox_id in outbox_ids:
                tx.mark_sent(outbox_id)

    def _outbox_changed(self) -> None:
        for listener in list(self.outbox_listeners):
            listener()

    # -- the mains ----------------------------------------------------------------------------------

    def cut_mains(self, numbers: list[int]) -> None:
        with self._batch(numbers):
            for number in numbers:
                self.premises(number).cut_mains()
        self.dark.update(numbers)

    def restore_mains(self, numbers: list[int]) -> int:
        """Power back at ``numbers``: returns how many alerts their meters raised."""
        raised = 0
        with self._batch(numbers):  # one commit, before any of the alerts can leave
            for number in numbers:
                raised += len(self.premises(number).restore_mains())
        self.dark.difference_update(numbers)
        self.alerts += raised
        return raised

    @contextlib.contextmanager
    def _batch(self, numbers: list[int]) -> Iterator[None]:
        """``Store.batch`` for work on ``numbers``; if it fails, nothing of it is kept in the
        store, so nothing of it may stay in memory either: those premises go (to be loaded
        afresh when next touched) and the dark set is read again."""
        try:
            with self.store.batch():
                yield
        except BaseException:
            for number in numbers:
                entry = self.active.pop(number, None)
                self._settled_at.pop(number, None)
                if entry is not None:
                    entry[1].close()
            self.dark = self._dark_in_store()
            raise

    def _dark_in_store(self) -> set[int]:
        return {Fleet.number_of_device(bytes.fromhex(device)) for device in self.store.read().devices_with_register(MAINS_LOST)}

    async def storm(self, region: str, outage: timedelta, *, chunk: int = 100) -> StormResult:
        """Every premises of ``region`` in this shard loses mains power at once; ``outage``
        passes in virtual time; the power returns. Yields to the event loop every ``chunk``
        premises, so that alerts already raised go up while the rest are raised.

        The shard has one clock: the outage passes for all its premises, other regions' too
        (their timers run as the four minutes pass). A shard with none of the region does
        nothing.

        Raises:
            ConfigError: the fleet has no such region, or the outage is not positive.
        """
        if outage <= timedelta(0):
            raise ConfigError(f"an outage lasts some time, not {outage}")
        numbers = self.region(region)
        if not numbers:  # none of the region here: this shard's time goes on as it was
            now = time.time()
            return StormResult(self.shard, 0, 0, now, now)
        for start in range(0, len(numbers), chunk):
            self.cut_mains(numbers[start:start + chunk])
            await asyncio.sleep(0)
        self.clock.advance(outage)
        restored_at = time.time()
        alerts = 0
        for start in range(0, len(numbers), chunk):
            part = numbers[start:start + chunk]
            with self._batch(part):  # the restoration and the alerts' HAN crossing, committed together
                alerts += self.restore_mains(part)
                self.clock.advance(_HAN_CROSSING)
            await asyncio.sleep(0)  # the WAN takes them while the next are raised
        raised_by = time.time()
        self.clock.advance(timedelta(seconds=1))
        return StormResult(self.shard, len(numbers), alerts, restored_at, raised_by)

    # -- time and closing ---------------------------------------------------------------------------

    @property
    def _clock_path(self) -> Path:
        return self.state.directory / f"shard-{self.shard}.clock.json"

    def save_time(self) -> None:
        save_time(self._clock_path, self.clock.now())

    def status(self) -> dict:
        """Figures for the status topic, the live display and the metrics."""
        return {"shard": self.shard, "shards": self.state.shards, "fleet": self.fleet_id, "premises": len(self._hubs), "active": len(self.active),
                "dark": len(self.dark), "commands": self.commands, "dropped": self.dropped, "alerts": self.alerts,
                "backlog": self.backlog(), "time": self.clock.now().isoformat()}  # fmt: skip

    def close(self) -> None:
        """Keep the time, close the store, free the shard for another process."""
        if self._lock.closed:
            return
        self.save_time()
        for _, clock, _ in self.active.values():
            clock.close()
        self.active.clear()
        self.store.close()
        self._lock.close()
