"""What the electricity meter measures, and the COSEM objects that read it.

Every reading comes from the load model (``load_model.py``) of the meter's configuration, so
energy registers, half-hourly profiles, daily logs and billing snapshots agree: a half-hour
profile summed over a day is that day's consumption, and a register is the sum of every
half-hour since the meter started metering. Nothing is stored but the configuration: a log
is computed when it is read, for the range asked.

Configuration (register ``esme.metering``): the elements (``single``, ``twin`` — a primary and
a secondary element on one meter — or ``polyphase``), the load model's seed, whether the
premises generates, and when metering began. Until configured, a meter's seed comes from its
EUI-64 and it has been metering for two years (the daily consumption log's 731 days) when
first read: a meter met in service, not one fresh from the factory.

Tariff registers: every unit is counted at the first time-of-use rate and first price block
(the switching tables a supplier sets are kept, but units are not yet split by them).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from gbcs.dlms import Data, DataType, TypeDescription

from ..firmware.cosem import (
    OBJECT_UNDEFINED,
    OTHER_REASON,
    AccessFailure,
    CosemObject,
    expect,
    range_selection,
    seconds_since_2000,
)
from ..firmware.device import Device
from ..store import Transaction
from .load_model import SLOT_SECONDS, SLOTS_PER_DAY, LoadModel, slot_of

__all__ = ["BILLING_ON_CHANGE", "ELEMENTS", "supply_interrupted", "supply_resumed", "Metering", "MeteringProfile", "MeteringRegister", "RecordLog", "RegisterCollection",
           "SnapshotLog", "capture_times", "configure_metering", "metering", "record_billing_on_change",
           "tariff_registers"]

ELEMENTS = ("single", "twin", "polyphase")
_CONFIG = "esme.metering"
_HISTORY = timedelta(days=731)
_EPOCH_2000 = datetime(2000, 1, 1, tzinfo=timezone.utc)
_U32, _I32 = DataType.UINT32, DataType.INT32
TOU_RATES, BLOCKS, BLOCK_RATES, SECONDARY_RATES = 48, 4, 8, 4


def configure_metering(tx: Transaction, device: Device, *, elements: str = "single", seed: int | None = None,
                       generation: bool = False, since: datetime | None = None) -> None:  # fmt: skip
    """Set what the meter measures (a premises does this at installation; replay, for the
    meter RTDS recorded). ``since``: when metering began (default: two years before now)."""
    if elements not in ELEMENTS:
        raise ValueError(f"elements must be one of {', '.join(ELEMENTS)}, not {elements!r}")
    tx.set_register(device.eui, _CONFIG, {
        "elements": elements, "seed": int.from_bytes(device.eui, "big") if seed is None else seed,
        "generation": generation, "since": (since or device.now - _HISTORY).isoformat()})  # fmt: skip


@dataclass(frozen=True)
class Metering:
    """A meter's configuration and its load models, with the readings they give. ``off``:
    the periods [start, end) without supply, in seconds since 1970 UTC (a mains outage, the
    load switch open; end None while it lasts), when nothing is consumed or generated — to the
    second: a half-hour interrupted for ten minutes counts its other twenty."""

    elements: str
    primary: LoadModel
    secondary: LoadModel | None
    since: int  # the first half-hour metered
    off: tuple[tuple[int, int | None], ...] = ()

    @property
    def twin(self) -> bool:
        return self.secondary is not None

    def supplied(self, moment: datetime) -> bool:
        second = _seconds(moment)
        return not any(start <= second and (end is None or second < end) for start, end in self.off)

    @staticmethod
    def _energy(between: Callable[[int, int], int], per_slot: Callable[[int], int], start: int, end: int) -> int:
        """The energy of [start, end) in seconds: whole half-hours summed, a part of one in
        proportion (a register counts continuously)."""
        if end <= start:
            return 0
        first, last = start // SLOT_SECONDS, end // SLOT_SECONDS
        if first == last:
            return per_slot(first) * (end - start) // SLOT_SECONDS
        head = per_slot(first) * ((first + 1) * SLOT_SECONDS - start) // SLOT_SECONDS
        tail = per_slot(last) * (end - last * SLOT_SECONDS) // SLOT_SECONDS if end > last * SLOT_SECONDS else 0
        return head + between(first + 1, last) + tail

    def _supplied_energy(self, between: Callable[[int, int], int], per_slot: Callable[[int], int], start: int, end: int) -> int:
        total = self._energy(between, per_slot, start, end)
        for off_start, off_end in self.off:
            total -= self._energy(between, per_slot, max(start, off_start), min(end, end if off_end is None else off_end))
        return total

    def _upto(self, at: datetime, between: Callable[[int, int], int], per_slot: Callable[[int], int]) -> int:
        """A register at ``at``: everything supplied since metering began."""
        return self._supplied_energy(between, per_slot, self.since * SLOT_SECONDS, _seconds(at))

    def active_import(self, at: datetime, *, secondary: bool = False) -> int:
        model = self.secondary if secondary else self.primary
        if model is None:
            return 0
        return self._upto(at, model.import_between, model.import_wh)

    def active_export(self, at: datetime) -> int:
        return self._upto(at, self.primary.export_between, self.primary.export_wh)

    def reactive_import(self, at: datetime) -> int:
        return self._upto(at, self.primary.reactive_import_between, self.primary.reactive_import_varh)

    def reactive_export(self, at: datetime) -> int:
        return self._upto(at, self.primary.reactive_export_between, self.primary.reactive_export_varh)

    _BETWEEN = {"import_wh": "import_between", "export_wh": "export_between",
                "reactive_import_varh": "reactive_import_between", "reactive_export_varh": "reactive_export_between"}  # fmt: skip

    def half_hour(self, end: datetime, quantity: str, *, secondary: bool = False) -> int:
        """The energy of the half-hour ending at ``end``."""
        model = self.secondary if secondary else self.primary
        last = _seconds(end)
        if last // SLOT_SECONDS - 1 < self.since or model is None:
            return 0
        between = getattr(model, self._BETWEEN[quantity])
        return self._supplied_energy(between, getattr(model, quantity), last - SLOT_SECONDS, last)

    def day(self, end: datetime) -> int:
        """The active import of the day ending at ``end`` (midnight)."""
        last = _seconds(end)
        start = max(self.since * SLOT_SECONDS, last - SLOTS_PER_DAY * SLOT_SECONDS)
        return self._supplied_energy(self.primary.import_between, self.primary.import_wh, start, last)

    def average_voltage(self, end: datetime, phase: int) -> int:
        """The average RMS voltage (V) of the period ending at ``end``: 230 V ± 6, none
        without supply."""
        if not self.supplied(end - timedelta(seconds=1)):
            return 0
        slot = slot_of(end)
        return 224 + (self.primary.day_factor(slot // SLOTS_PER_DAY + 7 * phase) + slot % 5) % 13


def _seconds(moment: datetime) -> int:
    return int((moment - datetime(1970, 1, 1, tzinfo=timezone.utc)).total_seconds())


def metering(tx: Transaction, device: Device) -> Metering:
    """The meter's ``Metering`` (configured with its defaults on first use)."""
    config = tx.register(device.eui, _CONFIG)
    if config is None:
        configure_metering(tx, device)
        config = tx.register(device.eui, _CONFIG)
    seed = config["seed"]
    off = tuple((first, end) for first, end in tx.register(device.eui, _OFF, []))
    return Metering(config["elements"], LoadModel(seed, generation=config["generation"]),
                    LoadModel(seed + 1) if config["elements"] == "twin" else None,
                    slot_of(datetime.fromisoformat(config["since"])), off)  # fmt: skip


