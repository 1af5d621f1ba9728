"""`smets-emu pki`: a test PKI on disk, checked by openssl, used by the codec, and refusing
bad input without touching the store."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import shutil
import stat
import subprocess
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from cryptography import x509

import gbcs
from emulator.errors import ConfigError, StoreError
from emulator.pki_store import DEFAULT_PARTIES, PkiConfig, PkiStore, list_certificates
from gbcs.keystore import KeyUsage
from gbcs.pki import CertificateKind
from gbcs.types import EUI64, DeviceType, Role
from tests.conftest import RTDS
from tests.emulator.test_cli import json_lines, smets_emu

ESME = EUI64("00DB123456789001")
GSME = EUI64("00DB123456789002")
NOW = datetime(2026, 12, 1, 13, 0, tzinfo=timezone.utc)
ECS01A = RTDS / "messages/1.1.1_ECS01a/ECS01a_1.1.1_CANCELLATION_TOU_BLOCK_SUCCESS_COMMAND_GBCS.HEX"
OPENSSL = shutil.which("openssl")
SHOW_KEYS = {"path", "kind", "role", "eui", "usage", "issuer_path", "not_after"}


@pytest.fixture(scope="module")
def store_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A store made by the CLI, with two devices: shared by the read-only tests."""
    directory = tmp_path_factory.mktemp("pki") / "store"
    assert smets_emu("pki", "init", str(directory)).returncode == 0
    for eui, kind in ((ESME, "esme"), (GSME, "gsme")):
        result = smets_emu("pki", "device", str(directory), "--eui", str(eui), "--type", kind)
        assert result.returncode == 0, result.stderr.decode()
    return directory


def snapshot(directory: Path) -> dict[str, tuple[str, int]]:
    """Every file's content hash and mode: to show that a refused operation changed nothing."""
    return {str(path.relative_to(directory)): (hashlib.sha256(path.read_bytes()).hexdigest(),
                                               stat.S_IMODE(path.stat().st_mode))
            for path in sorted(directory.rglob("*")) if path.is_file()}  # fmt: skip


# -- what init and device make --------------------------------------------------------------


def test_init_makes_the_hierarchy_and_every_role(store_dir: Path) -> None:
    entries = list_certificates(store_dir).entries
    kinds = [entry.kind for entry in entries]
    for authority in ("root-oca", "issuing-oca", "root-dca", "issuing-dca"):
        assert kinds.count(CertificateKind(authority)) == 1
    organisations = {(entry.role, entry.usage) for entry in entries if entry.kind is CertificateKind.ORGANISATION}
    expected_roles = {"supplier", "network-operator", "access-control-broker", "wan-provider",
                      "transitional-change-of-supplier", "recovery", "root", "other-user"}  # fmt: skip
    assert expected_roles <= {role for role, _ in organisations}
    for role in ("supplier", "network-operator", "access-control-broker", "wan-provider"):
        assert {(role, "ds"), (role, "ka")} <= organisations
    assert (store_dir / f"{DEFAULT_PARTIES[2].eui.hex()}-pp-ka.pem").is_file()  # the supplier's


def test_openssl_verifies_every_certificate_against_its_chain(store_dir: Path) -> None:
    if OPENSSL is None:
        pytest.skip("openssl is not installed (scripts/install-system-deps test installs it)")
    entries = list_certificates(store_dir).entries
    assert len(entries) >= 24
    by_path = {entry.path: entry for entry in entries}
    for entry in entries:
        chain, issuer = [], entry.issuer_path
        while issuer is not None and issuer not in chain:
            chain.append(issuer)
            issuer = by_path[issuer].issuer_path
        root, untrusted = chain[-1], chain[:-1]
        command = [OPENSSL, "verify", "-x509_strict", "-CAfile", str(root)]
        if untrusted:
            command += ["-untrusted", str(untrusted[0])]
        result = subprocess.run([*command, str(entry.path)], capture_output=True, text=True, timeout=60)
        assert result.returncode == 0 and result.stdout.strip().endswith(": OK"), (entry.path, result.stdout, result.stderr)


