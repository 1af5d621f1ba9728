"""The use-case catalogue knows every message code of the corpus, by the names RTDS uses."""

from __future__ import annotations

import re

import pytest

import gbcs
from gbcs.catalogue import CATALOGUE, PayloadKind, Protection
from gbcs.errors import UnknownMessageCode
from gbcs.types import Cra, DeviceType, Role


def test_every_corpus_message_code_is_in_the_catalogue(corpus) -> None:
    missing = {gbcs.decode(data).message_code for data in corpus.values()} - set(CATALOGUE)
    assert not missing, [f"0x{code:04X}" for code in sorted(missing)]


# The one exception in RTDS: the CS04B error case sends a CS04AC (0x000F) command, which the
# device answers with an error.
OTHER_USE_CASE = {
    "8.8.2_CS04B/CS04B_8.8.2_ERROR_COMMAND_GBCS.HEX",
    "8.8.2_CS04B/CS04B_8.8.2_ERROR_RESPONSE_GBCS.HEX",
}


def test_names_agree_with_the_corpus_folders(corpus) -> None:
    """A folder is `<section>_<use case><variant>`: the catalogue's name for the message code
    of its commands and responses starts the use-case part (CCS05/CCS04 as CCS05CCS04)."""
    checked = 0
    for name, data in corpus.items():
        frame = gbcs.decode(data)
        if frame.cra is Cra.ALERT or name in OTHER_USE_CASE:
            continue  # alerts carry their own message codes (future-dated outcome, ...)
        folder_use_case = re.sub(r"^[0-9.]+_|^NA_", "", name.split("/")[0])
        row = CATALOGUE[frame.message_code]
        assert row.name is not None, name
        assert folder_use_case.startswith(row.name.replace("/", "")), (name, row.name)
        checked += 1
    assert checked > 900


def test_payload_kinds_agree_with_the_first_bytes(corpus) -> None:
    """primer §7.1: 01 09 is GBZ, D9/DA/0F DLMS, anything else DER."""
    for name, data in corpus.items():
        frame = gbcs.decode(data)
        kind = CATALOGUE[frame.message_code].payload
        content = frame.content
        if content[:2] == b"\x01\x09":
            assert kind in (PayloadKind.GBZ, PayloadKind.DEVICE), name
        elif content[:1] in (b"\xd9", b"\xda", b"\x0f"):
            assert kind in (PayloadKind.DLMS, PayloadKind.DEVICE), name
        else:
            assert kind is PayloadKind.DER, name


def test_protection_agrees_with_the_corpus(corpus) -> None:
    for name, data in corpus.items():
        frame = gbcs.decode(data)
        if frame.form is gbcs.Form.PRE_COMMAND:
            continue
        seen = (Protection.SIGNATURE if frame.signature else Protection.NONE) | (
            Protection.MAC if frame.mac else Protection.NONE
        )
        assert seen in CATALOGUE[frame.message_code].protection[frame.cra], name


def test_unknown_codes_raise_a_typed_error() -> None:
    with pytest.raises(UnknownMessageCode, match="0xFFFF"):
        gbcs.use_case(0xFFFF)
    assert gbcs.use_case(0x0027).name == "ECS17b"


# RTDS devices by EUI (primer §1, observed from the use cases addressed to them); 90A5 is
# HCALCS-like and 90A6 probably an auxiliary controller, so neither is used below.
RTDS_DEVICES = {
    "00DB1234567890A0": DeviceType.ESME,
    "00DB1234567890A1": DeviceType.GSME,
    "00DB1234567890A2": DeviceType.CHF,
    "00DB1234567890A3": DeviceType.GPF,
    "00DB1234567890A4": DeviceType.PPMID,
}


def _frames(corpus):
    for name, data in corpus.items():
        frame = gbcs.decode(data)
        if frame.form is not gbcs.Form.PRE_COMMAND:
            yield name, frame, CATALOGUE[frame.message_code]


def test_devices_agree_with_the_corpus(corpus) -> None:
    checked = 0
    for name, frame, row in _frames(corpus):
        if name in OTHER_USE_CASE:
            continue
        device = str(frame.recipient if frame.cra is Cra.COMMAND else frame.originator)
        if device in RTDS_DEVICES:
            assert RTDS_DEVICES[device] in row.devices, (name, row.devices)
            checked += 1
    assert checked > 800


def test_roles_agree_with_the_corpus(corpus, keystore) -> None:
    for name, frame, row in _frames(corpus):
        if frame.cra is Cra.COMMAND and not keystore.is_device(frame.originator):
            assert keystore.role(frame.originator) in row.originator_roles, name
        if frame.cra is Cra.ALERT and keystore.role(frame.recipient) is not None:
            assert keystore.role(frame.recipient) in row.alert_recipients, name


def test_criticality_agrees_with_signatures(corpus) -> None:
    """Critical commands are signed by the remote party; non-critical ones are not."""
    for name, frame, row in _frames(corpus):
        if frame.cra is Cra.COMMAND and row.critical is not None and name not in OTHER_USE_CASE:
            assert (frame.signature is not None) is row.critical, name


def test_encrypted_responses_agree_with_the_corpus(corpus) -> None:
    from gbcs.encryption import find_encrypted_blocks

    encrypted: dict[int, bool] = {}
    for name, frame, _row in _frames(corpus):
        if frame.cra is Cra.RESPONSE and "_SUCCESS_" in name:
            found = bool(find_encrypted_blocks(frame))
            encrypted[frame.message_code] = encrypted.get(frame.message_code, False) or found
    assert encrypted
    for code, seen in encrypted.items():
        assert CATALOGUE[code].encrypted_response is seen, f"0x{code:04X}"


def test_future_dated_files_belong_to_future_datable_use_cases(corpus) -> None:
    for name, frame, row in _frames(corpus):
        if "FUTURE_DATED" in name and frame.cra is Cra.COMMAND:
            assert row.future_datable, name


def test_inferred_values_are_named() -> None:
    row = CATALOGUE[0x0074]  # GCS13a: the gas transporter's routes are inferred
    assert Role.SUPPLIER in row.originator_roles
    assert "roles=NO" in row.inferred and "roles=SUP" not in row.inferred
