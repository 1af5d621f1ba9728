"""What the radio bridge and the simulated radio share about frames and addresses.

The emulator writes EUI-64s in GBCS order (most significant byte first, ``gbcs.types.EUI64``);
zigpy keeps them least significant byte first (``zigpy.types.EUI64``, as on air)."""

from __future__ import annotations

from typing import Final

import zigpy.types as t

from gbcs.types import EUI64

__all__ = ["KEY_ESTABLISHMENT", "gbcs_eui", "zcl_tsn", "zigpy_eui"]

KEY_ESTABLISHMENT: Final = 0x0800  # the one Smart Energy cluster secured at the network layer only (ZSE)


def zigpy_eui(eui: bytes) -> t.EUI64:
    """GBCS order to zigpy's."""
    return t.EUI64(bytes(eui)[::-1])


def gbcs_eui(ieee: t.EUI64) -> EUI64:
    """zigpy's order to GBCS order."""
    return EUI64(bytes(ieee)[::-1])


def zcl_tsn(payload: bytes) -> int:
    """A ZCL frame's transaction sequence number: after the frame control, and after the
    manufacturer code when the frame control says there is one (0 for a frame too short)."""
    index = 3 if payload and payload[0] & 0x04 else 1
    return payload[index] if len(payload) > index else 0