def test_the_store_is_in_the_rtds_layout_for_the_codec(store_dir: Path) -> None:
    keystore = PkiStore.open(store_dir).keystore()
    supplier = DEFAULT_PARTIES[2]
    assert supplier.role is Role.SUPPLIER
    assert keystore.role(supplier.eui) is Role.SUPPLIER
    assert keystore.private_key(supplier.eui, KeyUsage.PREPAYMENT_KA) is not None
    assert keystore.is_device(ESME) and keystore.private_key(ESME, KeyUsage.DS) is not None
    assert gbcs.security.access_control_broker(keystore) == DEFAULT_PARTIES[4].eui


def test_private_keys_are_0600_and_never_printed(store_dir: Path) -> None:
    keys = sorted(store_dir.rglob("*.key"))
    assert len(keys) >= 24
    for path in keys:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
        assert b"PRIVATE KEY" in path.read_bytes()
    for path in sorted(store_dir.rglob("*.pem")):
        assert stat.S_IMODE(path.stat().st_mode) == 0o644, path
    outputs = [smets_emu("pki", "show", str(store_dir)), smets_emu("pki", "show", "--json", str(store_dir))]
    for result in outputs:
        assert b"PRIVATE" not in result.stdout + result.stderr


def test_certificates_are_marked_as_test_certificates(store_dir: Path) -> None:
    for path in sorted(store_dir.rglob("*.pem")):
        certificate = x509.load_pem_x509_certificate(path.read_bytes())
        names = certificate.subject.rfc4514_string() or certificate.issuer.rfc4514_string()
        assert "TEST" in names, path  # devices' subjects are empty: their issuer says it


def test_show_json_describes_every_certificate(store_dir: Path) -> None:
    result = smets_emu("pki", "show", "--json", str(store_dir))
    assert result.returncode == 0, result.stderr.decode()
    rows = json_lines(result)
    assert all(row.keys() == SHOW_KEYS for row in rows)
    by_path = {row["path"]: row for row in rows}
    assert len(by_path) == len(list(store_dir.rglob("*.pem")))
    esme = by_path[str(store_dir / "00db123456789001-ds.pem")]
    assert esme == {
        "path": str(store_dir / "00db123456789001-ds.pem"), "kind": "device", "role": "esme",
        "eui": "00DB123456789001", "usage": "ds", "issuer_path": str(store_dir / "ca/issuing-dca.pem"),
        "not_after": "9999-12-31T23:59:59Z",
    }  # fmt: skip
    assert by_path[str(store_dir / "00db123456789002-ka.pem")]["role"] == "gsme"
    root = by_path[str(store_dir / "ca/root-oca.pem")]
    assert (root["kind"], root["role"], root["eui"], root["usage"]) == ("root-oca", None, None, "ca")
    assert root["issuer_path"] == root["path"]
    assert by_path[str(store_dir / "ca/issuing-oca.pem")]["issuer_path"] == root["path"]
    supplier = by_path[str(store_dir / f"{DEFAULT_PARTIES[2].eui.hex()}-ka.pem")]
    assert (supplier["kind"], supplier["role"], supplier["eui"], supplier["usage"]) == (
        "organisation", "supplier", str(DEFAULT_PARTIES[2].eui), "ka")
    # Issued today (the fixture ran `pki init` without a config): ten years less one second.
    today = datetime.now(timezone.utc).date()
    end = datetime(today.year + 10, today.month, today.day if (today.month, today.day) != (2, 29) else 28)
    assert supplier["not_after"] == f"{end - timedelta(seconds=1):%Y-%m-%dT%H:%M:%S}Z"
    for row in rows:
        assert row["eui"] is None or len(row["eui"]) == 16 and row["eui"] == row["eui"].upper()
        datetime.fromisoformat(row["not_after"].replace("Z", "+00:00"))


def test_show_table_lists_every_certificate(store_dir: Path) -> None:
    result = smets_emu("pki", "show", str(store_dir))
    assert result.returncode == 0
    lines = result.stdout.decode().splitlines()
    assert lines[0].split() == ["PATH", "KIND", "ROLE", "EUI-64", "USAGE", "NOT", "AFTER", "ISSUER"]
    assert len(lines) - 1 == len(list(store_dir.rglob("*.pem")))


