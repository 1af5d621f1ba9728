"""The checks certified firmware makes on a command, one function each, named by GBCS term.

Each ``check_*`` raises a ``CommandRejected`` subclass (``emulator/errors.py``) or returns what
it established. ``command.process_command`` calls them in order; the order lives there only.
"""

from __future__ import annotations

from cryptography import x509

import gbcs
from gbcs import security
from gbcs.catalogue import Protection, UseCase, use_case
from gbcs.errors import DecodeError, UnknownMessageCode
from gbcs.frame import Frame
from gbcs.security import Check
from gbcs.types import Cra, Role

from ..errors import (
    BadMac,
    BadSignature,
    Malformed,
    Replayed,
    UnknownUseCase,
    UntrustedOriginator,
    WrongRecipient,
    WrongRole,
)
from ..store import Transaction
from .device import Device, TrustAnchorCell
from .joins import han_device_log

__all__ = [
    "check_anti_replay",
    "check_mac",
    "check_recipient",
    "check_role",
    "check_signature",
    "decode_command",
    "use_case_of",
]


def decode_command(data: bytes) -> Frame:
    """The command frame in ``data``.

    Raises:
        Malformed: it does not decode, is a block of a transfer (reassembled before this), or
            is not a command.
    """
    try:
        frame = gbcs.decode(data)
    except DecodeError as error:
        raise Malformed(f"{type(error).__name__}: {error}") from None
    if not isinstance(frame, Frame):
        raise Malformed("a General Block Transfer block: reassemble the command first")
    if frame.cra is not Cra.COMMAND:
        raise Malformed(f"a {frame.cra.name.lower()}, not a command")
    if not frame.signature_element:
        raise Malformed("a pre-command (no signature element): the ACB signs commands before they reach a device")
    return frame


def use_case_of(device: Device, frame: Frame) -> UseCase:
    """The use case the message code names, if this device type takes it.

    Raises:
        UnknownUseCase: no use case has the code, or it does not target this device type.
    """
    code = frame.other_information.message_code
    try:
        case = use_case(code)
    except UnknownMessageCode:
        raise UnknownUseCase(f"message code 0x{code:04X} names no use case") from None
    if case.devices and device.identity.device_type not in case.devices:
        raise UnknownUseCase(f"{case.label} is not a use case of a {device.identity.device_type.name}")
    return case


def check_recipient(device: Device, frame: Frame) -> None:
    """Raises ``WrongRecipient`` unless the business target is this device."""
    if frame.recipient != device.eui:
        raise WrongRecipient(f"addressed to {frame.recipient}, not to {device.eui}")


def _required(case: UseCase, protection: Protection) -> bool:
    """Whether the use case's command must carry ``protection``: every variant RTDS shows
    carries it, or, failing closed, the catalogue shows none (then both are required), or the
    use case is critical (then the remote party signs)."""
    variants = case.protection.get(Cra.COMMAND, ())
    if not variants:
        return True
    if protection is Protection.SIGNATURE and case.critical:
        return True
    return all(protection in variant for variant in variants)


def check_signature(device: Device, frame: Frame, case: UseCase) -> TrustAnchorCell:
    """Find the originator's trust anchor cell and check the signature against it, at the
    device's clock.

    Returns:
        the originator's cell.

    Raises:
        UntrustedOriginator: no cell holds the originator.
        BadSignature: required and absent, invalid, or made with a certificate out of date.
    """
    cell = device.cell_of(frame.originator) or _han_peer(device, frame, case)
    if cell is None:
        raise UntrustedOriginator(f"{frame.originator} is in no trust anchor cell")
    if frame.signature is None:
        if _required(case, Protection.SIGNATURE):
            raise BadSignature(f"{case.label} commands must be signed")
        return cell
    result = security.check_signature(frame, device.keystore(), at=device.now)
    if result is not Check.VALID:
        reason = {Check.INVALID: "does not verify", Check.UNTRUSTED: "was made with a certificate out of date",
                  Check.NO_KEY: f"cannot be checked: the {cell.role.name} cell holds no signature key"}  # fmt: skip
        raise BadSignature(f"signature of {frame.originator} {reason.get(result, result.value)}")
    return cell


