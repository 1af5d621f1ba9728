"""The GSME's logs, small and bounded: top-ups, events, snapshots, sampled data.

Rule: a log holds what happened to this meter, as few entries as its capacity, so a premises
stays small. The meter is met in service (``gas_model``), so part of what happened is its
history before it was first read, generated from its seed when asked and never stored:

* the half-hour profile (sample id 0) and billing-period snapshots, from the load model;
* the general event log's "billing data log updated" (8F0A) at each billing period's end;
* top-ups, only while the meter has been in prepayment mode (``prepayment_since`` in its
  prepayment state): a credit meter has none, and answers NOT_FOUND.

What really happens to it (top-ups, events, mode changes) is kept, bounded, and merged in.
Not generated: debt collections (no debt recovery runs in this model), the security log's
history (no security event is routine), and balances over time (a prepayment snapshot gives
the balances in force now).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from gbcs import crypto, zcl_se
from gbcs.crypto import KdfUsage

from ..firmware.device import Device
from ..store import Transaction
from . import gas_model
from .load_model import SLOT_SECONDS, slot_of, slot_start

__all__ = ["EVENT_LOG_SIZE", "UTRN_COUNTER", "Utrn", "add_top_up", "clear_event_logs", "debt_collections", "events", "generated_top_ups",
           "record_snapshot", "samples", "snapshots", "start_sampling", "top_ups", "utrn", "utrn_amount",
           "utrn_counter", "utrn_gmac", "parse_utrn"]  # fmt: skip

_EPOCH = datetime(2000, 1, 1, tzinfo=timezone.utc)
TOP_UP_LOG = "gsme.top_up_log"  # [[UTRN, amount, ZigBee time], ...], newest last
TOP_UP_LOG_SIZE = 5  # our choice: the five most recent, as GCS15e asks for five
CLEARED = "gsme.event_log.cleared"  # {"<log id>": ISO time}: entries before it are gone
SAMPLING = "gsme.sampling"  # {"next_id": int, "requests": {id: request}}
SNAPSHOTS = "gsme.snapshots"  # [[ZigBee time, cause], ...]: event-caused snapshots, newest last
EVENT_LOG_SIZE = 100  # our choice: entries a log answers from, newest kept
BILLING_DATA_LOG_UPDATED = 0x8F0A  # primer §9.4
END_OF_BILLING_PERIOD = 0x00000002  # ZSE SnapshotCause bits
CHANGE_OF_MODE = 0x00004000

# ---------------------------------------------------------------------------------------
# UTRN (primer §8.7)

_PTUT_OFFSET = 7394156990786306048
_UTRN_AAD_PREFIX = bytes.fromhex("110000000000")  # as a MAC's AAD (primer §8.4, §8.7)
UTRN_COUNTER = "gsme.utrn_counter"  # kept register: the highest UTRN counter accepted
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


@dataclass(frozen=True, slots=True)
class Utrn:
    """A well-formed UTRN taken apart (primer §8.7): the PTUT's high dword (truncated UTRN
    counter, value class, value), the 4 GMAC bytes of its low dword, and its credit."""

    high: int
    gmac: bytes
    amount: int  # in the meter's currency unit (1/100 000 pound)

    @property
    def truncated_counter(self) -> int:
        return (self.high >> 15) & 0x3FF


def parse_utrn(code: str) -> Utrn | None:
    """The UTRN in ``code``; None when it is not well formed (20 digits, check digit, a PTUT
    in range, value class pence or pounds)."""
    if len(code) != 20 or not code.isdigit() or utrn_check_digit(code[:19]) != int(code[19]):
        return None
    ptut = int(code[:19]) - _PTUT_OFFSET
    if not 0 <= ptut < 1 << 64 or ptut >> 57:  # 7 zero bits lead the PTUT
        return None
    high = ptut >> 32
    value_class, value = (high >> 13) & 0x3, high & 0x1FFF
    if value_class > 1:
        return None
    return Utrn(high, (ptut & 0xFFFFFFFF).to_bytes(4, "big"), value * (100_000 if value_class == 1 else 1_000))


def utrn_amount(code: str) -> int | None:
    """The credit a UTRN carries, in the meter's currency unit (1/100 000 pound: RTDS CS01b
    credits 1250 pence as 1 250 000); None when it is not well formed. Whether it is authentic
    is ``utrn_gmac``'s question."""
    parsed = parse_utrn(code)
    return None if parsed is None else parsed.amount


