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

__all__ = ["EVENT_CONFIGURATION", "EVENT_LOG_SIZE", "FACTORY_EVENT_CONFIGURATION", "UTRN_COUNTER", "Utrn", "add_top_up",
           "clear_event_logs", "debt_collections", "event_configuration", "events", "generated_top_ups", "set_event_configuration",
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
    """The coded entries of a log between ``start`` and ``end`` (ZigBee times; an ``end`` of 0:
    no end), newest first, from ``offset``, at most ``count`` (0: all); and how many matched.

    The log holds its newest ``EVENT_LOG_SIZE`` entries since it was last cleared. Theory of
    operation, so that a read never loads the whole history: entries older than ``start``
    cannot change which entries in the range are among the newest, so the store is asked
    (in SQL) only from ``start`` (or the clear, or, for the general log, the generated
    history's ``EVENT_LOG_SIZE``-th newest entry, which already fills the log) onwards, and
    the history is generated only for its newest ``EVENT_LOG_SIZE`` billing periods."""
    end_time = from_zigbee_time(end or 0xFFFFFFFF)
    cleared = tx.register(device.eui, CLEARED, {}).get(str(log_id))
    floor = from_zigbee_time(start)
    if cleared is not None:
        floor = max(floor, datetime.fromisoformat(cleared))
    if log_id == 3:
        meter = gas_model.gas_metering(tx, device)
        history = [(moment, BILLING_DATA_LOG_UPDATED)
                   for moment in gas_model.billing_times(meter, device.now, keep=EVENT_LOG_SIZE)]  # fmt: skip
        if len(history) == EVENT_LOG_SIZE:
            floor = max(floor, history[0][0])
        stored = tx.event_log(device.eui, start=floor, coded=True)
    elif log_id == 4:
        history, stored = [], tx.security_log(device.eui, start=floor, coded=True)
    else:
        return [], 0
    entries = history + [(datetime.fromisoformat(entry.at), entry.code) for entry in stored]
    entries = sorted((entry for entry in entries if entry[0] >= floor), key=lambda entry: entry[0])[-EVENT_LOG_SIZE:]
    matched = [zcl_se.EventRecord(log_id=log_id, event_id=code, event_time=zigbee_time(moment), event_data=zcl_se.Octets())
               for moment, code in reversed(entries)
               if (cleared is None or moment > datetime.fromisoformat(cleared)) and moment <= end_time]  # fmt: skip
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


# ---------------------------------------------------------------------------------------
# Event configuration (ZSE Device Management Set/Get Event Configuration; GCS20r reads it)
#
# What the GSME does with each event it can raise: the ZSE Event Configuration bitmap8 (ZSE
# 1.4, Device Management cluster): bits 0-2 the logging action (0 do not log, 1 tamper, 2
# fault, 3 general event, 4 security event, 5 network event), bit 3 push the event to the WAN
# (an alert), bit 4 push it to the HAN, bits 5-6 raise a ZigBee / physical alarm. RTDS GCS20r
# shows the form (event ids 81xx with such bitmaps); its values are that meter's, not ours.

EVENT_CONFIGURATION = "gsme.event_configuration"  # {"<event id, 4 hex digits>": bitmap}: what was set
LOGGED, SECURITY_LOGGED, PUSH_WAN, PUSH_HAN = 0x03, 0x04, 0x08, 0x10
_LOGGING_ACTION = 0x07
ALL_EVENTS, GROUP_WILDCARD = 0xFFFF, 0x00FF  # ZSE Get Event Configuration: every event; every event of a group
_ALERTED = LOGGED | PUSH_WAN
_SHOWN = LOGGED | PUSH_HAN
_BOTH = LOGGED | PUSH_WAN | PUSH_HAN

# The factory configuration of the GSME's own events (primer §9.4's 81xx codes that a gas
# meter can raise; none of the electricity-only ones: phase, polarity, reverse current, CH on
# the ESME, ALCS). Our choice, as GBCS's per-event defaults are not in the primer: everything
# is logged in the general event log, access to the meter in the security log; faults,
# tampers, valve failures and credit trouble are also alerted to the WAN; what the consumer
# must act on (credit) is also pushed to the HAN.
FACTORY_EVENT_CONFIGURATION: dict[int, int] = {
    0x810D: _BOTH,  # combined credit below the low-credit threshold
    0x810E: LOGGED,  # credit added locally
    0x8119: _SHOWN,  # emergency credit now available
    0x8145: LOGGED,  # clock adjusted within tolerance
    0x8154: LOGGED, 0x8155: _ALERTED,  # immediate HAN command done / not done
    0x8161: LOGGED, 0x8162: LOGGED,  # local UI command done / not done
    0x8168: _ALERTED,  # disabled then armed: emergency credit activation
    0x8183: LOGGED,  # device joined the SM HAN
    0x8184: LOGGED,  # valve tested
    0x819D: _ALERTED,  # GSME command not retrieved
    0x81A0: _ALERTED, 0x81A1: LOGGED,  # meter integrity warning; battery cover closed
    0x81A4: SECURITY_LOGGED, 0x81A5: SECURITY_LOGGED,  # close-tunnel command rejected; local port used
    0x81A6: LOGGED,  # customer acknowledged a HAN message
    0x81A7: LOGGED, 0x81A8: LOGGED, 0x81A9: LOGGED,  # debt collection complete (time 1, time 2, payment)
    0x81AA: _BOTH, 0x81AB: LOGGED,  # emergency credit exhausted / activated
    **dict.fromkeys(range(0x81AC, 0x81B4), _ALERTED),  # measurement, firmware, memory, reset, watchdog faults
    0x81B4: _ALERTED, 0x81B5: _ALERTED, 0x81B6: _ALERTED,  # over capacity, air in gas, reverse flow
    0x81BC: LOGGED,  # strong magnetic field removed
    0x81BD: _ALERTED, 0x81BE: _ALERTED, 0x81BF: _ALERTED, 0x81C0: _ALERTED,  # valve trouble, tamper lock
    0x81C2: LOGGED, 0x81C3: _ALERTED,  # tilt tamper ended / tilt tamper
    0x81C4: _ALERTED, 0x81C5: _ALERTED,  # UTRN entry suspended; UTRN locked out
    0x81C6: _ALERTED,  # clock not adjusted (outside tolerance)
}  # fmt: skip


def event_configuration(tx: Transaction, device: Device, event_id: int) -> list[tuple[int, int]]:
    """(event id, configuration) in event id order for a ZSE Get Event Configuration's Event
    ID: one event, every event of a group (``0xGGFF``) or every event (``0xFFFF``); empty
    when the GSME raises no such event."""
    configuration = _configuration(tx, device)
    if event_id == ALL_EVENTS:
        chosen = sorted(configuration)
    elif event_id & 0xFF == GROUP_WILDCARD:
        chosen = sorted(event for event in configuration if event >> 8 == event_id >> 8)
    else:
        chosen = [event_id] if event_id in configuration else []
    return [(event, configuration[event]) for event in chosen]


def set_event_configuration(tx: Transaction, device: Device, request: Any) -> int:
    """Apply a ZSE Set Event Configuration (its Configuration Control: 0 the events listed,
    1 an event group, 2 every event logged to a log id, 3 every event whose configuration
    matches a value) to the GSME's own events; the number of events changed. An event id
    the GSME does not raise is ignored."""
    configuration = _configuration(tx, device)
    control = int(request.configuration_control)
    if control == 0:
        chosen = {int(event) for event in request.event_ids}
    elif control == 1:
        chosen = {event for event in configuration if event >> 8 == int(request.event_group_id) >> 8}
    elif control == 2:
        chosen = {event for event, value in configuration.items() if value & _LOGGING_ACTION == int(request.log_id)}
    elif control == 3:
        chosen = {event for event, value in configuration.items() if value == int(request.configuration_value_match)}
    else:
        chosen = set()
    changed = {event: int(request.event_configuration) for event in chosen if event in configuration}
    if changed:
        stored = tx.register(device.eui, EVENT_CONFIGURATION, {})
        stored.update({f"{event:04X}": value for event, value in changed.items()})
        tx.set_register(device.eui, EVENT_CONFIGURATION, stored)
    return len(changed)


def _configuration(tx: Transaction, device: Device) -> dict[int, int]:
    stored = tx.register(device.eui, EVENT_CONFIGURATION, {})
    return {**FACTORY_EVENT_CONFIGURATION, **{int(event, 16): value for event, value in stored.items()}}
