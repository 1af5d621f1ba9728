"""The key store reads the RTDS layout and says what is wrong with a bad one."""

from __future__ import annotations

import pytest

from gbcs.errors import KeyStoreError
from gbcs.keystore import InMemoryKeyStore, KeyUsage
from gbcs.security import access_control_broker
from gbcs.types import EUI64, Role
from tests.conftest import RTDS


def test_rtds_keystore_roles_and_devices(keystore) -> None:
    assert keystore.role(EUI64("90B3D51F30010000")) is Role.SUPPLIER
    assert keystore.role(EUI64("90B3D51F30020000")) is Role.NETWORK_OPERATOR
    assert access_control_broker(keystore) == EUI64("90B3D51F30000002")
    assert keystore.is_device(EUI64("00DB1234567890A0"))
    assert not keystore.is_device(EUI64("90B3D51F30010000"))
    assert keystore.role(EUI64("00DB1234567890A0")) is None


def test_key_files_of_every_kind_are_read(keystore) -> None:
    supplier = EUI64("90B3D51F30010000")
    assert keystore.certificate(supplier, KeyUsage.DS) is not None
    assert keystore.private_key(supplier, KeyUsage.PREPAYMENT_KA) is not None
    # A bare public key (.pem without a certificate) and a private key without a .pem.
    assert keystore.public_key(EUI64("FFFFFFFFFFFFFFFE"), KeyUsage.KA) is not None
    assert keystore.public_key(EUI64("ABABABABABABABAB"), KeyUsage.KA) is not None


def test_shared_secrets_are_symmetric_and_cached(keystore) -> None:
    a, b = EUI64("90B3D51F30000002"), EUI64("00DB1234567890A0")
    assert keystore.shared_secret(a, b) is keystore.shared_secret(b, a)
    assert keystore.shared_secret(EUI64("00DB1234567890A1"), b) is None  # no private key


def test_a_missing_directory_is_a_key_store_error(tmp_path) -> None:
    with pytest.raises(KeyStoreError, match="cannot read key store"):
        InMemoryKeyStore.from_directory(tmp_path / "absent")


@pytest.mark.parametrize("name, text, message", [
    ("00db1234567890a0-ds.pem", "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
     "not a PEM certificate"),
    ("00db1234567890a0-ka.key", "not a key", "not an unencrypted PEM private key"),
    ("00db1234567890a0-ka.pem", "garbage", "not a PEM certificate or public key"),
])  # fmt: skip
def test_a_corrupt_key_file_names_itself(tmp_path, name, text, message) -> None:
    (tmp_path / name).write_text(text)
    (tmp_path / "README").write_text("other files are ignored")
    with pytest.raises(KeyStoreError, match=message) as raised:
        InMemoryKeyStore.from_directory(tmp_path)
    assert name in str(raised.value)


def test_other_files_are_ignored(tmp_path) -> None:
    (tmp_path / "notes.txt").write_text("x")
    for source in RTDS.joinpath("keystore").glob("90b3d51f30010000-ds.*"):
        (tmp_path / source.name).write_bytes(source.read_bytes())
    store = InMemoryKeyStore.from_directory(tmp_path)
    assert store.euis() == [EUI64("90B3D51F30010000")]