def test_show_reads_the_rtds_key_store() -> None:
    result = smets_emu("pki", "show", "--json", str(RTDS / "keystore"))
    assert result.returncode == 0, result.stderr.decode()
    rows = json_lines(result)
    assert len(rows) == 416  # every certificate; the bare public key is a note on stderr
    assert b"fffffffffffffffe-ka.pem is a bare public key" in result.stderr
    broker = next(row for row in rows if row["path"].endswith("90b3d51f30000002-ds.pem"))
    assert (broker["kind"], broker["role"], broker["not_after"]) == (
        "organisation", "access-control-broker", "2025-10-29T23:59:59Z")
    device = next(row for row in rows if row["path"].endswith("00db123456789001-ka.pem"))
    assert (device["kind"], device["role"], device["issuer_path"]) == ("device", None, None)


# -- the codec uses the store ---------------------------------------------------------------


def _readdressed(path: Path, originator: bytes, recipient: bytes, cra: gbcs.Cra | None = None) -> gbcs.Frame:
    frame = gbcs.decode(bytes.fromhex(path.read_text()))
    changes = {"originator": EUI64(originator), "recipient": EUI64(recipient), "signature": None, "mac": None}
    if cra is not None:
        changes["cra"] = cra
    return dataclasses.replace(frame, **changes)


def test_frames_signed_and_maced_with_generated_keys_verify_in_decode(store_dir: Path, tmp_path: Path) -> None:
    keystore = PkiStore.open(store_dir).keystore()
    supplier = DEFAULT_PARTIES[2].eui
    # A critical command: signed by the supplier, MACed from the ACB's and the meter's KA pairs.
    command = _readdressed(ECS01A, supplier, ESME)
    command = gbcs.add_mac(gbcs.sign(command, keystore.private_key(supplier, KeyUsage.DS)), keystore)
    # A response: signed by the meter, MACed from the meter's and the supplier's KA pairs.
    response = _readdressed(ECS01A, ESME, supplier, gbcs.Cra.RESPONSE)
    response = gbcs.add_mac(gbcs.sign(response, keystore.private_key(ESME, KeyUsage.DS)), keystore)
    files = []
    for name, frame in (("command", command), ("response", response)):
        files.append(tmp_path / f"{name}.hex")
        files[-1].write_text(gbcs.encode(frame).hex())

    result = smets_emu("decode", "--json", "--check", "--keystore", str(store_dir), *map(str, files))
    assert result.returncode == 0, result.stdout.decode() + result.stderr.decode()
    rows = json_lines(result)
    assert [(row["signature"], row["mac"]) for row in rows] == [("valid", "valid")] * 2

    # Judged at a moment outside the organisation certificates' ten years, they are untrusted.
    late = smets_emu("decode", "--json", "--check", "--keystore", str(store_dir), "--at", "2099-01-01", str(files[0]))
    assert late.returncode == 1
    assert (json_lines(late)[0]["signature"], json_lines(late)[0]["mac"]) == ("untrusted", "untrusted")


def test_a_frame_signed_by_another_key_does_not_verify(store_dir: Path, tmp_path: Path) -> None:
    keystore = PkiStore.open(store_dir).keystore()
    supplier, network_operator = DEFAULT_PARTIES[2].eui, DEFAULT_PARTIES[3].eui
    forged = gbcs.sign(_readdressed(ECS01A, supplier, ESME), keystore.private_key(network_operator, KeyUsage.DS))
    file = tmp_path / "forged.hex"
    file.write_text(gbcs.encode(forged).hex())
    result = smets_emu("decode", "--json", "--check", "--keystore", str(store_dir), str(file))
    assert result.returncode == 1 and json_lines(result)[0]["signature"] == "invalid"


# -- device credentials -----------------------------------------------------------------------


def test_regeneration_issues_new_keys_and_certificates(tmp_path: Path) -> None:
    store = PkiStore.create(tmp_path / "store", now=NOW)
    store.issue_device(ESME, DeviceType.ESME)
    before = {usage: (tmp_path / "store" / f"{ESME.hex()}-{usage}.pem").read_bytes() for usage in ("ds", "ka")}
    result = smets_emu("pki", "device", str(tmp_path / "store"), "--eui", str(ESME), "--type", "esme", "--regenerate")
    assert result.returncode == 0, result.stderr.decode()
    reopened = PkiStore.open(tmp_path / "store")
    for usage in ("ds", "ka"):
        old = x509.load_pem_x509_certificate(before[usage])
        new = x509.load_pem_x509_certificate((tmp_path / "store" / f"{ESME.hex()}-{usage}.pem").read_bytes())
        assert new.public_key() != old.public_key() and new.serial_number != old.serial_number
        assert gbcs.pki.describe_certificate(new).eui == ESME
        gbcs.pki.check_path(new, reopened.chain(CertificateKind.DEVICE), NOW)
    keystore = reopened.keystore()
    assert keystore.private_key(ESME, KeyUsage.DS).public_key() == keystore.public_key(ESME, KeyUsage.DS)
    assert reopened.devices == {ESME: DeviceType.ESME}


