"""The GSME's answer to a GBZ command: one ZCL answer per component, in order.

Theory of operation. A GBZ command is a list of ZCL commands (primer §7.3). The GSME takes
them in order and answers each with a component of the same sequence number:

* a global Read Attributes with a Read Attributes Response, a record per attribute in the
  order asked (``gsme_attributes``; an attribute it does not hold: UNSUPPORTED_ATTRIBUTE);
* a "get" with the ZSE response commands built from its logs, the tariff it holds (the
  publishes in force, served back as published) or its event configuration, or a Default
  Response NOT_FOUND when nothing matches (RTDS GCS15e, CS10a/b, GCS21b/f NOT_FOUND);
* an action with its ZSE response command, or a Default Response SUCCESS;
* a command a remote party publishes (tariff, calendar, message …) is kept and acknowledged.

A component that fails (a status other than SUCCESS, NOT_FOUND or UNSUPPORTED_ATTRIBUTE)
stops the sequence: every later component is answered with a Default Response FAILURE for
command FF (RTDS GCS04, GCS15b, GCS21e, GCS60 ERROR show it). Failures come from the device's
own rules or from a fault a test lab injected (``inject_zcl_fault``).

Where GBCS says a use case's response is encrypted (``UseCase.encrypted_response``), every
component that carries data (not a Default Response) is sealed (primer §8.5).
"""

from __future__ import annotations

import dataclasses
import hmac
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import Any

import zigpy.types as t
from zigpy.zcl import foundation

from gbcs import crypto, zcl_se
from gbcs.crypto import KdfUsage
from gbcs.encryption import ENCRYPTED_SECURITY_CONTROL, seal
from gbcs.errors import DecodeError, EncodeError
from gbcs.gbz import (
    ENCRYPTED,
    LAST,
    AttributeRecord,
    DefaultResponse,
    GbzComponent,
    GbzPayload,
    ReadAttributesResponse,
    Sealed,
    ZclCommand,
    decode_gbz,
    encode_gbz,
)
from gbcs.keystore import KeyUsage
from gbcs.types import Cra, Role
from gbcs.zcl_se import COMMANDS
from gbcs.zcl_se import Direction as ZclDirection

from ..errors import BadContent, Unsupported
from ..firmware.command import Command
from ..firmware.device import Device
from ..store import Transaction
from . import gas_model
from . import gsme_activation as activation
from . import gsme_logs as logs
from .gsme_attributes import ATTRIBUTES, METERING, PREPAYMENT, GsmeState, set_attribute

__all__ = ["ZCL_FAULTS", "answer_gbz", "inject_zcl_fault", "read_attributes"]

Status = foundation.Status
ZCL_FAULTS = "zcl.faults"  # register: {"<component index>[.<attribute id>]": ZCL status}
_ABORTED = 0xFF  # the command id a Default Response names for a component not executed
_EPOCH = datetime(2000, 1, 1, tzinfo=timezone.utc)
_DISABLE_DEFAULT_RESPONSE = 0x10  # ZCL frame control bit
_INT32_MIN, _INT32_MAX = -0x80000000, 0x7FFFFFFF  # ZSE credit and debt attributes are int32
_NOW = 0x00000000  # ZSE UTCTime: "now"
DEVICE_MANAGEMENT = 0x0708


def inject_zcl_fault(tx: Transaction, device: Device, component: int, status: int, attribute: int | None = None) -> None:
    """Make the ``component``-th ZCL command (by index in its GBZ command) fail with ``status``
    (a ZCL failure status), or, with ``attribute``, that attribute's record in its read. The
    fault is durable, a broken part rather than a one-off: it stays (in the ``ZCL_FAULTS``
    register) for every later GBZ command, whatever its use case, until the register is
    cleared or a reset for redeployment erases it."""
    faults = tx.register(device.eui, ZCL_FAULTS, {})
    faults[str(component) if attribute is None else f"{component}.{attribute:04X}"] = status
    tx.set_register(device.eui, ZCL_FAULTS, faults)


class _Context:
    """One GBZ command in execution: the device, its state, the faults, the time."""

    def __init__(self, device: Device, tx: Transaction, command: Command, metering: dict[str, Any] | None,
                 mirrored: dict[str, Any] | None = None) -> None:  # fmt: skip
        self.device, self.tx, self.command = device, tx, command
        self.state = GsmeState.load(tx, device, metering, mirrored)
        self.faults: dict[str, int] = tx.register(device.eui, ZCL_FAULTS, {})
        self.now = device.now
        self.calendar_time: int | None = None  # this command's Publish Calendar start time, for its profiles
        self.index = 0  # the component in execution
        apply_due_payment_mode(self)

    def fault(self, index: int, attribute: int | None = None) -> int:
        return self.faults.get(str(index) if attribute is None else f"{index}.{attribute:04X}", Status.SUCCESS)


Answer = tuple[ZclCommand, int]  # a ZCL answer and its status (SUCCESS, NOT_FOUND or a failure)


