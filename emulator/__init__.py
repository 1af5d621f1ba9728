"""smets-emu's emulator: device firmware models, the simulated HAN and SMWAN, and the CLI.

The main entry points::

    premises = Premises.create(Store("premises.sqlite"), VirtualClock(), PkiStore.open("pki"))
    premises.commission()
    premises.send(command_bytes)          # a GBCS command from the WAN
    premises.clock.advance(timedelta(seconds=1))
    premises.wan_outbox()                 # what the premises sends back

On the SMWAN (a broker; ``smets-emu run`` in code)::

    site = Site.open(SiteConfig(premises=3))      # hubs on the SMWAN, from a state directory
    asyncio.create_task(site.run(broker))
    async with HeadEnd(site.pki.keystore()).connect(broker) as head_end:
        reply = await head_end.send(hub, "ECS17b", meter)   # built, signed, sent, verified
"""

from .clock import RealClock, ScaledClock, VirtualClock
from .headend import HeadEnd
from .pki_store import PkiStore
from .premises import Premises, PremisesConfig
from .site import Site, SiteConfig
from .store import Store
from .wan import Broker, WanHeadEnd

__all__ = ["Broker", "HeadEnd", "PkiStore", "Premises", "PremisesConfig", "RealClock", "ScaledClock", "Site", "SiteConfig",
           "Store", "VirtualClock", "WanHeadEnd"]
