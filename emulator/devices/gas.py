"""The gas side: the battery-powered GSME and its Gas Proxy Function (GPF) in the hub.

The GSME sleeps. It wakes every ``gsme_wake_interval``, collects what waits for it at the
hub (its GBCS commands among them), and reports its metering, valve and prepayment attributes
(``MIRRORED``) to the GPF's mirror with ZCL Report Attributes frames, so the GPF can answer
reads at once while the GSME sleeps. What the GPF holds is as fresh as the GSME's last successful wake; a GSME out of
range leaves it stale, as in the field.

The GSME's consumption comes from its gas load model (``gas_model``: a meter met in service,
plus what ``gsme_consumes`` injects on top); its ZCL server (reads, gets,
actions: ``gsme_zcl``, ``gsme_attributes``, ``gsme_logs``) answers GBZ commands from it, and the
GPF answers the same reads from its mirror.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from zigpy.zcl import foundation
from zigpy.zcl.clusters import smartenergy
from zigpy.zcl.foundation import Status

from gbcs.der import decode_der, encode_der_value
from gbcs.errors import DecodeError
from gbcs.gbz import GbzComponent
from gbcs.types import Cra

from ..errors import BadContent, LinkDown
from ..firmware.command import Command
from ..firmware.device import Device
from ..han.clusters import Prepayment
from ..han.node import HanNode
from ..han.transport import HanFrame
from ..store import Store, Transaction
from . import gas_model, gsme_activation, gsme_zcl
from .gsme_attributes import ATTRIBUTES, METERING, PREPAYMENT, GsmeState

__all__ = ["GSME_USE_CASES", "GasProxyMirror", "answer_gbz_commands", "arm_activations", "gsme_consumes", "gsme_reports", "mirror_of",
           "set_clock"]

CURRENT_SUMMATION_DELIVERED = 0x0000  # ZSE Metering attribute, uint48


def gsme_consumes(store: Store, gsme: Device, volume: int) -> None:
    """The gas meter registers ``volume`` more (litres, its register's least digit) now, on
    top of what its load model uses: the register, the half-hour profile and later snapshots
    all count it (``gas_model.add_consumption``)."""
    with store.transaction() as tx:
        gas_model.add_consumption(tx, gsme, volume, gsme.now)


# What the GSME reports to the GPF's mirror, by cluster: what the GPF answers reads of (GCS13a/b,
# GCS60a read through the GPF: the register, bill to date, the credit) and the rest of the
# GSME's prepayment and valve state a read through the GPF may ask (ZSE attribute ids).
MIRRORED = {
    METERING: (CURRENT_SUMMATION_DELIVERED, 0x0014, 0x0A00),  # register, supply status, bill to date
    PREPAYMENT: (0x0000, 0x0001, 0x0002, 0x0005, 0x0040, 0x0211, 0x0221, 0x0231),  # mode, credit, debts, cut-off
}
_REPORTED_BY = {METERING: smartenergy.Metering, PREPAYMENT: Prepayment}
GPF_MIRRORED = "gpf.mirror.attributes"  # register: {"CCCC.AAAA": value} as the GSME last reported it


def gsme_reports(store: Store, gsme: Device, node: HanNode, gpf: bytes) -> bool:
    """On waking, the GSME reports its ``MIRRORED`` attributes to the GPF mirror, a Report
    Attributes frame per cluster; False when the hub cannot be reached."""
    with store.transaction() as tx:  # configures the model on first use
        state = GsmeState.load(tx, gsme)
        reports = {cluster: {attribute: (foundation.DataTypeId(ATTRIBUTES[(cluster, attribute)].type_id),
                                         state.value(cluster, attribute)) for attribute in attributes}
                   for cluster, attributes in MIRRORED.items()}  # fmt: skip
    try:
        for cluster, attributes in reports.items():
            node.report(gpf, _REPORTED_BY[cluster], attributes)
    except LinkDown:
        return False
    return True


class GasProxyMirror:
    """The GPF's mirror of its GSME: it keeps what the GSME last reported, and when (register
    ``gpf.mirror``), and every ``MIRRORED`` attribute as ``"CCCC.AAAA"`` (``GPF_MIRRORED``)."""

    def __init__(self, gpf: Device, node: HanNode, store: Store, gsme: bytes) -> None:
        self.gpf, self.store, self.gsme = gpf, store, gsme
        for cluster in MIRRORED:
            node.handle(cluster, self._report)

    def _report(self, frame: HanFrame, name: str, fields: Any) -> None:
        if name != "report_attributes" or frame.source != self.gsme or frame.cluster_id not in MIRRORED:
            return
        with self.store.transaction() as tx:
            mirror = tx.register(self.gpf.eui, "gpf.mirror", {})
            attributes = tx.register(self.gpf.eui, GPF_MIRRORED, {})
            for attribute in MIRRORED[frame.cluster_id]:
                if attribute in fields:
                    attributes[f"{frame.cluster_id:04X}.{attribute:04X}"] = int(fields[attribute])
            tx.set_register(self.gpf.eui, GPF_MIRRORED, attributes)
            if frame.cluster_id == METERING and CURRENT_SUMMATION_DELIVERED in fields:
                mirror["current_summation_delivered"] = int(fields[CURRENT_SUMMATION_DELIVERED])
            mirror["updated"] = self.gpf.now.isoformat()
            tx.set_register(self.gpf.eui, "gpf.mirror", mirror)


def mirror_of(store: Store, gpf: bytes) -> dict[str, Any]:
    """What the GPF holds of its GSME (empty until the first report)."""
    mirror = store.read().register(gpf, "gpf.mirror", {})
    if "updated" in mirror:
        mirror["updated"] = datetime.fromisoformat(mirror["updated"])
    return mirror


def set_clock(device: Device, tx: Transaction, command: Command) -> bytes:
    """GCS28, set clock (GSME): the GSME takes the hub's time if it lies inside the command's
    validity interval, and answers with its time and whether it is reliable (our reading of
    RTDS: the success case answers the interval's start, reliable; the error case another
    time, unreliable)."""
    try:
        request = decode_der(command.frame.content, 0x007F, Cra.COMMAND)
        start, end = (datetime.strptime(request.child(name).value, "%Y%m%d%H%M%SZ").replace(tzinfo=timezone.utc)
                      for name in ("validityIntervalStart", "validityIntervalEnd"))  # fmt: skip
    except (DecodeError, ValueError) as error:
        raise BadContent(f"payload: {error}") from None
    hub_now = device.clock.now()
    reliable = start <= hub_now <= end
    if reliable:
        device.set_time(tx, hub_now)
    tx.set_register(device.eui, CLOCK_RELIABLE, reliable)
    return encode_der_value(0x007F, Cra.RESPONSE, {"deviceTime": device.now.replace(microsecond=0),
                                                   "deviceTimeStatus": "reliable" if reliable else "unreliable"})  # fmt: skip


GSME_USE_CASES = {"GCS28": set_clock}


# Gas register reads, whose responses' date-time says where its time came from and whether it
# is trustworthy in the DLMS clock-status bits (primer §5; RTDS GCS13a/b, GCS60a): 00 reliable,
# 02 doubtful (the GSME's clock unreliable), 04 different clock base (the GPF's answer from
# what the GSME reported). Every other response says FF, not specified.
GAS_REGISTER_READS = frozenset({"GCS13a", "GCS13b", "GCS13c", "GCS14", "GCS60a"})
CLOCK_RELIABLE = "gsme.clock_reliable"  # register: False once a GCS28 found the hub's time invalid
RELIABLE, DOUBTFUL, DIFFERENT_CLOCK_BASE = 0x00, 0x02, 0x04


def answer_gbz_commands(device: Device, tx: Transaction, command: Command) -> bytes:
    """The GSME's answer to a GBZ command (``gsme_zcl``: reads, gets, actions, publishes); a
    gas register read states whether the GSME's clock is reliable (``GAS_REGISTER_READS``)."""
    if command.use_case.name in GAS_REGISTER_READS:
        reliable = tx.register(device.eui, CLOCK_RELIABLE, True)
        command.response["clock_status"] = RELIABLE if reliable else DOUBTFUL
    return gsme_zcl.answer_gbz(device, tx, command)


