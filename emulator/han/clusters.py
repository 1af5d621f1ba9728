"""The Smart Energy clusters the GB HAN needs, as zigpy cluster definitions.

zigpy 2.4 declares Tunneling, Price, Messaging and Prepayment as stubs (a cluster id, no
commands). These subclasses add what a Communications Hub, meters, displays and a PPMID exchange,
in zigpy's own declarative form (``AttributeDefs``, ``ServerCommandDefs``,
``ClientCommandDefs`` of ``ZCLAttributeDef``/``ZCLCommandDef`` over ``zigpy.types``), so they
could be offered upstream as they are. Command payloads reuse the structures of
``gbcs/zcl_se.py``, which decode the same commands inside GBZ payloads.

Sources: the ZigBee Smart Energy standard (ZSE 1.2+, profile 0x0109) for command ids and
fields; GBCS carries its messages to and from meters through Tunneling with the GB Hub
Remote Gateway Protocol (protocol id 6, ZSE's GB-HRGP; from ZSE's protocol id table, not
checked against GBCS text). ``encode_command``/``decode_frame`` turn them into ZCL frame
bytes and back, without a zigpy device (the simulated HAN has none).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any, Final

import zigpy.types as t
from zigpy.zcl import foundation
from zigpy.zcl.clusters import smartenergy
from zigpy.zcl.foundation import BaseAttributeDefs, BaseCommandDefs, ZCLAttributeDef, ZCLCommandDef

from gbcs import zcl_se

__all__ = [
    "PROFILE_SMART_ENERGY",
    "GB_HRGP",
    "Messaging",
    "Prepayment",
    "Price",
    "Tunneling",
    "ZclError",
    "decode_frame",
    "encode_command",
    "encode_report",
]

PROFILE_SMART_ENERGY: Final = 0x0109
GB_HRGP: Final = 6  # Tunneling protocol id: GB Hub Remote Gateway Protocol


class TunnelStatus(t.enum8):
    Success = 0x00
    Busy = 0x01
    No_More_Tunnel_IDs = 0x02
    Protocol_Not_Supported = 0x03
    Flow_Control_Not_Supported = 0x04


class TransferDataStatus(t.enum8):
    No_Such_Tunnel = 0x00
    Wrong_Device = 0x01
    Data_Overflow = 0x02


def _fields(struct: type[t.Struct]) -> dict[str, Any]:
    """A zigpy command schema from one of ``gbcs.zcl_se``'s structures, field for field."""
    schema: dict[str, Any] = {}
    for field in struct.fields:
        schema[field.name + ("?" if field.optional else "")] = field.type
    return schema


class Tunneling(smartenergy.Tunneling):
    """0x0704: a tunnel carries GBCS frames between the CHF (server) and a meter (client)."""

    class AttributeDefs(BaseAttributeDefs):
        close_tunnel_timeout: Final = ZCLAttributeDef(id=0x0000, type=t.uint16_t, access="r", mandatory=True)

    class ServerCommandDefs(BaseCommandDefs):
        request_tunnel: Final = ZCLCommandDef(id=0x00, schema={
            "protocol_id": t.enum8, "manufacturer_code": t.uint16_t, "flow_control_support": t.Bool,
            "maximum_incoming_transfer_size": t.uint16_t})  # fmt: skip
        close_tunnel: Final = ZCLCommandDef(id=0x01, schema={"tunnel_id": t.uint16_t})
        transfer_data: Final = ZCLCommandDef(id=0x02, schema={"tunnel_id": t.uint16_t, "data": t.Bytes})  # fmt: skip
        transfer_data_error: Final = ZCLCommandDef(id=0x03, schema={"tunnel_id": t.uint16_t,
                                                                    "transfer_data_status": TransferDataStatus})  # fmt: skip

    class ClientCommandDefs(BaseCommandDefs):
        request_tunnel_response: Final = ZCLCommandDef(id=0x00, schema={
            "tunnel_id": t.uint16_t, "tunnel_status": TunnelStatus,
            "maximum_incoming_transfer_size": t.uint16_t})  # fmt: skip
        transfer_data: Final = ZCLCommandDef(id=0x01, schema={"tunnel_id": t.uint16_t, "data": t.Bytes})  # fmt: skip
        transfer_data_error: Final = ZCLCommandDef(id=0x02, schema={"tunnel_id": t.uint16_t,
                                                                    "transfer_data_status": TransferDataStatus})  # fmt: skip
        tunnel_closure_notification: Final = ZCLCommandDef(id=0x06, schema={"tunnel_id": t.uint16_t})