def answer_gbz(device: Device, tx: Transaction, command: Command, *, metering: dict[str, Any] | None = None,
               mirrored: dict[str, Any] | None = None) -> bytes:  # fmt: skip
    """The GSME's response content to a GBZ command (module docstring).

    Args:
        metering: the consumption to answer from, where it is not the device's own register
            (the GPF answers from its mirror of the GSME).
        mirrored: attribute values (``"CCCC.AAAA"``) the GSME reported, answered before anything
            the device holds itself (the GPF's mirror).

    Raises:
        BadContent: the payload is not a GBZ command.
        Unsupported: a ZCL command the GSME does not model.
    """
    try:
        payload = decode_gbz(command.frame.content, Cra.COMMAND, command.frame.other_information.message_code)
    except DecodeError as error:
        raise BadContent(f"payload: {error}") from None
    if not isinstance(payload, GbzPayload) or not payload.components:
        raise BadContent("not a GBZ command payload")
    context = _Context(device, tx, command, metering, mirrored)
    answers: list[tuple[int, ZclCommand]] = []
    failed = False
    for index, component in enumerate(payload.components):
        if component.is_encrypted:
            raise Unsupported(f"{command.use_case.label}: an encrypted command component")
        zcl = component.command
        if failed:
            answers.append((component.cluster_id, _default_response(zcl, _ABORTED, Status.FAILURE)))
            continue
        for answer, status in _execute(context, index, component):
            answers.append((component.cluster_id, answer))
            failed |= status not in (Status.SUCCESS, Status.NOT_FOUND)
    context.state.save(tx)
    return encode_gbz(GbzPayload(tuple(_component(context, cluster_id, answer, last=index == len(answers) - 1)
                                       for index, (cluster_id, answer) in enumerate(answers))))  # fmt: skip


def _execute(context: _Context, index: int, component: GbzComponent) -> list[Answer]:
    zcl = component.command
    if zcl.is_global:
        if zcl.name != "read_attributes":
            raise Unsupported(f"global ZCL command {zcl.command_id:02X} is not served by the GSME")
        answer, status = read_attributes(context.state, component.cluster_id, zcl, lambda a: context.fault(index, a))
        if context.command.use_case.name in _READS_WITHOUT_DEFAULT_RESPONSE:
            answer = dataclasses.replace(answer, frame_control=answer.frame_control | _DISABLE_DEFAULT_RESPONSE)
        return [(answer, status)]
    if zcl.name is None:
        raise Unsupported(f"ZCL command {component.cluster_id:04X}/{zcl.command_id:02X} is not known")
    status = context.fault(index)
    if status != Status.SUCCESS:  # injected: the command is not executed
        failure = _FAILURE_FORMS.get(zcl.name)
        return [(failure(zcl) if failure else _default_response(zcl, zcl.command_id, status), status)]
    handler = _HANDLERS.get(zcl.name)
    context.index = index
    if handler is not None:
        return handler(context, component)
    if zcl.direction is ZclDirection.SERVER_TO_CLIENT and zcl.name.startswith(_KEPT_PREFIXES):
        _publish(context, index, component)  # published by a remote party: in force now, or kept for later
        return [(_default_response(zcl, zcl.command_id, Status.SUCCESS), Status.SUCCESS)]
    raise Unsupported(f"{context.command.use_case.label}: {zcl.name} is not served by the GSME yet")


_KEPT_PREFIXES = ("publish_", "display_message", "update_", "set_event_configuration", "request_new_password")


def _publish(context: _Context, index: int, component: GbzComponent) -> None:
    """A publish takes effect at its start time (``gsme_activation``): now (none, 00000000 or
    passed: kept as sent, its Price attributes set), later (kept until then, with an 8F66
    alert), or never (FFFFFFFF: what was pending for it is cancelled). A calendar's day, week
    and season profiles follow the Publish Calendar before them in the command."""
    zcl, cluster_id = component.command, component.cluster_id
    part = cluster_id == activation.CALENDAR and zcl.name in activation.CALENDAR_PARTS
    when = context.calendar_time if part else activation.execution_time(zcl)
    if not part:
        activation.cancel(context.tx, context.device, cluster_id, zcl.name)  # a newer publish replaces what was pending
        if zcl.name == "publish_calendar":
            context.calendar_time = when
    _take_effect(context, index, component, when, alert=not part)


def _take_effect(context: _Context, index: int, component: GbzComponent, when: int | None, *, alert: bool) -> None:
    """Apply ``component`` at ZigBee time ``when``: at once, kept for later, or not at all
    (``activation.CANCELS``)."""
    if when in activation.CANCELS:
        return
    frame = context.command.frame
    if when is None or when == activation.NOW or activation.due_time(when) <= context.now:
        activation.activate(context.tx, context.device, context.state, component.cluster_id, component.command,
                            context.now, frame.content, frame.other_information.message_code)  # fmt: skip
        return
    activation.keep(context.tx, context.device, frame, index, component.cluster_id, component.command,
                    activation.due_time(when), alert=alert)  # fmt: skip


def read_attributes(state: GsmeState, cluster_id: int, zcl: ZclCommand, fault: Callable[[int], int]) -> Answer:
    """A Read Attributes Response: a record per attribute asked, in the order asked. The
    status is the worst record's (UNSUPPORTED_ATTRIBUTE is an answer, not a failure)."""
    records, worst = [], Status.SUCCESS
    for attribute_id in zcl.value.attribute_ids:
        definition = ATTRIBUTES.get((cluster_id, attribute_id))
        status = fault(attribute_id)
        if definition is None:
            records.append(AttributeRecord(attribute_id, Status.UNSUPPORTED_ATTRIBUTE))
        elif status != Status.SUCCESS:
            records.append(AttributeRecord(attribute_id, status))
            worst = status
        else:
            records.append(AttributeRecord(attribute_id, Status.SUCCESS, definition.type_id,
                                           state.value(cluster_id, attribute_id)))  # fmt: skip
    answer = ZclCommand(0x08, zcl.sequence, 0x01, "read_attributes_response", ReadAttributesResponse(records))
    return answer, worst


# Commands from the hub's server side that RTDS answers with a Default Response framed 08, not
# 00: Device Management's Get Event Configuration (GCS20r ERROR) [observed].
_DEFAULT_RESPONSE_08 = frozenset({"get_event_configuration"})


