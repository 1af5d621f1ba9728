"""A device's lifecycle, as one table (Rule: every lifecycle change goes through ``TRANSITIONS``).

GBCS's device states, as far as the emulator tracks them: a device leaves the factory
pre-installed; joined on site without a WAN it is installed-not-commissioned; with the WAN
and the supplier's commissioning it is commissioned; it can be decommissioned, and a
returned device is reset for redeployment, which erases its consumer data and makes it
pre-installed again. An event the table does not list for the current state raises
``IllegalTransition`` and changes nothing.
"""

from __future__ import annotations

from enum import Enum
from typing import Final

from ..errors import CommandRejected

__all__ = ["TRANSITIONS", "Event", "IllegalTransition", "Lifecycle", "next_state"]


class Lifecycle(str, Enum):
    PRE_INSTALLED = "pre-installed"
    INSTALLED_NOT_COMMISSIONED = "installed-not-commissioned"
    COMMISSIONED = "commissioned"
    DECOMMISSIONED = "decommissioned"
    RETURNED = "returned"


class Event(str, Enum):
    INSTALLED = "installed"  # joined the HAN on site
    COMMISSIONED = "commissioned"  # reached over the WAN and commissioned by the supplier
    DECOMMISSIONED = "decommissioned"
    RETURNED = "returned"  # taken off site
    RESET_FOR_REDEPLOYMENT = "reset-for-redeployment"  # erases consumer data


TRANSITIONS: Final = {
    (Lifecycle.PRE_INSTALLED, Event.INSTALLED): Lifecycle.INSTALLED_NOT_COMMISSIONED,
    (Lifecycle.INSTALLED_NOT_COMMISSIONED, Event.COMMISSIONED): Lifecycle.COMMISSIONED,
    (Lifecycle.COMMISSIONED, Event.DECOMMISSIONED): Lifecycle.DECOMMISSIONED,
    (Lifecycle.INSTALLED_NOT_COMMISSIONED, Event.RETURNED): Lifecycle.RETURNED,
    (Lifecycle.COMMISSIONED, Event.RETURNED): Lifecycle.RETURNED,
    (Lifecycle.DECOMMISSIONED, Event.RETURNED): Lifecycle.RETURNED,
    (Lifecycle.RETURNED, Event.RESET_FOR_REDEPLOYMENT): Lifecycle.PRE_INSTALLED,
}


class IllegalTransition(CommandRejected):
    event = "illegal-transition"
    security = False


def next_state(state: str, event: Event) -> Lifecycle:
    """The state ``event`` leads to from ``state``.

    Raises:
        IllegalTransition: the table has no such transition.
    """
    try:
        return TRANSITIONS[Lifecycle(state), event]
    except (KeyError, ValueError):
        raise IllegalTransition(f"a device {state} cannot be {event.value}") from None
