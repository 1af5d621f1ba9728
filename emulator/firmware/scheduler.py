"""Future-dated commands and device alerts.

A future-dated command passes every check when it arrives and is answered at once (GBCS's
"command accepted"); its effect waits in the store (``future_command``) until the device's
clock reaches its execution date-time. Then it runs in a transaction of its own, and the
device reports the outcome with an alert to the party that sent it: 8F66 executed, 8F67
failed (primer §12 rule 5: the alert names the original message code and counter).

Timers are armed on the device's clock when a command is deferred, and again for every
stored command when a device is loaded after a restart (``arm``); a timer that finds its
command gone (run, or rolled back with a refused command) does nothing.

The alert is built by ``alerts.build_alert`` and queued in the store's outbox, in the same
transaction as the command's effect, before anything else sees it.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

import gbcs
from gbcs.catalogue import use_case

from ..errors import CommandRejected
from ..store import Transaction
from .alerts import build_alert
from .command import Command
from .device import Device

__all__ = ["ALERT_EXECUTED", "ALERT_FAILED", "FUTURE_EXECUTORS", "arm", "defer", "run_due"]

ALERT_EXECUTED, ALERT_FAILED = 0x8F66, 0x8F67

# use-case name -> runs a deferred command; returns (alert message code, alert content)
FutureExecutor = Callable[[Device, Transaction, Command], tuple[int, bytes]]
FUTURE_EXECUTORS: dict[str, FutureExecutor] = {}


def defer(device: Device, tx: Transaction, command: Command, due: datetime) -> None:
    """Keep ``command`` until ``due`` (in the command's transaction) and arm a timer for it."""
    tx.schedule(device.eui, due, gbcs.encode(command.frame))
    device.clock.call_at(due - device.clock_offset, lambda: run_due(device))  # due is in the device's time


def arm(device: Device) -> int:
    """Arm timers for every command the store keeps for ``device`` (after a restart)."""
    rows = device.store.read().scheduled(device.eui)
    for _, due, _ in rows:
        device.clock.call_at(datetime.fromisoformat(due) - device.clock_offset, lambda: run_due(device))
    return len(rows)


def run_due(device: Device) -> list[bytes]:
    """Run every stored command whose time has come, oldest first; return the alerts sent.

    A command whose originator the device no longer trusts (its cell was replaced since) is
    dropped unrun, in the security log; one that fails to run is dropped, in the event log.
    Neither blocks those after it.
    """
    alerts = []
    now = device.now
    for command_id, due, data in device.store.read().scheduled(device.eui):
        if datetime.fromisoformat(due) > now:
            break
        alert = _run_one(device, command_id, data)
        if alert is not None:
            alerts.append(alert)
            if device.alert_sink is not None:
                device.alert_sink(alert)
    return alerts


def _run_one(device: Device, command_id: int, data: bytes) -> bytes | None:
    frame = gbcs.decode(data)
    case = use_case(frame.other_information.message_code)
    cell = device.cell_of(frame.originator)
    device.changed_in_memory = False
    try:
        if cell is None:
            raise CommandRejected(f"{frame.originator} is no longer trusted: its future-dated {case.label} is dropped")
        with device.store.transaction() as tx:
            tx.unschedule(command_id)
            message_code, content = FUTURE_EXECUTORS[case.name](device, tx, Command(frame, case, cell, None))
            alert = build_alert(device, tx, frame.originator, message_code, content)
            tx.record_sent(device.eui, device.now, "alert", alert)
        return alert
    except Exception as error:  # noqa: BLE001 - a failing command must not block those after it
        if device.changed_in_memory:
            device.reload()
        with device.store.transaction() as tx:
            tx.unschedule(command_id)
            if cell is None:
                tx.log_security(device.eui, device.now, "future-dated-dropped", str(error),
                                originator=frame.originator, message_code=case.message_code,
                                counter=frame.originator_counter)  # fmt: skip
            else:
                tx.log_event(device.eui, device.now, "future-dated-failed", f"{case.label} {frame.originator_counter}: {error}")
        return None