_OFF = "esme.supply_off_seconds"  # every interruption, [start, end) in seconds: a register needs them all


def supply_interrupted(tx: Transaction, device: Device) -> None:
    """The supply stops (mains lost, or the load switch opened): from now on nothing is
    consumed until ``supply_resumed``. Periods never overlap (a clock set back starts the new
    one where the last ended), so nothing is left out twice."""
    periods = tx.register(device.eui, _OFF, [])
    if periods and periods[-1][1] is None:
        return
    start = max(_seconds(device.now), periods[-1][1] if periods else 0)
    tx.set_register(device.eui, _OFF, [*periods, [start, None]])


def supply_resumed(tx: Transaction, device: Device) -> None:
    periods = tx.register(device.eui, _OFF, [])
    if periods and periods[-1][1] is None:
        periods[-1][1] = max(_seconds(device.now), periods[-1][0])
        tx.set_register(device.eui, _OFF, periods)


def _slot_time(slot: int) -> datetime:
    return datetime(1970, 1, 1, tzinfo=timezone.utc) + timedelta(seconds=slot * SLOT_SECONDS)


def u32(value: int) -> Data:
    return Data.integer(_U32, min(max(value, 0), 2**32 - 1))


def i32(value: int) -> Data:
    return Data.integer(_I32, max(min(value, 2**31 - 1), -(2**31)))


