"""Errors of the emulator, in one tree (the codec's own are in ``gbcs/errors.py``).

::

    EmulatorError
    ├── ConfigError          a configuration file or option is wrong: the user's to fix
    ├── StoreError           a store on disk cannot be read, written or trusted (permissions,
    │                        missing files, an existing store in the way)
    ├── CommandRejected      .event .alert_code .response: a device refused a command; it is
    │   │                    logged in the security (or event) log, then answered with
    │   │                    ``response`` or, where that is None, not answered
    │   ├── Malformed            the frame does not decode, or is not a command
    │   ├── WrongRecipient       addressed to another device
    │   ├── UnknownUseCase       a message code no use case has, or not one for this device type
    │   ├── UntrustedOriginator  no trust anchor cell holds the originator
    │   ├── BadSignature         missing where required, invalid, or its certificate out of date
    │   ├── BadMac               missing where required, invalid, or no key to check it
    │   ├── Replayed             the counter does not exceed the last one accepted from the party
    │   ├── WrongRole            the party's role may not send this use case
    │   ├── BadContent           the payload does not decode or fails its checks (alert 8F1E)
    │   ├── Unsupported          a valid command this device model does not implement yet
    │   └── DeviceFault          the device itself failed (its store, or a firmware bug)
    └── TransportError       a HAN or WAN transport cannot carry a frame
        ├── TransportClosed      we closed it
        └── LinkDown             the peer, radio or broker cannot be reached

Each message names the file or option at fault and, where there is one, the fix. Alert codes
are GBCS's (primer §9.4); which rejection carries which code is our reading of the primer
(§12 "Anti-replay", marked there as unverified): 8F3D trusted-source authentication failure,
8F53 other authentication/authorisation failure, 8F30 originator not authorised, 8F1E
command failed content/format check. Every code goes in the security log; an alert is sent
only for refusals of authenticated frames (``authenticated``), at most one per code a minute,
so forged frames cannot spend a device's alert counters.
"""

from __future__ import annotations

__all__ = [
    "BadContent",
    "BadMac",
    "BadSignature",
    "CommandRejected",
    "ConfigError",
    "EmulatorError",
    "LinkDown",
    "Malformed",
    "NoResponse",
    "Replayed",
    "StoreError",
    "TransportClosed",
    "TransportError",
    "UnknownUseCase",
    "Unsupported",
    "DeviceFault",
    "UntrustedOriginator",
    "WrongRecipient",
    "WrongRole",
]


class EmulatorError(Exception):
    """Base of every error the emulator raises on purpose."""


class ConfigError(EmulatorError):
    """A configuration file or option is wrong."""


class StoreError(EmulatorError):
    """A store on disk cannot be read, written or trusted."""


class CommandRejected(EmulatorError):
    """A device refused a command.

    Attributes:
        event: the security-log event name.
        alert_code: the GBCS alert the refusal raises, or None.
        security: logged in the security log (True) or the event log (False).
        response: the frame to answer with, or None for silence.
    """

    event = "rejected"
    alert_code: int | None = None
    security = True
    authenticated = False  # refused after its signature or MAC checked: worth alerting about

    def __init__(self, detail: str, *, response: bytes | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.response = response


class Malformed(CommandRejected):
    event = "malformed"


class WrongRecipient(CommandRejected):
    event = "wrong-recipient"


class UnknownUseCase(CommandRejected):
    event = "unknown-use-case"
    alert_code = 0x8F1E


class UntrustedOriginator(CommandRejected):
    event = "untrusted-originator"
    alert_code = 0x8F3D


class BadSignature(CommandRejected):
    event = "bad-signature"
    alert_code = 0x8F3D


class BadMac(CommandRejected):
    event = "bad-mac"
    alert_code = 0x8F3D


class Replayed(CommandRejected):
    authenticated = True
    event = "replayed"
    alert_code = 0x8F53


class WrongRole(CommandRejected):
    authenticated = True
    event = "wrong-role"
    alert_code = 0x8F30


class BadContent(CommandRejected):
    authenticated = True
    event = "bad-content"
    alert_code = 0x8F1E


class Unsupported(CommandRejected):
    event = "unsupported"
    security = False


class TransportError(EmulatorError):
    """A HAN or WAN transport cannot carry a frame."""


class TransportClosed(TransportError):
    """We closed the transport; nothing more goes through it."""


class LinkDown(TransportError):
    """The peer, the radio or the broker cannot be reached (out of range, not joined, offline)."""


class NoResponse(TransportError):
    """A command went out and no response came back in time."""


class DeviceFault(CommandRejected):
    """The device could not process the command: its store failed, or its firmware has a
    bug. Nothing the command did is kept; the event log says what happened."""

    event = "device-fault"
    security = False
