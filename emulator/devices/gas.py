"""The gas side: the battery-powered GSME and its Gas Proxy Function (GPF) in the hub.

The GSME sleeps. It wakes every ``gsme_wake_interval``, collects what waits for it at the
hub (its GBCS commands among them), and reports its metering attributes to the GPF's mirror
with a ZCL Report Attributes frame, so the GPF can answer reads at once while the GSME
sleeps. What the GPF holds is as fresh as the GSME's last successful wake; a GSME out of
range leaves it stale, as in the field.

The GSME's consumption is a register here (``gsme.metering``); the meters' firmware issue
brings its load model and the GBZ use cases that read it.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from zigpy.zcl import foundation
from zigpy.zcl.clusters import smartenergy

from gbcs.der import decode_der, encode_der_value
from gbcs.errors import DecodeError
from gbcs.gbz import (
    LAST,
    DefaultResponse,
    GbzComponent,
    GbzPayload,
    ZclCommand,
    decode_gbz,
    encode_gbz,
)
from gbcs.types import Cra
from gbcs.zcl_se import Direction as ZclDirection

from ..errors import BadContent, LinkDown, Unsupported
from ..firmware.command import Command
from ..firmware.device import Device
from ..han.node import HanNode
from ..han.transport import HanFrame
from ..store import Store, Transaction

__all__ = ["GSME_USE_CASES", "GasProxyMirror", "answer_gbz_commands", "gsme_consumes", "gsme_reports", "mirror_of",
           "set_clock"]

CURRENT_SUMMATION_DELIVERED = 0x0000  # ZSE Metering attribute, uint48


def gsme_consumes(store: Store, gsme: Device, volume: int) -> None:
    """The gas meter registers ``volume`` more (in its unit of measure's least digit)."""
    with store.transaction() as tx:
        metering = tx.register(gsme.eui, "gsme.metering", {"current_summation_delivered": 0})
        metering["current_summation_delivered"] += volume
        tx.set_register(gsme.eui, "gsme.metering", metering)


def gsme_reports(store: Store, gsme: Device, node: HanNode, gpf: bytes) -> bool:
    """On waking, the GSME reports its metering attributes to the GPF mirror; False when the
    hub cannot be reached."""
    metering = store.read().register(gsme.eui, "gsme.metering", {"current_summation_delivered": 0})
    try:
        node.report(gpf, smartenergy.Metering, {
            CURRENT_SUMMATION_DELIVERED: (foundation.DataTypeId.uint48, metering["current_summation_delivered"])})  # fmt: skip
    except LinkDown:
        return False
    return True


class GasProxyMirror:
    """The GPF's mirror of its GSME: it keeps what the GSME last reported, and when."""

    def __init__(self, gpf: Device, node: HanNode, store: Store, gsme: bytes) -> None:
        self.gpf, self.store, self.gsme = gpf, store, gsme
        node.handle(smartenergy.Metering.cluster_id, self._report)

    def _report(self, frame: HanFrame, name: str, fields: Any) -> None:
        if name != "report_attributes" or frame.source != self.gsme:
            return
        with self.store.transaction() as tx:
            mirror = tx.register(self.gpf.eui, "gpf.mirror", {})
            if CURRENT_SUMMATION_DELIVERED in fields:
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
    return encode_der_value(0x007F, Cra.RESPONSE, {"deviceTime": device.now.replace(microsecond=0),
                                                   "deviceTimeStatus": "reliable" if reliable else "unreliable"})  # fmt: skip


GSME_USE_CASES = {"GCS28": set_clock}


ZCL_FAULTS = "zcl.faults"  # register: {"<cluster>.<command id>": ZCL status}


def inject_zcl_fault(tx: Transaction, device: Device, cluster_id: int, command_id: int, status: int) -> None:
    """Make a ZCL command answer ``status`` (a ZCL failure status) instead of success."""
    faults = tx.register(device.eui, ZCL_FAULTS, {})
    faults[f"{cluster_id:04X}.{command_id:02X}"] = status
    tx.set_register(device.eui, ZCL_FAULTS, faults)


def answer_gbz_commands(device: Device, tx: Transaction, command: Command) -> bytes:
    """The GSME's answer to a GBZ command whose components are all commands a remote party
    sends to the meter (publish a tariff, change payment mode, adjust credit …): each is kept
    as sent and acknowledged with a ZCL Default Response, success, in its component's order
    (RTDS: GCS07's display message is answered so). Reads and "get" commands need the meter's
    values, and encrypted components its keys: those are the meters' next step. A command a
    test lab made fail on purpose (``inject_zcl_fault``) is answered with its failure status and
    not kept."""
    try:
        payload = decode_gbz(command.frame.content, Cra.COMMAND, command.frame.other_information.message_code)
    except DecodeError as error:
        raise BadContent(f"payload: {error}") from None
    if not isinstance(payload, GbzPayload) or not payload.components:
        raise BadContent("not a GBZ command payload")
    answers = []
    faults = tx.register(device.eui, ZCL_FAULTS, {})
    for index, component in enumerate(payload.components):
        zcl = component.command
        if component.is_encrypted or zcl.is_global or zcl.direction is not ZclDirection.SERVER_TO_CLIENT:
            raise Unsupported(f"{command.use_case.label}: {zcl.name or hex(zcl.command_id)} is not served by the GSME yet")
        status = faults.get(f"{component.cluster_id:04X}.{zcl.command_id:02X}", 0)
        if status == 0:
            tx.set_register(device.eui, f"zcl.{component.cluster_id:04X}.{zcl.name or zcl.command_id}",
                            {"at": device.now.isoformat(), "payload": command.frame.content.hex()})  # fmt: skip
        last = index == len(payload.components) - 1
        answers.append(GbzComponent(control=LAST if last else 0, cluster_id=component.cluster_id,
                                    command=ZclCommand(frame_control=0x00, sequence=zcl.sequence, command_id=0x0B,
                                                       name="default_response",
                                                       value=DefaultResponse(command_id=zcl.command_id, status=status))))  # fmt: skip
    return encode_gbz(GbzPayload(tuple(answers)))