def description_of(value: Data) -> TypeDescription:
    """The compact-array type description of a row like ``value``."""
    if value.type is DataType.STRUCTURE:
        return TypeDescription(DataType.STRUCTURE, members=tuple(description_of(member) for member in value.value))
    if value.type is DataType.ARRAY:
        return TypeDescription(DataType.ARRAY, count=len(value.value), members=(description_of(value.value[0]),))
    return TypeDescription(value.type)


def compact(template: Data, rows: list[Data]) -> Data:
    return Data(DataType.COMPACT_ARRAY, (description_of(template), tuple(rows)))


# -- registers -------------------------------------------------------------------------------


def tariff_registers(meter: Metering, at: datetime) -> tuple[Data, ...]:
    """The TOU registers (48) and the block registers (4 blocks of 8 rates), and on a twin
    meter the secondary element's 4 TOU registers, at ``at`` — all units at rate 1, block 1."""
    total = meter.active_import(at)
    tou = Data.array(u32(total), *(u32(0) for _ in range(TOU_RATES - 1)))
    blocks = [Data.array(u32(total if block == 0 else 0), *(u32(0) for _ in range(BLOCK_RATES - 1)))
              for block in range(BLOCKS)]  # fmt: skip
    if meter.twin:
        secondary = Data.array(u32(meter.active_import(at, secondary=True)), *(u32(0) for _ in range(SECONDARY_RATES - 1)))
        return (tou, secondary, *blocks)
    return (tou, *blocks)


_WH, _VARH = 30, 32  # DLMS units


@dataclass
class MeteringRegister(CosemObject):
    """A register (class 3) read from the load model: value and scaler-unit (10^0 Wh/varh)."""

    quantity: str = "active_import"  # a Metering reading

    def get(self, device: Device, tx: Transaction, attribute: int, selection: Data | None) -> Data:
        if attribute == 2:
            return u32(getattr(metering(tx, device), self.quantity)(device.now))
        if attribute == 3:
            unit = _VARH if self.quantity.startswith("reactive") else _WH
            return Data.structure(Data.integer(DataType.INT8, 0), Data.integer(DataType.ENUM, unit))
        return super().get(device, tx, attribute, selection)


@dataclass
class RegisterCollection(CosemObject):
    """GBCS's register collections (class 1), read only through a protected read: the import
    registers (``"import"``), the TOU registers (``"tou"``) and the TOU-block registers
    (``"blocks"``)."""

    collection: str = "import"

    def get(self, device: Device, tx: Transaction, attribute: int, selection: Data | None) -> Data:
        if attribute != 2:
            return super().get(device, tx, attribute, selection)
        meter, now = metering(tx, device), device.now
        if self.collection == "import":
            members = [u32(meter.active_import(now)), _scaler(_WH), u32(meter.reactive_import(now)), _scaler(_VARH)]
            if meter.twin:
                members.append(u32(meter.active_import(now, secondary=True)))
            return Data.structure(*members)
        registers = tariff_registers(meter, now)
        if self.collection == "tou":
            return Data.structure(*registers[:2 if meter.twin else 1])
        # TOU-with-blocks: 8 rates of 8 blocks, as RTDS reads them
        return Data.structure(Data.array(u32(meter.active_import(now)), *(u32(0) for _ in range(8 * 8 - 1))))


def _scaler(unit: int) -> Data:
    return Data.structure(Data.integer(DataType.INT8, 0), Data.integer(DataType.ENUM, unit))


# -- profiles and logs -----------------------------------------------------------------------

_PERIODS = {"half-hour": timedelta(minutes=30), "hour": timedelta(hours=1), "day": timedelta(days=1)}