def utrn_counter(truncated: int, highest: int) -> int:
    """The full UTRN counter from the 10 bits a UTRN carries and the highest counter the
    device accepted (primer §8.7: the window of 512 either side of it; a counter below 0 does
    not exist, so near 0 the window reaches up instead)."""
    low = highest % 1024
    base = highest - low
    if truncated < low - 512:
        truncated += 1024
    elif truncated > low + 512 and base >= 1024:
        truncated -= 1024
    return base + truncated


def utrn_gmac(shared_secret: bytes, supplier: bytes, device: bytes, utrn_counter: int, high: int) -> bytes:
    """The 4 GMAC bytes of a UTRN (primer §8.7): the last 4 bytes of the 16-byte GCM tag keyed
    by ECDH(supplier prepayment KA, device KA) and the KDF with usage 01, the originator counter
    (the UTRN counter shifted left by 32), from supplier to device."""
    counter = utrn_counter << 32
    key = crypto.derive_key(shared_secret, supplier, KdfUsage.COMMAND_MAC, counter, device)
    aad = _UTRN_AAD_PREFIX + supplier + device + b"\x01" + counter.to_bytes(8, "big") + high.to_bytes(4, "big")
    return AESGCM(key).encrypt(supplier + bytes(4), b"", aad)[-4:]


def utrn(pounds: int, counter: int) -> str:
    """A well-formed UTRN for ``pounds`` (value class 1), for the generated top-up history only:
    ``counter`` fills the low dword where a real UTRN carries its GMAC, so it is not authentic
    and no meter would accept it (``utrn_gmac``)."""
    if not 0 < pounds < 0x2000:
        raise ValueError(f"a UTRN carries 1..8191 pounds, not {pounds}")
    digits = str((((1 << 13) | pounds) << 32 | (counter & 0xFFFFFFFF)) + _PTUT_OFFSET).zfill(19)
    return digits + str(utrn_check_digit(digits))


# ---------------------------------------------------------------------------------------
# Top-ups


def add_top_up(tx: Transaction, device: Device, code: str, amount: int, at: datetime) -> None:
    log = tx.register(device.eui, TOP_UP_LOG, [])
    log.append([code, amount, int((at - _EPOCH).total_seconds())])
    tx.set_register(device.eui, TOP_UP_LOG, log[-TOP_UP_LOG_SIZE:])


_TOP_UP_POUNDS = (5, 10, 10, 15, 20, 20, 25, 30)


def generated_top_ups(seed: int, since: datetime, until: datetime) -> list[list[Any]]:
    """The top-ups of a prepayment meter's history from ``since`` to ``until``, oldest first,
    as ``[UTRN, amount, ZigBee time]``: one every 4 to 10 days at a time of day and for an
    amount drawn from the seed (the same seed, the same history)."""
    found: list[list[Any]] = []
    moment, counter = since, 0
    while True:
        counter += 1
        draw = gas_model.history_draw(seed, 0x70_0000 + counter)
        moment += timedelta(days=4 + draw % 7, minutes=(draw >> 8) % 1440 - 720)
        if moment > until or counter > 100_000:
            return found
        pounds = _TOP_UP_POUNDS[(draw >> 24) % len(_TOP_UP_POUNDS)]
        found.append([utrn(pounds, counter), pounds * 100_000, zigbee_time(moment.replace(second=0, microsecond=0))])


def _top_up_log(tx: Transaction, device: Device) -> list[list[Any]]:
    """The top-up log, oldest first: the history while in prepayment mode, then what was kept."""
    prepayment = tx.register(device.eui, "gsme.prepayment", {})
    history: list[list[Any]] = []
    if prepayment.get("prepayment_since"):
        since = datetime.fromisoformat(prepayment["prepayment_since"])
        until = datetime.fromisoformat(prepayment["prepayment_until"]) if prepayment.get("prepayment_until") else device.now
        meter = gas_model.gas_metering(tx, device)
        history = generated_top_ups(meter.model.seed, since, min(until, device.now))
    kept = tx.register(device.eui, TOP_UP_LOG, [])
    return sorted(history + kept, key=lambda entry: entry[2])[-TOP_UP_LOG_SIZE:]


