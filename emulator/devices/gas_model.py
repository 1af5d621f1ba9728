"""What the gas meter measures: its register, half-hourly profile and billing snapshots.

Like the electricity meter (``esme_metering``), the GSME is met in service: until configured,
its seed comes from its EUI-64 and it has been metering for two years when first read. Every
reading is computed from the gas load model (``load_model.GasLoadModel``) for the time asked,
so they agree by construction: the half-hour samples over a period add up to the register's
difference over it, and a billing snapshot holds the register at its time. Nothing is stored
but the configuration and what tests inject.

Injected consumption (``add_consumption``, what ``gas.gsme_consumes`` and a premises'
``gas_consumed`` call) comes on top of the model: it is kept per half-hour (the half-hour in
which it was used ends at or after the moment of use) so the register, the samples and the
snapshots all see it. Entries older than the profile's capacity are folded into a total, so
readings inside the profile's reach stay exact and the register stays small.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from ..firmware.device import Device
from ..store import Transaction
from .load_model import SLOT_SECONDS, GasLoadModel, _mix, slot_of, slot_start

__all__ = ["BILLING_LOG_SIZE", "CONFIG", "EXTRA", "HISTORY", "MAX_SAMPLES", "PROFILE_CAPACITY", "GasMetering",
           "add_consumption", "billing_times", "history_draw", "configure_gas_metering", "gas_metering", "owning_slot"]  # fmt: skip

CONFIG = "gsme.model"  # {"seed": int, "since": ISO time}
EXTRA = "gsme.metering"  # {"current_summation_delivered": litres injected in all, "by_slot": {slot: litres}}
HISTORY = timedelta(days=731)  # metering before first read, as the ESME's
# The half-hour profile's reach. SMETS2 asks a GSME for 13 months; we keep the ESME's 731 days
# so both meters answer the same ranges (RTDS's reads, recorded about 2015, reach 17 months
# before replay's 2016 clock).
PROFILE_CAPACITY = timedelta(days=731)
MAX_SAMPLES = 20_000  # the most samples one Get Sampled Data answers (13 months of half-hours)
BILLING_LOG_SIZE = 12  # our choice: a year of monthly billing-period snapshots
_MAX_EXTRA_SLOTS = 2_000  # injected half-hours kept apart; older ones join the total
PREPAYMENT_MODE = 0x0002  # ZSE Payment Control Configuration: prepayment enabled
PREPAYMENT_METER = 0x0003  # a prepayment meter: disconnection and prepayment enabled
PREPAYMENT_REGISTER = "gsme.prepayment"  # gsme_attributes' prepayment state


def configure_gas_metering(tx: Transaction, device: Device, *, seed: int | None = None,
                           since: datetime | None = None, prepayment: bool = False) -> None:  # fmt: skip
    """Set what the gas meter measures (a premises does this at installation; replay, for
    the meter RTDS recorded). ``since``: when metering began (default two years before now);
    ``prepayment``: it has been a prepayment meter since then (credit mode otherwise)."""
    since = since or device.now - HISTORY
    tx.set_register(device.eui, CONFIG, {"seed": int.from_bytes(device.eui, "big") if seed is None else int(seed),
                                         "since": since.isoformat()})  # fmt: skip
    if prepayment:
        state = tx.register(device.eui, PREPAYMENT_REGISTER, {})
        state.update(payment_control_configuration=PREPAYMENT_METER, prepayment_since=since.isoformat(),
                     prepayment_until=None)  # fmt: skip
        tx.set_register(device.eui, PREPAYMENT_REGISTER, state)


def owning_slot(moment: datetime) -> int:
    """The half-hour a use at ``moment`` is counted in: the one ending at or after it."""
    seconds = int((moment - slot_start(0)).total_seconds())
    return -(-seconds // SLOT_SECONDS) - 1


@dataclass(frozen=True)
class GasMetering:
    """A gas meter's load model, when it began metering, and what was injected on top."""

    model: GasLoadModel
    since: int  # the first half-hour metered
    extra_total: int
    extra: dict[int, int]  # owning half-hour -> litres injected

    def _extra_upto(self, at: datetime) -> int:
        last = owning_slot(at)
        return self.extra_total - sum(litres for slot, litres in self.extra.items() if slot > last)

    def summation(self, at: datetime) -> int:
        """CurrentSummationDelivered (litres) at ``at``: whole half-hours since metering
        began, the elapsed part of the current one, and what was injected."""
        slot = slot_of(at)
        model = 0
        if slot >= self.since:
            elapsed = int((at - slot_start(slot)).total_seconds())
            model = self.model.litres_between(self.since, slot) + self.model.litres(slot) * elapsed // SLOT_SECONDS
        return model + self._extra_upto(at)

    def interval(self, slot: int) -> int:
        """Litres used in half-hour ``slot``."""
        return (self.model.litres(slot) if slot >= self.since else 0) + self.extra.get(slot, 0)

    def oldest_slot(self, now: datetime) -> int:
        """The oldest half-hour the profile still holds."""
        return max(self.since, slot_of(now - PROFILE_CAPACITY))


def gas_metering(tx: Transaction, device: Device) -> GasMetering:
    """The meter's ``GasMetering`` (configured with its defaults on first use)."""
    config = tx.register(device.eui, CONFIG)
    if config is None:
        configure_gas_metering(tx, device)
        config = tx.register(device.eui, CONFIG)
    extra = tx.register(device.eui, EXTRA, {})
    return GasMetering(GasLoadModel(int(config["seed"])), slot_of(datetime.fromisoformat(config["since"])),
                       int(extra.get("current_summation_delivered", 0)),
                       {int(slot): int(litres) for slot, litres in extra.get("by_slot", {}).items()})  # fmt: skip


def add_consumption(tx: Transaction, device: Device, litres: int, at: datetime) -> None:
    """``litres`` more used at ``at``, on top of the model (module docstring)."""
    extra: dict[str, Any] = tx.register(device.eui, EXTRA, {})
    by_slot = extra.setdefault("by_slot", {})
    key = str(owning_slot(at))
    by_slot[key] = by_slot.get(key, 0) + int(litres)
    extra["current_summation_delivered"] = int(extra.get("current_summation_delivered", 0)) + int(litres)
    horizon = slot_of(at - PROFILE_CAPACITY)
    kept = sorted((int(slot), value) for slot, value in by_slot.items() if int(slot) >= horizon)[-_MAX_EXTRA_SLOTS:]
    extra["by_slot"] = {str(slot): value for slot, value in kept}
    tx.set_register(device.eui, EXTRA, extra)


def billing_times(meter: GasMetering, now: datetime, *, keep: int | None = BILLING_LOG_SIZE) -> list[datetime]:
    """The ends of billing periods since metering began, oldest first: the first of each
    month at midnight UTC (the billing calendar GCS's Get Billing Period reports); the newest
    ``keep`` (None: all, for the event history)."""
    start = slot_start(meter.since)
    moment = datetime(start.year, start.month, 1, tzinfo=timezone.utc)
    times = []
    while moment <= now:
        if moment > start:
            times.append(moment)
        moment = datetime(moment.year + moment.month // 12, moment.month % 12 + 1, 1, tzinfo=timezone.utc)
    return times if keep is None else times[-keep:]


def history_draw(seed: int, index: int) -> int:
    """A well-spread 64-bit draw for the ``index``-th event of the history of ``seed``."""
    return _mix((seed * 0x100000001B3 + index) & ((1 << 64) - 1))
