"""Names of the COSEM objects and interface classes GBCS uses, for people reading payloads.

``OBJECTS`` names each (class id, OBIS code) the RTDS access requests address, as GBCS's
use-case tables name them (GBCS v3.1 use-case DLMS tables; gbcs-parser's dlms.ts for the
"next"/passive copies and class 9000). RTDS is GBCS v4: a name ending in ``?`` was inferred
from a v3.1 twin or the OBIS structure. ``CLASSES`` gives each interface class's attribute
and method names (DLMS UA Blue Book; class 9000, "GBCS extended data", is GB-specific).
Names only: nothing in the codec depends on them.
"""

from __future__ import annotations

from types import MappingProxyType

__all__ = ["CLASSES", "OBJECTS", "member_name", "object_name"]

CLASSES: dict[int, tuple[str, dict[int, str], dict[int, str]]] = {
    1: ('data',
        {2: 'value'},
        {}),
    3: ('register',
        {2: 'value', 3: 'scaler_unit'},
        {1: 'reset'}),
    4: ('extended register',
        {2: 'value', 3: 'scaler_unit', 4: 'status', 5: 'capture_time'},
        {1: 'reset'}),
    7: ('profile generic',
        {2: 'buffer', 3: 'capture_objects', 4: 'capture_period', 5: 'sort_method', 6: 'sort_object', 7: 'entries_in_use', 8: 'profile_entries'},
        {1: 'reset', 2: 'capture'}),
    8: ('clock',
        {2: 'time', 3: 'time_zone', 4: 'status', 5: 'daylight_savings_begin', 6: 'daylight_savings_end', 7: 'daylight_savings_deviation', 8: 'daylight_savings_enabled', 9: 'clock_base'},
        {1: 'adjust_to_quarter', 2: 'adjust_to_measuring_period', 3: 'adjust_to_minute', 4: 'adjust_to_preset_time', 5: 'preset_adjusting_time', 6: 'shift_time'}),
    9: ('script table',
        {2: 'scripts'},
        {1: 'execute'}),
    10: ('schedule',
        {2: 'entries'},
        {1: 'enable_disable', 2: 'insert', 3: 'delete'}),
    11: ('special days table',
        {2: 'entries'},
        {1: 'insert', 2: 'delete'}),
    20: ('activity calendar',
        {2: 'calendar_name_active', 3: 'season_profile_active', 4: 'week_profile_table_active', 5: 'day_profile_table_active', 6: 'calendar_name_passive', 7: 'season_profile_passive', 8: 'week_profile_table_passive', 9: 'day_profile_table_passive', 10: 'activate_passive_calendar_time'},
        {1: 'activate_passive_calendar'}),
    21: ('register monitor',
        {2: 'thresholds', 3: 'monitored_value', 4: 'actions'},
        {}),
    22: ('single action schedule',
        {2: 'executed_script', 3: 'type', 4: 'execution_time'},
        {}),
    30: ('data protection',
        {2: 'protection_buffer', 3: 'protection_object_list', 4: 'protection_parameters_get', 5: 'protection_parameters_set', 6: 'required_protection'},
        {1: 'get_protected_attributes', 2: 'set_protected_attributes', 3: 'invoke_protected_method'}),
    70: ('disconnect control',
        {2: 'output_state', 3: 'control_state', 4: 'control_mode'},
        {1: 'remote_disconnect', 2: 'remote_reconnect'}),
    71: ('limiter',
        {2: 'monitored_value', 3: 'threshold_active', 4: 'threshold_normal', 5: 'threshold_emergency', 6: 'min_over_threshold_duration', 7: 'min_under_threshold_duration', 8: 'emergency_profile', 9: 'emergency_profile_group_id_list', 10: 'emergency_profile_active', 11: 'actions'},
        {}),
    104: ('zigbee network control',
        {2: 'enable_disable_joining', 3: 'join_timeout', 4: 'active_devices'},
        {1: 'register_device', 2: 'unregister_device', 3: 'unregister_all_devices', 4: 'backup_pan', 5: 'restore_pan', 6: 'identify_device', 7: 'remove_mirror', 8: 'update_network_key', 9: 'update_link_key', 10: 'create_pan', 11: 'remove_pan'}),
    111: ('account',
        {2: 'account_mode_and_status', 3: 'current_credit_in_use', 4: 'current_credit_status', 5: 'available_credit', 6: 'amount_to_clear', 7: 'clearance_threshold', 8: 'aggregated_debt', 9: 'credit_reference_list', 10: 'charge_reference_list', 11: 'credit_charge_configuration', 12: 'token_gateway_configuration', 13: 'account_activation_time', 14: 'account_closure_time', 15: 'currency', 16: 'low_credit_threshold', 17: 'next_credit_available_threshold', 18: 'max_provision', 19: 'max_provision_period'},
        {1: 'activate_account', 2: 'close_account', 3: 'reset_account'}),
    112: ('credit',
        {2: 'current_credit_amount', 3: 'credit_type', 4: 'priority', 5: 'warning_threshold', 6: 'limit', 7: 'credit_configuration', 8: 'credit_status', 9: 'preset_credit_amount', 10: 'credit_available_threshold', 11: 'period'},
        {1: 'update_amount', 2: 'set_amount_to_value', 3: 'invoke_credit'}),
    113: ('charge',
        {2: 'total_amount_paid', 3: 'charge_type', 4: 'priority', 5: 'unit_charge_active', 6: 'unit_charge_passive', 7: 'unit_charge_activation_time', 8: 'period', 9: 'charge_configuration', 10: 'last_collection_time', 11: 'last_collection_amount', 12: 'total_amount_remaining', 13: 'proportion'},
        {1: 'update_unit_charge', 2: 'activate_passive_unit_charge', 3: 'collect', 4: 'update_total_amount_remaining', 5: 'set_total_amount_remaining'}),
    115: ('token gateway',
        {2: 'token', 3: 'token_time', 4: 'token_description', 5: 'token_delivery_method', 6: 'token_status'},
        {1: 'enter'}),
    9000: ('GBCS extended data',
        {2: 'value_active', 3: 'scaler_unit_active', 4: 'value_passive', 5: 'scaler_unit_passive', 6: 'activate_passive_value_time'},
        {}),
}  # fmt: skip

