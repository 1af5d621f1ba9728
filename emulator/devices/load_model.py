"""A deterministic, seedable household load model: what a meter measures, half-hour by half-hour.

Every reading the meters give — registers, half-hourly profiles, daily logs, billing
snapshots — is computed from this model, so they agree with each other by construction, and
nothing is stored: a premises holds a seed, not 13 months of profile data. The same seed
always gives the same consumption.

Shape: each UTC day has a factor drawn from the seed (a colder or busier day uses more); a
half-hour's import is a fixed daily shape (night low, morning and evening peaks) times that
factor, in Wh. So a day's total is its factor times the shape's sum, and a register over two
years is a sum over 731 days, not over 35,000 half-hours. Reactive energy follows the active at about a
third (a power factor near 0.95). A premises with generation exports around midday.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

__all__ = ["SLOT_SECONDS", "GasLoadModel", "LoadModel", "slot_of", "slot_start"]

SLOT_SECONDS = 1800  # a half-hour
SLOTS_PER_DAY = 48
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)

# Wh per half-hour at a day factor of 1, from 00:00 UTC: night, morning peak, day, evening peak.
_IMPORT_SHAPE = (8, 7, 7, 6, 6, 6, 6, 6, 6, 6, 7, 8, 12, 18, 24, 26, 22, 18, 15, 14, 14, 15, 16, 16,
                 15, 14, 14, 14, 15, 16, 18, 22, 28, 34, 38, 40, 38, 34, 30, 26, 22, 19, 16, 14, 12, 10, 9, 8)  # fmt: skip
_EXPORT_SHAPE = (0,) * 16 + (2, 5, 9, 14, 19, 24, 28, 30, 30, 28, 24, 19, 14, 9, 5, 2) + (0,) * 16
_REACTIVE_SHAPE = tuple(wh // 3 for wh in _IMPORT_SHAPE)  # a power factor near 0.95
_REACTIVE_EXPORT_SHAPE = tuple(wh // 3 for wh in _EXPORT_SHAPE)
_IMPORT_PER_FACTOR = sum(_IMPORT_SHAPE)
_REACTIVE_PER_FACTOR = sum(_REACTIVE_SHAPE)
_REACTIVE_EXPORT_PER_FACTOR = sum(_REACTIVE_EXPORT_SHAPE)
_EXPORT_PER_FACTOR = sum(_EXPORT_SHAPE)
_MASK = (1 << 64) - 1


def slot_of(moment: datetime) -> int:
    """The half-hour (counted from 1970 UTC) that contains ``moment``."""
    return int((moment - _EPOCH).total_seconds()) // SLOT_SECONDS


def slot_start(slot: int) -> datetime:
    return _EPOCH + timedelta(seconds=slot * SLOT_SECONDS)


def _mix(value: int) -> int:
    """splitmix64's finaliser: a well-spread 64-bit hash, the same on every platform."""
    value = (value + 0x9E3779B97F4A7C15) & _MASK
    value = ((value ^ (value >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
    value = ((value ^ (value >> 27)) * 0x94D049BB133111EB) & _MASK
    return value ^ (value >> 31)


@dataclass(frozen=True, slots=True)
class LoadModel:
    """One metered supply. ``scale`` multiplies the whole load (a secondary element — storage
    heating, say — is a second model with its own seed); ``generation`` adds export."""

    seed: int
    scale: int = 1
    generation: bool = False

    def day_factor(self, day: int) -> int:
        """The day's load factor, 6..14 (a day counted from 1970 UTC)."""
        return 6 + _mix(self.seed * 1_000_003 + day) % 9

    def sun(self, day: int) -> int:
        """The day's sunshine, 0..3 (0: no generation that day, or none installed)."""
        return _mix(~self.seed & _MASK ^ day) % 4 if self.generation else 0

    # -- one half-hour -----------------------------------------------------------------

    def import_wh(self, slot: int) -> int:
        return _IMPORT_SHAPE[slot % SLOTS_PER_DAY] * self.day_factor(slot // SLOTS_PER_DAY) * self.scale

    def export_wh(self, slot: int) -> int:
        return _EXPORT_SHAPE[slot % SLOTS_PER_DAY] * self.sun(slot // SLOTS_PER_DAY) * self.scale

    def reactive_import_varh(self, slot: int) -> int:
        return _REACTIVE_SHAPE[slot % SLOTS_PER_DAY] * self.day_factor(slot // SLOTS_PER_DAY) * self.scale

    def reactive_export_varh(self, slot: int) -> int:
        return _REACTIVE_EXPORT_SHAPE[slot % SLOTS_PER_DAY] * self.sun(slot // SLOTS_PER_DAY) * self.scale

    # -- sums over whole half-hours [first, end) ---------------------------------------------

    def import_between(self, first: int, end: int) -> int:
        return self._between(first, end, self.import_wh, lambda day: _IMPORT_PER_FACTOR * self.day_factor(day) * self.scale)

    def export_between(self, first: int, end: int) -> int:
        return self._between(first, end, self.export_wh, lambda day: _EXPORT_PER_FACTOR * self.sun(day) * self.scale)

    def reactive_import_between(self, first: int, end: int) -> int:
        return self._between(first, end, self.reactive_import_varh,
                             lambda day: _REACTIVE_PER_FACTOR * self.day_factor(day) * self.scale)  # fmt: skip

    def reactive_export_between(self, first: int, end: int) -> int:
        return self._between(first, end, self.reactive_export_varh,
                             lambda day: _REACTIVE_EXPORT_PER_FACTOR * self.sun(day) * self.scale)  # fmt: skip

    @staticmethod
    def _between(first: int, end: int, per_slot, per_day) -> int:
        if end <= first:
            return 0
        total = 0
        head_end = min(end, -(-first // SLOTS_PER_DAY) * SLOTS_PER_DAY)  # up to the next midnight
        total += sum(per_slot(slot) for slot in range(first, head_end))
        day, last_day = head_end // SLOTS_PER_DAY, end // SLOTS_PER_DAY
        total += sum(per_day(d) for d in range(day, last_day))
        total += sum(per_slot(slot) for slot in range(max(head_end, last_day * SLOTS_PER_DAY), end))
        return total


# -- gas -----------------------------------------------------------------------------------
# Litres per half-hour at a day factor of 1, from 00:00 UTC: the boiler's pilot-free night,
# a heating and hot-water peak in the morning, a little through the day, a long evening peak.
_GAS_SHAPE = (1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 6, 14, 20, 18, 12, 6, 4, 3, 3, 3, 3, 4, 4,
              4, 3, 3, 3, 4, 5, 8, 12, 16, 18, 18, 16, 14, 12, 10, 8, 6, 4, 2, 1, 1, 1, 1, 1)  # fmt: skip
_GAS_PER_FACTOR = sum(_GAS_SHAPE)
# The season: heating months use several times the summer's hot water (January .. December).
_GAS_SEASON = (14, 13, 11, 8, 5, 3, 2, 2, 4, 7, 10, 13)


@dataclass(frozen=True, slots=True)
class GasLoadModel:
    """A household's gas use, in litres (the GSME's register counts litres): a daily shape
    times a day factor, the month's heating season plus a seeded day-to-day variation. The
    same seed always gives the same use; a register over two years sums 731 day factors."""

    seed: int

    def day_factor(self, day: int) -> int:
        """The day's factor (a day counted from 1970 UTC): the season's 2..14 plus 0..3."""
        month = (_EPOCH + timedelta(days=day)).month
        return _GAS_SEASON[month - 1] + _mix(self.seed * 7_000_003 + day) % 4

    def litres(self, slot: int) -> int:
        return _GAS_SHAPE[slot % SLOTS_PER_DAY] * self.day_factor(slot // SLOTS_PER_DAY)

    def litres_between(self, first: int, end: int) -> int:
        """Litres over whole half-hours [first, end)."""
        return LoadModel._between(first, end, self.litres, lambda day: _GAS_PER_FACTOR * self.day_factor(day))
