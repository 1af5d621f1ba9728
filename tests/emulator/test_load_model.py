"""The load model: deterministic for a seed, and its sums are the sums of its half-hours."""

from __future__ import annotations

from datetime import datetime, timezone

from hypothesis import given
from hypothesis import strategies as st

from emulator.devices.load_model import SLOTS_PER_DAY, LoadModel, slot_of, slot_start

MODEL = LoadModel(seed=2026, generation=True)


@given(st.integers(0, 2**31), st.integers(0, 3 * SLOTS_PER_DAY + 7))
def test_a_sum_over_half_hours_is_the_sum_of_each(first: int, length: int) -> None:
    end = first + length
    assert MODEL.import_between(first, end) == sum(MODEL.import_wh(slot) for slot in range(first, end))
    assert MODEL.export_between(first, end) == sum(MODEL.export_wh(slot) for slot in range(first, end))
    assert MODEL.reactive_import_between(first, end) == sum(MODEL.reactive_import_varh(slot) for slot in range(first, end))
    assert MODEL.reactive_export_between(first, end) == sum(MODEL.reactive_export_varh(slot) for slot in range(first, end))


def test_the_same_seed_gives_the_same_load_and_another_seed_another() -> None:
    year = range(slot_of(datetime(2026, 1, 1, tzinfo=timezone.utc)), slot_of(datetime(2027, 1, 1, tzinfo=timezone.utc)))
    again, other = LoadModel(seed=2026, generation=True), LoadModel(seed=2027, generation=True)
    assert [MODEL.import_wh(slot) for slot in year] == [again.import_wh(slot) for slot in year]
    assert [MODEL.import_wh(slot) for slot in year] != [other.import_wh(slot) for slot in year]


def test_a_household_year_is_plausible() -> None:
    """GB's typical domestic consumption is 2,700 to 4,200 kWh a year (Ofgem's TDCVs); the
    model lands in a few-thousand-kWh band, and evening use exceeds night use."""
    first = slot_of(datetime(2026, 1, 1, tzinfo=timezone.utc))
    kwh = MODEL.import_between(first, first + 365 * SLOTS_PER_DAY) / 1000
    assert 1_500 < kwh < 4_500
    assert MODEL.import_wh(first + 36) > MODEL.import_wh(first + 6)  # 18:00 against 03:00
    assert MODEL.export_wh(first + 2) == 0  # no generation at 01:00
    assert LoadModel(seed=1).export_between(first, first + 365 * SLOTS_PER_DAY) == 0  # no panels, no export


def test_slots_are_utc_half_hours() -> None:
    moment = datetime(2026, 12, 1, 12, 29, 59, tzinfo=timezone.utc)
    assert slot_start(slot_of(moment)) == datetime(2026, 12, 1, 12, 0, tzinfo=timezone.utc)