class Price(smartenergy.Price):
    """0x0700: what an IHD asks of a meter's tariff, and what the meter publishes."""

    class ServerCommandDefs(BaseCommandDefs):
        get_current_price: Final = ZCLCommandDef(id=0x00, schema=_fields(zcl_se.GetCurrentPrice))

    class ClientCommandDefs(BaseCommandDefs):
        publish_price: Final = ZCLCommandDef(id=0x00, schema=_fields(zcl_se.PublishPrice))


class Messaging(smartenergy.Messaging):
    """0x0703: messages to the consumer, shown on displays."""

    class ServerCommandDefs(BaseCommandDefs):
        get_last_message: Final = ZCLCommandDef(id=0x00, schema={})
        message_confirmation: Final = ZCLCommandDef(id=0x01, schema={
            "message_id": t.uint32_t, "confirmation_time": t.UTCTime})  # fmt: skip

    class ClientCommandDefs(BaseCommandDefs):
        display_message: Final = ZCLCommandDef(id=0x00, schema=_fields(zcl_se.DisplayMessage))
        cancel_message: Final = ZCLCommandDef(id=0x01, schema={"message_id": t.uint32_t, "message_control": t.bitmap8})  # fmt: skip


class Prepayment(smartenergy.Prepayment):
    """0x0705: what a display and a PPMID read and ask of a prepayment meter."""

    class AttributeDefs(BaseAttributeDefs):
        payment_control_configuration: Final = ZCLAttributeDef(id=0x0000, type=t.bitmap16, access="r", mandatory=True)
        credit_remaining: Final = ZCLAttributeDef(id=0x0001, type=t.int32s, access="r")
        emergency_credit_remaining: Final = ZCLAttributeDef(id=0x0002, type=t.int32s, access="r")
        credit_status: Final = ZCLAttributeDef(id=0x0003, type=t.bitmap8, access="r")
        accumulated_debt: Final = ZCLAttributeDef(id=0x0005, type=t.int32s, access="r")

    class ServerCommandDefs(BaseCommandDefs):
        select_available_emergency_credit: Final = ZCLCommandDef(id=0x00, schema=_fields(zcl_se.SelectAvailableEmergencyCredit))
        change_debt: Final = ZCLCommandDef(id=0x02, schema=_fields(zcl_se.ChangeDebt))
        consumer_top_up: Final = ZCLCommandDef(id=0x04, schema=_fields(zcl_se.ConsumerTopUp))
        credit_adjustment: Final = ZCLCommandDef(id=0x05, schema=_fields(zcl_se.CreditAdjustment))
        change_payment_mode: Final = ZCLCommandDef(id=0x06, schema=_fields(zcl_se.ChangePaymentMode))
        get_prepay_snapshot: Final = ZCLCommandDef(id=0x07, schema=_fields(zcl_se.GetPrepaySnapshot))
        get_top_up_log: Final = ZCLCommandDef(id=0x08, schema=_fields(zcl_se.GetTopUpLog))
        get_debt_repayment_log: Final = ZCLCommandDef(id=0x0A, schema=_fields(zcl_se.GetDebtRepaymentLog))

    class ClientCommandDefs(BaseCommandDefs):
        publish_prepay_snapshot: Final = ZCLCommandDef(id=0x01, schema=_fields(zcl_se.PublishPrepaySnapshot))
        change_payment_mode_response: Final = ZCLCommandDef(id=0x02, schema=_fields(zcl_se.ChangePaymentModeResponse))
        consumer_top_up_response: Final = ZCLCommandDef(id=0x03, schema=_fields(zcl_se.ConsumerTopUpResponse))
        publish_top_up_log: Final = ZCLCommandDef(id=0x05, schema=_fields(zcl_se.PublishTopUpLog))
        publish_debt_log: Final = ZCLCommandDef(id=0x06, schema=_fields(zcl_se.PublishDebtLog))