def top_ups(tx: Transaction, device: Device, start: int, end: int, count: int) -> list[zcl_se.TopUpRecord]:
    """Top-ups from ``start`` to ``end`` (ZigBee times; the GBZ From-Date-Time is the start),
    newest first, at most ``count`` (0: all)."""
    found = [zcl_se.TopUpRecord(top_up_code=zcl_se.Octets(code.encode()), top_up_amount=amount, top_up_time=time)
             for code, amount, time in reversed(_top_up_log(tx, device)) if start <= time <= end]  # fmt: skip
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
        meter = gas_model.gas_metering(tx, device)
        history = [(moment, BILLING_DATA_LOG_UPDATED) for moment in gas_model.billing_times(meter, device.now, keep=None)]
        entries = history + [(datetime.fromisoformat(entry.at), entry.code) for entry in tx.event_log(device.eui)
                             if entry.code is not None]  # fmt: skip
    elif log_id == 4:
        entries = [(datetime.fromisoformat(entry.at), entry.code) for entry in tx.security_log(device.eui)
                   if entry.code is not None]  # fmt: skip
    else:
        return [], 0
    entries = sorted(entries, key=lambda entry: entry[0])[-EVENT_LOG_SIZE:]
    cleared = tx.register(device.eui, CLEARED, {}).get(str(log_id))
    matched = []
    for moment, code in reversed(entries):
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
    """(start, interval, samples) of the half-hour profile (sample id 0: litres per
    half-hour, from the load model) for the ``count`` half-hours from ``earliest`` (ZigBee
    time) that it holds: complete ones, no older than its reach, at most ``MAX_SAMPLES``; None
    when it holds none of them, or for another sample id (GCS31's requests are kept, not
    sampled)."""
    if sample_id != 0 or count <= 0:
        return None
    meter = gas_model.gas_metering(tx, device)
    first = -(-int((from_zigbee_time(earliest) - slot_start(0)).total_seconds()) // SLOT_SECONDS)
    end = min(first + min(count, gas_model.MAX_SAMPLES), slot_of(now))
    first = max(first, meter.oldest_slot(now))
    if first >= end:
        return None
    return zigbee_time(slot_start(first)), SLOT_SECONDS, [meter.interval(slot) for slot in range(first, end)]


# ---------------------------------------------------------------------------------------
# Snapshots (GCS15b/c): billing-period ends from the model, and those events caused


def record_snapshot(tx: Transaction, device: Device, at: datetime, cause: int) -> None:
    """A snapshot an event took (a change of payment mode): its time is kept, its values
    computed when read."""
    kept = tx.register(device.eui, SNAPSHOTS, [])
    tx.set_register(device.eui, SNAPSHOTS, [*kept, [zigbee_time(at), cause]][-gas_model.BILLING_LOG_SIZE:])


def snapshots(tx: Transaction, device: Device, start: int, end: int, cause: int) -> list[tuple[int, int, int]]:
    """(snapshot id, ZigBee time, cause) of the snapshots from ``start`` to ``end`` with a
    cause among ``cause``'s bits, oldest first (RTDS GCS15b/c: offset 0 is the oldest)."""
    meter = gas_model.gas_metering(tx, device)
    found = [(zigbee_time(moment), END_OF_BILLING_PERIOD) for moment in gas_model.billing_times(meter, device.now)]
    found += [(time, kind) for time, kind in tx.register(device.eui, SNAPSHOTS, [])]
    found.sort()
    return [(index, time, kind) for index, (time, kind) in enumerate(found) if start <= time <= end and kind & cause]


def zigbee_time(moment: datetime) -> int:
    return int((moment - _EPOCH).total_seconds())


def from_zigbee_time(seconds: int) -> datetime:
    return _EPOCH + timedelta(seconds=seconds)
