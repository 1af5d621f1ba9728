"""Future-dated commands and device alerts.

A future-dated command passes every check when it arrives and is answered at once (GBCS's
"command accepted"); its effect waits in the store (``future_command``) until the device's
clock reaches its execution date-time. Then it runs in a transaction of its own, and the
device reports the outcome with an alert to the party that sent it: 8F66 executed, 8F67
failed (primer §12 rule 5: the alert names the original message code and counter).

Timers are armed on the device's clock when a command is deferred, and again for every
stored command when a device is loaded after a restart (``arm``); a timer that finds its
command gone (run, or rolled back with a refused command) does nothing.

Alerts are the device's own messages: CRA alert, a counter from the device's own sequence
(strictly increasing, durable), protected as the catalogue says the alert use case is, and
queued in the store's outbox before anything else sees them.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

import gbcs
from gbcs.catalogue import Protection, use_case
from gbcs.errors import KeyStoreError
from gbcs.types import EUI64, Cra

from ..store import Transaction
from .command import Command
from .device import Device, TrustAnchorCell

__all__ = ["ALERT_EXECUTED", "ALERT_FAILED", "FUTURE_EXECUTORS", "arm", "build_alert", "defer", "run_due"]

ALERT_EXECUTED, ALERT_FAILED = 0x8F66, 0x8F67

# use-case name -> runs a deferred command; returns (alert message code, alert content)
FutureExecutor = Callable[[Device, Transaction, Command], tuple[int, bytes]]
FUTURE_EXECUTORS: dict[str, FutureExecutor] = {}


def defer(device: Device, tx: Transaction, command: Command, due: datetime) -> None:
    """Keep ``command`` until ``due`` (in the command's transaction) and arm a timer for it."""
    tx.schedule(device.eui, due, gbcs.encode(command.frame))
    device.clock.call_at(due, lambda: run_due(device))


def arm(device: Device) -> int:
    """Arm timers for every command the store keeps for ``device`` (after a restart)."""
    rows = device.store.read().scheduled(device.eui)
    for _, due, _ in rows:
        device.clock.call_at(datetime.fromisoformat(due), lambda: run_due(device))
    return len(rows)


def run_due(device: Device) -> list[bytes]:
    """Run every stored command whose time has come, oldest first; return the alerts sent."""
    alerts = []
    now = device.now
    for command_id, due, data in device.store.read().scheduled(device.eui):
        if datetime.fromisoformat(due) > now:
            break
        frame = gbcs.decode(data)
        case = use_case(frame.other_information.message_code)
        cell = device.cell_of(frame.originator) or TrustAnchorCell(next(iter(case.originator_roles)), frame.originator)
        with device.store.transaction() as tx:
            tx.unschedule(command_id)
            message_code, content = FUTURE_EXECUTORS[case.name](device, tx, Command(frame, case, cell, None))
            alert = build_alert(device, tx, frame.originator, message_code, content)
            tx.record_sent(device.eui, now, "alert", alert)
        alerts.append(alert)
        if device.alert_sink is not None:
            device.alert_sink(alert)
    return alerts


def build_alert(device: Device, tx: Transaction, recipient: EUI64, message_code: int, content: bytes) -> bytes:
    """An alert from ``device`` to ``recipient``: the device's next counter, protected as the
    alert use case's catalogue row says (signed, or MACed with the recipient's key)."""
    case = use_case(message_code)
    frame = gbcs.Frame(cra=Cra.ALERT, originator_counter=tx.next_own_counter(device.eui), originator=device.eui,
                       recipient=EUI64(recipient), other_information=gbcs.OtherInformation(message_code),
                       content=content)  # fmt: skip
    protection = (case.protection.get(Cra.ALERT) or (Protection.NONE,))[0]
    if Protection.SIGNATURE in protection and device.credentials.ds_key is not None:
        frame = gbcs.sign(frame, device.credentials.ds_key)
    if Protection.MAC in protection:
        try:
            frame = gbcs.add_mac(frame, device.keystore())
        except KeyStoreError:
            if device.peer_private_keys is None:
                raise
            frame = gbcs.add_mac(frame, device.peer_private_keys)
    return gbcs.encode(frame)