def test_a_device_generated_key_is_certified_by_the_issuing_dca(tmp_path: Path) -> None:
    store = PkiStore.create(tmp_path / "store", now=NOW)
    device_key = gbcs.pki.generate_key()  # made on the device; only its public half travels
    certificate = store.issue_device_certificate(GSME, "ka", device_key.public_key())
    gbcs.pki.check_path(certificate, store.chain(CertificateKind.DEVICE), NOW)
    assert certificate.public_key() == device_key.public_key()


def test_config_sets_parties_and_validity(tmp_path: Path) -> None:
    config = tmp_path / "pki.toml"
    config.write_text(
        'not_before = 2016-01-01T00:00:00Z\n'
        '[[party]]\nrole = "supplier"\neui = "90-B3-D5-1F-30-01-00-00"\nname = "LAB TEST SUPPLIER"\nusages = ["ds"]\n'
    )  # fmt: skip
    result = smets_emu("pki", "init", str(tmp_path / "store"), "--config", str(config))
    assert result.returncode == 0, result.stderr.decode()
    keystore = PkiStore.open(tmp_path / "store").keystore()
    assert keystore.role(EUI64("90B3D51F30010000")) is Role.SUPPLIER
    assert keystore.parties_with_role(Role.SUPPLIER) == [EUI64("90B3D51F30010000")]  # replaced the default
    certificate = keystore.certificate(EUI64("90B3D51F30010000"), KeyUsage.DS)
    assert certificate.not_valid_before_utc == datetime(2016, 1, 1, tzinfo=timezone.utc)
    assert certificate.not_valid_after_utc == datetime(2025, 12, 31, 23, 59, 59, tzinfo=timezone.utc)
    assert keystore.certificate(EUI64("90B3D51F30010000"), KeyUsage.KA) is None
    assert "LAB TEST SUPPLIER" in certificate.subject.rfc4514_string()


# -- bad input: a clear error, the store unchanged ---------------------------------------------


def test_init_refuses_to_overwrite_unless_forced(tmp_path: Path) -> None:
    directory = tmp_path / "store"
    PkiStore.create(directory, now=NOW)
    before = snapshot(directory)
    result = smets_emu("pki", "init", str(directory))
    assert result.returncode == 2 and b"already holds files; pass --force" in result.stderr
    assert snapshot(directory) == before
    forced = smets_emu("pki", "init", "--force", str(directory))
    assert forced.returncode == 0, forced.stderr.decode()
    after = snapshot(directory)
    assert after.keys() == before.keys() and after != before
    assert not [path for path in tmp_path.iterdir() if path.name.startswith(".")]  # no leftovers


@pytest.mark.parametrize(("config_text", "message"), [
    ('[[party]]\nrole = "suplier"\neui = "90B3D51F30010000"\n', "unknown role 'suplier'; known roles: root"),
    ('[[party]]\nrole = "supplier"\neui = "90B3D51F3001"\n', "EUI-64"),
    ('[[party]]\nrole = "supplier"\n', "eui is required"),
    ('[[party]]\nrole = "supplier"\neui = "90B3D51F30010000"\nname = "REAL SUPPLIER"\n', "contain TEST"),
    ('[[party]]\nrole = "supplier"\neui = "90B3D51F30010000"\nusages = ["sign"]\n', "usages must be"),
    ('organisation_years = "ten"\n', "organisation_years"),
    ('not_before = "yesterday"\n', "not_before must be a TOML date-time"),
    ('colour = "blue"\n', "unknown key 'colour'"),
    ('[[party\n', "not valid TOML"),
    ('[[party]]\nrole = "supplier"\neui = "90B3D51F30010000"\n[[party]]\nrole = "network-operator"\n'
     'eui = "90B3D51F30010000"\n', "given to more than one party"),
])  # fmt: skip
def test_bad_config_is_a_clear_error_and_writes_nothing(tmp_path: Path, config_text: str, message: str) -> None:
    config = tmp_path / "pki.toml"
    config.write_text(config_text)
    result = smets_emu("pki", "init", str(tmp_path / "store"), "--config", str(config))
    assert result.returncode == 2
    assert message in result.stderr.decode(), result.stderr.decode()
    assert b"Traceback" not in result.stderr
    assert sorted(path.name for path in tmp_path.iterdir()) == ["pki.toml"]


