"""What the ``smets-emu`` commands share: their exit statuses, the way they report a failure,
and argument types, each turning a bad value into argparse's usage error (exit 2) with a
message that says what was expected."""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys

from gbcs.types import EUI64

__all__ = ["EXIT_CHECK_FAILED", "EXIT_NO_RESPONSE", "EXIT_OK", "EXIT_USAGE", "duration", "eui64", "fail", "positive",
           "premises_number", "seconds", "stop_event"]

# 0 ok, 1 a check failed, 2 bad usage or configuration, 3 no answer (no response, no broker)
EXIT_OK, EXIT_CHECK_FAILED, EXIT_USAGE, EXIT_NO_RESPONSE = 0, 1, 2, 3


def fail(command: str, message: object, status: int = EXIT_USAGE) -> int:
    """Say on stderr why ``smets-emu command`` failed; return its exit status."""
    print(f"smets-emu {command}: {message}", file=sys.stderr)
    return status


def stop_event(after: float | None = None) -> asyncio.Event:
    """An event a long-running command stops on: set by SIGINT or SIGTERM, or ``after``
    seconds (None: never). Call it inside the running event loop."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    if after is not None:
        loop.call_later(after, stop.set)
    return stop


def eui64(text: str) -> EUI64:
    try:
        return EUI64(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def premises_number(text: str) -> int:
    number = positive(text)
    if number >= 1 << 24:  # PremisesConfig.standard numbers premises in three bytes of the EUI-64
        raise argparse.ArgumentTypeError("a premises number is from 1 to 16777215")
    return number


def seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not 0 < value < 1e9:  # also refuses nan and inf
        raise argparse.ArgumentTypeError(f"must be a number above 0, not {text}")
    return value


_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600}


def duration(text: str) -> float:
    """Seconds, written ``240``, ``240s``, ``4m`` or ``1.5h``."""
    number = text.strip().lower()
    unit = number[-1] if number and number[-1] in _UNITS else ""
    try:
        value = seconds(number[: len(number) - len(unit)]) * _UNITS[unit]
    except argparse.ArgumentTypeError:
        raise argparse.ArgumentTypeError(f"not a duration above 0: {text!r} (e.g. 240, 240s, 4m, 1.5h)") from None
    if value >= 1e9:
        raise argparse.ArgumentTypeError(f"too long: {text}")
    return value