CLUSTERS: dict[int, type] = {
    cluster.cluster_id: cluster for cluster in (Tunneling, Price, Messaging, Prepayment, smartenergy.Metering)
}


class ZclError(ValueError):
    """A ZCL frame that cannot be decoded or a command that cannot be encoded."""


@dataclass(frozen=True, slots=True)
class TransferData:
    """Tunneling's transfer-data fields, as the fast path decodes them (zigpy's struct has the
    same two attributes)."""

    tunnel_id: int
    data: bytes


@functools.lru_cache(maxsize=64)
def _header_template(command_id: int, to_client: bool) -> bytes:
    """A cluster command's ZCL header with sequence number 0, as zigpy serialises it:
    frame control, sequence number, command id (never manufacturer-specific here)."""
    direction = foundation.Direction.Server_to_Client if to_client else foundation.Direction.Client_to_Server
    header = foundation.ZCLHeader.cluster(tsn=0, command_id=command_id, direction=direction)
    header.frame_control = header.frame_control.replace(disable_default_response=True)
    return header.serialize()


@functools.lru_cache(maxsize=2048)
def _header(data: bytes) -> tuple[foundation.ZCLHeader, int]:
    """A ZCL header from its bytes (kept: a HAN sees few distinct headers), and its length.
    The header returned is shared: callers read it, never change it."""
    header, rest = foundation.ZCLHeader.deserialize(data)
    return header, len(data) - len(rest)


# Tunneling transfer-data (to the server, id 0x02, and to the client, id 0x01) carries every
# GBCS frame between the hub and its meters. zigpy's generic struct machinery costs about half
# of a meter alert's trip through the simulated HAN, so these two are written out here: a
# 16-bit little-endian tunnel id, then the data. tests/emulator/han checks them against zigpy.
_TRANSFER_DATA = {False: Tunneling.ServerCommandDefs.transfer_data.id, True: Tunneling.ClientCommandDefs.transfer_data.id}  # to_client -> id


def encode_command(cluster: type, name: str, tsn: int, *, to_client: bool = False, **fields: Any) -> bytes:
    """The bytes of a cluster command frame: ZCL header, then the command's fields.

    Args:
        cluster: one of this module's clusters (or zigpy's Metering).
        name: the command, as the cluster's command definitions name it.
        tsn: the ZCL transaction sequence number.
        to_client: a command the server sends (``ClientCommandDefs``); by default one the
            client sends (``ServerCommandDefs``), as ZCL names the two directions.
        fields: the command's fields.

    Raises:
        ZclError: no such command in that direction, or the fields do not fit its schema.
    """
    if cluster is Tunneling and name == "transfer_data" and fields.keys() == {"tunnel_id", "data"}:
        tunnel_id, data = fields["tunnel_id"], fields["data"]
        if isinstance(tunnel_id, int) and 0 <= tunnel_id <= 0xFFFF and isinstance(data, bytes | bytearray):
            header = _header_template(_TRANSFER_DATA[to_client], to_client)
            return header[:1] + bytes((tsn,)) + header[2:] + tunnel_id.to_bytes(2, "little") + bytes(data)
    definitions = cluster.ClientCommandDefs if to_client else cluster.ServerCommandDefs
    definition = getattr(definitions, name, None)
    if definition is None:
        raise ZclError(f"{cluster.__name__} has no command {name!r} {'to' if to_client else 'from'} its clients")
    try:
        payload = definition.with_compiled_schema().schema(**fields).serialize()
    except (TypeError, ValueError) as error:
        raise ZclError(f"{cluster.__name__}.{name}: {error}") from None
    header = _header_template(definition.id, to_client)
    return header[:1] + bytes((tsn,)) + header[2:] + payload


