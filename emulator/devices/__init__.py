"""Device types, one firmware per file, and the executor each uses for its commands."""

from gbcs.types import DeviceType

from ..firmware.command import Executor
from . import chf, esme

EXECUTORS: dict[DeviceType, Executor] = {
    DeviceType.CHF: chf.execute,
    DeviceType.ESME: esme.execute,
}
