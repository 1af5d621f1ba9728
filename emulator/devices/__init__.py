"""Device types, one firmware per file, and the executor each uses for its commands."""

from gbcs.types import DeviceType

from ..firmware.command import Executor
from ..firmware.executors import device_executor
from . import chf, esme, gas

EXECUTORS: dict[DeviceType, Executor] = {
    DeviceType.CHF: chf.execute,
    DeviceType.ESME: esme.execute,
    # ZigBee devices: the shared DER use cases until their ZCL (GBZ) use cases arrive.
    DeviceType.GSME: device_executor("GSME", own=gas.GSME_USE_CASES, gbz=gas.answer_gbz_commands),
    DeviceType.GPF: device_executor("GPF"),
    DeviceType.PPMID: device_executor("PPMID"),
    DeviceType.HCALCS: device_executor("HCALCS"),
}
