"""Clocks: every device reads time from one of these, never from ``datetime.now()``.

* ``VirtualClock`` — time stands still until a test (or a scenario) calls ``advance`` or
  ``set``; due timers then run in time order, each seeing ``now()`` equal to its own due time.
  Nothing sleeps, so three minutes of outage cost microseconds in CI.
* ``RealClock`` — the host's UTC clock; the only place the emulator reads it.
* ``ScaledClock`` — real time running ``scale`` times faster (or slower) from a start moment,
  for demos and soak tests.

Timers are callbacks (synchronous firmware steps). On a virtual clock they run inside
``advance``; on the real and scaled clocks they run from the asyncio event loop that is
running when they are set (``call_at`` needs one).

All times are aware UTC ``datetime`` values (GBCS time is UTC, primer §3).
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

__all__ = ["Clock", "RealClock", "ScaledClock", "Timer", "VirtualClock", "utc"]


def utc(moment: datetime) -> datetime:
    """``moment`` as an aware UTC datetime (a naive one is taken to be UTC already)."""
    return moment.replace(tzinfo=timezone.utc) if moment.tzinfo is None else moment.astimezone(timezone.utc)


@dataclass(order=True)
class Timer:
    """A pending callback. ``cancel()`` stops it from running."""

    due: datetime
    sequence: int  # ties run in the order they were set
    callback: Callable[[], object] = field(compare=False)
    cancelled: bool = field(default=False, compare=False)
    handle: asyncio.TimerHandle | None = field(default=None, compare=False, repr=False)

    def cancel(self) -> None:
        self.cancelled = True
        self.callback = _nothing  # a cancelled timer waits in the heap until due: it must not keep what it would have run
        if self.handle is not None:
            self.handle.cancel()


def _nothing() -> None:
    pass


class Clock(ABC):
    """What devices need of time: the current moment and timers."""

    def __init__(self) -> None:
        self._sequence = itertools.count()

    @abstractmethod
    def now(self) -> datetime:
        """The current moment, aware UTC."""

    @abstractmethod
    def call_at(self, due: datetime, callback: Callable[[], object]) -> Timer:
        """Run ``callback`` at ``due`` (at once, in order, if ``due`` has passed)."""

    def call_later(self, delay: timedelta, callback: Callable[[], object]) -> Timer:
        return self.call_at(self.now() + delay, callback)

    def close(self) -> None:  # noqa: B027 — a default, not a duty: most clocks have nothing to cancel
        """Cancel every pending timer (what they served has stopped). Clocks whose timers run
        only when told to (``VirtualClock``) have nothing to cancel."""


class VirtualClock(Clock):
    """Time that moves only when told to.

    Args:
        start: the first moment (default 2026-01-01T00:00:00Z).
    """

    def __init__(self, start: datetime = datetime(2026, 1, 1, tzinfo=timezone.utc)) -> None:
        super().__init__()
        self._now = utc(start)
        self._timers: list[Timer] = []

    def now(self) -> datetime:
        return self._now

    def call_at(self, due: datetime, callback: Callable[[], object]) -> Timer:
        timer = Timer(utc(due), next(self._sequence), callback)
        heapq.heappush(self._timers, timer)
        if len(self._timers) > 1024 and len(self._timers) % 1024 == 0:
            self._compact()
        return timer

    def _compact(self) -> None:
        """Drop cancelled timers once they are half the heap (a fleet cancels a premises'
        timers each time it goes back to the store)."""
        live = [timer for timer in self._timers if not timer.cancelled]
        if len(live) * 2 < len(self._timers):
            heapq.heapify(live)
            self._timers = live

    def advance(self, delta: timedelta) -> int:
        """Move time forward by ``delta``, running every timer that falls due on the way
        (including timers those timers set) in time order.

        Returns:
            how many timers ran.

        Raises:
            ValueError: ``delta`` is negative (use ``set`` to move a clock back).
        """
        if delta < timedelta(0):
            raise ValueError(f"a virtual clock advances forward only, not by {delta}")
        return self._run_until(self._now + delta)

    def set(self, moment: datetime) -> int:
        """Set the clock (as a clock-set command does), running timers due by then; moving back
        runs nothing. Returns how many timers ran."""
        moment = utc(moment)
        if moment <= self._now:
            self._now = moment
            return 0
        return self._run_until(moment)

    def _run_until(self, end: datetime) -> int:
        ran = 0
        while self._timers and self._timers[0].due <= end:
            timer = heapq.heappop(self._timers)
            if timer.cancelled:
                continue
            self._now = max(self._now, timer.due)
            timer.callback()
            ran += 1
        self._now = max(self._now, end)
        return ran

    async def flow(self, speed: float = 1.0, *, tick: float = 0.01) -> None:
        """Let time pass ``speed`` times as fast as real time while the asyncio loop runs
        (until cancelled): a hub on the SMWAN then answers as time passes, and ``advance``
        still jumps (four minutes of outage in no time) — both on the loop's one thread.

        Raises:
            ValueError: ``speed`` is not positive.
        """
        if not speed > 0:
            raise ValueError(f"speed must be positive, not {speed}")
        loop = asyncio.get_running_loop()
        last = loop.time()
        while True:
            await asyncio.sleep(tick)
            now = loop.time()
            self.advance(timedelta(seconds=(now - last) * speed))
            last = now

    @property
    def pending(self) -> int:
        """Timers set and neither run nor cancelled."""
        return sum(not timer.cancelled for timer in self._timers)


class _LoopClock(Clock):
    """Timers on the running asyncio loop, for clocks that follow real time."""

    speed = 1.0

    def __init__(self) -> None:
        super().__init__()
        self._pending: dict[int, Timer] = {}  # by sequence, until run: for close()
        self._closed = False

    def call_at(self, due: datetime, callback: Callable[[], object]) -> Timer:
        timer = Timer(utc(due), next(self._sequence), callback)
        if self._closed:
            timer.cancel()  # set while stopping: never runs
            return timer
        if len(self._pending) >= 1024 and timer.sequence % 1024 == 0:  # cancelled ones never run to leave
            self._pending = {sequence: kept for sequence, kept in self._pending.items() if not kept.cancelled}
        delay = max((timer.due - self.now()).total_seconds() / self.speed, 0.0)
        timer.handle = asyncio.get_running_loop().call_later(delay, self._run, timer)
        self._pending[timer.sequence] = timer
        return timer

    def _run(self, timer: Timer) -> None:
        self._pending.pop(timer.sequence, None)
        timer.callback()

    def close(self) -> None:
        self._closed = True
        for timer in list(self._pending.values()):
            timer.cancel()
        self._pending.clear()


class RealClock(_LoopClock):
    """The host's clock, in UTC."""

    def now(self) -> datetime:
        return datetime.now(timezone.utc)


class ScaledClock(_LoopClock):
    """Real time from ``start``, running ``speed`` times as fast (60 → an hour a minute)."""

    def __init__(self, start: datetime, speed: float) -> None:
        super().__init__()
        if not speed > 0:
            raise ValueError(f"speed must be positive, not {speed}")
        self.speed = speed
        self._start = utc(start)
        self._origin = time.monotonic()

    def now(self) -> datetime:
        return self._start + timedelta(seconds=(time.monotonic() - self._origin) * self.speed)
