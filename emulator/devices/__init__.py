"""Device types, one firmware per file, and the executor each uses for its commands."""

from gbcs.types import DeviceType

from ..firmware.command import Executor
from ..firmware.executors import device_executor
from . import chf, esme, gas

EXECUTORS: dict[DeviceType, Executor] = {
    DeviceType.CHF: chf.execute,
    DeviceType.ESME: esme.execute,
    # ZigBee devices: their ZCL (GBZ) use cases, their own and the shared DER use cases.
    DeviceType.GSME: device_executor("GSME", own=gas.GSME_USE_CASES, gbz=gas.answer_gbz_commands),
    DeviceType.GPF: device_executor("GPF", gbz=gas.answer_gpf_gbz),
    DeviceType.PPMID: device_executor("PPMID"),
    DeviceType.HCALCS: device_executor("HCALCS"),
}
