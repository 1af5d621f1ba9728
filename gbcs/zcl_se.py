"""ZigBee Smart Energy commands that GBCS carries in GBZ payloads, in zigpy's declarative style.

zigpy defines the Metering cluster's commands and attributes (``zigpy.zcl.clusters.
smartenergy.Metering``) and we use them as they are. It leaves Price, Messaging, Prepayment,
Calendar, Device Management and Events as stubs, so their commands are declared here as
``zigpy.types.Struct`` subclasses, field for field as the ZSE specification lays them out
(read through Wireshark's packet-zbee-zcl-se.c and gbcs-parser's zigbee.ts, which agree on
every layout below unless a comment says otherwise).

Lossless rules. ZCL strings are kept as bytes (zigpy's ``CharacterString`` decodes as UTF-8
with replacement and cuts at NUL) and a length byte of FF ("invalid string") survives.
Repeated records run to the end of the payload, as ZSE defines them; a count in the payload
is a field like any other (ZSE counts across fragments of split messages).

Wire order: ZCL fields are little-endian (primer §3); ``Direction`` is the frame control's
bit 3. zigpy names commands by who receives them: its ``ServerCommandDefs`` travel client
to server (bit 3 clear), ``ClientCommandDefs`` server to client.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from typing import Any

import zigpy.types as t
from zigpy.zcl import foundation
from zigpy.zcl.clusters.general import Basic
from zigpy.zcl.clusters.smartenergy import Metering

__all__ = ["COMMANDS", "CLUSTER_NAMES", "CommandDef", "Direction", "Octets", "attribute_name", "data_type"]


class Direction(IntEnum):
    """Frame control bit 3."""

    CLIENT_TO_SERVER = 0
    SERVER_TO_CLIENT = 1


class _ZclString(bytes):
    """A ZCL string kept as bytes: a little-endian length of ``SIZE`` bytes, then the bytes.
    A length of all FF marks the "invalid" string, which ``invalid()`` builds."""

    SIZE = 1
    invalid_form = False

    @classmethod
    def invalid(cls) -> _ZclString:
        value = cls()
        value.invalid_form = True
        return value

    def serialize(self) -> bytes:
        limit = (1 << (8 * self.SIZE)) - 1
        if self.invalid_form:
            return limit.to_bytes(self.SIZE, "little")
        if len(self) >= limit:
            raise ValueError(f"a ZCL string holds at most {limit - 1} bytes, got {len(self)}")
        return len(self).to_bytes(self.SIZE, "little") + self

    @classmethod
    def deserialize(cls, data: bytes) -> tuple[_ZclString, bytes]:
        if len(data) < cls.SIZE:
            raise ValueError("Data is too short to contain a string length")
        size = int.from_bytes(data[: cls.SIZE], "little")
        if size == (1 << (8 * cls.SIZE)) - 1:
            return cls.invalid(), data[cls.SIZE :]
        if len(data) < cls.SIZE + size:
            raise ValueError(f"Data is too short to contain a {size}-byte string")
        return cls(data[cls.SIZE : cls.SIZE + size]), data[cls.SIZE + size :]


class Octets(_ZclString):
    """A ZCL octet or character string (1-byte length)."""


class LongOctets(_ZclString):
    """A long ZCL octet or character string (2-byte length)."""

    SIZE = 2


def data_type(type_id: int) -> type:
    """The Python type of a ZCL data type id (zigpy's table; strings kept lossless).

    Raises:
        ValueError: an unknown or unsized type id.
    """
    if type_id in (0x41, 0x42):
        return Octets
    if type_id in (0x43, 0x44):
        return LongOctets
    return foundation.DataType.from_type_id(type_id).python_type


# ---------------------------------------------------------------------------------------
# Price 0x0700


class GetCurrentPrice(t.Struct):
    command_options: t.bitmap8


class GetBillingPeriod(t.Struct):
    earliest_start_time: t.UTCTime
    min_issuer_event_id: t.uint32_t
    number_of_commands: t.uint8_t
    tariff_type: t.bitmap8 = t.StructField(optional=True)  # optional in ZSE (Wireshark)


class PublishPrice(t.Struct):
    provider_id: t.uint32_t
    rate_label: Octets
    issuer_event_id: t.uint32_t
    current_time: t.UTCTime
    unit_of_measure: t.enum8
    currency: t.uint16_t
    price_trailing_digit_and_price_tier: t.bitmap8
    number_of_price_tiers_and_register_tier: t.bitmap8
    start_time: t.UTCTime
    duration_in_minutes: t.uint16_t
    price: t.uint32_t
    # An optional 19-byte tail; GBCS says it carries no meaningful information.
    price_ratio: t.uint8_t = t.StructField(optional=True)
    generation_price: t.uint32_t = t.StructField(optional=True)
    generation_price_ratio: t.uint8_t = t.StructField(optional=True)
    alternate_cost_delivered: t.uint32_t = t.StructField(optional=True)
    alternate_cost_unit: t.enum8 = t.StructField(optional=True)
    alternate_cost_trailing_digit: t.bitmap8 = t.StructField(optional=True)
    number_of_block_thresholds: t.uint8_t = t.StructField(optional=True)
    price_control: t.bitmap8 = t.StructField(optional=True)
    number_of_generation_tiers: t.uint8_t = t.StructField(optional=True)
    generation_tier: t.enum8 = t.StructField(optional=True)
    extended_number_of_price_tiers: t.uint8_t = t.StructField(optional=True)
    extended_price_tier: t.enum8 = t.StructField(optional=True)
    extended_register_tier: t.enum8 = t.StructField(optional=True)


class PublishBlockPeriod(t.Struct):
    provider_id: t.uint32_t
    issuer_event_id: t.uint32_t
    block_period_start_time: t.UTCTime
    block_period_duration: t.uint24_t
    block_period_control: t.bitmap8
    block_period_duration_type: t.bitmap8
    tariff_type: t.bitmap8
    tariff_resolution_period: t.enum8


class PublishConversionFactor(t.Struct):
    issuer_event_id: t.uint32_t
    start_time: t.UTCTime
    conversion_factor: t.uint32_t
    conversion_factor_trailing_digit: t.bitmap8


class PublishCalorificValue(t.Struct):
    issuer_event_id: t.uint32_t
    start_time: t.UTCTime
    calorific_value: t.uint32_t
    calorific_value_unit: t.enum8
    calorific_value_trailing_digit: t.bitmap8


class PublishTariffInformation(t.Struct):
    provider_id: t.uint32_t
    issuer_event_id: t.uint32_t
    issuer_tariff_id: t.uint32_t
    start_time: t.UTCTime
    tariff_type_and_charging_scheme: t.bitmap8
    tariff_label: Octets
    number_of_price_tiers_in_use: t.uint8_t
    number_of_block_thresholds_in_use: t.uint8_t
    unit_of_measure: t.enum8
    currency: t.uint16_t
    price_trailing_digit: t.bitmap8
    standing_charge: t.uint32_t
    tier_block_mode: t.uint8_t
    block_threshold_multiplier: t.uint24_t
    block_threshold_divisor: t.uint24_t


class PriceMatrixEntry(t.Struct):
    tier_block_id: t.uint8_t
    price: t.uint32_t


class PublishPriceMatrix(t.Struct):
    provider_id: t.uint32_t
    issuer_event_id: t.uint32_t
    start_time: t.UTCTime
    issuer_tariff_id: t.uint32_t
    command_index: t.uint8_t
    total_number_of_commands: t.uint8_t
    sub_payload_control: t.bitmap8
    entries: t.List[PriceMatrixEntry]


class BlockThresholds(t.Bytes):
    """Publish Block Thresholds' sub-payloads, to the end: each a byte whose low nibble is
    the number N of thresholds (high nibble: the tier), then N uint48 thresholds (ZSE, as
    Wireshark reads it; gbcs-parser reads one set with a whole-byte count)."""

    @classmethod
    def deserialize(cls, data: bytes) -> tuple[BlockThresholds, bytes]:
        position = 0
        while position < len(data):
            position += 1 + 6 * (data[position] & 0x0F)
        if position != len(data):
            raise ValueError("block threshold sets do not fill the payload")
        return cls(data), b""

    def sets(self) -> list[tuple[int, list[int]]]:
        """[(tier, [threshold, ...]), ...]"""
        out, position = [], 0
        while position < len(self):
            head = self[position]
            values = [int.from_bytes(self[position + 1 + 6 * i : position + 7 + 6 * i], "little")
                      for i in range(head & 0x0F)]  # fmt: skip
            out.append((head >> 4, values))
            position += 1 + 6 * (head & 0x0F)
        return out


class PublishBlockThresholds(t.Struct):
    provider_id: t.uint32_t
    issuer_event_id: t.uint32_t
    start_time: t.UTCTime
    issuer_tariff_id: t.uint32_t
    command_index: t.uint8_t
    total_number_of_commands: t.uint8_t
    sub_payload_control: t.bitmap8
    thresholds: BlockThresholds


class PublishBillingPeriod(t.Struct):
    provider_id: t.uint32_t
    issuer_event_id: t.uint32_t
    billing_period_start_time: t.UTCTime
    billing_period_duration: t.uint24_t
    billing_period_duration_type: t.bitmap8
    tariff_type: t.bitmap8


# ---------------------------------------------------------------------------------------
# Messaging 0x0703


class DisplayMessage(t.Struct):
    message_id: t.uint32_t
    message_control: t.bitmap8
    start_time: t.UTCTime
    duration_in_minutes: t.uint16_t
    message: Octets
    extended_message_control: t.bitmap8 = t.StructField(optional=True)


# ---------------------------------------------------------------------------------------
# Prepayment 0x0705


class SelectAvailableEmergencyCredit(t.Struct):
    command_issue_date_time: t.UTCTime
    originating_device: t.enum8


class ChangeDebt(t.Struct):
    issuer_event_id: t.uint32_t
    debt_label: Octets
    debt_amount: t.int32s
    debt_recovery_method: t.enum8
    debt_amount_type: t.enum8
    debt_recovery_start_time: t.UTCTime
    debt_recovery_collection_time: t.uint16_t
    debt_recovery_frequency: t.enum8
    debt_recovery_amount: t.int32s
    debt_recovery_balance_percentage: t.uint16_t  # Wireshark reads one byte: its bug


class ConsumerTopUp(t.Struct):
    originating_device: t.enum8
    top_up_code: Octets  # a 20-digit UTRN in GBCS (primer §8.7)


class CreditAdjustment(t.Struct):
    issuer_event_id: t.uint32_t
    start_time: t.UTCTime
    credit_adjustment_type: t.enum8
    credit_adjustment_value: t.int32s


class ChangePaymentMode(t.Struct):
    provider_id: t.uint32_t
    issuer_event_id: t.uint32_t
    implementation_date_time: t.UTCTime
    proposed_payment_control_configuration: t.bitmap16
    cut_off_value: t.int32s


class GetPrepaySnapshot(t.Struct):
    earliest_start_time: t.UTCTime
    latest_end_time: t.UTCTime
    snapshot_offset: t.uint8_t
    snapshot_cause: t.bitmap32


class GetTopUpLog(t.Struct):
    latest_end_time: t.UTCTime
    number_of_records: t.uint8_t


class GetDebtRepaymentLog(t.Struct):
    latest_end_time: t.UTCTime
    number_of_debts: t.uint8_t
    debt_type: t.enum8


class PublishPrepaySnapshot(t.Struct):
    snapshot_id: t.uint32_t
    snapshot_time: t.UTCTime
    total_snapshots_found: t.uint8_t
    command_index: t.uint8_t
    total_number_of_commands: t.uint8_t
    snapshot_cause: t.bitmap32
    snapshot_payload_type: t.enum8
    snapshot_payload: t.Bytes  # for type 0, DebtCreditStatus below


class DebtCreditStatus(t.Struct):
    """Publish Prepay Snapshot's sub-payload of type 0 (debt/credit status)."""

    accumulated_debt: t.int32s
    type1_debt_remaining: t.uint32_t
    type2_debt_remaining: t.uint32_t
    type3_debt_remaining: t.uint32_t
    emergency_credit_remaining: t.int32s
    credit_remaining: t.int32s


class ChangePaymentModeResponse(t.Struct):
    friendly_credit: t.bitmap8
    friendly_credit_calendar_id: t.uint32_t
    emergency_credit_limit: t.uint32_t
    emergency_credit_threshold: t.uint32_t


class ConsumerTopUpResponse(t.Struct):
    result_type: t.enum8
    top_up_value: t.int32s
    source_of_top_up: t.enum8
    credit_remaining: t.int32s


class TopUpRecord(t.Struct):
    top_up_code: Octets
    top_up_amount: t.int32s
    top_up_time: t.UTCTime


class PublishTopUpLog(t.Struct):
    command_index: t.uint8_t
    total_number_of_commands: t.uint8_t
    records: t.List[TopUpRecord]


class DebtRecord(t.Struct):
    collection_time: t.UTCTime
    amount_collected: t.int32s
    debt_type: t.enum8
    outstanding_debt: t.uint32_t


class PublishDebtLog(t.Struct):
    command_index: t.uint8_t
    total_number_of_commands: t.uint8_t
    records: t.List[DebtRecord]


# ---------------------------------------------------------------------------------------
# Calendar 0x0707


class GetDayProfiles(t.Struct):
    provider_id: t.uint32_t
    issuer_calendar_id: t.uint32_t
    start_day_id: t.uint8_t
    number_of_days: t.uint8_t


class GetWeekProfiles(t.Struct):
    provider_id: t.uint32_t
    issuer_calendar_id: t.uint32_t
    start_week_id: t.uint8_t
    number_of_weeks: t.uint8_t


class GetSeasons(t.Struct):
    provider_id: t.uint32_t
    issuer_calendar_id: t.uint32_t


class GetSpecialDays(t.Struct):
    start_time: t.UTCTime
    number_of_events: t.uint8_t
    calendar_type: t.enum8
    provider_id: t.uint32_t
    issuer_calendar_id: t.uint32_t


class PublishCalendar(t.Struct):
    provider_id: t.uint32_t
    issuer_event_id: t.uint32_t
    issuer_calendar_id: t.uint32_t
    start_time: t.UTCTime
    calendar_type: t.enum8
    calendar_time_reference: t.enum8
    calendar_name: Octets
    number_of_seasons: t.uint8_t
    number_of_week_profiles: t.uint8_t
    number_of_day_profiles: t.uint8_t


class ScheduleEntry(t.Struct):
    start_time: t.uint16_t  # minutes after midnight
    value: t.uint8_t  # price tier, friendly credit enable or load switch state, by calendar type


class PublishDayProfile(t.Struct):
    provider_id: t.uint32_t
    issuer_event_id: t.uint32_t
    issuer_calendar_id: t.uint32_t
    day_id: t.uint8_t
    total_number_of_schedule_entries: t.uint8_t
    command_index: t.uint8_t
    total_number_of_commands: t.uint8_t
    calendar_type: t.enum8
    entries: t.List[ScheduleEntry]


class PublishWeekProfile(t.Struct):
    provider_id: t.uint32_t
    issuer_event_id: t.uint32_t
    issuer_calendar_id: t.uint32_t
    week_id: t.uint8_t
    day_id_ref_monday: t.uint8_t
    day_id_ref_tuesday: t.uint8_t
    day_id_ref_wednesday: t.uint8_t
    day_id_ref_thursday: t.uint8_t
    day_id_ref_friday: t.uint8_t
    day_id_ref_saturday: t.uint8_t
    day_id_ref_sunday: t.uint8_t


class Season(t.Struct):
    season_start_date: t.Date
    week_id_ref: t.uint8_t


class PublishSeasons(t.Struct):
    provider_id: t.uint32_t
    issuer_event_id: t.uint32_t
    issuer_calendar_id: t.uint32_t
    command_index: t.uint8_t
    total_number_of_commands: t.uint8_t
    seasons: t.List[Season]


class SpecialDay(t.Struct):
    special_day_date: t.Date
    day_id_ref: t.uint8_t


class PublishSpecialDays(t.Struct):
    provider_id: t.uint32_t
    issuer_event_id: t.uint32_t
    issuer_calendar_id: t.uint32_t
    start_time: t.UTCTime
    calendar_type: t.enum8
    total_number_of_special_days: t.uint8_t
    command_index: t.uint8_t
    total_number_of_commands: t.uint8_t
    special_days: t.List[SpecialDay]


# ---------------------------------------------------------------------------------------
# Device Management 0x0708


class EventConfigurationRecord(t.Struct):
    event_id: t.uint16_t
    event_configuration: t.bitmap8


class ReportEventConfiguration(t.Struct):
    command_index: t.uint8_t
    total_commands: t.uint8_t
    events: t.List[EventConfigurationRecord]


class PublishChangeOfTenancy(t.Struct):
    provider_id: t.uint32_t
    issuer_event_id: t.uint32_t
    tariff_type: t.bitmap8
    implementation_date_time: t.UTCTime
    proposed_tenancy_change_control: t.bitmap32


class PublishChangeOfSupplier(t.Struct):
    current_provider_id: t.uint32_t
    issuer_event_id: t.uint32_t
    tariff_type: t.bitmap8
    proposed_provider_id: t.uint32_t
    provider_change_implementation_time: t.UTCTime
    provider_change_control: t.bitmap32
    proposed_provider_name: Octets
    proposed_provider_contact_details: Octets


class RequestNewPasswordResponse(t.Struct):
    issuer_event_id: t.uint32_t
    implementation_date_time: t.UTCTime
    duration_in_minutes: t.uint16_t
    password_type: t.enum8
    password: Octets


class UpdateSiteId(t.Struct):
    issuer_event_id: t.uint32_t
    site_id_time: t.UTCTime
    provider_id: t.uint32_t
    site_id: Octets


class SetEventConfiguration(t.Struct):
    issuer_event_id: t.uint32_t
    start_date_time: t.UTCTime
    event_configuration: t.bitmap8
    configuration_control: t.enum8
    # One payload, chosen by the configuration control.
    event_ids: t.LVList[t.uint16_t, t.uint8_t] = t.StructField(
        requires=lambda s: s.configuration_control == 0)
    event_group_id: t.uint16_t = t.StructField(requires=lambda s: s.configuration_control == 1)
    log_id: t.enum8 = t.StructField(requires=lambda s: s.configuration_control == 2)
    configuration_value_match: t.bitmap8 = t.StructField(
        requires=lambda s: s.configuration_control == 3)


class GetEventConfiguration(t.Struct):
    event_id: t.uint16_t


class UpdateCin(t.Struct):
    issuer_event_id: t.uint32_t
    cin_implementation_time: t.UTCTime
    provider_id: t.uint32_t
    customer_id_number: Octets


# ---------------------------------------------------------------------------------------
# Events 0x0709


class GetEventLog(t.Struct):
    event_control_log_id: t.bitmap8
    event_id: t.uint16_t
    start_time: t.UTCTime
    end_time: t.UTCTime
    number_of_events: t.uint8_t
    event_offset: t.uint16_t


class ClearEventLogRequest(t.Struct):
    log_id: t.bitmap8


class EventRecord(t.Struct):
    log_id: t.enum8
    event_id: t.uint16_t
    event_time: t.UTCTime
    event_data: Octets


class PublishEventLog(t.Struct):
    total_number_of_matching_events: t.uint16_t
    command_index: t.uint8_t
    total_commands: t.uint8_t
    number_of_events_log_payload_control: t.bitmap8
    events: t.List[EventRecord]


class ClearEventLogResponse(t.Struct):
    cleared_event_logs: t.bitmap8


# ---------------------------------------------------------------------------------------
# The command table


@dataclass(frozen=True, slots=True)
class CommandDef:
    cluster_id: int
    direction: Direction
    command_id: int
    name: str
    schema: Any  # a zigpy Struct class


_C2S, _S2C = Direction.CLIENT_TO_SERVER, Direction.SERVER_TO_CLIENT
_OURS = [
    (0x0700, _C2S, 0x00, "get_current_price", GetCurrentPrice),
    (0x0700, _C2S, 0x0B, "get_billing_period", GetBillingPeriod),
    (0x0700, _S2C, 0x00, "publish_price", PublishPrice),
    (0x0700, _S2C, 0x01, "publish_block_period", PublishBlockPeriod),
    (0x0700, _S2C, 0x02, "publish_conversion_factor", PublishConversionFactor),
    (0x0700, _S2C, 0x03, "publish_calorific_value", PublishCalorificValue),
    (0x0700, _S2C, 0x04, "publish_tariff_information", PublishTariffInformation),
    (0x0700, _S2C, 0x05, "publish_price_matrix", PublishPriceMatrix),
    (0x0700, _S2C, 0x06, "publish_block_thresholds", PublishBlockThresholds),
    (0x0700, _S2C, 0x09, "publish_billing_period", PublishBillingPeriod),
    (0x0703, _S2C, 0x00, "display_message", DisplayMessage),
    (0x0705, _C2S, 0x00, "select_available_emergency_credit", SelectAvailableEmergencyCredit),
    (0x0705, _C2S, 0x02, "change_debt", ChangeDebt),
    (0x0705, _C2S, 0x04, "consumer_top_up", ConsumerTopUp),
    (0x0705, _C2S, 0x05, "credit_adjustment", CreditAdjustment),
    (0x0705, _C2S, 0x06, "change_payment_mode", ChangePaymentMode),
    (0x0705, _C2S, 0x07, "get_prepay_snapshot", GetPrepaySnapshot),
    (0x0705, _C2S, 0x08, "get_top_up_log", GetTopUpLog),
    (0x0705, _C2S, 0x0A, "get_debt_repayment_log", GetDebtRepaymentLog),
    (0x0705, _S2C, 0x01, "publish_prepay_snapshot", PublishPrepaySnapshot),
    (0x0705, _S2C, 0x02, "change_payment_mode_response", ChangePaymentModeResponse),
    (0x0705, _S2C, 0x03, "consumer_top_up_response", ConsumerTopUpResponse),
    (0x0705, _S2C, 0x05, "publish_top_up_log", PublishTopUpLog),
    (0x0705, _S2C, 0x06, "publish_debt_log", PublishDebtLog),
    (0x0707, _C2S, 0x01, "get_day_profiles", GetDayProfiles),
    (0x0707, _C2S, 0x02, "get_week_profiles", GetWeekProfiles),
    (0x0707, _C2S, 0x03, "get_seasons", GetSeasons),
    (0x0707, _C2S, 0x04, "get_special_days", GetSpecialDays),
    (0x0707, _S2C, 0x00, "publish_calendar", PublishCalendar),
    (0x0707, _S2C, 0x01, "publish_day_profile", PublishDayProfile),
    (0x0707, _S2C, 0x02, "publish_week_profile", PublishWeekProfile),
    (0x0707, _S2C, 0x03, "publish_seasons", PublishSeasons),
    (0x0707, _S2C, 0x04, "publish_special_days", PublishSpecialDays),
    (0x0708, _C2S, 0x04, "report_event_configuration", ReportEventConfiguration),
    (0x0708, _S2C, 0x00, "publish_change_of_tenancy", PublishChangeOfTenancy),
    (0x0708, _S2C, 0x01, "publish_change_of_supplier", PublishChangeOfSupplier),
    (0x0708, _S2C, 0x02, "request_new_password_response", RequestNewPasswordResponse),
    (0x0708, _S2C, 0x03, "update_site_id", UpdateSiteId),
    (0x0708, _S2C, 0x04, "set_event_configuration", SetEventConfiguration),
    (0x0708, _S2C, 0x05, "get_event_configuration", GetEventConfiguration),
    (0x0708, _S2C, 0x06, "update_cin", UpdateCin),
    (0x0709, _C2S, 0x00, "get_event_log", GetEventLog),
    (0x0709, _C2S, 0x01, "clear_event_log_request", ClearEventLogRequest),
    (0x0709, _S2C, 0x01, "publish_event_log", PublishEventLog),
    (0x0709, _S2C, 0x02, "clear_event_log_response", ClearEventLogResponse),
]


def _zigpy_commands(cluster: Any) -> list[tuple]:
    """A zigpy cluster's command definitions in our terms (its server commands travel
    client to server)."""
    rows = []
    for direction, definitions in ((_C2S, cluster.ServerCommandDefs), (_S2C, cluster.ClientCommandDefs)):
        for definition in definitions:
            rows.append((cluster.cluster_id, direction, definition.id, definition.name, definition.schema))
    return rows


COMMANDS: dict[tuple[int, Direction, int], CommandDef] = {
    (cluster, direction, command): CommandDef(cluster, direction, command, name, schema)
    for cluster, direction, command, name, schema in (*_zigpy_commands(Metering), *_OURS)
}

CLUSTER_NAMES = {0x0000: "basic", 0x0700: "price", 0x0702: "metering", 0x0703: "messaging",
                 0x0704: "tunneling", 0x0705: "prepayment", 0x0707: "calendar",
                 0x0708: "device_management", 0x0709: "events"}  # fmt: skip

# Server attribute names of the clusters zigpy leaves empty (ZSE; gbcs-parser names them the
# same way). Metering and Basic come from zigpy's AttributeDefs.
_ATTRIBUTES = {
    0x0700: {0x0100: "block1_threshold", 0x0101: "block2_threshold", 0x0102: "block3_threshold",
             0x0202: "threshold_multiplier", 0x0203: "threshold_divisor",
             0x0301: "standing_charge", 0x0302: "conversion_factor",
             0x0303: "conversion_factor_trailing_digit", 0x0304: "calorific_value",
             0x0305: "calorific_value_unit", 0x0306: "calorific_value_trailing_digit",
             0x0400: "no_tier_block1_price", 0x0401: "no_tier_block2_price",
             0x0402: "no_tier_block3_price", 0x0403: "no_tier_block4_price",
             0x0410: "tier1_block1_price", 0x0420: "tier2_block1_price",
             0x0430: "tier3_block1_price", 0x0440: "tier4_block1_price",
             0x0615: "unit_of_measure", 0x0616: "currency", 0x0617: "price_trailing_digit"},
    0x0702: {0x0607: "supply_tamper_state", 0x0608: "supply_depletion_state",
             0x0700: "current_no_tier_block1_summation_delivered",
             0x0701: "current_no_tier_block2_summation_delivered",
             0x0702: "current_no_tier_block3_summation_delivered",
             0x0703: "current_no_tier_block4_summation_delivered",
             0x0B10: "uncontrolled_flow_threshold", 0x0B11: "uncontrolled_flow_unit_of_measure",
             0x0B12: "uncontrolled_flow_multiplier", 0x0B13: "uncontrolled_flow_divisor",
             0x0B14: "flow_stabilisation_period", 0x0B15: "flow_measurement_period"},
    0x0705: {0x0000: "payment_control_configuration", 0x0001: "credit_remaining",
             0x0002: "emergency_credit_remaining", 0x0005: "accumulated_debt",
             0x0006: "overall_debt_cap", 0x0010: "emergency_credit_limit",
             0x0011: "emergency_credit_threshold", 0x0021: "max_credit_limit",
             0x0022: "max_credit_per_top_up", 0x0031: "low_credit_warning_level",
             0x0040: "cut_off_value", 0x0211: "debt_amount1", 0x0216: "debt_recovery_frequency1",
             0x0217: "debt_recovery_amount1", 0x0221: "debt_amount2",
             0x0226: "debt_recovery_frequency2", 0x0227: "debt_recovery_amount2",
             0x0231: "debt_amount3", 0x0239: "debt_recovery_top_up_percentage3"},
}  # fmt: skip
_ZIGPY_ATTRIBUTES = {Basic.cluster_id: Basic, Metering.cluster_id: Metering}


def attribute_name(cluster_id: int, attribute_id: int) -> str | None:
    """A server attribute's name, from zigpy where it defines the cluster, else ZSE."""
    cluster = _ZIGPY_ATTRIBUTES.get(cluster_id)
    if cluster is not None:
        definition = cluster.attributes.get(attribute_id)
        if definition is not None:
            return definition.name
    return _ATTRIBUTES.get(cluster_id, {}).get(attribute_id)