def capture_times(period: timedelta | str, start: datetime, end: datetime) -> list[datetime]:
    """The capture times of a profile in [start, end]: multiples of ``period`` since 2000 UTC
    (half-hours, days …), or with ``"month"`` the first of each month at midnight."""
    times = []
    if period == "month":
        moment = datetime(start.year, start.month, 1, tzinfo=timezone.utc)
        while moment <= end:
            if moment >= start:
                times.append(moment)
            moment = datetime(moment.year + moment.month // 12, moment.month % 12 + 1, 1, tzinfo=timezone.utc)
        return times
    step = _PERIODS[period] if isinstance(period, str) else period
    seconds = int(step.total_seconds())
    first = -(-int((start - _EPOCH_2000).total_seconds()) // seconds) * seconds
    moment = _EPOCH_2000 + timedelta(seconds=first)
    while moment <= end:
        times.append(moment)
        moment += step
    return times


MAX_ROWS = 20_000  # the longest log: 13 months of half-hours (a short capture period keeps the latest)
Row = Callable[[Metering, Transaction, Device, datetime], Data]


@dataclass
class MeteringProfile(CosemObject):
    """A profile generic (class 7) whose rows are computed from the load model at each
    capture time in the range read (selector 1: from/to as seconds since 2000 UTC), up to
    the meter's clock and no earlier than metering began or the log's capacity.
    ``polyphase``: the object exists only on a polyphase meter (phases 2 and 3)."""

    period: str = "half-hour"
    row: Row | None = None
    capacity: timedelta = timedelta(days=731)
    polyphase: bool = False
    settable_period: bool = False  # the average RMS voltage measurement period (ECS29a)

    def _exists(self, meter: Metering) -> None:
        if self.polyphase and meter.elements != "polyphase":
            raise AccessFailure(OBJECT_UNDEFINED, "a single-phase meter has no phase 2 or 3")

    def get(self, device: Device, tx: Transaction, attribute: int, selection: Data | None) -> Data:
        meter = metering(tx, device)
        self._exists(meter)
        if attribute == 4:
            return u32(self._period(device, tx))
        if attribute != 2 or self.row is None:
            return super().get(device, tx, attribute, selection)
        first, last = range_selection(selection)
        now = device.now
        start = max(_EPOCH_2000 + timedelta(seconds=first), now - self.capacity, _slot_time(meter.since))
        end = min(_EPOCH_2000 + timedelta(seconds=last), now)
        period = "month" if self.period == "month" else timedelta(seconds=self._period(device, tx))
        if period != "month":  # a log holds its latest MAX_ROWS entries at most
            start = max(start, end - (MAX_ROWS - 1) * period)
        moments = capture_times(period, start, end)
        return compact(self.row(meter, tx, device, now), [self.row(meter, tx, device, moment) for moment in moments])

    def set(self, device: Device, tx: Transaction, attribute: int, value: Data) -> None:
        """The capture period (attribute 4, seconds) of a periodic profile is settable (ECS29a's
        average RMS voltage measurement period), up to a day."""
        if attribute != 4 or not self.settable_period:
            return super().set(device, tx, attribute, value)
        self._exists(metering(tx, device))
        seconds = expect(value, DataType.UINT32).value
        if not 1 <= seconds <= 86400:
            raise AccessFailure(OTHER_REASON, f"a capture period of {seconds} s is not between 1 s and a day")
        tx.set_register(device.eui, f"cosem.7.{self.instance}.capture_period", seconds)

    def _period(self, device: Device, tx: Transaction) -> int:
        default = int(_PERIODS.get(self.period, timedelta(days=31)).total_seconds())
        return tx.register(device.eui, f"cosem.7.{self.instance}.capture_period", default)


@dataclass
class RecordLog(CosemObject):
    """A profile generic (class 7) of events recorded as they happen, rows kept in a register
    and read by date range: the boost button, ALCS switching and payment-based debt
    collection logs. Nothing records into them yet (those behaviours are not modelled), so
    they read empty — with their rows' type — until reset, which empties them."""

    register: str = ""
    columns: tuple[DataType, ...] = (_U32, _U32)

    def get(self, device: Device, tx: Transaction, attribute: int, selection: Data | None) -> Data:
        if attribute != 2:
            return super().get(device, tx, attribute, selection)
        first, last = range_selection(selection)
        rows = [Data.structure(*(Data.integer(kind, value) for kind, value in zip(self.columns, row, strict=True)))
                for row in tx.register(device.eui, self.register, []) if first <= row[0] <= last]  # fmt: skip
        template = Data.structure(*(Data.integer(kind, 0) for kind in self.columns))
        return compact(template, rows)

    def action(self, device: Device, tx: Transaction, method: int, parameter: Data) -> Data:
        if method != 1:  # reset: the log is emptied
            return super().action(device, tx, method, parameter)
        tx.set_register(device.eui, self.register, [])
        return Data.null()


# The rows of each computed log.

def _time(moment: datetime) -> Data:
    return u32(seconds_since_2000(moment))


def half_hour_import(meter: Metering, tx: Transaction, device: Device, end: datetime) -> Data:
    members = [_time(end), u32(meter.half_hour(end, "import_wh"))]
    if meter.twin:
        members.append(u32(meter.half_hour(end, "import_wh", secondary=True)))
    return Data.structure(*members)


def half_hour_export(meter: Metering, tx: Transaction, device: Device, end: datetime) -> Data:
    return Data.structure(_time(end), u32(meter.half_hour(end, "export_wh")), u32(meter.half_hour(end, "reactive_export_varh")))


def daily_consumption(meter: Metering, tx: Transaction, device: Device, end: datetime) -> Data:
    return Data.structure(_time(end), u32(meter.day(end)))


def daily_export_read(meter: Metering, tx: Transaction, device: Device, end: datetime) -> Data:
    return Data.structure(_time(end), u32(meter.active_export(end)))


def tariff_snapshot(meter: Metering, tx: Transaction, device: Device, at: datetime) -> Data:
    """Import register(s) and tariff registers at ``at`` (daily read log, billing data log)."""
    registers = [_time(at), u32(meter.active_import(at))]
    if meter.twin:
        registers.append(u32(meter.active_import(at, secondary=True)))
    return Data.structure(*registers, *tariff_registers(meter, at))


def prepayment_snapshot(meter: Metering, tx: Transaction, device: Device, at: datetime) -> Data:
    return Data.structure(_time(at), *prepayment_balances(tx, device, at))


def change_snapshot(meter: Metering, tx: Transaction, device: Device, at: datetime) -> Data:
    return Data.structure(*tariff_snapshot(meter, tx, device, at).value, *prepayment_balances(tx, device, at))


def prepayment_balances(tx: Transaction, device: Device, at: datetime) -> tuple[Data, ...]:
    """Meter balance, emergency credit balance, accumulated debt, payment-based debt and the
    two time-based debts at ``at`` (int32, in the currency's 10^-5 units as GBCS's account
    objects)."""
    from .esme_prepayment import balances_at  # esme_prepayment imports this module's siblings

    return tuple(i32(value) for value in balances_at(tx, device, at))


def voltage_row(phase: int) -> Row:
    def row(meter: Metering, tx: Transaction, device: Device, end: datetime) -> Data:
        return Data.structure(_time(end), u32(meter.average_voltage(end, phase)))

    return row


BILLING_ON_CHANGE = "esme.billing_on_change"


def record_billing_on_change(tx: Transaction, device: Device) -> None:
    """A change of payment mode or tariff: the billing data log captures the registers and
    balances of this moment (its latest 12 captures are kept)."""
    captures, now = tx.register(device.eui, BILLING_ON_CHANGE, []), seconds_since_2000(device.now)
    if captures and captures[-1] == now:
        return  # one change (a command activating several values) is one capture
    tx.set_register(device.eui, BILLING_ON_CHANGE, [*captures, now][-12:])


@dataclass
class SnapshotLog(MeteringProfile):
    """A billing data log captured on events (a change of mode or tariff) rather than on a
    calendar: the capture times are kept, the values computed for them."""

    register: str = ""

    def get(self, device: Device, tx: Transaction, attribute: int, selection: Data | None) -> Data:
        if attribute != 2 or self.row is None:
            return super().get(device, tx, attribute, selection)
        meter = metering(tx, device)
        first, last = range_selection(selection)
        times = [_EPOCH_2000 + timedelta(seconds=at) for at in tx.register(device.eui, self.register, []) if first <= at <= last]
        return compact(self.row(meter, tx, device, device.now), [self.row(meter, tx, device, at) for at in times])

