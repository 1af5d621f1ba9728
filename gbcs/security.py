"""Which keys and which bytes: GBCS signatures and MACs on whole frames (primer §8.2, §8.4).

``verify`` checks a decoded frame against a key store and says, for the signature and the
MAC, ``valid``, ``invalid``, ``untrusted``, ``absent`` or ``no-key``; it never raises for a bad
signature.

Trust in time. Given ``at`` (a device's clock, or a date-time the caller picks, such as the
message's own), a valid signature or MAC whose key's certificate was not valid at ``at`` is
``untrusted``. Without ``at`` validity periods are not judged: the codec never reads the host's
clock, whose date says nothing about when a message was made (RTDS's organisation certificates
expired in 2025 and sign its frames of 2016 onwards). RTDS dates every response that carries a
date-time 2015-01-01 00:00:00, before its device certificates' validity (from 2016-04-06): a
placeholder, so judging RTDS responses at their own date-time reports them untrusted.
``sign`` and ``add_mac`` build protected frames from typed values (sign first, then MAC:
the MAC covers the signature, primer §8.6).

The rules, as RTDS confirms them:

* Signature: ECDSA over the General Signing APDU from the byte after ``DF`` to the end of the
  content, by the business originator's digital-signature key.
* MAC: AES-GCM tag over ``11 00 00 00 00 00`` ‖ the whole General Signing APDU, IV = business
  originator ‖ invocation counter, key from the KDF with ORIG = business originator, usage =
  CRA flag, CTR = originator counter, RECIP = business target. The ECDH pair is the Access
  Control Broker and the target for commands from remote parties (the ACB applies the MAC),
  and the originator and the target for everything else: responses, alerts, and commands
  one device sends another on the HAN (PPMID to GSME, primer §14.10).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import Enum

from . import crypto
from .crypto import KdfUsage, PrivateKey
from .errors import CertificateError, EncodeError, KeyStoreError
from .frame import Frame
from .keystore import KeyStore, KeyUsage
from .pki import check_valid_at
from .types import EUI64, Cra, Role

__all__ = ["Check", "Verdict", "add_mac", "mac_parties", "sign", "verify"]

# The MAC's additional authenticated data starts with the security control byte and the five
# empty header fields of the General Ciphering APDU (primer §8.4; a shorter prefix does not
# verify against RTDS). We build it from the frame's own security control byte.
_EMPTY_HEADER_FIELDS = b"\x00" * 5


class Check(str, Enum):
    """The outcome of one cryptographic check."""

    VALID = "valid"
    INVALID = "invalid"
    UNTRUSTED = "untrusted"  # cryptographically valid, but a certificate was out of date at `at`
    ABSENT = "absent"  # the frame carries no signature / no MAC
    NO_KEY = "no-key"  # the key store lacks a key the check needs


@dataclass(frozen=True, slots=True)
class Verdict:
    signature: Check
    mac: Check

    @property
    def ok(self) -> bool:
        """No check failed (absent and unverifiable checks are not failures)."""
        return not {Check.INVALID, Check.UNTRUSTED} & {self.signature, self.mac}


def access_control_broker(keystore: KeyStore) -> EUI64 | None:
    """The one party whose certificate names the Access Control Broker role, if exactly one."""
    brokers = keystore.parties_with_role(Role.ACCESS_CONTROL_BROKER)
    return brokers[0] if len(brokers) == 1 else None


def verify(frame: Frame, keystore: KeyStore, *, broker: bytes | None = None,
           at: datetime | None = None) -> Verdict:  # fmt: skip
    """Check a frame's signature and MAC.

    Args:
        frame: a decoded (or built) frame.
        keystore: where public keys, and private key-agreement keys for MACs, are found.
        broker: the Access Control Broker's EUI-64; by default the store's only party
            with that role.
        at: judge the certificates of the keys used at this moment (a device's clock);
            None judges no validity period (module docstring).

    Returns:
        a ``Verdict``; an invalid signature or MAC is reported, not raised.
    """
    return Verdict(check_signature(frame, keystore, at=at), check_mac(frame, keystore, broker=broker, at=at))


def check_signature(frame: Frame, keystore: KeyStore, *, at: datetime | None = None) -> Check:
    if frame.signature is None:
        return Check.ABSENT
    public_key = keystore.public_key(frame.originator, KeyUsage.DS)
    if public_key is None:
        return Check.NO_KEY
    apdu, signed_end = frame.general_signing_apdu()
    if not crypto.verify_signature(public_key, apdu[1:signed_end], frame.signature):
        return Check.INVALID
    return _judged(keystore, ((frame.originator, KeyUsage.DS),), at)


def check_mac(frame: Frame, keystore: KeyStore, *, broker: bytes | None = None,
              at: datetime | None = None) -> Check:  # fmt: skip
    if frame.mac is None:
        return Check.ABSENT
    key = _mac_key(frame, keystore, broker)
    if key is None:
        return Check.NO_KEY
    apdu, _ = frame.general_signing_apdu()
    if not crypto.check_mac(key, _iv(frame), _aad(frame, apdu), frame.mac):
        return Check.INVALID
    parties = mac_parties(frame, keystore, broker) or ()
    return _judged(keystore, [(party, KeyUsage.KA) for party in parties], at)


def _judged(keystore: KeyStore, keys: Sequence[tuple[bytes, KeyUsage]], at: datetime | None) -> Check:
    """VALID, or UNTRUSTED when a certificate of ``keys`` was out of date at ``at``. A key held
    without a certificate has no validity period to judge."""
    if at is None:
        return Check.VALID
    for eui, usage in keys:
        certificate = keystore.certificate(eui, usage)
        if certificate is None:
            continue
        try:
            check_valid_at(certificate, at)
        except CertificateError:
            return Check.UNTRUSTED
    return Check.VALID


def mac_parties(frame: Frame, keystore: KeyStore, broker: bytes | None = None) -> tuple[bytes, bytes] | None:
    """The two parties whose key-agreement keys MAC this frame (see the module docstring), or
    None when the frame is a command from a remote party and no ACB is known."""
    if frame.cra is Cra.COMMAND and not keystore.is_device(frame.originator):
        broker = broker if broker is not None else access_control_broker(keystore)
        if broker is None:
            return None
        return broker, frame.recipient
    return frame.originator, frame.recipient


def sign(frame: Frame, private_key: PrivateKey) -> Frame:
    """The frame with its signature set: ``private_key`` signs the APDU's signed bytes.

    Raises:
        EncodeError: the frame is a pre-command (it has no signature element to fill).
    """
    if not frame.signature_element:
        raise EncodeError("a pre-command has no signature element; build it with signature_element=True")
    unsigned = dataclasses.replace(frame, signature=None, mac=None)
    apdu, signed_end = unsigned.general_signing_apdu()
    return dataclasses.replace(frame, signature=crypto.sign(private_key, apdu[1:signed_end]), mac=None)


def add_mac(frame: Frame, keystore: KeyStore, *, broker: bytes | None = None) -> Frame:
    """The frame wrapped in General Ciphering with its MAC computed.

    Raises:
        KeyStoreError: the store lacks a private key-agreement key for either party.
        EncodeError: the frame is a pre-command.
    """
    if not frame.signature_element:
        raise EncodeError("a pre-command cannot be MACed: it has no signature element")
    unwrapped = dataclasses.replace(frame, mac=None)
    key = _mac_key(unwrapped, keystore, broker)
    if key is None:
        parties = mac_parties(unwrapped, keystore, broker)
        names = "an Access Control Broker" if parties is None else " or ".join(map(str, map(EUI64, parties)))
        raise KeyStoreError(f"no key-agreement pair to MAC this frame: needs a private key of {names}")
    apdu, _ = unwrapped.general_signing_apdu()
    return dataclasses.replace(frame, mac=crypto.mac_tag(key, _iv(frame), _aad(frame, apdu)))


def _mac_key(frame: Frame, keystore: KeyStore, broker: bytes | None) -> bytes | None:
    parties = mac_parties(frame, keystore, broker)
    if parties is None:
        return None
    shared_secret = keystore.shared_secret(*parties, KeyUsage.KA)
    if shared_secret is None:
        return None
    return crypto.derive_key(shared_secret, frame.originator, KdfUsage(frame.cra),
                             frame.originator_counter, frame.recipient)  # fmt: skip


def _iv(frame: Frame) -> bytes:
    return frame.originator + frame.invocation_counter.to_bytes(4, "big")


def _aad(frame: Frame, apdu: bytes) -> bytes:
    return bytes((frame.security_control,)) + _EMPTY_HEADER_FIELDS + apdu