@pytest.mark.parametrize(("args", "message"), [
    (["--eui", "00DB12345678", "--type", "esme"], "argument --eui"),
    (["--eui", "00DB123456789003", "--type", "meter"], "unknown device type 'meter'"),
    (["--eui", str(ESME), "--type", "esme"], "already has credentials (esme); pass --regenerate"),
    (["--eui", str(ESME), "--type", "gsme", "--regenerate"], "is a esme, not a gsme"),
    (["--eui", "00DB123456789009", "--type", "ihd", "--regenerate"], "not a device of this store"),
    (["--eui", str(DEFAULT_PARTIES[2].eui), "--type", "chf"], "not a device's"),
])  # fmt: skip
def test_bad_device_requests_leave_the_store_unchanged(tmp_path: Path, args: list[str], message: str) -> None:
    directory = tmp_path / "store"
    PkiStore.create(directory, now=NOW).issue_device(ESME, DeviceType.ESME)
    before = snapshot(directory)
    result = smets_emu("pki", "device", str(directory), *args)
    assert result.returncode == 2 and message in result.stderr.decode(), result.stderr.decode()
    assert snapshot(directory) == before


def test_a_key_readable_by_others_is_refused(tmp_path: Path) -> None:
    directory = tmp_path / "store"
    PkiStore.create(directory, now=NOW)
    key = directory / "ca" / "issuing-dca.key"
    key.chmod(0o644)
    before = snapshot(directory)
    result = smets_emu("pki", "device", str(directory), "--eui", str(GSME), "--type", "gsme")
    assert result.returncode == 2
    assert f"{key} has mode 0644: private keys must be 0600 (chmod 600 {key})" in result.stderr.decode()
    assert snapshot(directory) == before
    with pytest.raises(StoreError, match="must be 0600"):
        PkiStore.open(directory)


@pytest.mark.parametrize("damage", ["missing", "not-json", "wrong-format", "bad-device-type", "file"])
def test_an_unreadable_store_is_a_clear_error(tmp_path: Path, damage: str) -> None:
    directory = tmp_path / "store"
    PkiStore.create(directory, now=NOW)
    manifest = directory / "smki.json"
    if damage == "missing":
        manifest.unlink()
    elif damage == "not-json":
        manifest.write_text("{")
    elif damage == "wrong-format":
        manifest.write_text(json.dumps({"format": 99}))
    elif damage == "bad-device-type":
        manifest.write_text(json.dumps({"format": 1, "not_before": "2026-01-01T00:00:00Z",
                                        "organisation_years": 10, "devices": {str(ESME): "toaster"}}))  # fmt: skip
    else:
        shutil.rmtree(directory)
        directory.write_text("not a directory")
    before = snapshot(directory) if directory.is_dir() else directory.read_bytes()
    result = smets_emu("pki", "device", str(directory), "--eui", str(GSME), "--type", "gsme")
    assert result.returncode == 2, result.stderr.decode()
    stderr = result.stderr.decode()
    assert stderr.startswith("smets-emu pki device: ") and "Traceback" not in stderr
    assert (snapshot(directory) if directory.is_dir() else directory.read_bytes()) == before


def test_init_over_a_file_is_refused(tmp_path: Path) -> None:
    target = tmp_path / "store"
    target.write_text("precious")
    with pytest.raises(StoreError, match="not a directory"):
        PkiStore.create(target, now=NOW, overwrite=True)
    assert target.read_text() == "precious"


def test_config_errors_are_typed() -> None:
    with pytest.raises(ConfigError, match="party 1: unknown role"):
        PkiConfig.from_mapping({"party": [{"role": "dno", "eui": "0000000000000001"}]})
    with pytest.raises(ConfigError, match="cannot read"):
        PkiConfig.from_toml(Path("/nonexistent/pki.toml"))
