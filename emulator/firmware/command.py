"""One command, one readable function: ``process_command``.

The order of the checks lives here only. GBCS's exact order is not confirmed (primer §12);
ours is the issue's: decode, recipient, signature against the cell of the originator's role,
MAC, anti-replay, role, then execute and answer. Everything from anti-replay on runs in one
store transaction: a rejection rolls it back (state unchanged) and is logged in a transaction
of its own; an accepted command commits its counter, its effects and its response together,
before the response leaves.

Execution belongs to the device type: ``emulator/devices/__init__.py`` maps each
``DeviceType`` to its ``Executor``, which turns the command into response content.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import gbcs
from gbcs.catalogue import Protection, UseCase
from gbcs.errors import KeyStoreError
from gbcs.frame import Frame, OtherInformation
from gbcs.types import Cra, DeviceType, DlmsDateTime, Role

from ..errors import CommandRejected, DeviceFault, StoreError, Unsupported
from ..store import Transaction
from .alerts import raise_generic_alert
from .checks import (
    check_anti_replay,
    check_mac,
    check_recipient,
    check_role,
    check_signature,
    decode_command,
    use_case_of,
)
from .device import Device, TrustAnchorCell

__all__ = ["Command", "Executor", "Outcome", "build_response", "process_command"]


@dataclass(frozen=True, slots=True)
class Command:
    """An authenticated, fresh command, as an executor receives it.

    Attributes:
        frame: the decoded command.
        use_case: its catalogue row.
        originator: the trust anchor cell that authenticated it.
        previous_counter: the originator's last accepted counter before this one (None: none).
        notes: what the executor could not do as the field would, and why (``Outcome.notes``).
        response: what the executor states about its response's header; only
            ``"clock_status"``: the date-time's clock-status byte (primer §5; FF, "not
            specified", when not stated: the GPF and GSME state it for gas register reads).
    """

    frame: Frame
    use_case: UseCase
    originator: TrustAnchorCell
    previous_counter: int | None
    notes: list[str] = field(default_factory=list)
    response: dict[str, int] = field(default_factory=dict)


# Turns an accepted command into the response's content (payload bytes); raises a
# CommandRejected (usually BadContent or Unsupported) to refuse it.
Executor = Callable[[Device, Transaction, Command], bytes]


@dataclass(frozen=True, slots=True)
class Outcome:
    """What a device did with one command.

    Attributes:
        accepted: it passed every check and was executed.
        response: the bytes to send back, or None (GBCS prescribes silence, or none was built).
        rejection: why it was refused, or None.
        frame: the decoded command, when it decoded.
        mac_from_peer: a MAC (checked or made) relied on a remote party's private key because
            the device has none of its own (RTDS replay; ``Device.peer_private_keys``).
        notes: what could not be done as the field would, and why.
    """

    accepted: bool
    response: bytes | None = None
    rejection: CommandRejected | None = None
    frame: Frame | None = None
    mac_from_peer: bool = False
    notes: tuple[str, ...] = ()


def process_command(device: Device, data: bytes) -> Outcome:
    """Take one command through the checks certified firmware makes, in this order."""
    frame = None
    device.changed_in_memory = False
    try:
        frame = decode_command(data)  # 1. Malformed
        check_recipient(device, frame)  # 2. addressed to this device
        case = use_case_of(device, frame)  #    a use case of this device type
        cell = check_signature(device, frame, case)  # 3. against the originator's cell
        mac_from_peer = check_mac(device, frame, case, cell)  # 4. where the use case requires one
        with device.store.transaction() as tx:  # any raise below rolls back
            previous = check_anti_replay(tx, device, frame)  # 5. counter > last accepted, stored
            check_role(cell, case)  # 6. this role may send this use case
            executor = executor_for(device.identity.device_type)
            if executor is None:
                raise Unsupported(f"no firmware for a {device.identity.device_type.name} yet")
            command = Command(frame, case, cell, previous)
            content = executor(device, tx, command)  # 7. act
            response, notes, made_from_peer = build_response(device, frame, case, content, cell,
                                                             clock_status=command.response.get("clock_status", 0xFF))
            tx.record_sent(device.eui, device.now, "response", response)  # 8. durable before it leaves
        return Outcome(True, response, None, frame, mac_from_peer or made_from_peer, (*command.notes, *notes))
    except CommandRejected as rejection:
        return _refused(device, frame, rejection)
    except Exception as error:  # noqa: BLE001 - a device never crashes on a command: it reports the fault
        return _refused(device, frame, DeviceFault(f"{type(error).__name__}: {error}"))


def _refused(device: Device, frame: Frame | None, rejection: CommandRejected) -> Outcome:
    try:
        if device.changed_in_memory:
            device.reload()  # what the rolled-back transaction changed in memory goes too
        _log_rejection(device, frame, rejection)
    except StoreError:
        pass  # the store itself is failing: the outcome still says why the command was refused
    return Outcome(False, rejection.response, rejection, frame)


def executor_for(device_type: DeviceType) -> Executor | None:
    # Imported here: the device types build on this module, so it cannot import them first.
    from ..devices import EXECUTORS

    return EXECUTORS.get(device_type)


def _log_rejection(device: Device, frame: Frame | None, rejection: CommandRejected) -> None:
    """Log a refusal in its own transaction and, for an authenticated frame, raise its alert
    (primer §12: 8F53, 8F30, 8F1E), at most once per code a minute (``emulator/errors.py``)."""
    alert = None
    with device.store.transaction() as tx:
        if rejection.security:
            tx.log_security(device.eui, device.now, rejection.event, rejection.detail, alert_code=rejection.alert_code,
                            originator=None if frame is None else frame.originator,
                            message_code=None if frame is None else frame.other_information.message_code,
                            counter=None if frame is None else frame.originator_counter)  # fmt: skip
        else:
            tx.log_event(device.eui, device.now, rejection.event, rejection.detail)
        if rejection.alert_code is not None and rejection.authenticated and _alert_due(tx, device, rejection.alert_code):
            alert = raise_generic_alert(device, tx, rejection.alert_code)
    if alert is not None and device.alert_sink is not None:
        device.alert_sink(alert)  # committed first: nothing leaves that a crash could lose


def _response_protection(case: UseCase, command: Frame) -> Protection:
    """The response's protection. Where RTDS shows two variants (MAC/sig), a response mirrors
    its command: signed for a signed command, MACed otherwise (CS02a in RTDS)."""
    variants = case.protection.get(Cra.RESPONSE) or (Protection.NONE,)
    if len(variants) > 1:
        wanted = Protection.SIGNATURE if command.signature is not None else Protection.MAC
        for variant in variants:
            if wanted in variant:
                return variant
    return variants[0]


_ALERT_INTERVAL = timedelta(minutes=1)


def _alert_due(tx: Transaction, device: Device, alert_code: int) -> bool:
    name = f"alerts.last.{alert_code:04X}"
    last = tx.register(device.eui, name)
    if last is not None and device.now - datetime.fromisoformat(last) < _ALERT_INTERVAL:
        return False
    tx.set_register(device.eui, name, device.now.isoformat())
    return True


def build_response(device: Device, command: Frame, case: UseCase, content: bytes,
                   originator: TrustAnchorCell | None = None, *,
                   clock_status: int = 0xFF) -> tuple[bytes, tuple[str, ...], bool]:  # fmt: skip
    """The response to ``command``: same counter and message code, originator and target
    swapped, Other Information copied without a remote party's certificate (primer §12 rules
    1-2), a date-time where the use case's responses carry one, signed and MACed as the use
    case's responses are (the first variant where RTDS shows two). ``clock_status`` is the
    date-time's clock-status byte (``Command.response``).

    Returns:
        the response bytes; notes on protections that could not be applied (a device from
        RTDS has no private keys); whether its MAC used a remote party's private key.
    """
    other = command.other_information
    if other.remote_party_certificate is not None:
        other = dataclasses.replace(other, remote_party_certificate=None)
    response = Frame(
        cra=Cra.RESPONSE,
        originator_counter=command.originator_counter,
        originator=device.eui,
        recipient=command.originator,
        other_information=OtherInformation(**{f.name: getattr(other, f.name) for f in dataclasses.fields(other)}),
        content=content,
        date_time=DlmsDateTime.from_datetime(device.now, clock_status=clock_status) if case.response_date_time else None,
    )
    protection = _response_protection(case, command)
    notes: list[str] = []
    from_peer = False
    if Protection.SIGNATURE in protection:
        if device.credentials.ds_key is None:
            notes.append("response not signed: the device has no digital-signature private key")
        else:
            response = gbcs.sign(response, device.credentials.ds_key)
    if Protection.MAC in protection:
        keystore = device.keystore()
        if originator is not None and originator.role is Role.OTHER and originator.ka is not None:
            keystore = device.keystore_with_peer(originator.party, originator.ka)  # a HAN peer's command
        try:
            response = gbcs.add_mac(response, keystore)
        except KeyStoreError:
            try:
                if device.peer_private_keys is None:
                    raise
                response = gbcs.add_mac(response, device.peer_private_keys)
                from_peer = True
            except KeyStoreError as error:
                notes.append(f"response not MACed: {error}")
    return gbcs.encode(response), tuple(notes), from_peer