_TABLE = """\
   1  0.0.0.2.1.255          active firmware version?
   1  0.0.94.44.0.0          randomised offset
   1  0.0.94.44.0.1          randomised offset limit
   1  0.0.94.44.0.11         alcs/hc alcs [1] label (description)
   1  0.0.94.44.0.12         alcs/hc alcs [2] label (description)
   1  0.0.94.44.0.13         alcs/hc alcs [3] label (description)
   1  0.0.94.44.0.14         alcs/hc alcs [4] label (description)
   1  0.0.94.44.0.15         alcs/hc alcs [5] label (description)
   1  0.0.94.44.0.2          randomised offset number
   1  0.0.94.44.0.21         alcs/hc alcs [1] type and identifier
   1  0.0.94.44.0.22         alcs/hc alcs [2] type and identifier
   1  0.0.94.44.0.23         alcs/hc alcs [3] type and identifier
   1  0.0.94.44.0.24         alcs/hc alcs [4] type and identifier
   1  0.0.94.44.0.25         alcs/hc alcs [5] type and identifier
   1  0.0.94.44.0.31         alcs/hc alcs [1] related setting (read with type+identifier)?
   1  0.0.94.44.0.32         alcs/hc alcs [2] related setting (read with type+identifier)?
   1  0.0.94.44.0.33         alcs/hc alcs [3] related setting (read with type+identifier)?
   1  0.0.94.44.0.34         alcs/hc alcs [4] related setting (read with type+identifier)?
   1  0.0.94.44.0.35         alcs/hc alcs [5] related setting (read with type+identifier)?
   1  0.0.94.44.0.4          supply tamper state
   1  0.0.94.44.10.0         sub-ghz configuration settings
   1  0.0.94.44.10.1         chf sub-ghz channel scan request
   1  0.0.94.44.10.2         operating sub-ghz channel
   1  0.0.94.44.117.1        alcs/hc alcs [1] close time (minutes)
   1  0.0.94.44.117.2        alcs/hc alcs [1] open time (minutes)
   1  0.0.94.44.119.1        alcs/hc alcs [3] close time (minutes)
   1  0.0.94.44.119.2        alcs/hc alcs [3] open time (minutes)
   1  0.0.94.44.119.3        alcs/hc alcs [3] state parameter 3?
   1  0.0.94.44.119.4        alcs/hc alcs [3] state parameter 4?
   1  0.0.94.44.121.1        alcs/hc alcs [5] close time (minutes)
   1  0.0.94.44.121.2        alcs/hc alcs [5] open time (minutes)
   1  0.0.94.44.121.3        alcs/hc alcs [5] state parameter 3?
   1  0.0.94.44.121.4        alcs/hc alcs [5] state parameter 4?
   1  0.0.94.44.3.2          restrict data date-time (change of tenancy date)
   1  0.0.94.44.34.11        import mpan(s) (combined primary+secondary mpan)
   1  0.0.94.44.6.1          boost function control [1] (alcs controlled by boost button)
   1  0.0.94.44.6.2          boost function control [2] (alcs controlled by boost button)
   1  0.0.94.44.6.3          boost function control [3] (alcs controlled by boost button)
   1  0.0.94.44.6.4          boost function control [4] (alcs controlled by boost button)
   1  0.0.94.44.6.5          boost function control [5] (alcs controlled by boost button)
   1  0.0.94.44.7.255        boost function availability
   1  0.0.96.1.1.255         device id 2 (device identity item)?
   1  0.0.96.1.2.255         meter variant (a/b/c)
   1  0.0.96.1.4.255         model type
   1  0.0.96.1.6.255         manufacturer identifier
   1  0.2.96.13.1.255        supplier message (message to consumer)
   1  0.3.96.13.1.255        consumer identification number (cin)?
   1  0.30.97.98.11.255      alert configuration settings - supplier (mask||actions)
   1  0.30.97.98.12.255      alert configuration settings - supplier: han device sharing
   1  0.30.97.98.14.255      event configuration settings - supplier: logging
   1  0.30.97.98.15.255      alert configuration settings - supplier (read copy)?
   1  0.30.97.98.16.255      han device sharing settings - supplier (read copy)?
   1  0.30.97.98.17.255      audible alarm settings - supplier (read copy)?
   1  0.30.97.98.18.255      event logging settings - supplier (read copy)?
   1  0.33.97.98.11.255      alert configuration settings - network operator (mask||actions)?
   1  0.33.97.98.14.255      event configuration settings - network operator: logging
   1  0.33.97.98.15.255      alert configuration settings - network operator (read copy)?
   1  0.33.97.98.18.255      event logging settings - network operator (read copy)?
   1  1.0.0.0.2.255          export mpan
   1  1.0.32.31.0.4          phase 1 average rms under-voltage threshold
   1  1.0.32.35.0.4          phase 1 average rms over-voltage threshold
   1  1.0.52.31.0.4          phase 2 average rms under-voltage threshold
   1  1.0.52.35.0.4          phase 2 average rms over-voltage threshold
   1  1.0.72.31.0.4          phase 3 average rms under-voltage threshold
   1  1.0.72.35.0.4          phase 3 average rms over-voltage threshold
   3  0.0.94.44.1.7          active tariff price (primary element)
   3  0.0.94.44.1.8          active tariff price (secondary element)?
   3  1.0.2.8.0.255          active export register (total)
   3  1.0.32.32.0.4          phase 1 average rms under-voltage counter
   3  1.0.32.36.0.4          phase 1 average rms over-voltage counter
   3  1.0.4.8.0.255          reactive export register (total)
   3  1.0.52.32.0.4          phase 2 average rms under-voltage counter
   3  1.0.52.36.0.4          phase 2 average rms over-voltage counter
   3  1.0.72.32.0.4          phase 3 average rms under-voltage counter
   3  1.0.72.36.0.4          phase 3 average rms over-voltage counter
   4  1.0.1.6.0.255          maximum demand active import (total)
   4  1.0.1.6.1.255          maximum demand active import, configurable time period?
   4  1.0.2.6.0.255          maximum demand active export (total)
   7  0.0.98.1.10.255        daily read log (export)?
   7  0.0.98.1.4.255         billing data log (payment-based debt payments)?
   7  0.0.99.1.1.255         half-hour profile data log (active export)?
   7  0.0.99.98.0.255        event log (esme/chf event log)
   7  0.0.99.98.1.255        security log
   7  0.0.99.98.20.255       boost function event log
   7  0.17.99.98.2.255       alcs event log
   7  1.0.32.24.0.255        phase 1 average rms voltage profile data log
   7  1.0.52.24.0.255        phase 2 average rms voltage profile data log
   7  1.0.72.24.0.255        phase 3 average rms voltage profile data log
   8  0.0.1.0.0.255          clock
   9  0.0.10.0.100.255       tariffication script table (tariff block counter matrix tou)
   9  0.0.10.0.103.255       alcs switching script table
   9  0.0.10.0.106.255       load switch (supply state) script table
   9  0.0.10.0.107.255       script table 107 (blue book: image activation)?
  10  0.0.12.0.0.255         maximum demand configurable time period schedule
  10  0.0.12.0.1.255         non-disablement calendar (current)
  10  0.0.12.0.2.255         alcs calendar (current)?
  10  0.1.12.0.1.255         non-disablement calendar (next/passive)
  10  0.1.12.0.2.255         alcs calendar (next/passive)
  11  0.0.11.0.0.255         tariff switching table special days (current)
  11  0.0.11.0.1.255         tariff switching table secondary element special days (current)?
  11  0.0.11.0.2.255         non-disablement calendar special days (current)
  11  0.0.11.0.3.255         alcs calendar special days (current)?
  11  0.1.11.0.0.255         tariff switching table special days (next/passive)
  11  0.1.11.0.1.255         tariff switching table secondary element special days (next/passive)
  11  0.1.11.0.2.255         non-disablement calendar special days (next/passive)
  11  0.1.11.0.3.255         alcs calendar special days (next/passive)
  20  0.0.13.0.0.255         tariff switching table (activity calendar, primary element)
  20  0.0.13.0.1.255         tariff switching table secondary element
  21  0.0.16.0.0.255         instantaneous power thresholds (low/medium, medium/high)
  21  0.0.16.0.1.255         disablement threshold (meter balance)
  21  0.0.16.0.11.255        tariff threshold matrix blocks tou1 (current)
  21  0.0.16.0.12.255        tariff threshold matrix blocks tou2 (current)
  21  0.0.16.0.13.255        tariff threshold matrix blocks tou3 (current)
  21  0.0.16.0.14.255        tariff threshold matrix blocks tou4 (current)
  21  0.0.16.0.15.255        tariff threshold matrix blocks tou5 (current)
  21  0.0.16.0.16.255        tariff threshold matrix blocks tou6 (current)
  21  0.0.16.0.17.255        tariff threshold matrix blocks tou7 (current)
  21  0.0.16.0.18.255        tariff threshold matrix blocks tou8 (current)
  21  0.0.16.1.11.255        tariff threshold matrix blocks tou1 (next)
  21  0.0.16.1.12.255        tariff threshold matrix blocks tou2 (next)
  21  0.0.16.1.13.255        tariff threshold matrix blocks tou3 (next)
  21  0.0.16.1.14.255        tariff threshold matrix blocks tou4 (next)
  21  0.0.16.1.15.255        tariff threshold matrix blocks tou5 (next)
  21  0.0.16.1.16.255        tariff threshold matrix blocks tou6 (next)
  21  0.0.16.1.17.255        tariff threshold matrix blocks tou7 (next)
  21  0.0.16.1.18.255        tariff threshold matrix blocks tou8 (next)
  22  0.0.15.0.0.255         billing calendar
  22  0.0.15.1.0.255         tariff block counter matrix daily reset schedule
  30  0.0.43.2.10.255        protected read: tariff block tou register collection
  30  0.0.43.2.2.255         protected read: billing data log (billing calendar triggered)
  30  0.0.43.2.3.255         protected read: billing data log (change of mode/tariff triggered)
  30  0.0.43.2.4.255         protected read: daily consumption log?
  30  0.0.43.2.5.255         protected read: daily read log?
  30  0.0.43.2.7.255         protected read: half-hour profile data (active import)?
  30  0.0.43.2.8.255         protected read: import register collection
  30  0.0.43.2.9.255         protected read: tariff tou register collection
  70  0.0.96.3.10.255        load switch (supply state, disconnect control)
  71  0.0.17.0.1.255         rms extreme over-voltage limiter (threshold + period)
  71  0.0.17.0.2.255         rms extreme under-voltage limiter (threshold + period)
  71  0.0.17.0.3.255         rms voltage sag limiter (threshold + period)
  71  0.0.17.0.4.255         rms voltage swell limiter (threshold + period)
 104  0.0.30.3.0.255         chf device log (zigbee network control)
 104  0.0.30.3.1.255         chf historic device log?
 111  0.0.19.0.0.255         account (payment mode, low credit threshold, debt recovery cap)
 111  0.1.19.0.0.255         account (next/passive payment mode config)
 112  0.0.19.10.0.255        meter balance
 112  0.0.19.10.1.255        emergency credit (balance, limit, threshold)
 112  0.0.19.10.2.255        accumulated debt register
 113  0.0.19.20.0.255        tariff block price matrix tou
 113  0.0.19.20.1.255        debt recovery rates [1] / time debt register [1]
 113  0.0.19.20.2.255        debt recovery rates [2] / time debt register [2]
 113  0.0.19.20.3.255        debt recovery per payment / payment debt register
 113  0.0.19.20.4.255        standing charge
 113  0.0.19.20.5.255        secondary tariff tou price matrix
9000  0.0.63.1.1.255         tariff threshold matrix (block thresholds)
9000  0.0.94.44.0.3          load limit supply state (disable supply on load limit)
9000  0.0.94.44.128.12       debt recovery rate cap amount
9000  0.0.94.44.128.13       debt recovery rate cap period
9000  0.0.94.44.128.2        emergency credit limit
9000  0.0.94.44.128.22       disablement threshold (meter balance)
9000  0.0.94.44.128.26       alcs calendar activation date-time
9000  0.0.94.44.128.28       non-disablement calendar activation date-time
9000  0.0.94.44.128.29       tariff switching table special days activation date-time
9000  0.0.94.44.128.3        emergency credit threshold
9000  0.0.94.44.128.30       tariff switching table secondary element special days activation date-time
9000  0.0.94.44.128.31       non-disablement calendar special days activation date-time
9000  0.0.94.44.128.35       alcs calendar special days activation date-time
9000  0.0.94.44.128.6        load limit period
9000  0.0.94.44.128.7        load limit power threshold
9000  0.0.94.44.128.8        load limit restoration period
9000  0.0.94.44.128.9        low credit threshold
9000  0.0.94.44.2.0          currency unit (gbp/eur)
9000  0.0.94.44.2.10         prepayment maximum credit threshold
9000  0.0.94.44.2.20         prepayment maximum meter balance
9000  0.0.96.13.0.255        supplier contact telephone number
9000  0.0.96.13.1.255        supplier contact name
"""

OBJECTS: MappingProxyType = MappingProxyType({
    (int(class_id), obis): name
    for class_id, obis, name in (line.split(None, 2) for line in _TABLE.splitlines())
})


def object_name(class_id: int, obis: str) -> str | None:
    """The GBCS name of an object (``"load switch script table"``), or None."""
    return OBJECTS.get((class_id, obis))


def member_name(class_id: int, member: int, *, method: bool) -> str | None:
    """The Blue Book name of an attribute or method of an interface class, or None."""
    entry = CLASSES.get(class_id)
    if entry is None:
        return "logical_name" if member == 1 and not method else None
    _, attributes, methods = entry
    if not method and member == 1:
        return "logical_name"
    return (methods if method else attributes).get(member)
