"""Key stores: where the codec finds the certificates and keys of devices and remote parties.

``KeyStore`` is the interface ``gbcs.security`` uses: three lookups by EUI-64 and key usage,
plus derived helpers (role, ECDH shared secret) that every store gets for free. The ECDH
shared secret is cached per key pair, because each pair signs and MACs many frames and
the exchange is the dearest step of a MAC check.

``InMemoryKeyStore`` holds keys in dicts; ``InMemoryKeyStore.from_directory`` reads the
RTDS keystore layout (``../shared/rtds/README.md``):

    <eui-64 in hex>-ds.pem|.key     digital-signature certificate | private key
    <eui-64 in hex>-ka.pem|.key     key-agreement certificate | private key
    <eui-64 in hex>-pp-ka.pem|.key  the supplier's prepayment key-agreement pair

A ``.pem`` holds a certificate or a bare public key; a ``.key`` a PKCS#8 private key, whose
public half is used when no ``.pem`` is present.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from enum import Enum
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from .crypto import PrivateKey, PublicKey, ecdh
from .errors import KeyStoreError
from .types import EUI64, Role

__all__ = ["InMemoryKeyStore", "KeyStore", "KeyUsage"]


class KeyUsage(str, Enum):
    """What a key pair is for, spelt as in the key store's file names."""

    DS = "ds"  # digital signature (ECDSA)
    KA = "ka"  # key agreement (ECDH), for MACs and payload encryption
    PREPAYMENT_KA = "pp-ka"  # a supplier's key agreement pair for UTRN top-ups (primer §8.7)


class KeyStore(ABC):
    """Certificates and keys by EUI-64 and usage. Implement the three lookups; the rest is
    derived from them and cached, so a subclass calls ``_changed()`` whenever keys change."""

    def __init__(self) -> None:
        self._shared_secrets: dict[tuple[bytes, bytes, KeyUsage], bytes | None] = {}
        self._roles: dict[bytes, Role | None] = {}
        self._devices: dict[bytes, bool] = {}
        self._parties: dict[Role, list[EUI64]] = {}

    @abstractmethod
    def certificate(self, eui: bytes, usage: KeyUsage) -> x509.Certificate | None:
        """The X.509 certificate, or None if the store has none."""

    @abstractmethod
    def public_key(self, eui: bytes, usage: KeyUsage) -> PublicKey | None:
        """The public key (from the certificate, a bare public key, or the private key)."""

    @abstractmethod
    def private_key(self, eui: bytes, usage: KeyUsage) -> PrivateKey | None:
        """The private key, or None (devices' private keys are normally not held)."""

    def role(self, eui: bytes) -> Role | None:
        """The remote party role an organisation certificate gives ``eui`` (its subject OU,
        primer §1), or None for devices and unknown parties."""
        try:
            return self._roles[eui]
        except KeyError:
            certificate = self._any_certificate(eui)
            role = None if certificate is None else _role_of(certificate)
            self._roles[eui] = role
            return role

    def is_device(self, eui: bytes) -> bool:
        """Whether ``eui`` holds a device certificate (empty subject, identity in the subject
        alternative name; primer §1)."""
        try:
            return self._devices[eui]
        except KeyError:
            certificate = self._any_certificate(eui)
            device = certificate is not None and len(certificate.subject) == 0
            self._devices[eui] = device
            return device

    def parties_with_role(self, role: Role) -> list[EUI64]:
        """Every EUI-64 whose organisation certificate names ``role``."""
        try:
            return self._parties[role]
        except KeyError:
            parties = self._parties[role] = [eui for eui in self.euis() if self.role(eui) is role]
            return parties

    def _any_certificate(self, eui: bytes) -> x509.Certificate | None:
        for usage in (KeyUsage.DS, KeyUsage.KA):
            certificate = self.certificate(eui, usage)
            if certificate is not None:
                return certificate
        return None

    def euis(self) -> list[EUI64]:
        """Every EUI-64 the store knows something about (override if it can list them)."""
        return []

    def shared_secret(self, a: bytes, b: bytes, usage: KeyUsage = KeyUsage.KA) -> bytes | None:
        """ECDH Z between ``a`` and ``b``, from whichever side's private key the store holds
        and the other side's public key; None when it holds neither combination."""
        key = (a, b, usage) if a <= b else (b, a, usage)
        try:
            return self._shared_secrets[key]
        except KeyError:
            pass
        secret = None
        for mine, theirs in ((a, b), (b, a)):
            private, public = self.private_key(mine, usage), self.public_key(theirs, usage)
            if private is not None and public is not None:
                secret = ecdh(private, public)
                break
        self._shared_secrets[key] = secret
        return secret

    def _changed(self) -> None:
        """Drop everything derived from the keys (call after any change)."""
        self._shared_secrets.clear()
        self._roles.clear()
        self._devices.clear()
        self._parties.clear()


