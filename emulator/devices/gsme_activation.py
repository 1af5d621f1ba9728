"""Future-dated GBZ commands on the gas meter: what a command sets at a date-time it names.

A GBZ command is future-dated through its ZCL payload, not its header: a Price or Calendar
publish's Start Time (Publish Calendar, Special Days, Tariff Information, Block Thresholds,
Price Matrix; GCS01a/b) or Change Payment Mode's Implementation Date/Time (GCS03); Change
Supply's (GCS39, the valve) is kept the same way, without an alert (GBCS gives it none, and
RTDS has none). The GSME
answers such a component at once (a Default Response SUCCESS, or its ZSE response) and keeps
it (register ``gsme.activations``) with the command's message code, counter and originator.
When its clock reaches the date-time the kept values become active, as an immediate command's
would, and the GSME tells the originator with a future-dated outcome alert (message code
0x00CD, alert 8F66) naming the command (message code and counter) and the ZCL command executed
(cluster, frame control, command id), timed at the execution: one alert per future-dated
component, as RTDS's GCS01a, GCS01b and GCS03 alerts show. The Day Profiles, Week Profiles and
Seasons published with a calendar carry no time of their own: they take effect with it, and
raise no alert of their own (RTDS has none).

A time of 00000000 ("now") or one already passed takes effect at once, with no alert. A time
of FFFFFFFF (or RTDS's FFFFFFFE: ``CANCELS``) cancels what was pending for that command (ZSE;
primer §7.3), and is not kept:
for Publish Calendar, its day, week and season profiles too. A newer pending publish of the
same command replaces an older one.

Timers are armed on the device's clock when a component is kept, and again for every kept
one after a restart (``arm``, as ``firmware.scheduler.arm``).
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

from gbcs.gbz import FutureDatedOutcome, GbzAlert, GbzPayload, ZclCommand, decode_gbz, encode_gbz
from gbcs.types import EUI64, Cra, DeviceType

from ..firmware.alerts import build_alert
from ..firmware.device import Device
from ..store import Transaction
from . import gsme_logs as logs
from .gsme_attributes import PRICE, GsmeState, set_attribute

__all__ = ["CALENDAR", "CALENDAR_PARTS", "CANCELS", "FUTURE_DATED_OUTCOME", "NEVER", "NOW", "PENDING", "activate", "arm",
           "cancel", "due_time", "execution_time", "held", "keep", "price_matrix_entries",
           "run_due"]  # fmt: skip

FUTURE_DATED_OUTCOME, EXECUTED = 0x00CD, 0x8F66
PENDING = "gsme.activations"
# The alert payload's count byte: 1 (its one outcome) in every RTDS 0x00CD alert [observed 8/8].
NOW, NEVER = 0x00000000, 0xFFFFFFFF  # ZSE UTCTime: "now", and "cancel" in GBCS (primer §7.3)
# RTDS's cancellations (GCS01a/b CANCELLATION) carry FFFFFFFF only in Publish Tariff
# Information; its Publish Calendar, Special Days, Block Thresholds and Price Matrix carry
# FFFFFFFE [observed]. Both cancel (our reading: neither is a time a tariff could start at).
CANCELS = frozenset({NEVER, 0xFFFFFFFE})
_EPOCH = datetime(2000, 1, 1, tzinfo=timezone.utc)
CALENDAR = 0x0707
# Published with a Publish Calendar, in effect with it: they carry no start time of their own.
CALENDAR_PARTS = frozenset({"publish_day_profile", "publish_week_profile", "publish_seasons"})
_TIME_FIELDS = ("start_time", "implementation_date_time")


def execution_time(zcl: ZclCommand) -> int | None:
    """The component's start (or implementation) time as ZigBee UTC seconds, or None when the
    ZCL command names none."""
    for name in _TIME_FIELDS:
        value = getattr(zcl.value, name, None)
        if value is not None:
            return int(value)
    return None


def _family(cluster_id: int, name: str) -> str:
    return "publish_calendar" if cluster_id == CALENDAR and name in CALENDAR_PARTS else name


def cancel(tx: Transaction, device: Device, cluster_id: int, name: str) -> None:
    """Drop what is pending for ``name`` in ``cluster_id`` (a calendar with its profiles)."""
    family = _family(cluster_id, name)
    pending = tx.register(device.eui, PENDING, [])
    kept = [entry for entry in pending if (entry["cluster"], _family(entry["cluster"], entry["name"])) != (cluster_id, family)]
    if len(kept) != len(pending):
        tx.set_register(device.eui, PENDING, kept)


def keep(tx: Transaction, device: Device, frame: Any, index: int, cluster_id: int, zcl: ZclCommand,
         due: datetime, *, alert: bool) -> None:  # fmt: skip
    """Keep the ``index``-th component of the command ``frame`` until ``due`` (the device's
    time) and arm a timer for it; ``alert``: an 8F66 alert reports its execution."""
    pending = tx.register(device.eui, PENDING, [])
    pending.append({"due": due.isoformat(), "cluster": cluster_id, "name": zcl.name, "index": index,
                    "frame_control": zcl.frame_control, "command_id": zcl.command_id, "alert": alert,
                    "originator": str(frame.originator), "message_code": frame.other_information.message_code,
                    "counter": frame.originator_counter, "content": frame.content.hex()})  # fmt: skip
    tx.set_register(device.eui, PENDING, sorted(pending, key=lambda entry: (entry["due"], entry["counter"], entry["index"])))
    device.clock.call_at(due - device.clock_offset, lambda: run_due(device))


def arm(device: Device) -> int:
    """Arm a timer for every kept component (after a restart); 0 for devices other than GSMEs."""
    if device.identity.device_type is not DeviceType.GSME:
        return 0
    pending = device.store.read().register(device.eui, PENDING, [])
    for entry in pending:
        device.clock.call_at(datetime.fromisoformat(entry["due"]) - device.clock_offset, lambda: run_due(device))
    return len(pending)


def run_due(device: Device) -> list[bytes]:
    """Execute every kept component whose time has come, in the order kept, each future-dated
    one with its 8F66 alert to the command's originator; return the alerts (each also handed
    to ``device.alert_sink``)."""
    alerts = []
    with device.store.transaction() as tx:
        pending = tx.register(device.eui, PENDING, [])
        due = [entry for entry in pending if datetime.fromisoformat(entry["due"]) <= device.now]
        if not due:
            return []
        state = GsmeState.load(tx, device)
        for entry in due:
            payload = decode_gbz(bytes.fromhex(entry["content"]), Cra.COMMAND, entry["message_code"])
            assert isinstance(payload, GbzPayload)
            at = datetime.fromisoformat(entry["due"])
            activate(tx, device, state, entry["cluster"], payload.components[entry["index"]].command, at,
                     bytes.fromhex(entry["content"]), entry["message_code"])  # fmt: skip
            tx.log_event(device.eui, device.now, "activated",
                         f"{entry['cluster']:04X}/{entry['name']} of {entry['message_code']:04X} {entry['counter']}")  # fmt: skip
            if entry["alert"]:
                outcome = FutureDatedOutcome(entry["message_code"], entry["counter"], entry["cluster"],
                                             entry["frame_control"], entry["command_id"])  # fmt: skip
                content = encode_gbz(GbzAlert(1, EXECUTED, int((at - _EPOCH).total_seconds()), outcome))
                alert = build_alert(device, tx, EUI64(bytes.fromhex(entry["originator"])), FUTURE_DATED_OUTCOME, content)
                tx.record_sent(device.eui, device.now, "alert", alert)
                alerts.append(alert)
        state.save(tx)
        tx.set_register(device.eui, PENDING, [entry for entry in pending if entry not in due])
    if device.alert_sink is not None:
        for alert in alerts:
            device.alert_sink(alert)
    return alerts


def activate(tx: Transaction, device: Device, state: GsmeState, cluster_id: int, zcl: ZclCommand, at: datetime,
             content: bytes, message_code: int) -> None:  # fmt: skip
    """What a publish, payment-mode change or valve change does when it takes effect (at once
    or when due):
    the published command is the one in force (register ``zcl.<cluster>.<name>``: the GBZ
    command as sent, with its message code; ``held`` reads it back), and the Price
    attributes it carries take its values."""
    if zcl.name == "change_payment_mode":
        from .gsme_zcl import set_payment_mode  # imported here: gsme_zcl imports this module

        set_payment_mode(tx, device, state, int(zcl.value.proposed_payment_control_configuration),
                         int(zcl.value.cut_off_value), at)  # fmt: skip
        return
    if zcl.name == "change_supply":
        state.supply["status"] = int(zcl.value.proposed_supply_status)
        return
    tx.set_register(device.eui, f"zcl.{cluster_id:04X}.{zcl.name}",
                    {"at": at.isoformat(), "payload": content.hex(), "message_code": message_code})  # fmt: skip
    if zcl.name == "set_event_configuration":
        logs.set_event_configuration(tx, device, zcl.value)
    if cluster_id == PRICE:
        for attribute, value in _price_attributes(zcl):
            set_attribute(state, PRICE, attribute, value)


def _price_attributes(zcl: ZclCommand) -> list[tuple[int, int]]:
    """The Price cluster attributes (ZSE D.4.2.2) a Price publish sets."""
    value = zcl.value
    if zcl.name == "publish_tariff_information":
        return [(0x0202, int(value.block_threshold_multiplier)), (0x0203, int(value.block_threshold_divisor)),
                (0x0301, int(value.standing_charge)), (0x0615, int(value.unit_of_measure)),
                (0x0616, int(value.currency)), (0x0617, int(value.price_trailing_digit))]  # fmt: skip
    if zcl.name == "publish_block_thresholds":
        return [(0x0100 + block, threshold) for tier, thresholds in _threshold_sets(bytes(value.thresholds))
                if tier == 0 for block, threshold in enumerate(thresholds[:3])]  # fmt: skip
    if zcl.name == "publish_price_matrix":
        attributes = []
        for tier, block, price in price_matrix_entries(zcl):
            if (tier == 0 and block < 4) or (block == 0 and 1 <= tier <= 4):
                attributes.append((0x0400 + 0x10 * tier + block, price))
        return attributes
    return []


def price_matrix_entries(zcl: ZclCommand) -> list[tuple[int, int, int]]:
    """A Publish Price Matrix's prices as (tier, block, price), block 0 the first (ZSE:
    Sub-Payload Control bit 0 set, TOU pricing, the Tier/Block ID is the tier and the price
    its block 1; clear, the id's high nibble is the tier and its low nibble the block). RTDS
    bears out the TOU reading: GCS01a's immediate TOU matrix prices ids 1-4, and GCS21f reads
    its id-1 price back as Tier 1 Block 1 Price."""
    tou = int(zcl.value.sub_payload_control) & 0x01
    return [(int(entry.tier_block_id), 0, int(entry.price)) if tou else (*divmod(int(entry.tier_block_id), 16), int(entry.price))
            for entry in zcl.value.entries]  # fmt: skip


def _threshold_sets(data: bytes) -> list[tuple[int, list[int]]]:
    """Publish Block Thresholds' sub-payloads: (tier, thresholds), each threshold a uint48."""
    sets, offset = [], 0
    while offset < len(data):
        tier, count = divmod(data[offset], 16)
        offset += 1
        values = [int.from_bytes(data[offset + 6 * i: offset + 6 * i + 6], "little") for i in range(count)]
        offset += 6 * count
        sets.append((tier, values))
    return sets


def due_time(value: int) -> datetime:
    return _EPOCH + timedelta(seconds=value)


def held(tx: Transaction, device: Device, cluster_id: int, name: str) -> list[ZclCommand]:
    """The ``name`` components (cluster ``cluster_id``) of the publish in force, in the order
    they were sent; none when nothing was published (a calendar's profiles are all held with
    the command that published them)."""
    kept = tx.register(device.eui, f"zcl.{cluster_id:04X}.{name}")
    if kept is None:
        return []
    payload = decode_gbz(bytes.fromhex(kept["payload"]), Cra.COMMAND, kept.get("message_code", 0))
    assert isinstance(payload, GbzPayload)
    return [component.command for component in payload.components
            if component.cluster_id == cluster_id and component.command.name == name]  # fmt: skip
