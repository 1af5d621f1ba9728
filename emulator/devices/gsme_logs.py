"""The GSME's logs, small and bounded: top-ups, event-log clearances, sampling requests.

Rule: a log keeps only what happened to this meter, as few entries as its capacity, so a
premises stays small. What this model does not produce yet is empty and answers NOT_FOUND,
as a new meter's would: debt collections (no debt recovery runs over time yet), billing
snapshots (no billing period has ended), and the half-hourly profile (GCS17's log 0).
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

from gbcs import zcl_se

from ..firmware.device import Device
from ..store import Transaction

__all__ = ["add_top_up", "clear_event_logs", "debt_collections", "events", "samples", "start_sampling",
           "top_up_used", "top_ups", "utrn_amount"]  # fmt: skip

_EPOCH = datetime(2000, 1, 1, tzinfo=timezone.utc)
TOP_UP_LOG = "gsme.top_up_log"  # [[UTRN, amount, ZigBee time], ...], newest last
TOP_UP_LOG_SIZE = 5  # our choice: the five most recent, as GCS15e asks for five
CLEARED = "gsme.event_log.cleared"  # {"<log id>": ISO time}: entries before it are gone
SAMPLING = "gsme.sampling"  # {"next_id": int, "requests": {id: request}}

# ---------------------------------------------------------------------------------------
# UTRN (primer §8.7)

_PTUT_OFFSET = 7394156990786306048
_INVERSE = [1, 2, 6, 7, 5, 8, 3, 0, 9, 4]
_P1 = [1, 5, 7, 6, 2, 8, 3, 0, 9, 4]


def _d(a: int, b: int) -> int:
    if a < 5 and b < 5:
        return (a + b) % 5
    if a < 5 <= b:
        return 5 + (a + b) % 5
    if b < 5 <= a:
        return 5 + (a - b) % 5
    return (a - b) % 5


def _permutations() -> list[list[int]]:
    table = [list(range(10))]
    for _ in range(7):
        table.append([_P1[digit] for digit in table[-1]])
    return table


_P = _permutations()


def utrn_check_digit(digits: str) -> int:
    """The check digit of a 19-digit PPTD (primer §8.7)."""
    check, index = 0, 4
    for character in digits:
        check = _d(check, _P[index][int(character)])
        index = (index + 1) % 8
    return _INVERSE[check]


def utrn_amount(code: str) -> int | None:
    """The credit a UTRN carries, in the meter's currency unit (1/100 000 pound: RTDS CS01b
    credits 1250 pence as 1 250 000); None when it is not a well-formed UTRN. The GMAC inside
    it needs the supplier's prepayment key pair and the device's: not checked here."""
    if len(code) != 20 or not code.isdigit() or utrn_check_digit(code[:19]) != int(code[19]):
        return None
    ptut = int(code[:19]) - _PTUT_OFFSET
    if ptut < 0:
        return None
    high = ptut >> 32
    value_class, value = (high >> 13) & 0x3, high & 0x1FFF
    if value_class > 1:
        return None
    return value * (100_000 if value_class == 1 else 1_000)


# ---------------------------------------------------------------------------------------
# Top-ups


def add_top_up(tx: Transaction, device: Device, code: str, amount: int, at: datetime) -> None:
    log = tx.register(device.eui, TOP_UP_LOG, [])
    log.append([code, amount, int((at - _EPOCH).total_seconds())])
    tx.set_register(device.eui, TOP_UP_LOG, log[-TOP_UP_LOG_SIZE:])


def top_up_used(tx: Transaction, device: Device, code: str) -> bool:
    return any(entry[0] == code for entry in tx.register(device.eui, TOP_UP_LOG, []))


def top_ups(tx: Transaction, device: Device, start: int, end: int, count: int) -> list[zcl_se.TopUpRecord]:
    """Top-ups from ``start`` to ``end`` (ZigBee times; the GBZ From-Date-Time is the start),
    newest first, at most ``count`` (0: all)."""
    found = [zcl_se.TopUpRecord(top_up_code=zcl_se.Octets(code.encode()), top_up_amount=amount, top_up_time=time)
             for code, amount, time in reversed(tx.register(device.eui, TOP_UP_LOG, [])) if start <= time <= end]  # fmt: skip
    return found[:count] if count else found


def debt_collections(tx: Transaction, device: Device, end: int, count: int, debt_type: int) -> list[Any]:
    return []  # no debt recovery runs in this model yet (module docstring)


# ---------------------------------------------------------------------------------------
# Event logs (ZSE Events cluster log ids: 3 general events, 4 security events)


def events(tx: Transaction, device: Device, log_id: int, start: int, end: int, count: int,
           offset: int) -> tuple[list[zcl_se.EventRecord], int]:  # fmt: skip
    """The coded entries of a log between ``start`` and ``end``, newest first, from
    ``offset``, at most ``count`` (0: all); and how many matched."""
    if log_id == 3:
        entries = [(entry.at, entry.code) for entry in tx.event_log(device.eui) if entry.code is not None]
    elif log_id == 4:
        entries = [(entry.at, entry.code) for entry in tx.security_log(device.eui) if entry.code is not None]
    else:
        return [], 0
    cleared = tx.register(device.eui, CLEARED, {}).get(str(log_id))
    matched = []
    for at, code in reversed(entries):
        moment = datetime.fromisoformat(at)
        seconds = int((moment - _EPOCH).total_seconds())
        if (cleared is None or moment > datetime.fromisoformat(cleared)) and start <= seconds <= (end or 0xFFFFFFFF):
            matched.append(zcl_se.EventRecord(log_id=log_id, event_id=code, event_time=seconds,
                                              event_data=zcl_se.Octets()))  # fmt: skip
    selected = matched[offset:]
    return (selected[:count] if count else selected), len(matched)


def clear_event_logs(tx: Transaction, device: Device, log_id: int) -> int:
    """Clear log ``log_id`` (0: all); the ZSE Cleared Events Logs bitmap, a bit per log id
    (RTDS CS11: log 3 answers 08)."""
    cleared = tx.register(device.eui, CLEARED, {})
    logs = (3, 4) if log_id == 0 else (log_id,) if log_id in (3, 4) else ()
    for log in logs:
        cleared[str(log)] = device.now.isoformat()
    tx.set_register(device.eui, CLEARED, cleared)
    return sum(1 << log for log in logs)


# ---------------------------------------------------------------------------------------
# Sampling (GCS31 starts, GCS17 reads)


def start_sampling(tx: Transaction, device: Device, request: Any, now: datetime) -> int:
    """Keep a sampling request; its sample id (ZSE: 0 is the meter's own profile)."""
    sampling = tx.register(device.eui, SAMPLING, {"next_id": 1, "requests": {}})
    sample_id = sampling["next_id"]
    sampling["requests"][str(sample_id)] = {"start": now.isoformat(), "type": int(request.sample_type),
                                            "interval": int(request.sample_request_interval),
                                            "max": int(request.max_number_of_samples)}  # fmt: skip
    sampling["next_id"] = sample_id % 0xFFFE + 1  # FFFF means "failed" in the response
    tx.set_register(device.eui, SAMPLING, sampling)
    return sample_id


def samples(tx: Transaction, device: Device, sample_id: int, earliest: int, count: int,
            now: datetime) -> tuple[int, int, list[int]] | None:  # fmt: skip
    """(start, interval, samples) or None when none are held (module docstring)."""
    del tx, device, sample_id, earliest, count, now
    return None


def zigbee_time(moment: datetime) -> int:
    return int((moment - _EPOCH).total_seconds())


def from_zigbee_time(seconds: int) -> datetime:
    return _EPOCH + timedelta(seconds=seconds)
