"""Every error the GBCS codec raises, in one tree.

::

    GbcsError
    ├── DecodeError  .offset .field      bytes from outside are wrong
    │   ├── Truncated                    the input ends inside a field
    │   ├── BadTag                       a fixed tag or length byte has the wrong value
    │   ├── BadLength                    a length disagrees with the bytes it describes
    │   ├── TrailingBytes                bytes left over after a complete message
    │   ├── BadDateTime                  a date-time no calendar has
    │   └── BadValue                     a field holds a value GBCS does not allow
    ├── EncodeError                      our own values cannot be encoded
    ├── UnknownMessageCode               no use case has this message code
    ├── KeyStoreError                    a key store cannot be read or lacks a key
    ├── ReassemblyError                  blocks of a General Block Transfer do not fit together
    ├── CertificateError                 a certificate is off-profile, untrusted or out of date
    └── CryptoError                      a cryptographic check failed
        └── AuthenticationFailed         a GCM tag (MAC or encrypted block) does not verify

The contract of ``gbcs.decode`` and every other ``decode_*``: given bytes from outside, it
returns a value or raises ``DecodeError``. Any other exception is a bug (a fuzz test holds
us to it). ``offset`` counts bytes from the start of the input handed to the decoder.
"""

from __future__ import annotations

__all__ = [
    "AuthenticationFailed",
    "BadDateTime",
    "BadLength",
    "BadTag",
    "BadValue",
    "CertificateError",
    "CryptoError",
    "DecodeError",
    "EncodeError",
    "GbcsError",
    "KeyStoreError",
    "ReassemblyError",
    "TrailingBytes",
    "Truncated",
    "UnknownMessageCode",
]


class GbcsError(Exception):
    """Base of every error raised by the ``gbcs`` package."""


class DecodeError(GbcsError):
    """Bytes from outside are not a valid GBCS message.

    Attributes:
        offset: byte offset, from the start of the decoded input, where the fault was found.
        field: the name of the field being read (GBCS terms, as in the primer).
        reason: what is wrong, in words.
    """

    def __init__(self, reason: str, *, offset: int, field: str) -> None:
        super().__init__(f"{field} at byte {offset}: {reason}")
        self.reason = reason
        self.offset = offset
        self.field = field

    def shifted(self, by: int) -> DecodeError:
        """The same error with its offset moved by ``by`` bytes (for nested decoders)."""
        copy = type(self)(self.reason, offset=self.offset + by, field=self.field)
        copy.__cause__ = self.__cause__
        return copy


class Truncated(DecodeError):
    """The input ends before a field it announces."""


class BadTag(DecodeError):
    """A tag or fixed length byte is not the one GBCS prescribes at this place."""


class BadLength(DecodeError):
    """A length field disagrees with the bytes it describes."""


class TrailingBytes(DecodeError):
    """Bytes follow a complete message."""


class BadDateTime(DecodeError):
    """A date-time field holds an impossible date or time."""


class BadValue(DecodeError):
    """A field holds a value outside the range GBCS allows."""


class EncodeError(GbcsError):
    """Values handed to an encoder cannot form a valid GBCS message."""


class UnknownMessageCode(GbcsError):
    """No use case in the catalogue has this message code."""

    def __init__(self, message_code: int) -> None:
        super().__init__(f"unknown message code 0x{message_code:04X}")
        self.message_code = message_code


class KeyStoreError(GbcsError):
    """A key store cannot be read, or does not hold a key that is needed."""


class ReassemblyError(GbcsError):
    """Blocks of a General Block Transfer contradict each other or exceed the set limits."""


class CryptoError(GbcsError):
    """A cryptographic operation failed."""


class AuthenticationFailed(CryptoError):
    """An AES-GCM tag (a MAC or the tag of an encrypted block) does not verify."""


class CertificateError(GbcsError):
    """A certificate is outside the SMKI profiles, or its path or validity does not check."""