def _default_response(zcl: ZclCommand, command_id: int, status: int) -> ZclCommand:
    # Sent the other way from the command it answers (RTDS: 08 after a client's command, 00
    # after a server's publish), but for ``_DEFAULT_RESPONSE_08``.
    server_to_client = zcl.direction is ZclDirection.SERVER_TO_CLIENT and zcl.name not in _DEFAULT_RESPONSE_08
    frame_control = 0x00 if server_to_client else 0x08
    return ZclCommand(frame_control, zcl.sequence, 0x0B, "default_response", DefaultResponse(command_id, status))


def _command_definition(cluster_id: int, name: str,
                        direction: ZclDirection = ZclDirection.SERVER_TO_CLIENT) -> Any:  # fmt: skip
    for (cluster, command_direction, command_id), definition in COMMANDS.items():
        if cluster == cluster_id and definition.name == name and command_direction is direction:
            return command_id, definition
    raise EncodeError(f"no ZSE command {name} in cluster {cluster_id:04X}")


# ZSE responses RTDS frames without "disable default response" (09, not 19): every other
# cluster-specific response has it (19) [observed on every GSME response in RTDS].
_DEFAULT_RESPONSE_ALLOWED = frozenset({"consumer_top_up_response", "clear_event_log_response", "start_sampling_response",
                                       "supply_status_response", "publish_billing_period"})  # fmt: skip
# Use cases whose Read Attributes Responses RTDS frames with "disable default response" (18, not
# 08): GCS13a/b (encrypted) and GCS21f (in clear) [observed]; the other reads answer 08.
_READS_WITHOUT_DEFAULT_RESPONSE = frozenset({"GCS13a", "GCS13b", "GCS13c", "GCS21f"})


def _response(cluster_id: int, zcl: ZclCommand, name: str, **fields: Any) -> ZclCommand:
    """A ZSE response command from the meter: cluster-specific, server to client, framed as
    RTDS frames it (``_DEFAULT_RESPONSE_ALLOWED``)."""
    command_id, definition = _command_definition(cluster_id, name)
    frame_control = 0x09 if name in _DEFAULT_RESPONSE_ALLOWED else 0x19
    return ZclCommand(frame_control, zcl.sequence, command_id, name, definition.schema(**fields))


def _client_response(cluster_id: int, zcl: ZclCommand, name: str, **fields: Any) -> ZclCommand:
    """A ZSE command the meter sends as its cluster's client (Device Management: the hub is the
    server), framed 01 as RTDS frames Report Event Configuration (GCS20r) [observed]."""
    command_id, definition = _command_definition(cluster_id, name, ZclDirection.CLIENT_TO_SERVER)
    return ZclCommand(0x01, zcl.sequence, command_id, name, definition.schema(**fields))


def _component(context: _Context, cluster_id: int, zcl: ZclCommand, *, last: bool) -> GbzComponent:
    control = LAST if last else 0
    if not context.command.use_case.encrypted_response or zcl.name == "default_response":
        return GbzComponent(control, cluster_id, zcl)
    key = _payload_key(context)
    if key is None:
        context.command.notes.append("response component sent in clear: no key-agreement private key to encrypt")
        return GbzComponent(control, cluster_id, zcl)
    sealed = seal(context.device.eui, key, zcl.value.serialize())
    header = ZclCommand(zcl.frame_control, zcl.sequence, zcl.command_id, zcl.name)
    return GbzComponent(control | ENCRYPTED, cluster_id, header, additional_header=b"\x00\x00",
                        sealed=Sealed(ENCRYPTED_SECURITY_CONTROL, 0, sealed[5:]))  # fmt: skip


def _payload_key(context: _Context) -> bytes | None:
    """The response's payload-encryption key (primer §8.5): ECDH of the device and the remote
    party the response goes to, KDF with the response's counter (the command's)."""
    frame = context.command.frame
    peer = frame.other_information.supplementary_remote_party_id or frame.originator
    device = context.device
    for keystore in (device.keystore(), device.peer_private_keys):
        secret = None if keystore is None else keystore.shared_secret(device.eui, peer, KeyUsage.KA)
        if secret is not None:
            return crypto.derive_key(secret, device.eui, KdfUsage.PAYLOAD_ENCRYPTION, frame.originator_counter, peer)
    return None


# ---------------------------------------------------------------------------------------
# Actions and gets. Each takes the context and component and returns its answers.


def _utc(value: int, now: datetime) -> datetime:
    return now if value == _NOW else _EPOCH + timedelta(seconds=int(value))


def _zigbee_time(moment: datetime) -> int:
    return int((moment - _EPOCH).total_seconds())


def _ok(zcl: ZclCommand) -> list[Answer]:
    return [(_default_response(zcl, zcl.command_id, Status.SUCCESS), Status.SUCCESS)]


def _invalid_field(zcl: ZclCommand) -> list[Answer]:
    return [(_default_response(zcl, zcl.command_id, Status.INVALID_FIELD), Status.INVALID_FIELD)]


def _not_found(zcl: ZclCommand) -> list[Answer]:
    return [(_default_response(zcl, zcl.command_id, Status.NOT_FOUND), Status.NOT_FOUND)]