def _role_of(certificate: x509.Certificate) -> Role | None:
    units = certificate.subject.get_attributes_for_oid(NameOID.ORGANIZATIONAL_UNIT_NAME)
    if not units:
        return None
    try:
        return Role(int(str(units[0].value), 16))
    except ValueError:
        return None


_FILE_NAME = re.compile(r"^(?P<eui>[0-9a-fA-F]{16})-(?P<usage>ds|ka|pp-ka)\.(?P<kind>pem|key)$")


class InMemoryKeyStore(KeyStore):
    """A key store in dictionaries. Build it with ``add_*`` or ``from_directory``."""

    def __init__(self) -> None:
        super().__init__()
        self._certificates: dict[tuple[bytes, KeyUsage], x509.Certificate] = {}
        self._public: dict[tuple[bytes, KeyUsage], PublicKey] = {}
        self._private: dict[tuple[bytes, KeyUsage], PrivateKey] = {}

    @classmethod
    def from_directory(cls, directory: str | Path) -> InMemoryKeyStore:
        """Read every ``<eui>-<usage>.pem|key`` file of ``directory``; other files are ignored.

        Raises:
            KeyStoreError: the directory cannot be read, or a key file cannot be parsed.
        """
        store = cls()
        directory = Path(directory)
        try:
            paths = sorted(directory.iterdir())
        except OSError as error:
            raise KeyStoreError(f"cannot read key store {directory}: {error.strerror}") from error
        for path in paths:
            match = _FILE_NAME.match(path.name)
            if match is None or not path.is_file():
                continue
            eui = EUI64(match["eui"])
            usage = KeyUsage(match["usage"])
            try:
                data = path.read_bytes()
            except OSError as error:
                raise KeyStoreError(f"cannot read {path}: {error.strerror}") from error
            if match["kind"] == "key":
                store.add_private_key(eui, usage, _load_private_key(data, path))
            elif b"CERTIFICATE" in data:
                store.add_certificate(eui, usage, _load_certificate(data, path))
            else:
                store.add_public_key(eui, usage, _load_public_key(data, path))
        return store

    def add_certificate(self, eui: bytes, usage: KeyUsage, certificate: x509.Certificate) -> None:
        public = certificate.public_key()
        if not isinstance(public, ec.EllipticCurvePublicKey):
            raise KeyStoreError(f"{EUI64(eui)} {usage.value}: certificate key is not elliptic-curve")
        self._certificates[EUI64(eui), usage] = certificate
        self.add_public_key(eui, usage, public)

    def add_public_key(self, eui: bytes, usage: KeyUsage, key: PublicKey) -> None:
        self._public[EUI64(eui), usage] = key
        self._changed()

    def add_private_key(self, eui: bytes, usage: KeyUsage, key: PrivateKey) -> None:
        self._private[EUI64(eui), usage] = key
        self._public.setdefault((EUI64(eui), usage), key.public_key())
        self._changed()

    def certificate(self, eui: bytes, usage: KeyUsage) -> x509.Certificate | None:
        return self._certificates.get((eui, usage))

    def public_key(self, eui: bytes, usage: KeyUsage) -> PublicKey | None:
        return self._public.get((eui, usage))

    def private_key(self, eui: bytes, usage: KeyUsage) -> PrivateKey | None:
        return self._private.get((eui, usage))

    def euis(self) -> list[EUI64]:
        return sorted({EUI64(eui) for eui, _ in self._public})


def _load_certificate(data: bytes, path: Path) -> x509.Certificate:
    try:
        return x509.load_pem_x509_certificate(data)
    except ValueError as error:
        raise KeyStoreError(f"{path}: not a PEM certificate ({error})") from error


def _load_public_key(data: bytes, path: Path) -> PublicKey:
    try:
        key = serialization.load_pem_public_key(data)
    except (ValueError, TypeError) as error:
        raise KeyStoreError(f"{path}: not a PEM certificate or public key ({error})") from error
    if not isinstance(key, ec.EllipticCurvePublicKey):
        raise KeyStoreError(f"{path}: not an elliptic-curve public key")
    return key


def _load_private_key(data: bytes, path: Path) -> PrivateKey:
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError) as error:
        raise KeyStoreError(f"{path}: not an unencrypted PEM private key ({error})") from error
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise KeyStoreError(f"{path}: not an elliptic-curve private key")
    return key