def encode_report(cluster: type, tsn: int, attributes: dict[int, tuple[foundation.DataTypeId, Any]]) -> bytes:
    """A ZCL Report Attributes frame (a server reporting to its client, as a meter reports to
    its mirror): ``attributes`` maps attribute id to (ZCL data type, value).

    Raises:
        ZclError: a value does not fit its type.
    """
    definition = foundation.GENERAL_COMMANDS[foundation.GeneralCommand.Report_Attributes]
    try:
        reports = [foundation.Attribute(attrid=attribute, value=foundation.TypeValue(
                       type=kind, value=foundation.DataType.from_type_id(kind).python_type(value)))
                   for attribute, (kind, value) in attributes.items()]  # fmt: skip
        payload = definition.schema(attribute_reports=reports).serialize()
    except (TypeError, ValueError, KeyError) as error:
        raise ZclError(f"{cluster.__name__} report: {error}") from None
    header = foundation.ZCLHeader.general(tsn=tsn, command_id=foundation.GeneralCommand.Report_Attributes,
                                          direction=foundation.Direction.Server_to_Client)  # fmt: skip
    header.frame_control = header.frame_control.replace(disable_default_response=True)
    return header.serialize() + payload


def decode_frame(cluster_id: int, data: bytes) -> tuple[foundation.ZCLHeader, str, Any]:
    """(header, command name, fields) of a cluster command frame, or of a Report Attributes
    frame (name ``report_attributes``; fields: a dict of attribute id to value).

    Raises:
        ZclError: an unknown cluster or command, or bytes that do not decode.
    """
    cluster = CLUSTERS.get(cluster_id)
    if cluster is None:
        raise ZclError(f"no cluster 0x{cluster_id:04X} on the GB HAN model")
    try:
        header, length = _header(bytes(data[:5]))  # at most 5 bytes: with a manufacturer code
    except (ValueError, KeyError) as error:
        raise ZclError(f"ZCL header: {error}") from None
    rest = data[length:]
    if (cluster is Tunneling and header.frame_control.frame_type == foundation.FrameType.CLUSTER_COMMAND
            and not header.frame_control.is_manufacturer_specific and len(rest) >= 2
            and header.command_id == _TRANSFER_DATA[header.direction == foundation.Direction.Server_to_Client]):  # fmt: skip
        return header, "transfer_data", TransferData(int.from_bytes(rest[:2], "little"), bytes(rest[2:]))
    if header.frame_control.frame_type != foundation.FrameType.CLUSTER_COMMAND:
        if header.command_id != foundation.GeneralCommand.Report_Attributes:
            raise ZclError(f"global command 0x{header.command_id:02X} is not used on the GB HAN model")
        try:
            report, rest = foundation.GENERAL_COMMANDS[foundation.GeneralCommand.Report_Attributes].schema.deserialize(rest)
        except (ValueError, KeyError) as error:
            raise ZclError(f"report attributes: {error}") from None
        if rest:
            raise ZclError(f"report attributes: {len(rest)} bytes left over")
        return header, "report_attributes", {int(item.attrid): item.value.value for item in report.attribute_reports}
    definitions = (cluster.ClientCommandDefs if header.direction == foundation.Direction.Server_to_Client
                   else cluster.ServerCommandDefs)  # fmt: skip
    for definition in definitions:
        if definition.id == header.command_id:
            try:
                fields, rest = definition.with_compiled_schema().schema.deserialize(rest)
            except (ValueError, KeyError) as error:
                raise ZclError(f"{cluster.__name__}.{definition.name}: {error}") from None
            if rest:
                raise ZclError(f"{cluster.__name__}.{definition.name}: {len(rest)} bytes left over")
            return header, definition.name, fields
    raise ZclError(f"{cluster.__name__} has no command 0x{header.command_id:02X} in that direction")
