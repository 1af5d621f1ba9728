"""A fleet's device key pairs, derived from the fleet's seed instead of kept in files.

A site keeps every device's keys and certificates as files in its PKI store; for 20,000
premises (100,000 devices, 200,000 key pairs) that is slow to make and large to keep, and
an idle premises must cost nothing. A fleet device's private keys are instead a function
of the fleet's seed, the device's EUI-64 and the key usage (HMAC-SHA-512 reduced onto
P-256's scalars), made when the premises is first touched; its certificates are then
issued by the PKI store's Issuing DCA and kept with the device's state. Anyone holding the
fleet description (the storm's subscribers, a head-end) can so check a device's signature
without asking the fleet for its key.

Test keys only: whoever knows the seed knows every private key of the fleet.
"""

from __future__ import annotations

import hashlib
import hmac

from cryptography.hazmat.primitives.asymmetric import ec

from gbcs import pki
from gbcs.pki import CertificateKind
from gbcs.types import EUI64, DeviceType

from .firmware.device import Credentials
from .pki_store import PkiStore

__all__ = ["FleetCredentials"]

# The order of P-256's base point: private keys are 1 .. N - 1.
_P256_ORDER = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551


class FleetCredentials:
    """The key pairs of the fleet seeded ``seed``; certificates from ``pki`` (optional: a
    subscriber checking signatures needs only the public keys)."""

    def __init__(self, seed: int, pki_store: PkiStore | None = None) -> None:
        self._secret = hashlib.sha256(b"smets-emu fleet keys" + seed.to_bytes(16, "big", signed=True)).digest()
        self._pki = pki_store
        self._issuer: pki.Issuer | None = None
        self._public: dict[tuple[bytes, str], ec.EllipticCurvePublicKey] = {}

    def private_key(self, eui: bytes, usage: str) -> ec.EllipticCurvePrivateKey:
        """The device's private key for ``usage`` (``ds`` or ``ka``)."""
        digest = hmac.new(self._secret, bytes(eui) + usage.encode(), hashlib.sha512).digest()
        # 512 bits reduced modulo a 256-bit order: the bias is below 2^-250.
        return ec.derive_private_key(int.from_bytes(digest, "big") % (_P256_ORDER - 1) + 1, ec.SECP256R1())

    def public_key(self, eui: bytes, usage: str) -> ec.EllipticCurvePublicKey:
        """The device's public key for ``usage`` (kept once made: checking many alerts of one
        device derives it once)."""
        key = (bytes(eui), usage)
        if key not in self._public:
            self._public[key] = self.private_key(eui, usage).public_key()
        return self._public[key]

    def credentials(self, eui: EUI64, device_type: DeviceType) -> Credentials:
        """Both key pairs of a device, each certified by the PKI store's Issuing DCA.

        Raises:
            ValueError: no PKI store was given.
        """
        if self._pki is None:
            raise ValueError("issuing certificates needs the fleet's PKI store")
        if self._issuer is None:
            self._issuer = self._pki.issuer(CertificateKind.ISSUING_DCA)
        ds, ka = self.private_key(eui, "ds"), self.private_key(eui, "ka")
        return Credentials(ds, ka,
                           pki.device_certificate(eui, "ds", ds.public_key(), self._issuer, not_before=self._pki.not_before),
                           pki.device_certificate(eui, "ka", ka.public_key(), self._issuer, not_before=self._pki.not_before))  # fmt: skip
