"""The GBCS cryptographic primitives (primer §8), each a thin call into ``cryptography``.

This is the only module that imports ``cryptography.hazmat``; ``gbcs.security`` decides which
keys and which bytes, this module does the arithmetic:

* ECDSA P-256 with SHA-256, signatures as raw r ‖ s (32 + 32 bytes, not DER)     (§8.1, §8.2)
* static-static ECDH on P-256; the shared secret Z is the x-coordinate           (§8.1)
* the NIST SP 800-56A single-step KDF with SHA-256 (``ConcatKDFHash``) over the
  33-byte GBCS OtherInfo, keeping the first 16 bytes as an AES-128 key            (§8.3)
* AES-128-GCM with a 96-bit IV and a 12-byte tag, for MACs (empty plaintext) and
  for encrypted payloads                                                         (§8.4, §8.5)
"""

from __future__ import annotations

import hmac
from enum import IntEnum

from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.concatkdf import ConcatKDFHash

from .errors import AuthenticationFailed, CryptoError

__all__ = [
    "KdfUsage",
    "PrivateKey",
    "PublicKey",
    "TAG_SIZE",
    "decrypt",
    "derive_key",
    "ecdh",
    "encrypt",
    "mac_tag",
    "sign",
    "verify_signature",
]

PrivateKey = ec.EllipticCurvePrivateKey
PublicKey = ec.EllipticCurvePublicKey

TAG_SIZE = 12  # GBCS truncates every GCM tag to 96 bits (primer §8.1)
_COORDINATE = 32  # bytes of r, s and Z on P-256
_ECDSA_SHA256 = ec.ECDSA(hashes.SHA256())
_ECDH = ec.ECDH()
_SHA256 = hashes.SHA256()
# Content octets of OID 2.16.756.6.8.3.0, used literally as the KDF AlgorithmID (primer §8.3).
KDF_ALGORITHM_ID = bytes.fromhex("60857406080300")
_TRANSACTION_ID_LENGTH = b"\x09"


class KdfUsage(IntEnum):
    """The usage byte of the KDF OtherInfo: the first byte of the transaction id it names,
    which is the CRA flag for MACs and 04 for payload encryption (primer §5, §8.3)."""

    COMMAND_MAC = 1
    RESPONSE_MAC = 2
    ALERT_MAC = 3
    PAYLOAD_ENCRYPTION = 4


def sign(private_key: PrivateKey, data: bytes) -> bytes:
    """ECDSA P-256/SHA-256 signature of ``data`` as 64 bytes r ‖ s."""
    r, s = decode_dss_signature(private_key.sign(data, _ECDSA_SHA256))
    return r.to_bytes(_COORDINATE, "big") + s.to_bytes(_COORDINATE, "big")


def verify_signature(public_key: PublicKey, data: bytes, signature: bytes) -> bool:
    """Whether ``signature`` (r ‖ s) is ``public_key``'s signature of ``data``."""
    if len(signature) != 2 * _COORDINATE:
        return False
    der = encode_dss_signature(
        int.from_bytes(signature[:_COORDINATE], "big"),
        int.from_bytes(signature[_COORDINATE:], "big"),
    )
    try:
        public_key.verify(der, data, _ECDSA_SHA256)
    except InvalidSignature:
        return False
    return True


def ecdh(private_key: PrivateKey, public_key: PublicKey) -> bytes:
    """The 32-byte ECDH shared secret Z. Either side's pair gives the same Z."""
    try:
        return private_key.exchange(_ECDH, public_key)
    except ValueError as error:  # a key on another curve
        raise CryptoError(f"key agreement failed: {error}") from error


def derive_key(
    shared_secret: bytes, originator: bytes, usage: KdfUsage, counter: int, recipient: bytes
) -> bytes:
    """The AES-128 key for one (originator, usage, counter, recipient) tuple (primer §8.3):
    SHA-256 single-step KDF over Z and OtherInfo = AlgorithmID ‖ originator ‖ 09 ‖ usage ‖
    counter (8, big-endian) ‖ recipient."""
    other_info = b"".join(
        (KDF_ALGORITHM_ID, originator, _TRANSACTION_ID_LENGTH, bytes((usage,)),
         counter.to_bytes(8, "big"), recipient)
    )  # fmt: skip
    return ConcatKDFHash(_SHA256, 16, other_info).derive(shared_secret)


def mac_tag(key: bytes, iv: bytes, aad: bytes) -> bytes:
    """The 12-byte GCM tag over ``aad`` with an empty plaintext (a GBCS MAC, primer §8.4)."""
    return AESGCM(key).encrypt(iv, b"", aad)[:TAG_SIZE]


def check_mac(key: bytes, iv: bytes, aad: bytes, tag: bytes) -> bool:
    """Whether ``tag`` is the MAC of ``aad`` (constant-time comparison)."""
    return hmac.compare_digest(mac_tag(key, iv, aad), tag)


def encrypt(key: bytes, iv: bytes, plaintext: bytes, aad: bytes) -> bytes:
    """AES-128-GCM: the ciphertext (as long as the plaintext) followed by the 12-byte tag."""
    sealed = AESGCM(key).encrypt(iv, plaintext, aad)
    return sealed[: len(plaintext) + TAG_SIZE]


def decrypt(key: bytes, iv: bytes, sealed: bytes, aad: bytes) -> bytes:
    """The plaintext of ciphertext ‖ 12-byte tag.

    Raises:
        AuthenticationFailed: the tag does not verify (wrong key, or altered bytes).
    """
    if len(sealed) < TAG_SIZE:
        raise AuthenticationFailed(f"an encrypted block needs a {TAG_SIZE}-byte tag")
    ciphertext, tag = sealed[:-TAG_SIZE], sealed[-TAG_SIZE:]
    # AESGCM insists on 16-byte tags; the Cipher API accepts GBCS's truncated 12-byte tag.
    decryptor = Cipher(
        algorithms.AES(key), modes.GCM(iv, tag, min_tag_length=TAG_SIZE)
    ).decryptor()
    decryptor.authenticate_additional_data(aad)
    try:
        return decryptor.update(ciphertext) + decryptor.finalize()
    except InvalidTag:
        raise AuthenticationFailed("the GCM tag does not verify") from None
