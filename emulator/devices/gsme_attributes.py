"""The GSME's ZCL attributes: which it holds, of which data type, and where each value comes from.

Rule: a value is either the meter's state (consumption from its gas load model, ``gas_model``; credit and debts
from ``gsme.prepayment``, the valve from ``gsme.supply``), a setting a command changed (kept in
``gsme.attributes``), or a factory default. Nothing here is copied from RTDS: the data types
are ZSE's (zigpy's ``smartenergy.Metering``/``general.Basic`` attribute definitions, ZSE 1.4 for
the clusters zigpy leaves as stubs) and agree with the types RTDS's recorded Read Attributes
Responses carry (GCS13a/b, GCS21*, GCS33, GCS38, GCS46, GCS60).

An attribute the table does not hold answers UNSUPPORTED_ATTRIBUTE, as ZCL says.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from zigpy.zcl import foundation

from ..firmware.device import Device
from ..store import Transaction
from . import gas_model

__all__ = ["ATTRIBUTES", "AttributeDef", "GsmeState", "set_attribute"]

T = foundation.DataTypeId
BASIC, PRICE, METERING, PREPAYMENT = 0x0000, 0x0700, 0x0702, 0x0705

METERING_REGISTER = "gsme.metering"  # what tests inject on top of the load model (gas_model.EXTRA)
PREPAYMENT_REGISTER = "gsme.prepayment"
SUPPLY_REGISTER = "gsme.supply"  # {"status": ZSE supply status}
SETTINGS_REGISTER = "gsme.attributes"  # {"CCCC.AAAA": value}: values commands have set

SUPPLY_ON = 2  # ZSE Metering SupplyStatus: 0 off, 1 off/armed, 2 on

# Prepayment state of a new meter: credit mode, no credit, no debt (ZSE Payment Control
# Configuration bit 0 = disconnection enabled, bit 1 = prepayment enabled; we chose credit
# mode as the factory state). Amounts in the meter's currency unit (RTDS: 1/100 000 of a pound).
FACTORY_PREPAYMENT: dict[str, Any] = {
    "payment_control_configuration": 0x0000, "credit_remaining": 0, "emergency_credit_remaining": 0,
    "emergency_credit_selected": False, "accumulated_debt": 0, "debts": [0, 0, 0],
    "cut_off_value": 0, "pending_payment_mode": None,
}  # fmt: skip


@dataclass(slots=True)
class GsmeState:
    """What the GSME holds, read once per command (a few small registers) and written back
    only where a command changed it."""

    metering: dict[str, Any]
    prepayment: dict[str, Any]
    supply: dict[str, Any]
    settings: dict[str, Any]
    device: Device
    metering_is_own: bool = True  # False: a mirror's copy (the GPF)
    mirrored: dict[str, Any] = field(default_factory=dict)  # {"CCCC.AAAA": value} a GSME reported; never written back

    @classmethod
    def load(cls, tx: Transaction, device: Device, metering: dict[str, Any] | None = None,
             mirrored: dict[str, Any] | None = None) -> GsmeState:  # fmt: skip
        prepayment = {**FACTORY_PREPAYMENT, **tx.register(device.eui, PREPAYMENT_REGISTER, {})}
        own = metering is None
        if metering is None:  # computed for the device's time; never written back
            metering = {"current_summation_delivered": gas_model.gas_metering(tx, device).summation(device.now)}
        return cls(metering, prepayment, tx.register(device.eui, SUPPLY_REGISTER, {"status": SUPPLY_ON}),
                   tx.register(device.eui, SETTINGS_REGISTER, {}), device, own, dict(mirrored or {}))  # fmt: skip

    def save(self, tx: Transaction) -> None:
        eui = self.device.eui
        tx.set_register(eui, PREPAYMENT_REGISTER, self.prepayment)
        tx.set_register(eui, SUPPLY_REGISTER, self.supply)
        tx.set_register(eui, SETTINGS_REGISTER, self.settings)

    def value(self, cluster_id: int, attribute_id: int) -> Any:
        """The attribute's value (KeyError: the GSME does not hold it)."""
        definition = ATTRIBUTES[(cluster_id, attribute_id)]
        key = f"{cluster_id:04X}.{attribute_id:04X}"
        if key in self.mirrored:
            return self.mirrored[key]
        if key in self.settings:
            value = self.settings[key]
            return bytes.fromhex(value) if definition.type_id in (T.octstr, T.string) else value
        if callable(definition.default):
            return definition.default(self)
        return definition.default


