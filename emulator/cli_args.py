"""Argument types the ``smets-emu`` commands share: each turns a bad value into argparse's
usage error (exit 2) with a message that says what was expected."""

from __future__ import annotations

import argparse

from gbcs.types import EUI64

__all__ = ["duration", "eui64", "positive", "premises_number", "seconds"]


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