def _han_peer(device: Device, frame: Frame, case: UseCase) -> TrustAnchorCell | None:
    """A device that may command this one over the HAN (a PPMID topping up a GSME, primer
    §14.10): the use case has no remote-party roles, and the originator is on this device's
    device log with its key-agreement certificate (a Method C join). It stands in a cell of
    role OTHER holding that certificate."""
    if case.originator_roles:
        return None
    for entry in han_device_log(device.store.read(), device):
        if entry["eui"] == str(frame.originator) and entry.get("ka_certificate"):
            certificate = x509.load_der_x509_certificate(bytes.fromhex(entry["ka_certificate"]))
            return TrustAnchorCell(Role.OTHER, frame.originator, None, certificate)
    return None


def check_mac(device: Device, frame: Frame, case: UseCase, cell: TrustAnchorCell | None = None) -> bool:
    """Check the MAC (the Access Control Broker's, for commands from remote parties).

    Returns:
        whether the ECDH secret came from ``device.peer_private_keys`` (replay of RTDS, whose
        devices have no key-agreement private key), not from the device's own key.

    Raises:
        BadMac: required and absent, invalid, out of date, or no key to check it with.
    """
    if frame.mac is None:
        if _required(case, Protection.MAC):
            raise BadMac(f"{case.label} commands must carry a MAC")
        return False
    keystore, broker = device.keystore(), None
    if cell is not None and cell.role is Role.OTHER and cell.ka is not None:
        keystore = device.keystore_with_peer(cell.party, cell.ka)  # MACed by the peer device itself
    else:
        broker_cell = device.cells.get(Role.ACCESS_CONTROL_BROKER)
        if broker_cell is None:
            raise BadMac("no Access Control Broker cell to check the MAC with")
        broker = broker_cell.party
    result = security.check_mac(frame, keystore, broker=broker, at=device.now)
    from_peer = False
    if result is Check.NO_KEY and device.peer_private_keys is not None:
        result = security.check_mac(frame, device.peer_private_keys, broker=broker, at=device.now)
        from_peer = True
    if result is not Check.VALID:
        reason = {Check.INVALID: "does not verify", Check.UNTRUSTED: "relies on a certificate out of date",
                  Check.NO_KEY: "cannot be checked: no key-agreement private key"}  # fmt: skip
        raise BadMac(f"MAC {reason.get(result, result.value)}")
    return from_peer


def check_anti_replay(tx: Transaction, device: Device, frame: Frame) -> int | None:
    """The originator counter must exceed the last one accepted from that party; it is
    stored in ``tx`` (committed with the response, rolled back with a rejection).

    Returns:
        the last counter accepted before this one, or None.

    Raises:
        Replayed: it does not.
    """
    last = tx.last_counter(device.eui, frame.originator)
    if last is not None and frame.originator_counter <= last:
        raise Replayed(f"counter {frame.originator_counter} from {frame.originator} does not exceed {last}")
    tx.accept_counter(device.eui, frame.originator, frame.originator_counter)
    return last


def check_role(cell: TrustAnchorCell, case: UseCase) -> None:
    """The originator's role must be one the catalogue allows for the use case.

    Raises:
        WrongRole: it is not.
    """
    if not case.originator_roles:
        if cell.role is Role.OTHER:
            return  # a HAN peer: use cases without remote-party roles are theirs (_han_peer)
        raise WrongRole(f"the catalogue names no remote party role that may send {case.label}")
    if cell.role not in case.originator_roles:
        allowed = ", ".join(sorted(role.name for role in case.originator_roles))
        raise WrongRole(f"{cell.role.name} may not send {case.label}; allowed: {allowed}")
