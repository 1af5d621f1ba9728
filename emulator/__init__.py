"""smets-emu's emulator: device firmware models, the simulated HAN and SMWAN, and the CLI.

The main entry points::

    premises = Premises.create(Store("premises.sqlite"), VirtualClock(), PkiStore.open("pki"))
    premises.commission()
    premises.send(command_bytes)          # a GBCS command from the WAN
    premises.clock.advance(timedelta(seconds=1))
    premises.wan_outbox()                 # what the premises sends back
"""

from .clock import RealClock, ScaledClock, VirtualClock
from .pki_store import PkiStore
from .premises import Premises, PremisesConfig
from .store import Store

__all__ = ["PkiStore", "Premises", "PremisesConfig", "RealClock", "ScaledClock", "Store", "VirtualClock"]
