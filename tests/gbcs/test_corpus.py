"""One test per reference message: it decodes, re-encodes byte for byte, and its signature,
MAC and encrypted blocks verify with the RTDS key store."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

import gbcs
from gbcs.encryption import decrypt_block, find_encrypted_blocks, payload_key
from gbcs.security import Check
from tests.conftest import CORPUS_FILES, corpus_id, read_corpus_file

# PCS01 and PCS02 are MACed between the PPMID and the GSME, and the RTDS key store holds a
# private key-agreement key for neither (primer §14.10): their MACs cannot be checked.
UNVERIFIABLE_MAC = {
    "NA_PCS01/PCS01_NA_SUCCESS_COMMAND_GBCS.HEX",
    "NA_PCS01/PCS01_NA_SUCCESS_RESPONSE_GBCS.HEX",
    "NA_PCS02/PCS02_NA_SUCCESS_COMMAND_GBCS.HEX",
    "NA_PCS02/PCS02_NA_SUCCESS_RESPONSE_GBCS.HEX",
}


@pytest.mark.parametrize("path", CORPUS_FILES, ids=corpus_id)
def test_corpus_message_decodes_and_round_trips(path: Path) -> None:
    data = read_corpus_file(path)
    frame = gbcs.decode(data)
    assert gbcs.encode(frame) == data
    # A frame rebuilt from its typed fields alone (no cached wire bytes) encodes the same.
    assert gbcs.encode(dataclasses.replace(frame)) == data


@pytest.mark.parametrize("path", CORPUS_FILES, ids=corpus_id)
def test_corpus_message_form_matches_its_file_name(path: Path) -> None:
    frame = gbcs.decode(read_corpus_file(path))
    name = path.name
    if "_PRECOMMAND_" in name:
        assert frame.form is gbcs.Form.PRE_COMMAND
        assert frame.cra is gbcs.Cra.COMMAND
    elif "_COMMAND_" in name:
        assert frame.cra is gbcs.Cra.COMMAND
        assert frame.form is not gbcs.Form.PRE_COMMAND
    elif "_RESPONSE_" in name:
        assert frame.cra is gbcs.Cra.RESPONSE
    else:
        assert "_ALERT_" in name
        assert frame.cra is gbcs.Cra.ALERT


@pytest.mark.parametrize("path", CORPUS_FILES, ids=corpus_id)
def test_corpus_message_signature_and_mac_verify(path: Path, keystore) -> None:
    frame = gbcs.decode(read_corpus_file(path))
    verdict = gbcs.verify(frame, keystore)
    assert verdict.signature is (Check.ABSENT if frame.signature is None else Check.VALID)
    if frame.mac is None:
        assert verdict.mac is Check.ABSENT
    elif corpus_id(path) in UNVERIFIABLE_MAC:
        print(f"{corpus_id(path)}: MAC not checkable, no PPMID/GSME key-agreement private key")
        assert verdict.mac is Check.NO_KEY
    else:
        assert verdict.mac is Check.VALID


@pytest.mark.parametrize("path", CORPUS_FILES, ids=corpus_id)
def test_corpus_message_encrypted_blocks_decrypt(path: Path, keystore) -> None:
    frame = gbcs.decode(read_corpus_file(path))
    blocks = find_encrypted_blocks(frame)
    for block in blocks:
        plaintext = decrypt_block(frame, block, payload_key(frame, keystore))  # tag verified
        assert len(plaintext) == len(block.sealed) - 12
        if block.kind == "gbz":
            _check_zcl_plaintext(frame, block, plaintext)
    # Every block is found: the security header of an encrypted block (31 + IC 0) occurs in
    # the content exactly as often as the walk finds blocks.
    assert frame.content.count(b"\x31\x00\x00\x00\x00") == len(blocks)


# ZCL data type sizes (ZCL specification, table 2-10) for the types RTDS's encrypted Read
# Attributes Responses use.
_ZCL_SIZES = {0x18: 1, 0x20: 1, 0x21: 2, 0x22: 3, 0x23: 4, 0x25: 6, 0x2A: 3, 0x2B: 4,
              0x30: 1, 0x31: 2, 0xE2: 4}  # fmt: skip


def _check_zcl_plaintext(frame, block, plaintext: bytes) -> None:
    """A decrypted Read Attributes Response is whole attribute records: id (2), status (1),
    and for status 0 a type (1) and a value of that type's size."""
    zcl_header = frame.content[block.offset - 5 : block.offset - 2]
    frame_control, command = zcl_header[0], zcl_header[2]
    if frame_control & 0x03 != 0 or command != 0x01:
        return  # cluster-specific command: its payload is read by the payload decoders
    position = 0
    while position < len(plaintext):
        status = plaintext[position + 2]
        position += 3
        if status == 0:
            kind = plaintext[position]
            assert kind in _ZCL_SIZES, f"ZCL type {kind:02X}"
            position += 1 + _ZCL_SIZES[kind]
    assert position == len(plaintext)


def test_worked_example_decrypts_to_the_primers_plaintext(corpus, keystore) -> None:
    """primer §13.2: the GPF's encrypted Metering component holds divisor, multiplier, unit
    of measure and current summation delivered."""
    frame = gbcs.decode(corpus["4.1.1_GCS13a/GCS13a_4.1.1_SUCCESS_RELIABLE_GSME_RESPONSE_GBCS.HEX"])
    (block,) = find_encrypted_blocks(frame)
    plaintext = decrypt_block(frame, block, payload_key(frame, keystore))
    assert plaintext == bytes.fromhex(
        "020300 22 E80300" "010300 22 010000" "000300 30 01" "000000 25 393000000000"
    )


def test_every_precommand_is_its_command_without_the_signature(corpus) -> None:
    """primer §2: a pre-command is byte for byte the General Signing APDU of its command,
    less the signature element."""
    pairs = 0
    for name, data in corpus.items():
        if "_PRECOMMAND_" not in name:
            continue
        command_name = name.replace("_PRECOMMAND_", "_COMMAND_")
        assert command_name in corpus, name
        precommand, command = gbcs.decode(data), gbcs.decode(corpus[command_name])
        apdu, signed_end = command.general_signing_apdu()
        assert apdu[:signed_end] == data
        assert dataclasses.replace(command, signature=None, mac=None, signature_element=False) == precommand
        pairs += 1
    assert pairs == sum("_PRECOMMAND_" in name for name in corpus) > 100