inject_zcl_fault = gsme_zcl.inject_zcl_fault
arm_activations = gsme_activation.arm  # after a restart: the GSME's kept future-dated components


def recorded_failures(component: GbzComponent) -> list[tuple[int | None, int]]:
    """The failures a recorded GBZ answer component reports, as (attribute id or None, ZCL
    status): a Default Response's failure status (not FAILURE for command FF, the answer to a
    component never executed), a read record's failure status, or a ZSE response in its
    failure form (Start Sampling Response id FFFF, Clear Event Log Response clearing none)."""
    zcl, value = component.command, component.command.value
    if value is None:
        return []
    if zcl.name == "default_response":
        if value.status in (Status.SUCCESS, Status.NOT_FOUND) or (value.command_id == 0xFF and value.status == Status.FAILURE):
            return []
        return [(None, int(value.status))]
    if zcl.name == "read_attributes_response":
        return [(r.attribute_id, r.status) for r in value if r.status not in (Status.SUCCESS, Status.UNSUPPORTED_ATTRIBUTE)]
    if (zcl.name == "start_sampling_response" and value.sample_id == 0xFFFF) or (
            zcl.name == "clear_event_log_response" and int(value.cleared_event_logs) == 0):  # fmt: skip
        return [(None, int(Status.HARDWARE_FAILURE))]
    return []


def answer_gpf_gbz(device: Device, tx: Transaction, command: Command) -> bytes:
    """The GPF's answer to a GBZ command (GCS13a/b, GCS60a, GCS09 to the GPF): at once, from
    its mirror of the GSME, in the GSME's attribute model. The mirror holds the consumption,
    valve and prepayment attributes the GSME last reported (``GasProxyMirror``; before any
    report the consumption reads 0); what the GSME does not report is the GPF's own copy of the
    GSME's settings, from factory values."""
    mirror = tx.register(device.eui, "gpf.mirror", {})
    metering = {"current_summation_delivered": int(mirror.get("current_summation_delivered", 0))}
    if command.use_case.name in GAS_REGISTER_READS:  # its own clock, or the GSME's report's
        command.response["clock_status"] = DIFFERENT_CLOCK_BASE if "updated" in mirror else RELIABLE
    return gsme_zcl.answer_gbz(device, tx, command, metering=metering, mirrored=tx.register(device.eui, GPF_MIRRORED, {}))
