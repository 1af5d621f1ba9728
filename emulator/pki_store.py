"""A self-generated SMKI test PKI on disk: ``smets-emu pki init|device|show``.

Layout (the RTDS key store's, so ``gbcs.keystore.InMemoryKeyStore.from_directory`` reads it)::

    DIR/
      smki.json                   what the certificates cannot say: each device's type, and the
                                  store's settings (validity start, organisation lifetime)
      <eui>-ds.pem|key            a party's or device's digital-signature certificate | key
      <eui>-ka.pem|key            key agreement
      <eui>-pp-ka.pem|key         a supplier's prepayment key agreement
      ca/root-oca.pem|key         the four certificate authorities
      ca/issuing-oca.pem|key
      ca/root-dca.pem|key
      ca/issuing-dca.pem|key

Rules:

* Private keys are PKCS#8 PEM files created with mode 0600 and are never printed. A store whose
  key files others can read is refused until its owner fixes the modes.
* Nothing is half written. ``create`` builds the whole store in a hidden sibling directory and
  renames it into place; ``issue_device`` writes its files under new names, then renames them
  and rewrites ``smki.json`` last. An error leaves the store as it was.
* Device keys live here too: emulated devices sign with them. A real device keeps its private
  key; ``issue_device_certificate`` is that flow (a public key in, a certificate out).
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from gbcs import pki
from gbcs.errors import CertificateError, KeyStoreError
from gbcs.keystore import InMemoryKeyStore
from gbcs.pki import CertificateKind, Issuer
from gbcs.types import EUI64, DeviceType, Role

from .errors import ConfigError, StoreError
from .firmware.device import TrustAnchorCell, cells_from_keystore
from .toml_file import read_toml

__all__ = ["DEFAULT_PARTIES", "Listing", "Party", "PkiConfig", "PkiStore", "StoreEntry", "list_certificates"]

MANIFEST = "smki.json"
MANIFEST_FORMAT = 1
_AUTHORITIES = {  # kind -> (file stem under ca/, common name, signing authority)
    CertificateKind.ROOT_OCA: ("root-oca", "SMETS-EMU TEST ROOT OCA", None),
    CertificateKind.ISSUING_OCA: ("issuing-oca", "SMETS-EMU TEST ISSUING OCA", CertificateKind.ROOT_OCA),
    CertificateKind.ROOT_DCA: ("root-dca", "SMETS-EMU TEST ROOT DCA", None),
    CertificateKind.ISSUING_DCA: ("issuing-dca", "SMETS-EMU TEST ISSUING DCA", CertificateKind.ROOT_DCA),
}
_USAGES = ("ds", "ka", "pp-ka")


@dataclass(frozen=True, slots=True)
class Party:
    """A remote party (organisation) and the key pairs it gets."""

    role: Role
    eui: EUI64
    usages: tuple[str, ...]
    name: str


def _default_party(role: Role, usages: tuple[str, ...]) -> Party:
    # Locally administered EUI-64s (02 bit set in the first byte) that spell "SMETE" and end in
    # the role, so they never collide with RTDS's 90B3D51F30… parties (we chose).
    eui = EUI64(bytes.fromhex("02534D45544500") + bytes((int(role) & 0xFF,)))
    return Party(role, eui, usages, f"SMETS-EMU TEST {pki.role_name(role).upper().replace('-', ' ')}")


# One party for each role the catalogue names; the usages follow RTDS (a supplier also has the
# prepayment pair; recovery and transitional change of supplier only sign).
DEFAULT_PARTIES: tuple[Party, ...] = (
    _default_party(Role.ROOT, ("ds",)),
    _default_party(Role.RECOVERY, ("ds",)),
    _default_party(Role.SUPPLIER, ("ds", "ka", "pp-ka")),
    _default_party(Role.NETWORK_OPERATOR, ("ds", "ka")),
    _default_party(Role.ACCESS_CONTROL_BROKER, ("ds", "ka")),
    _default_party(Role.TRANSITIONAL_CHANGE_OF_SUPPLIER, ("ds",)),
    _default_party(Role.WAN_PROVIDER, ("ds", "ka")),
    _default_party(Role.LOAD_CONTROLLER, ("ds", "ka")),
    _default_party(Role.OTHER, ("ds", "ka")),
)


@dataclass(frozen=True, slots=True)
class PkiConfig:
    """What ``pki init`` makes. ``not_before`` None means the start of today (UTC)."""

    parties: tuple[Party, ...] = DEFAULT_PARTIES
    not_before: datetime | None = None
    organisation_years: int = pki.ORGANISATION_VALIDITY_YEARS

    @classmethod
    def from_toml(cls, path: Path) -> PkiConfig:
        """Read a TOML configuration::

            not_before = 2024-01-01T00:00:00Z   # optional; default: today, 00:00 UTC
            organisation_years = 10             # optional
            [[party]]                           # replaces the default party of its role
            role = "supplier"
            eui = "90B3D51F30010000"
            name = "MY TEST SUPPLIER"           # optional; must contain TEST
            usages = ["ds", "ka", "pp-ka"]      # optional; default: the role's defaults

        Raises:
            ConfigError: the file cannot be read or a value is wrong (the message says which).
        """
        document = read_toml(path)
        return cls.from_mapping(document, source=str(path))

    @classmethod
    def from_mapping(cls, document: Mapping[str, Any], *, source: str = "config") -> PkiConfig:
        _no_unknown_keys(document, {"not_before", "organisation_years", "party"}, source)
        not_before = document.get("not_before")
        if not_before is not None and not isinstance(not_before, datetime):
            raise ConfigError(f"{source}: not_before must be a TOML date-time, e.g. 2024-01-01T00:00:00Z")
        years = document.get("organisation_years", pki.ORGANISATION_VALIDITY_YEARS)
        if not isinstance(years, int) or isinstance(years, bool) or not 1 <= years <= 100:
            raise ConfigError(f"{source}: organisation_years must be a whole number from 1 to 100")
        entries = document.get("party", [])
        if not isinstance(entries, list):
            raise ConfigError(f"{source}: party must be an array of tables ([[party]])")
        configured = [_party(entry, f"{source}: party {index + 1}") for index, entry in enumerate(entries)]
        euis = [party.eui for party in configured]
        duplicates = sorted({str(eui) for eui in euis if euis.count(eui) > 1})
        if duplicates:
            raise ConfigError(f"{source}: EUI-64 {', '.join(duplicates)} given to more than one party")
        roles = {party.role for party in configured}
        parties = tuple(configured) + tuple(p for p in DEFAULT_PARTIES if p.role not in roles and p.eui not in euis)
        if not_before is not None and not_before.tzinfo is None:
            not_before = not_before.replace(tzinfo=timezone.utc)
        return cls(parties, not_before, years)


def _no_unknown_keys(table: Mapping[str, Any], known: set[str], where: str) -> None:
    unknown = sorted(set(table) - known)
    if unknown:
        raise ConfigError(f"{where}: unknown key {unknown[0]!r}; known keys: {', '.join(sorted(known))}")


def _party(entry: Any, where: str) -> Party:
    if not isinstance(entry, dict):
        raise ConfigError(f"{where}: must be a table")
    _no_unknown_keys(entry, {"role", "eui", "name", "usages"}, where)
    try:
        role = pki.parse_role(str(entry["role"]))
        eui = EUI64(str(entry["eui"]))
    except KeyError as missing:
        raise ConfigError(f"{where}: {missing.args[0]} is required") from None
    except ValueError as error:
        raise ConfigError(f"{where}: {error}") from None
    default = next(party for party in DEFAULT_PARTIES if party.role is role)
    usages = entry.get("usages", list(default.usages))
    if not isinstance(usages, list) or not usages or any(usage not in _USAGES for usage in usages):
        raise ConfigError(f"{where}: usages must be a non-empty list of {', '.join(_USAGES)}")
    name = entry.get("name", default.name)
    if not isinstance(name, str) or "TEST" not in name.upper() or not 0 < len(name) <= 64:
        raise ConfigError(f"{where}: name must be 1 to 64 characters and contain TEST (a test certificate)")
    return Party(role, eui, tuple(dict.fromkeys(usages)), name)


@dataclass(frozen=True, slots=True)
class StoreEntry:
    """One certificate of a store, as ``pki show`` lists it."""

    path: Path
    kind: CertificateKind
    role: str | None  # the remote party role (organisations) or device type (devices)
    eui: EUI64 | None
    usage: str  # ds | ka | ca
    issuer_path: Path | None  # the issuing certificate, when the store holds it
    not_after: datetime

    def to_json(self) -> dict[str, Any]:
        return {
            "path": str(self.path),
            "kind": self.kind.value,
            "role": self.role,
            "eui": None if self.eui is None else str(self.eui),
            "usage": self.usage,
            "issuer_path": None if self.issuer_path is None else str(self.issuer_path),
            "not_after": self.not_after.strftime("%Y-%m-%dT%H:%M:%SZ"),
        }


@dataclass
class PkiStore:
    """A PKI store directory. Open one with ``PkiStore.open`` or make one with ``create``."""

    directory: Path
    not_before: datetime
    organisation_years: int
    devices: dict[EUI64, DeviceType] = field(default_factory=dict)
    # The cells, read once: organisations do not change in a store's life, and every premises
    # provisioned from it shares the same (immutable) certificates instead of ~57 KiB of its own.
    _cells: dict[Role, TrustAnchorCell] | None = field(default=None, repr=False, compare=False)

    # -- creating and opening -------------------------------------------------------------

    @classmethod
    def create(cls, directory: str | Path, config: PkiConfig | None = None, *, now: datetime,
               overwrite: bool = False) -> PkiStore:  # fmt: skip
        """Generate the CAs and every party's credentials into ``directory``.

        Args:
            directory: where the store goes; it must not exist or be empty, unless ``overwrite``.
            config: parties and validity; the defaults give one party per role.
            now: the moment of issue, used when the config sets no ``not_before``.
            overwrite: replace an existing store.

        Raises:
            StoreError: the directory is in the way or cannot be written; nothing is changed.
        """
        config = config or PkiConfig()
        directory = Path(directory)
        try:
            occupied = directory.is_dir() and any(directory.iterdir())
        except OSError as error:
            raise StoreError(f"cannot read {directory}: {error.strerror}") from None
        if directory.exists() and not directory.is_dir():
            raise StoreError(f"{directory} exists and is not a directory")
        if occupied and not overwrite:
            raise StoreError(f"{directory} already holds files; pass --force to replace the store")
        parent = directory.absolute().parent
        try:
            parent.mkdir(parents=True, exist_ok=True)
            staging = Path(tempfile.mkdtemp(prefix=f".{directory.name}.new-", dir=parent))
        except OSError as error:
            raise StoreError(f"cannot create {directory}: {error.strerror}") from None
        try:
            store = cls(staging, pki.midnight(config.not_before or now), config.organisation_years)
            store._generate(config.parties)
            _replace_directory(staging, directory)
        except OSError as error:
            shutil.rmtree(staging, ignore_errors=True)
            raise StoreError(f"cannot write {directory}: {error.strerror or error}") from None
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        store.directory = directory
        return store

    @classmethod
    def open(cls, directory: str | Path) -> PkiStore:
        """Open a store made by ``create``, checking its key files' permissions.

        Raises:
            StoreError: no store is there, its manifest is damaged, or a key file is readable
                by others.
        """
        directory = Path(directory)
        manifest_path = directory / MANIFEST
        try:
            manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise StoreError(f"{directory} is not a PKI store (no {MANIFEST}); create one with `smets-emu pki init`") from None
        except OSError as error:
            raise StoreError(f"cannot read {manifest_path}: {error.strerror}") from None
        except (ValueError, UnicodeDecodeError) as error:
            raise StoreError(f"{manifest_path} is damaged: {error}") from None
        try:
            if manifest["format"] != MANIFEST_FORMAT:
                raise StoreError(f"{manifest_path}: format {manifest['format']!r}; this version reads {MANIFEST_FORMAT}")
            store = cls(
                directory,
                datetime.fromisoformat(manifest["not_before"].replace("Z", "+00:00")),
                int(manifest["organisation_years"]),
                {EUI64(eui): pki.parse_device_type(name) for eui, name in manifest["devices"].items()},
            )
        except (KeyError, TypeError, ValueError, AttributeError) as error:
            raise StoreError(f"{manifest_path} is damaged: {type(error).__name__}: {error}") from None
        store.check_permissions()
        return store

    def check_permissions(self) -> None:
        """Raise ``StoreError`` if any private key file is readable or writable by others."""
        for path in _private_key_files(self.directory):
            try:
                mode = stat.S_IMODE(path.stat().st_mode)
            except OSError as error:
                raise StoreError(f"cannot read {path}: {error.strerror}") from None
            if mode & 0o077:
                raise StoreError(f"{path} has mode {mode:04o}: private keys must be 0600 (chmod 600 {path})")

    # -- issuing ----------------------------------------------------------------------------

    def issue_device(self, eui: bytes, device_type: DeviceType, *, regenerate: bool = False) -> list[Path]:
        """Generate a device's key pairs and have the Issuing DCA certify them.

        Args:
            eui: the device's EUI-64.
            device_type: recorded in the manifest (the certificate does not carry it).
            regenerate: the device already has credentials and gets new key pairs and new
                certificates (GBCS's 'issue security credentials' flow); the old ones go.

        Returns:
            the files written.

        Raises:
            StoreError: the device exists and ``regenerate`` is not set, it does not exist and
                ``regenerate`` is set, a name belongs to an organisation, or a file cannot be
                written. The store is unchanged on error.
        """
        eui = EUI64(eui)
        known = self.devices.get(eui)
        if known is None and self._has_files(eui):
            raise StoreError(f"{eui} already has credentials in {self.directory} that are not a device's")
        if regenerate and known is None:
            raise StoreError(f"{eui} is not a device of this store: issue it first (without --regenerate)")
        if not regenerate and known is not None:
            raise StoreError(f"{eui} already has credentials ({pki.device_type_name(known)}); "
                             "pass --regenerate for new key pairs and certificates")  # fmt: skip
        if regenerate and known is not device_type:
            raise StoreError(f"{eui} is a {pki.device_type_name(known)}, not a {pki.device_type_name(device_type)}")  # type: ignore[arg-type]
        issuer = self.issuer(CertificateKind.ISSUING_DCA)
        files: dict[str, bytes] = {}
        for usage in ("ds", "ka"):
            key = pki.generate_key()
            certificate = pki.device_certificate(eui, usage, key.public_key(), issuer, not_before=self.not_before)
            files[f"{eui.hex()}-{usage}.pem"] = _pem(certificate)
            files[f"{eui.hex()}-{usage}.key"] = _key_pem(key)
        devices = {**self.devices, eui: device_type}
        self._write_atomically(files, devices)
        self.devices = devices
        return [self.directory / name for name in files]

    def issue_device_certificate(self, eui: bytes, usage: str, public_key: ec.EllipticCurvePublicKey) -> x509.Certificate:
        """Certify a key pair a device made itself (its private key stays with it)."""
        return pki.device_certificate(eui, usage, public_key, self.issuer(CertificateKind.ISSUING_DCA),
                                      not_before=self.not_before)  # fmt: skip

    def issue_from_request(self, request: x509.CertificateSigningRequest) -> x509.Certificate:
        """The Issuing DCA's answer to a device's certification request (CS02c → CS02d): a
        certificate for the key the device proved it holds, for the EUI-64 and usage it asked.

        Raises:
            StoreError: the request does not check, or names a device this store does not know.
        """
        try:
            eui, usage = pki.describe_certification_request(request)
        except CertificateError as error:
            raise StoreError(f"certification request refused: {error}") from None
        if eui not in self.devices:
            raise StoreError(f"certification request for {eui}, which is not a device of this store")
        return self.issue_device_certificate(eui, usage, request.public_key())  # type: ignore[arg-type]

    def issuer(self, kind: CertificateKind) -> Issuer:
        """A CA of the store, able to sign.

        Raises:
            StoreError: its files are missing or unreadable.
        """
        stem = _AUTHORITIES[kind][0]
        certificate_path, key_path = self.directory / "ca" / f"{stem}.pem", self.directory / "ca" / f"{stem}.key"
        try:
            certificate = x509.load_pem_x509_certificate(certificate_path.read_bytes())
            key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
        except OSError as error:
            raise StoreError(f"cannot read {error.filename}: {error.strerror}") from None
        except ValueError as error:
            raise StoreError(f"{certificate_path} or {key_path} is damaged: {error}") from None
        if not isinstance(key, ec.EllipticCurvePrivateKey):
            raise StoreError(f"{key_path} is not an elliptic-curve key")
        return Issuer(certificate, key)

    def keystore(self) -> InMemoryKeyStore:
        """The store's certificates and keys, for the codec (signing, MACs, decryption)."""
        try:
            return InMemoryKeyStore.from_directory(self.directory)
        except KeyStoreError as error:
            raise StoreError(str(error)) from None

    def trust_anchor_cells(self) -> dict[Role, TrustAnchorCell]:
        """The cells a device of this PKI is provisioned with: each role's party and
        certificates, and the Root cell holding the Root OCA certificate (it proves
        replacement certificates, CS02b)."""
        if self._cells is None:
            cells = cells_from_keystore(self.keystore())
            cells[Role.ROOT] = TrustAnchorCell(Role.ROOT, cells[Role.ROOT].party if Role.ROOT in cells else EUI64(bytes(8)),
                                               self.issuer(CertificateKind.ROOT_OCA).certificate)  # fmt: skip
            self._cells = cells
        return dict(self._cells)

    def chain(self, kind: CertificateKind) -> list[x509.Certificate]:
        """The issuing CA and root certificates above an organisation or device certificate."""
        issuing = CertificateKind.ISSUING_OCA if kind is CertificateKind.ORGANISATION else CertificateKind.ISSUING_DCA
        root = _AUTHORITIES[issuing][2]
        return [self.issuer(issuing).certificate, self.issuer(root).certificate]  # type: ignore[arg-type]

    # -- internals ----------------------------------------------------------------------------

    def _generate(self, parties: tuple[Party, ...]) -> None:
        (self.directory / "ca").mkdir(mode=0o700)
        authorities: dict[CertificateKind, Issuer] = {}
        for kind, (stem, common_name, signer) in _AUTHORITIES.items():
            key = pki.generate_key()
            certificate = pki.ca_certificate(
                kind, common_name, key.public_key(), not_before=self.not_before,
                issuer=None if signer is None else authorities[signer],
                private_key=key if signer is None else None,
            )  # fmt: skip
            authorities[kind] = Issuer(certificate, key)
            _write_new(self.directory / "ca" / f"{stem}.pem", _pem(certificate))
            _write_new(self.directory / "ca" / f"{stem}.key", _key_pem(key), private=True)
        for party in parties:
            for usage in party.usages:
                key = pki.generate_key()
                certificate = pki.organisation_certificate(
                    party.role, party.eui, usage, key.public_key(), authorities[CertificateKind.ISSUING_OCA],
                    not_before=self.not_before, common_name=party.name, years=self.organisation_years,
                )  # fmt: skip
                _write_new(self.directory / f"{party.eui.hex()}-{usage}.pem", _pem(certificate))
                _write_new(self.directory / f"{party.eui.hex()}-{usage}.key", _key_pem(key), private=True)
        self._write_manifest(self.devices)

    def _has_files(self, eui: EUI64) -> bool:
        return any(self.directory.glob(f"{eui.hex()}-*"))

    def _write_manifest(self, devices: Mapping[EUI64, DeviceType]) -> None:
        manifest = {
            "format": MANIFEST_FORMAT,
            "not_before": self.not_before.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "organisation_years": self.organisation_years,
            "devices": {str(eui): pki.device_type_name(kind) for eui, kind in sorted(devices.items())},
        }
        temporary = self.directory / f".{MANIFEST}.new"
        _write_new(temporary, (json.dumps(manifest, indent=2) + "\n").encode(), replace=True)
        os.replace(temporary, self.directory / MANIFEST)

    def _write_atomically(self, files: Mapping[str, bytes], devices: Mapping[EUI64, DeviceType]) -> None:
        """Write ``files`` under temporary names, rename them into place, manifest last."""
        written: list[Path] = []
        try:
            for name, data in files.items():
                temporary = self.directory / f".{name}.new"
                _write_new(temporary, data, private=name.endswith(".key"), replace=True)
                written.append(temporary)
            for name in files:
                os.replace(self.directory / f".{name}.new", self.directory / name)
            self._write_manifest(devices)
        except OSError as error:
            for temporary in written:
                temporary.unlink(missing_ok=True)
            raise StoreError(f"cannot write to {self.directory}: {error.strerror or error}") from None

    def entries(self) -> list[StoreEntry]:
        return list_certificates(self.directory, self.devices).entries


@dataclass(frozen=True, slots=True)
class Listing:
    """What ``list_certificates`` found."""

    entries: list[StoreEntry]
    problems: list[str]  # one per .pem file that is damaged or unreadable
    public_keys: list[Path]  # bare public keys (RTDS has one): legitimate, but no certificate


def list_certificates(directory: str | Path, devices: Mapping[EUI64, DeviceType] | None = None) -> Listing:
    """Every certificate under ``directory`` (a store of ours or any directory in the RTDS
    layout), classified by content; device types come from ``devices`` (default: the
    directory's manifest, if it has one).

    Raises:
        StoreError: the directory cannot be listed.
    """
    directory = Path(directory)
    if devices is None:
        devices = _manifest_devices(directory)
    try:
        paths = sorted(directory.glob("*.pem")) + sorted(directory.glob("ca/*.pem"))
        if not directory.is_dir():
            raise FileNotFoundError(2, "No such directory")
    except OSError as error:
        raise StoreError(f"cannot read {directory}: {error.strerror}") from None
    certificates: list[tuple[Path, x509.Certificate, pki.CertificateInfo]] = []
    problems: list[str] = []
    public_keys: list[Path] = []
    for path in paths:
        try:
            data = path.read_bytes()
        except OSError as error:
            problems.append(f"cannot read {path}: {error.strerror}")
            continue
        if b"BEGIN PUBLIC KEY" in data:
            public_keys.append(path)
            continue
        try:
            certificate = x509.load_pem_x509_certificate(data)
            info = pki.describe_certificate(certificate)
        except (ValueError, CertificateError) as error:
            problems.append(f"{path}: {error}")
            continue
        certificates.append((path, certificate, info))
    entries = []
    for path, certificate, info in certificates:
        role: str | None = None
        if info.kind is CertificateKind.ORGANISATION and info.role is not None:
            role = pki.role_name(info.role)
        elif info.kind is CertificateKind.DEVICE and info.eui in devices:
            role = pki.device_type_name(devices[info.eui])  # type: ignore[index]
        entries.append(StoreEntry(path, info.kind, role, info.eui, info.usage,
                                  _issuer_path(certificate, certificates), certificate.not_valid_after_utc))  # fmt: skip
    return Listing(entries, problems, public_keys)


def _issuer_path(certificate: x509.Certificate, candidates: list[tuple[Path, x509.Certificate, Any]]) -> Path | None:
    for path, candidate, _ in candidates:
        if candidate.subject == certificate.issuer:
            try:
                certificate.verify_directly_issued_by(candidate)
            except (ValueError, TypeError, InvalidSignature):
                continue
            return path
    return None


def _manifest_devices(directory: Path) -> dict[EUI64, DeviceType]:
    try:
        manifest = json.loads((directory / MANIFEST).read_text(encoding="utf-8"))
        return {EUI64(eui): pki.parse_device_type(name) for eui, name in manifest["devices"].items()}
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return {}  # not a store of ours (the RTDS key store), or no devices to name


def _replace_directory(new: Path, target: Path) -> None:
    """Move ``new`` to ``target``; an existing ``target`` is replaced as one step, as far as
    POSIX allows (rename it aside, rename the new one in, then delete the old)."""
    if not target.exists():
        os.rename(new, target)
        return
    old = Path(tempfile.mkdtemp(prefix=f".{target.name}.old-", dir=target.absolute().parent))
    os.rename(target, old / target.name)
    try:
        os.rename(new, target)
    except OSError:
        os.rename(old / target.name, target)
        raise
    shutil.rmtree(old, ignore_errors=True)


def _write_new(path: Path, data: bytes, *, private: bool = False, replace: bool = False) -> None:
    # O_EXCL: never write through a file (or link) that is already there; 0600 from creation
    # for keys, so a key is never readable by others, not even for an instant.
    if replace:
        path.unlink(missing_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600 if private else 0o644)
    with os.fdopen(descriptor, "wb") as file:
        file.write(data)
        file.flush()
        os.fsync(file.fileno())


def _pem(certificate: x509.Certificate) -> bytes:
    return certificate.public_bytes(serialization.Encoding.PEM)


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())  # fmt: skip


def _private_key_files(directory: Path) -> Iterator[Path]:
    yield from sorted(directory.glob("*.key"))
    yield from sorted(directory.glob("ca/*.key"))
