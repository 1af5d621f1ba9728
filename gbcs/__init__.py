"""gbcs: a sans-IO codec for GBCS, the Great Britain Companion Specification of SMETS2.

Bytes in, typed values out, and back, byte for byte::

    frame = gbcs.decode(data)               # raises gbcs.errors.DecodeError, nothing else
    assert gbcs.encode(frame) == data
    verdict = gbcs.verify(frame, keystore)  # signature and MAC: valid/invalid/absent/no-key

No networking, no clocks, no hidden file reads: key stores are loaded explicitly
(``InMemoryKeyStore.from_directory``).
"""

from . import errors
from .blocks import Reassembler, segment
from .catalogue import UseCase, use_case
from .frame import Block, Form, Frame, OtherInformation, decode, encode
from .keystore import InMemoryKeyStore, KeyStore, KeyUsage
from .security import Check, Verdict, add_mac, sign, verify
from .types import EUI64, Cra, DlmsDateTime

__all__ = [
    "Block",
    "Check",
    "Cra",
    "DlmsDateTime",
    "EUI64",
    "Form",
    "Frame",
    "InMemoryKeyStore",
    "KeyStore",
    "KeyUsage",
    "OtherInformation",
    "Reassembler",
    "UseCase",
    "Verdict",
    "add_mac",
    "decode",
    "encode",
    "errors",
    "segment",
    "sign",
    "use_case",
    "verify",
]