def _credit_adjustment(context: _Context, component: GbzComponent) -> list[Answer]:
    # ZSE Credit Adjustment Type: 0 incremental, 1 absolute. GBCS's other types (GCS40c/d)
    # adjust what this model does not keep: recorded in the event log only.
    # A balance the meter cannot hold (ZSE Credit Remaining is int32) is refused, INVALID_FIELD,
    # as change_debt refuses a field it cannot take, and nothing changes.
    value, prepayment = component.command.value, context.state.prepayment
    credit = prepayment["credit_remaining"]
    if value.credit_adjustment_type == 0:
        credit += int(value.credit_adjustment_value)
    elif value.credit_adjustment_type == 1:
        credit = int(value.credit_adjustment_value)
    if not _INT32_MIN <= credit <= _INT32_MAX:
        return _invalid_field(component.command)
    prepayment["credit_remaining"] = credit
    context.tx.log_event(context.device.eui, context.now, "credit-adjustment",
                         f"type {int(value.credit_adjustment_type)} value {int(value.credit_adjustment_value)}")  # fmt: skip
    return _ok(component.command)


def _change_payment_mode(context: _Context, component: GbzComponent) -> list[Answer]:
    """Immediate, future-dated (kept until due, then applied with an 8F66 alert:
    ``gsme_activation``) or cancelled (FFFFFFFF, primer §7.3: what was pending is dropped);
    the answer says the emergency and friendly credit settings in force (ZSE Change Payment
    Mode Response)."""
    zcl = component.command
    activation.cancel(context.tx, context.device, component.cluster_id, zcl.name)
    context.state.prepayment["pending_payment_mode"] = None  # a store from before gsme_activation
    _take_effect(context, context.index, component, activation.execution_time(zcl), alert=True)
    state = context.state
    return [(_response(PREPAYMENT, zcl, "change_payment_mode_response",
                       friendly_credit=t.bitmap8(0), friendly_credit_calendar_id=0,
                       emergency_credit_limit=state.value(PREPAYMENT, 0x0010),
                       emergency_credit_threshold=state.value(PREPAYMENT, 0x0011)), Status.SUCCESS)]  # fmt: skip


def set_payment_mode(tx: Transaction, device: Device, state: GsmeState, configuration: int, cut_off_value: int,
                     at: datetime) -> None:  # fmt: skip
    """A payment mode in force from ``at``, with a change-of-mode snapshot; entering or leaving
    prepayment mode bounds the period whose top-up history the meter has (``gsme_logs``)."""
    prepayment = state.prepayment
    was = bool(prepayment["payment_control_configuration"] & gas_model.PREPAYMENT_MODE)
    now_prepayment = bool(configuration & gas_model.PREPAYMENT_MODE)
    if now_prepayment and not was:
        prepayment["prepayment_since"], prepayment["prepayment_until"] = at.isoformat(), None
    elif was and not now_prepayment and prepayment.get("prepayment_since"):
        prepayment["prepayment_until"] = at.isoformat()
    prepayment["payment_control_configuration"] = configuration
    prepayment["cut_off_value"] = cut_off_value
    logs.record_snapshot(tx, device, at, logs.CHANGE_OF_MODE)


def apply_due_payment_mode(context: _Context) -> None:
    """A payment mode a store from before ``gsme_activation`` keeps pending: applied once due."""
    pending = context.state.prepayment.get("pending_payment_mode")
    if pending and _utc(pending["at"], context.now) <= context.now:
        set_payment_mode(context.tx, context.device, context.state, pending["configuration"], pending["cut_off_value"],
                         _utc(pending["at"], context.now))  # fmt: skip
        context.state.prepayment["pending_payment_mode"] = None


