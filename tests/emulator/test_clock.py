"""Clocks: virtual time runs timers in order without sleeping; real and scaled time follow
the host's monotonic clock."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone

import pytest

from emulator.clock import RealClock, ScaledClock, VirtualClock

START = datetime(2026, 1, 1, tzinfo=timezone.utc)


def test_virtual_time_stands_still_until_advanced() -> None:
    clock = VirtualClock(START)
    assert clock.now() == START
    assert clock.advance(timedelta(minutes=3)) == 0
    assert clock.now() == START + timedelta(minutes=3)


def test_timers_fire_in_time_order_each_at_its_own_time() -> None:
    clock = VirtualClock(START)
    seen: list[tuple[str, datetime]] = []
    clock.call_later(timedelta(minutes=5), lambda: seen.append(("five", clock.now())))
    clock.call_later(timedelta(minutes=1), lambda: seen.append(("one", clock.now())))
    clock.call_later(timedelta(minutes=1), lambda: seen.append(("one again", clock.now())))  # ties: set order
    clock.call_later(timedelta(hours=2), lambda: seen.append(("late", clock.now())))
    assert clock.advance(timedelta(minutes=10)) == 3
    assert seen == [("one", START + timedelta(minutes=1)), ("one again", START + timedelta(minutes=1)),
                    ("five", START + timedelta(minutes=5))]  # fmt: skip
    assert clock.now() == START + timedelta(minutes=10) and clock.pending == 1


def test_a_timer_set_by_a_timer_runs_in_the_same_advance_if_due() -> None:
    clock = VirtualClock(START)
    seen = []

    def first() -> None:
        seen.append(clock.now())
        clock.call_later(timedelta(minutes=1), lambda: seen.append(clock.now()))

    clock.call_later(timedelta(minutes=1), first)
    clock.advance(timedelta(minutes=5))
    assert seen == [START + timedelta(minutes=1), START + timedelta(minutes=2)]


def test_cancelled_timers_do_not_run_and_a_passed_time_runs_at_once() -> None:
    clock = VirtualClock(START)
    seen = []
    timer = clock.call_later(timedelta(seconds=1), lambda: seen.append("cancelled"))
    timer.cancel()
    clock.call_at(START - timedelta(days=1), lambda: seen.append("overdue"))
    clock.advance(timedelta(0))
    assert seen == ["overdue"]


def test_set_moves_the_clock_both_ways_and_never_backwards_by_advance() -> None:
    clock = VirtualClock(START)
    seen = []
    clock.call_at(START + timedelta(days=1), lambda: seen.append(clock.now()))
    assert clock.set(START - timedelta(days=365)) == 0 and clock.now() == START - timedelta(days=365)
    assert clock.set(START + timedelta(days=2)) == 1 and seen == [START + timedelta(days=1)]
    with pytest.raises(ValueError, match="forward only"):
        clock.advance(timedelta(seconds=-1))


def test_real_and_scaled_clocks_run_timers_on_the_event_loop() -> None:
    async def scenario() -> tuple[list[str], datetime, datetime]:
        real, scaled = RealClock(), ScaledClock(START, speed=3600.0)  # an hour a second
        fired = asyncio.Event()
        seen: list[str] = []
        real.call_later(timedelta(milliseconds=10), lambda: seen.append("real"))
        scaled.call_later(timedelta(minutes=30), lambda: (seen.append("scaled"), fired.set()))  # 0.5 s
        await asyncio.wait_for(fired.wait(), timeout=10)
        return seen, real.now(), scaled.now()

    seen, real_now, scaled_now = asyncio.run(scenario())
    assert seen == ["real", "scaled"]
    assert abs(real_now - datetime.now(timezone.utc)) < timedelta(seconds=5)
    assert START + timedelta(minutes=30) <= scaled_now < START + timedelta(hours=5)
    with pytest.raises(ValueError, match="positive"):
        ScaledClock(START, speed=0)


def test_virtual_time_flows_with_the_loop_and_still_jumps() -> None:
    async def scenario() -> tuple[list[str], timedelta]:
        clock = VirtualClock(START)
        seen: list[str] = []
        clock.call_later(timedelta(seconds=30), lambda: seen.append("flowed"))
        clock.call_later(timedelta(hours=1), lambda: seen.append("jumped"))
        flowing = asyncio.create_task(clock.flow(speed=600))  # ten minutes a second
        await asyncio.sleep(0.2)  # about two virtual minutes
        assert seen == ["flowed"]
        clock.advance(timedelta(hours=1))
        flowing.cancel()
        await asyncio.gather(flowing, return_exceptions=True)
        return seen, clock.now() - START

    seen, elapsed = asyncio.run(scenario())
    assert seen == ["flowed", "jumped"]
    assert timedelta(hours=1, minutes=1) <= elapsed < timedelta(hours=1, minutes=20)


def test_virtual_time_refuses_to_flow_backwards() -> None:
    with pytest.raises(ValueError, match="positive"):
        asyncio.run(VirtualClock(START).flow(speed=0))


def test_a_cancelled_timer_lets_go_of_what_it_would_have_run() -> None:
    import gc
    import weakref

    class Premises:  # stands for what a timer's callback keeps: a premises sent back to the store
        def wake(self) -> None:
            raise AssertionError("a cancelled timer ran")

    clock = VirtualClock(datetime(2026, 1, 1, tzinfo=timezone.utc))
    premises = Premises()
    kept = weakref.ref(premises)
    timer = clock.call_later(timedelta(minutes=30), premises.wake)
    timer.cancel()
    del premises
    gc.collect()
    assert kept() is None  # freed now, not in 30 minutes
    assert clock.advance(timedelta(hours=1)) == 0


def test_cancelled_timers_do_not_pile_up() -> None:
    clock = VirtualClock(datetime(2026, 1, 1, tzinfo=timezone.utc))
    for _ in range(10_000):
        clock.call_later(timedelta(days=1), lambda: None).cancel()
    assert clock.pending == 0 and len(clock._timers) < 2048  # compacted as they were set


def test_a_real_time_clock_closed_runs_none_of_its_timers() -> None:
    """What a stopped hub needs: nothing it had set runs after, nor what is set while stopping."""
    from emulator.clock import RealClock

    ran: list[str] = []

    async def main() -> None:
        clock = RealClock()
        clock.call_later(timedelta(milliseconds=10), lambda: ran.append("early"))
        kept = clock.call_later(timedelta(milliseconds=50), lambda: ran.append("pending"))
        await asyncio.sleep(0.03)
        clock.close()
        clock.call_later(timedelta(0), lambda: ran.append("after close"))
        await asyncio.sleep(0.08)
        assert kept.cancelled

    asyncio.run(main())
    assert ran == ["early"]