def set_attribute(state: GsmeState, cluster_id: int, attribute_id: int, value: Any) -> None:
    """Keep a value a command set (strings as hex, so the register stays JSON)."""
    state.settings[f"{cluster_id:04X}.{attribute_id:04X}"] = value.hex() if isinstance(value, bytes) else value


@dataclass(frozen=True, slots=True)
class AttributeDef:
    name: str
    type_id: int
    default: Any  # a value, or a function of the GsmeState


def _summation(state: GsmeState) -> int:
    return int(state.metering.get("current_summation_delivered", 0))


def _block(index: int) -> Callable[[GsmeState], int]:
    # No block tariff splits consumption in this model: block 1 holds it all, so the block
    # registers always add up to CurrentSummationDelivered.
    return lambda state: _summation(state) if index == 1 else 0


def _prepayment(name: str) -> Callable[[GsmeState], Any]:
    return lambda state: state.prepayment[name]


def _debt(index: int) -> Callable[[GsmeState], int]:
    return lambda state: state.prepayment["debts"][index]


_ROWS: list[tuple[int, int, str, int, Any]] = [
    # Basic (zigpy general.Basic): strings are ZCL character strings.
    (BASIC, 0x0003, "hw_version", T.uint8, 1),
    (BASIC, 0x0004, "manufacturer_name", T.string, lambda s: s.device.identity.manufacturer.encode()),
    (BASIC, 0x0005, "model_identifier", T.string, lambda s: s.device.identity.model.encode()),
    # Price (ZSE D.4.2.2): block thresholds uint48, multiplier/divisor uint24, prices uint32.
    (PRICE, 0x0100, "block1_threshold", T.uint48, 0),
    (PRICE, 0x0101, "block2_threshold", T.uint48, 0),
    (PRICE, 0x0102, "block3_threshold", T.uint48, 0),
    (PRICE, 0x0202, "threshold_multiplier", T.uint24, 1),
    (PRICE, 0x0203, "threshold_divisor", T.uint24, 1),
    (PRICE, 0x0301, "standing_charge", T.uint32, 0),
    (PRICE, 0x0302, "conversion_factor", T.uint32, 1),
    (PRICE, 0x0303, "conversion_factor_trailing_digit", T.map8, 0),
    (PRICE, 0x0304, "calorific_value", T.uint32, 0),
    (PRICE, 0x0305, "calorific_value_unit", T.enum8, 1),  # MJ/m³
    (PRICE, 0x0306, "calorific_value_trailing_digit", T.map8, 0),
    *((PRICE, 0x0400 + block, f"no_tier_block{block + 1}_price", T.uint32, 0) for block in range(4)),
    *((PRICE, 0x0400 + 0x10 * tier, f"tier{tier}_block1_price", T.uint32, 0) for tier in range(1, 5)),
    (PRICE, 0x0615, "unit_of_measure", T.enum8, 1),  # m³ (ZSE Metering unit of measure)
    (PRICE, 0x0616, "currency", T.uint16, 826),  # ISO 4217: pound sterling
    (PRICE, 0x0617, "price_trailing_digit", T.map8, 0),
    # Metering (zigpy smartenergy.Metering).
    (METERING, 0x0000, "current_summ_delivered", T.uint48, _summation),
    (METERING, 0x0014, "supply_status", T.enum8, lambda s: s.supply["status"]),
    (METERING, 0x0205, "remaining_battery_life_days", T.uint16, 15 * 365),
    (METERING, 0x0206, "current_meter_id", T.octstr, lambda s: bytes(s.device.eui)),
    (METERING, 0x0300, "unit_of_measure", T.enum8, 1),  # m³, binary
    (METERING, 0x0301, "multiplier", T.uint24, 1),
    (METERING, 0x0302, "divisor", T.uint24, 1000),  # the register counts litres
    (METERING, 0x0307, "site_id", T.octstr, b""),
    (METERING, 0x0607, "supply_tamper_state", T.enum8, 0),
    (METERING, 0x0608, "supply_depletion_state", T.enum8, 0),
    *((METERING, 0x0700 + block, f"current_no_tier_block{block + 1}_summation_delivered", T.uint48, _block(block + 1))
      for block in range(4)),  # fmt: skip
    (METERING, 0x0A00, "bill_to_date", T.uint32, 0),
    (METERING, 0x0B10, "uncontrolled_flow_threshold", T.uint16, 0),
    (METERING, 0x0B11, "uncontrolled_flow_unit_of_measure", T.enum8, 1),
    (METERING, 0x0B12, "uncontrolled_flow_multiplier", T.uint16, 1),
    (METERING, 0x0B13, "uncontrolled_flow_divisor", T.uint16, 1),
    (METERING, 0x0B14, "flow_stabilisation_period", T.uint8, 0),
    (METERING, 0x0B15, "flow_measurement_period", T.uint16, 0),
    # Prepayment (ZSE D.7.2.2): money in int32/uint32, the configuration a 16-bit bitmap.
    (PREPAYMENT, 0x0000, "payment_control_configuration", T.map16, _prepayment("payment_control_configuration")),
    (PREPAYMENT, 0x0001, "credit_remaining", T.int32, _prepayment("credit_remaining")),
    (PREPAYMENT, 0x0002, "emergency_credit_remaining", T.int32, _prepayment("emergency_credit_remaining")),
    (PREPAYMENT, 0x0005, "accumulated_debt", T.int32, _prepayment("accumulated_debt")),
    (PREPAYMENT, 0x0006, "overall_debt_cap", T.int32, 0),
    (PREPAYMENT, 0x0010, "emergency_credit_limit", T.uint32, 0),
    (PREPAYMENT, 0x0011, "emergency_credit_threshold", T.uint32, 0),
    (PREPAYMENT, 0x0021, "max_credit_limit", T.uint32, 0),
    (PREPAYMENT, 0x0022, "max_credit_per_top_up", T.uint32, 0),
    (PREPAYMENT, 0x0031, "low_credit_warning_level", T.uint32, 0),
    (PREPAYMENT, 0x0040, "cut_off_value", T.int32, _prepayment("cut_off_value")),
    (PREPAYMENT, 0x0211, "debt_amount1", T.uint32, _debt(0)),
    (PREPAYMENT, 0x0216, "debt_recovery_frequency1", T.enum8, 0),
    (PREPAYMENT, 0x0217, "debt_recovery_amount1", T.uint32, 0),
    (PREPAYMENT, 0x0221, "debt_amount2", T.uint32, _debt(1)),
    (PREPAYMENT, 0x0226, "debt_recovery_frequency2", T.enum8, 0),
    (PREPAYMENT, 0x0227, "debt_recovery_amount2", T.uint32, 0),
    (PREPAYMENT, 0x0231, "debt_amount3", T.uint32, _debt(2)),
    (PREPAYMENT, 0x0239, "debt_recovery_top_up_percentage3", T.uint16, 0),
]

ATTRIBUTES: dict[tuple[int, int], AttributeDef] = {
    (cluster, attribute): AttributeDef(name, int(type_id), default) for cluster, attribute, name, type_id, default in _ROWS
}