# ZSE Debt Amount Type: 0/1 type-1 debt absolute/incremental, 2/3 type 2, 4/5 type 3.
def _change_debt(context: _Context, component: GbzComponent) -> list[Answer]:
    value, prepayment = component.command.value, context.state.prepayment
    kind = int(value.debt_amount_type)
    if kind > 5:
        return _invalid_field(component.command)
    debts = list(prepayment["debts"])
    debts[kind // 2] = int(value.debt_amount) + (debts[kind // 2] if kind % 2 else 0)
    if not all(_INT32_MIN <= debt <= _INT32_MAX for debt in (*debts, sum(debts))):
        return _invalid_field(component.command)  # more than the int32 debt attributes hold
    prepayment["debts"] = debts
    prepayment["accumulated_debt"] = sum(debts)
    return _ok(component.command)


# ZSE Consumer Top Up Response Result Type (ZSE 1.4, Prepayment cluster).
TOP_UP_ACCEPTED, TOP_UP_INVALID, TOP_UP_DUPLICATE, TOP_UP_MAX_CREDIT = 0x00, 0x01, 0x02, 0x04


def _consumer_top_up(context: _Context, component: GbzComponent) -> list[Answer]:
    """Credit a UTRN (primer §8.7) when it is well formed, authentic (its GMAC verifies with
    the supplier's prepayment top-up key in the supplier cell and the meter's key-agreement
    key) and new: its UTRN counter, rebuilt from the 10 bits it carries around the highest one
    accepted, must exceed that one, which is kept durably (``logs.UTRN_COUNTER``: a reset for
    redeployment does not forget it). ZSE Consumer Top Up Response: result 0 accepted; 1
    rejected, invalid (malformed or not authentic; RTDS CS01b ERROR); 2 rejected, duplicate (a
    counter not above the highest accepted: reused or older); 4 rejected, the credit would
    exceed what the meter holds (int32). A rejection answers -1 for the amounts (RTDS)."""
    value = component.command.value
    code = bytes(value.top_up_code).decode("ascii", "replace")
    parsed = logs.parse_utrn(code)
    prepayment, device, tx = context.state.prepayment, context.device, context.tx
    highest = tx.kept_register(device.eui, logs.UTRN_COUNTER, 0)
    result = TOP_UP_INVALID
    if parsed is not None:
        counter = logs.utrn_counter(parsed.truncated_counter, highest)
        authentic = _utrn_authentic(context, parsed, counter)
        if authentic is None:
            context.command.notes.append("UTRN refused: no key pair to verify its GMAC with")
        if not authentic:
            result = TOP_UP_INVALID
        elif counter <= highest:
            result = TOP_UP_DUPLICATE
        elif prepayment["credit_remaining"] + parsed.amount > _INT32_MAX:
            result = TOP_UP_MAX_CREDIT
        else:
            result = TOP_UP_ACCEPTED
            tx.set_kept_register(device.eui, logs.UTRN_COUNTER, counter)
            prepayment["credit_remaining"] += parsed.amount
            logs.add_top_up(tx, device, code, parsed.amount, context.now)
    credited, remaining = (parsed.amount, prepayment["credit_remaining"]) if result == TOP_UP_ACCEPTED else (-1, -1)
    return [(_response(PREPAYMENT, component.command, "consumer_top_up_response", result_type=t.enum8(result),
                       top_up_value=credited, source_of_top_up=value.originating_device,
                       credit_remaining=remaining), Status.SUCCESS)]  # fmt: skip


def _utrn_authentic(context: _Context, utrn: logs.Utrn, counter: int) -> bool | None:
    """Whether the UTRN's GMAC verifies (primer §8.7): ECDH of the meter's key-agreement key
    and the supplier's prepayment top-up key (the supplier cell's ``top_up`` certificate); None
    when neither private key is at hand (RTDS replay holds the supplier's, not the meter's)."""
    device = context.device
    cell = device.cells.get(Role.SUPPLIER)
    if cell is None or cell.top_up is None:
        return False  # no top-up key to verify with: nothing is authentic
    secret = None
    if device.credentials.ka_key is not None:
        secret = crypto.ecdh(device.credentials.ka_key, cell.top_up.public_key())
    elif device.peer_private_keys is not None and device.credentials.ka_certificate is not None:
        private = device.peer_private_keys.private_key(cell.party, KeyUsage.PREPAYMENT_KA)
        if private is not None and private.public_key().public_numbers() == cell.top_up.public_key().public_numbers():
            secret = crypto.ecdh(private, device.credentials.ka_certificate.public_key())
    if secret is None:
        return None
    expected = logs.utrn_gmac(secret, cell.party, device.eui, counter, utrn.high)
    return hmac.compare_digest(expected, utrn.gmac)


def _select_emergency_credit(context: _Context, component: GbzComponent) -> list[Answer]:
    context.state.prepayment["emergency_credit_selected"] = True
    context.state.prepayment["emergency_credit_remaining"] = context.state.value(PREPAYMENT, 0x0010)
    return _ok(component.command)


def _start_sampling(context: _Context, component: GbzComponent) -> list[Answer]:
    sample_id = logs.start_sampling(context.tx, context.device, component.command.value, context.now)
    return [(_response(METERING, component.command, "start_sampling_response", sample_id=sample_id), Status.SUCCESS)]


def _set_uncontrolled_flow_threshold(context: _Context, component: GbzComponent) -> list[Answer]:
    value = component.command.value
    for attribute, field in ((0x0B10, "uncontrolled_flow_threshold"), (0x0B11, "unit_of_measure"),
                             (0x0B12, "multiplier"), (0x0B13, "divisor"), (0x0B14, "stabilisation_period"),
                             (0x0B15, "measurement_period")):  # fmt: skip
        set_attribute(context.state, METERING, attribute, int(getattr(value, field)))
    return _ok(component.command)


def _set_supply_status(context: _Context, component: GbzComponent) -> list[Answer]:
    value = component.command.value
    set_attribute(context.state, METERING, 0x0607, int(value.supply_tamper_state))
    set_attribute(context.state, METERING, 0x0608, int(value.supply_depletion_state))
    return _ok(component.command)


# ZSE Change Supply Proposed Supply Status: 0 off, 1 off/armed, 2 on, 3 unchanged. GBCS lets the
# WAN close or arm the valve (GCS39: RTDS arms it, 1), never open it: opening is the
# consumer's, at the meter, once armed.
SUPPLY_OFF, SUPPLY_ARMED, SUPPLY_ON, SUPPLY_UNCHANGED = 0, 1, 2, 3


def _change_supply(context: _Context, component: GbzComponent) -> list[Answer]:
    """The valve (GCS39): ZSE Supply Status Response with the status in force. The change takes
    effect at its Implementation Date/Time (``gsme_activation``: now, kept until then, or
    FFFFFFFF, cancelling a pending change); a request to open the valve is refused
    (NOT_AUTHORIZED) and anything but 0-3 is an INVALID_FIELD, and neither changes anything."""
    zcl = component.command
    value = zcl.value
    proposed = int(value.proposed_supply_status)
    if proposed == SUPPLY_ON:
        return [(_default_response(zcl, zcl.command_id, Status.NOT_AUTHORIZED), Status.NOT_AUTHORIZED)]
    if proposed > SUPPLY_UNCHANGED:
        return _invalid_field(zcl)
    activation.cancel(context.tx, context.device, component.cluster_id, zcl.name)  # a newer change replaces a pending one
    if proposed != SUPPLY_UNCHANGED:
        _take_effect(context, context.index, component, activation.execution_time(zcl), alert=False)
    return [(_response(METERING, zcl, "supply_status_response", provider_id=value.provider_id,
                       issuer_event_id=value.issuer_event_id, implementation_date_time=value.implementation_date_time,
                       supply_status=context.state.supply["status"]), Status.SUCCESS)]  # fmt: skip


def _clear_event_log(context: _Context, component: GbzComponent) -> list[Answer]:
    cleared = logs.clear_event_logs(context.tx, context.device, int(component.command.value.log_id))
    return [(_response(0x0709, component.command, "clear_event_log_response",
                       cleared_event_logs=t.bitmap8(cleared)), Status.SUCCESS)]  # fmt: skip


def _get(builder: Callable[[_Context, GbzComponent], list[ZclCommand]]) -> Callable[[_Context, GbzComponent], list[Answer]]:
    """A "get": its ZSE response commands from the device's logs, or NOT_FOUND without entries."""

    def handle(context: _Context, component: GbzComponent) -> list[Answer]:
        answers = builder(context, component)
        return [(answer, Status.SUCCESS) for answer in answers] if answers else _not_found(component.command)

    return handle


def _top_up_log(context: _Context, component: GbzComponent) -> list[ZclCommand]:
    value = component.command.value
    records = logs.top_ups(context.tx, context.device, component.from_date_time or 0, int(value.latest_end_time),
                           int(value.number_of_records))  # fmt: skip
    if not records:
        return []
    return [_response(PREPAYMENT, component.command, "publish_top_up_log", command_index=0,
                      total_number_of_commands=1, records=records)]  # fmt: skip


def _debt_log(context: _Context, component: GbzComponent) -> list[ZclCommand]:
    value = component.command.value
    records = logs.debt_collections(context.tx, context.device, int(value.latest_end_time), int(value.number_of_debts),
                                    int(value.debt_type))  # fmt: skip
    if not records:
        return []
    return [_response(PREPAYMENT, component.command, "publish_debt_log", command_index=0,
                      total_number_of_commands=1, records=records)]  # fmt: skip


def _event_log(context: _Context, component: GbzComponent) -> list[ZclCommand]:
    value = component.command.value
    events, total = logs.events(context.tx, context.device, int(value.event_control_log_id) & 0x0F,
                                int(value.start_time), int(value.end_time), int(value.number_of_events),
                                int(value.event_offset))  # fmt: skip
    if not events:
        return []
    return [_response(0x0709, component.command, "publish_event_log", total_number_of_matching_events=total,
                      command_index=0, total_commands=1, number_of_events_log_payload_control=t.bitmap8(0),
                      events=events)]  # fmt: skip


def _snapshot(context: _Context, component: GbzComponent) -> list[ZclCommand]:
    """The ``snapshot_offset``-th snapshot in the range with the causes asked (``gsme_logs.
    snapshots``): Metering's holds the registers at its time (ZSE payload type 6, block tier
    information delivered without billing: every unit in tier 1 and block 1, as the block
    attributes say); Prepayment's the debt and credit status (type 0, the balances in force)."""
    value, zcl = component.command.value, component.command
    found = logs.snapshots(context.tx, context.device, int(value.earliest_start_time), int(value.latest_end_time),
                           int(value.snapshot_cause))  # fmt: skip
    offset = int(value.snapshot_offset)
    if offset >= len(found):
        return []
    snapshot_id, time, cause = found[offset]
    common = dict(snapshot_id=snapshot_id, snapshot_time=time, total_snapshots_found=min(len(found), 0xFF),
                  command_index=0, total_number_of_commands=1)  # fmt: skip
    if zcl.name == "get_prepay_snapshot":
        prepayment = context.state.prepayment
        status = zcl_se.DebtCreditStatus(accumulated_debt=prepayment["accumulated_debt"],
                                         type1_debt_remaining=prepayment["debts"][0],
                                         type2_debt_remaining=prepayment["debts"][1],
                                         type3_debt_remaining=prepayment["debts"][2],
                                         emergency_credit_remaining=prepayment["emergency_credit_remaining"],
                                         credit_remaining=prepayment["credit_remaining"])  # fmt: skip
        return [_response(PREPAYMENT, zcl, "publish_prepay_snapshot", snapshot_cause=t.bitmap32(cause),
                          snapshot_payload_type=t.enum8(0), snapshot_payload=t.Bytes(status.serialize()), **common)]  # fmt: skip
    summation = gas_model.gas_metering(context.tx, context.device).summation(logs.from_zigbee_time(time))
    registers = [summation, 0, 0, 0]
    payload = (t.uint48_t(summation).serialize() + t.uint8_t(4).serialize()
               + b"".join(t.uint48_t(v).serialize() for v in registers)
               + t.uint8_t(0x14).serialize() + b"".join(t.uint48_t(v).serialize() for v in registers))  # fmt: skip
    _, definition = _command_definition(METERING, "publish_snapshot")
    cause_type, payload_type = (definition.schema.fields[i].type for i in (5, 6))
    return [_response(METERING, zcl, "publish_snapshot", snapshot_cause=cause_type(cause),
                      snapshot_payload_type=payload_type(6), snapshot_payload=t.Bytes(payload), **common)]  # fmt: skip


def _sampled_data(context: _Context, component: GbzComponent) -> list[ZclCommand]:
    value = component.command.value
    found = logs.samples(context.tx, context.device, int(value.sample_id), int(value.earliest_sample_time),
                         int(value.number_of_samples), context.now)  # fmt: skip
    if found is None:
        return []
    start, interval, samples = found
    return [_response(METERING, component.command, "get_sampled_data_response", sample_id=value.sample_id,
                      sample_start_time=start, sample_type=value.sample_type, sample_request_interval=interval,
                      number_of_samples=len(samples), samples=samples)]  # fmt: skip


def _billing_period(context: _Context, component: GbzComponent) -> list[ZclCommand]:
    """The billing period in force: monthly from the start of the current month. A Publish
    Billing Period is kept as sent (``_KEPT_PREFIXES``) but not yet honoured here: the answer
    is always the monthly default (the tariff model will read what was published)."""
    start = context.now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    return [_response(0x0700, component.command, "publish_billing_period", provider_id=0, issuer_event_id=0,
                      billing_period_start_time=_zigbee_time(start), billing_period_duration=1,
                      billing_period_duration_type=t.bitmap8(0x03), tariff_type=t.bitmap8(0))]  # fmt: skip


def _event_configuration(context: _Context, component: GbzComponent) -> list[ZclCommand]:
    """GCS20r: Report Event Configuration for the events asked (``gsme_logs.
    event_configuration``), in one command, as RTDS answers 45 events in one."""
    found = logs.event_configuration(context.tx, context.device, int(component.command.value.event_id))
    if not found:
        return []
    records = [zcl_se.EventConfigurationRecord(event_id=event, event_configuration=t.bitmap8(value))
               for event, value in found]  # fmt: skip
    return [_client_response(DEVICE_MANAGEMENT, component.command, "report_event_configuration", command_index=0,
                             total_commands=1, events=records)]  # fmt: skip


# ---------------------------------------------------------------------------------------
# The tariff in force, served back (GCS21b, GCS21f). What a GSME holds is what was published
# to it and is in force (``gsme_activation.held``: Publish Calendar with its day, week and
# season profiles, Special Days, Tariff Information, Price Matrix, Block Thresholds). A get
# answers the held publishes it asks for, each as it was published, in the order published;
# a GSME with nothing published answers NOT_FOUND, as RTDS's GCS21b and GCS21f NOT_FOUND
# record for every calendar get and Get Current Price, while its Price attributes still read
# (their factory values, ``gsme_attributes``). So a meter out of the box publishes no
# default tariff: it reads its factory single-rate attributes, and serves the first tariff
# published to it.

CALENDAR = activation.CALENDAR
PRICE = 0x0700
# Issuer Calendar IDs a get names instead of a calendar's own: RTDS's GCS21f (tariff data)
# asks FFFFFFFF and is answered with calendar type 0; GCS21b (prepayment configuration)
# asks FFFFFFFE and is answered with type 3, the friendly credit calendar [observed; our
# reading: "the tariff calendar in force", "the friendly credit calendar in force"].
TARIFF_CALENDAR_IN_FORCE, FRIENDLY_CREDIT_CALENDAR_IN_FORCE = 0xFFFFFFFF, 0xFFFFFFFE
FRIENDLY_CREDIT = 3  # ZSE Calendar Type: 0-2 tariff (delivered/received), 3 friendly credit, 4 load switch


def _calendar_type(context: _Context) -> int | None:
    """The calendar type of the calendar in force (its Publish Calendar's), or None."""
    calendars = activation.held(context.tx, context.device, CALENDAR, "publish_calendar")
    return int(calendars[0].value.calendar_type) if calendars else None


def _asked_calendar(context: _Context, issuer_calendar_id: int, calendar_type: int) -> bool:
    """Whether the calendar a get names is the one in force, of ``calendar_type``."""
    if issuer_calendar_id == TARIFF_CALENDAR_IN_FORCE:
        return calendar_type < FRIENDLY_CREDIT
    if issuer_calendar_id == FRIENDLY_CREDIT_CALENDAR_IN_FORCE:
        return calendar_type == FRIENDLY_CREDIT
    calendars = activation.held(context.tx, context.device, CALENDAR, "publish_calendar")
    return bool(calendars) and int(calendars[0].value.issuer_calendar_id) == issuer_calendar_id


def _republish(context: _Context, component: GbzComponent, cluster_id: int, held: list[ZclCommand]) -> list[ZclCommand]:
    return [_response(cluster_id, component.command, publish.name, **publish.value.as_dict()) for publish in held]


def _calendar_part(name: str, key: str, start: str, number: str) -> Callable[[_Context, GbzComponent], list[ZclCommand]]:
    """Get Day Profiles / Get Week Profiles: the held profiles from the start id, ``number``
    of them (0: all), in id order."""

    def build(context: _Context, component: GbzComponent) -> list[ZclCommand]:
        value = component.command.value
        calendar_type = _calendar_type(context)
        if calendar_type is None or not _asked_calendar(context, int(value.issuer_calendar_id), calendar_type):
            return []
        found = sorted((publish for publish in activation.held(context.tx, context.device, CALENDAR, name)
                        if int(getattr(publish.value, key)) >= int(getattr(value, start))),
                       key=lambda publish: int(getattr(publish.value, key)))  # fmt: skip
        return _republish(context, component, CALENDAR, found[:int(getattr(value, number))] if int(getattr(value, number)) else found)

    return build


def _seasons(context: _Context, component: GbzComponent) -> list[ZclCommand]:
    calendar_type = _calendar_type(context)
    if calendar_type is None or not _asked_calendar(context, int(component.command.value.issuer_calendar_id), calendar_type):
        return []
    return _republish(context, component, CALENDAR, activation.held(context.tx, context.device, CALENDAR, "publish_seasons"))


def _special_days(context: _Context, component: GbzComponent) -> list[ZclCommand]:
    """Get Special Days: the held Publish Special Days of the calendar type asked (a tariff
    type 0-2 asks the tariff calendar's), for the calendar asked."""
    value = component.command.value
    asked_type = int(value.calendar_type)
    found = [publish for publish in activation.held(context.tx, context.device, CALENDAR, "publish_special_days")
             if (int(publish.value.calendar_type) == FRIENDLY_CREDIT) == (asked_type == FRIENDLY_CREDIT)]  # fmt: skip
    if not found or not _asked_calendar(context, int(value.issuer_calendar_id), int(found[0].value.calendar_type)):
        return []
    return _republish(context, component, CALENDAR, found)


def _current_price(context: _Context, component: GbzComponent) -> list[ZclCommand]:
    """Get Current Price: a Publish Price from the tariff in force (its Tariff Information,
    the Price Matrix's block-1 price of the tier the calendar names now), or none without a
    published tariff. The price holds until the tariff changes (duration FFFF, ZSE "until
    changed"; our choice)."""
    tariffs = activation.held(context.tx, context.device, PRICE, "publish_tariff_information")
    if not tariffs:
        return []
    tariff, tier = tariffs[0].value, _tier_now(context)
    prices = {}
    for matrix in activation.held(context.tx, context.device, PRICE, "publish_price_matrix"):
        prices.update({(entry_tier, block): price for entry_tier, block, price in activation.price_matrix_entries(matrix)})
    price = prices.get((tier, 0), prices.get((0, 0), 0))
    return [_response(PRICE, component.command, "publish_price", provider_id=tariff.provider_id,
                      rate_label=tariff.tariff_label, issuer_event_id=tariff.issuer_event_id,
                      current_time=_zigbee_time(context.now), unit_of_measure=tariff.unit_of_measure,
                      currency=tariff.currency,
                      price_trailing_digit_and_price_tier=t.bitmap8((int(tariff.price_trailing_digit) & 0xF0) | tier),
                      number_of_price_tiers_and_register_tier=t.bitmap8((int(tariff.number_of_price_tiers_in_use) << 4) | tier),
                      start_time=_NOW, duration_in_minutes=0xFFFF, price=price)]  # fmt: skip


def _tier_now(context: _Context) -> int:
    """The price tier the tariff calendar in force names now (ZSE: a special day's profile,
    else the week profile of the season begun last, by weekday; in a day profile the last
    entry started); 1 without a calendar (a single-rate tariff)."""
    calendar_type = _calendar_type(context)
    if calendar_type is None or calendar_type >= FRIENDLY_CREDIT:
        return 1
    tx, device, now = context.tx, context.device, context.now
    day_id = None
    for publish in activation.held(tx, device, CALENDAR, "publish_special_days"):
        for special in publish.value.special_days:
            if _date_matches(special.special_day_date, now):
                day_id = int(special.day_id_ref)
    if day_id is None:
        seasons = [season for publish in activation.held(tx, device, CALENDAR, "publish_seasons")
                   for season in publish.value.seasons]  # fmt: skip
        begun = sorted(seasons, key=lambda season: (int(season.season_start_date.month), int(season.season_start_date.day)))
        started = [season for season in begun if (int(season.season_start_date.month), int(season.season_start_date.day))
                   <= (now.month, now.day)]  # fmt: skip
        season = (started or begun or [None])[-1]
        weeks = {int(publish.value.week_id): publish.value for publish in activation.held(tx, device, CALENDAR, "publish_week_profile")}
        week = weeks.get(int(season.week_id_ref)) if season is not None else None
        if week is None:
            return 1
        day_id = int(getattr(week, f"day_id_ref_{now.strftime('%A').lower()}"))
    days = {int(publish.value.day_id): publish.value for publish in activation.held(tx, device, CALENDAR, "publish_day_profile")}
    minutes = now.hour * 60 + now.minute
    entries = [entry for entry in (days[day_id].entries if day_id in days else []) if int(entry.start_time) <= minutes]
    return int(max(entries, key=lambda entry: int(entry.start_time)).value) if entries else 1


def _date_matches(date: Any, moment: datetime) -> bool:
    """A ZSE Date (FF: any) against a day."""
    return all(int(field) in (0xFF, wanted) for field, wanted in (
        (date.years_since_1900, moment.year - 1900), (date.month, moment.month), (date.day, moment.day)))  # fmt: skip


_HANDLERS: dict[str, Callable[[_Context, GbzComponent], list[Answer]]] = {
    "credit_adjustment": _credit_adjustment,
    "change_payment_mode": _change_payment_mode,
    "change_debt": _change_debt,
    "consumer_top_up": _consumer_top_up,
    "select_available_emergency_credit": _select_emergency_credit,
    "start_sampling": _start_sampling,
    "set_uncontrolled_flow_threshold": _set_uncontrolled_flow_threshold,
    "set_supply_status": _set_supply_status,
    "change_supply": _change_supply,
    "clear_event_log_request": _clear_event_log,
    "get_top_up_log": _get(_top_up_log),
    "get_debt_repayment_log": _get(_debt_log),
    "get_event_log": _get(_event_log),
    "get_prepay_snapshot": _get(_snapshot),
    "get_snapshot": _get(_snapshot),
    "get_sampled_data": _get(_sampled_data),
    "get_billing_period": _get(_billing_period),
    "get_event_configuration": _get(_event_configuration),
    "get_current_price": _get(_current_price),
    "get_day_profiles": _get(_calendar_part("publish_day_profile", "day_id", "start_day_id", "number_of_days")),
    "get_week_profiles": _get(_calendar_part("publish_week_profile", "week_id", "start_week_id", "number_of_weeks")),
    "get_seasons": _get(_seasons),
    "get_special_days": _get(_special_days),
}

# Commands whose ZSE response says they failed (a Default Response would not): an injected
# fault answers in that form (RTDS GCS31 and CS11 ERROR).
_FAILURE_FORMS: dict[str, Callable[[ZclCommand], ZclCommand]] = {
    "start_sampling": lambda zcl: _response(METERING, zcl, "start_sampling_response", sample_id=0xFFFF),
    "clear_event_log_request": lambda zcl: _response(0x0709, zcl, "clear_event_log_response",
                                                     cleared_event_logs=t.bitmap8(0)),  # fmt: skip
}
