"""Frames built from typed values, and malformed frames: every fault a typed error at the
right byte. Offsets refer to the layout of primer §13.1 (the ECS42 command, 146 bytes)."""

from __future__ import annotations

import dataclasses

import pytest

import gbcs
from gbcs import errors
from gbcs.frame import Lengths
from gbcs.types import EUI64, Cra, DlmsDateTime

ECS42 = "7.1_ECS42/ECS42_7.1_SUCCESS_COMMAND_GBCS.HEX"
ECS42_PRE = "7.1_ECS42/ECS42_7.1_SUCCESS_PRECOMMAND_GBCS.HEX"
ECS42_RESPONSE = "7.1_ECS42/ECS42_7.1_SUCCESS_RESPONSE_GBCS.HEX"
GCS13A = "4.1.1_GCS13a/GCS13a_4.1.1_SUCCESS_RELIABLE_GSME_RESPONSE_GBCS.HEX"
SUPPLIER = EUI64("90B3D51F30010000")
ESME = EUI64("00DB1234567890A0")


def ecs42_precommand() -> gbcs.Frame:
    """primer §13.1, field by field: close the ESME's load switch."""
    return gbcs.Frame(
        cra=Cra.COMMAND,
        originator_counter=1000,
        originator=SUPPLIER,
        recipient=ESME,
        other_information=gbcs.OtherInformation(0x004F),
        content=bytes.fromhex("D9 200003E8 00 01 03 0009 00000A006AFF 01 01 120033"),
        signature_element=False,
    )


def test_a_precommand_built_from_typed_values_is_the_corpus_precommand(corpus) -> None:
    assert gbcs.encode(ecs42_precommand()) == corpus[ECS42_PRE]


def test_a_command_built_from_typed_values_gets_the_corpus_mac(corpus, keystore) -> None:
    # The signature is ECDSA (randomised), so take RTDS's; the MAC is deterministic and ours.
    signature = gbcs.decode(corpus[ECS42]).signature
    frame = dataclasses.replace(ecs42_precommand(), signature_element=True, signature=signature)
    assert gbcs.encode(gbcs.add_mac(frame, keystore)) == corpus[ECS42]


def test_a_frame_compares_by_value_not_by_how_it_was_read(corpus) -> None:
    decoded = gbcs.decode(corpus[ECS42_PRE])
    assert decoded == ecs42_precommand()
    assert hash(decoded.other_information) == hash(gbcs.OtherInformation(0x004F))


def _with_long_content_length(data: bytes) -> bytes:
    """ECS42: the content length 15 written as 81 15, the wrapper length grown by one."""
    assert data[7:9] == b"\x81\x89" and data[47] == 0x15
    return data[:7] + b"\x81\x8a" + data[9:47] + b"\x81\x15" + data[48:]


def test_non_minimal_lengths_round_trip_byte_for_byte(corpus) -> None:
    longer = _with_long_content_length(corpus[ECS42])
    frame = gbcs.decode(longer)
    assert frame.lengths == Lengths(content=1)
    assert gbcs.encode(frame) == longer
    assert frame == gbcs.decode(corpus[ECS42])  # the same message, read in another form


@pytest.mark.parametrize(
    "other_information, encoded",
    [
        (gbcs.OtherInformation(0x00CC), "00CC"),
        (gbcs.OtherInformation(0x0123, EUI64("90B3D51F30010000")), "0123 90B3D51F30010000"),
        (
            gbcs.OtherInformation(0x0034, EUI64("123456789ABCDEF0"), 0x1122),
            "0034 123456789ABCDEF0 0000000000001122",
        ),
        (
            gbcs.OtherInformation(0x0034, EUI64("123456789ABCDEF0"), 0x1122, 0x3344),
            "0034 123456789ABCDEF0 0000000000001122 0000000000003344",
        ),
        (
            gbcs.OtherInformation(0x0034, EUI64("123456789ABCDEF0"), 0x1122,
                                  remote_party_certificate=bytes.fromhex("300A02080102030405060708")),
            "0034 123456789ABCDEF0 0000000000001122 300A02080102030405060708",
        ),  # fmt: skip
    ],
    ids=["2 bytes", "10 bytes", "18 bytes", "26 bytes", "with a certificate"],
)
def test_other_information_forms_round_trip(other_information, encoded) -> None:
    """primer §5: the five Other Information forms, inside a whole frame."""
    frame = dataclasses.replace(ecs42_precommand(), other_information=other_information)
    data = gbcs.encode(frame)
    expected = bytes.fromhex(encoded)
    assert data[30 : 31 + len(expected)] == bytes((len(expected),)) + expected
    assert gbcs.decode(data) == frame


def test_date_time_in_the_header_is_typed(corpus) -> None:
    frame = gbcs.decode(corpus[GCS13A])
    assert frame.date_time == DlmsDateTime(2015, 1, 1, clock_status=0x04)
    assert frame.date_time.isoformat() == "2015-01-01T00:00:00Z"


def _mutate(data: bytes, offset: int, value: int) -> bytes:
    return data[:offset] + bytes((value,)) + data[offset + 1 :]


ERROR_CASES = [
    # (name, corpus file, how to break it, error class, offset, field mentions)
    ("empty", ECS42, lambda d: b"", errors.Truncated, 0, "message"),
    ("not GBCS", ECS42, lambda d: b"\x30" + d[1:], errors.BadTag, 0, "message"),
    ("general-ciphering field not empty", ECS42, lambda d: _mutate(d, 3, 1), errors.BadTag, 1, "general-ciphering"),
    ("cut inside the APDU", ECS42, lambda d: d[:100], errors.Truncated, 14, "general signing APDU"),
    ("cut inside the MAC", ECS42, lambda d: d[:140], errors.Truncated, 134, "MAC"),
    ("trailing byte", ECS42, lambda d: d + b"\x00", errors.TrailingBytes, 146, "general ciphering"),
    # One short: the APDU and MAC are read one byte early and the last byte is left over.
    ("wrapper length one short", ECS42, lambda d: _mutate(d, 8, 0x88), errors.TrailingBytes, 145, "general ciphering"),
    ("wrapper length one long", ECS42, lambda d: _mutate(d, 8, 0x8A), errors.Truncated, 135, "MAC"),
    ("wrapper length below 17", ECS42, lambda d: d[:7] + b"\x10" + d[9:], errors.BadLength, 13, "general signing APDU"),
    ("indefinite length", ECS42, lambda d: _mutate(d, 7, 0x80), errors.BadLength, 7, "ciphered-content length"),
    ("five-byte length", ECS42, lambda d: _mutate(d, 7, 0x85), errors.BadLength, 7, "ciphered-content length"),
    ("transaction-id length", ECS42, lambda d: _mutate(d, 15, 0x08), errors.BadTag, 15, "transaction-id"),
    ("CRA flag 05", ECS42, lambda d: _mutate(d, 16, 0x05), errors.BadValue, 16, "CRA flag"),
    ("CRA flag 04", ECS42, lambda d: _mutate(d, 16, 0x04), errors.BadValue, 16, "CRA flag"),
    ("originator id length", ECS42, lambda d: _mutate(d, 25, 0x07), errors.BadTag, 25, "business originator"),
    ("target id length", ECS42, lambda d: _mutate(d, 34, 0x09), errors.BadTag, 34, "business target"),
    ("date-time length", ECS42, lambda d: _mutate(d, 43, 0x05), errors.BadLength, 43, "date-time"),
    ("signature length", ECS42, lambda d: _mutate(d, 69, 0x20), errors.BadLength, 69, "signature"),
    ("content overruns", ECS42_RESPONSE, lambda d: _mutate(d, 33, 0x7F), errors.Truncated, 34, "content"),
    ("month 13", GCS13A, lambda d: _mutate(d, 45, 13), errors.BadDateTime, 45, "date-time"),
    ("30 February", GCS13A, lambda d: _mutate(_mutate(d, 45, 2), 46, 30), errors.BadDateTime, 46, "date-time"),
    ("hour 24", GCS13A, lambda d: _mutate(d, 48, 24), errors.BadDateTime, 48, "date-time"),
    # The response is a bare General Signing APDU: other information length at 30, code 31-32.
    ("other information of 3 bytes", ECS42_RESPONSE,
     lambda d: d[:30] + b"\x03" + d[31:33] + b"\x00" + d[33:], errors.BadLength, 31, "other information"),
    ("certificate not a SEQUENCE", ECS42_RESPONSE,
     lambda d: d[:30] + b"\x1c" + d[31:33] + bytes(16) + b"\x31\x08" + bytes(8) + d[33:],
     errors.BadTag, 49, "certificate"),
    ("certificate length wrong", ECS42_RESPONSE,
     lambda d: d[:30] + b"\x1c" + d[31:33] + bytes(16) + b"\x30\x09" + bytes(8) + d[33:],
     errors.BadLength, 50, "certificate"),
]  # fmt: skip


@pytest.mark.parametrize("name, file, breaker, error, offset, field", ERROR_CASES,
                         ids=[case[0] for case in ERROR_CASES])  # fmt: skip
def test_malformed_frames_raise_typed_errors_at_the_right_byte(
    corpus, name, file, breaker, error, offset, field
) -> None:
    with pytest.raises(error) as raised:
        gbcs.decode(breaker(corpus[file]))
    assert raised.value.offset == offset, str(raised.value)
    assert field in raised.value.field, str(raised.value)
    assert f"at byte {offset}" in str(raised.value)


def test_a_general_ciphering_wrapper_must_hold_a_signature_element(corpus) -> None:
    precommand = corpus[ECS42_PRE]
    wrapped = (b"\xdd" + bytes(6) + bytes((5 + len(precommand) + 12,)) + b"\x11" + bytes(4)
               + precommand + bytes(12))  # fmt: skip
    with pytest.raises(errors.BadValue) as raised:
        gbcs.decode(wrapped)
    assert raised.value.field == "signature"
    assert raised.value.offset == 13 + len(precommand)


def test_every_prefix_of_a_message_is_truncated_or_a_precommand(corpus) -> None:
    """A reader fed a message one byte at a time: no prefix decodes, except that a General
    Signing APDU cut right after its content is a valid pre-command."""
    for name, data in list(corpus.items())[::7]:
        frame = gbcs.decode(data)
        signed_end = frame.general_signing_apdu()[1]
        for size in range(len(data)):
            prefix = data[:size]
            if frame.form is gbcs.Form.GENERAL_SIGNING and size == signed_end:
                assert gbcs.decode(prefix).form is gbcs.Form.PRE_COMMAND, name
                continue
            with pytest.raises(errors.Truncated):
                gbcs.decode(prefix)


def test_bytes_after_a_message_are_trailing_bytes(corpus) -> None:
    for name, data in corpus.items():
        # A pre-command followed by 00 is a General Signing APDU with an empty signature
        # element, so two bytes are needed to be sure of trailing garbage.
        extra = b"\x00\x00" if "_PRECOMMAND_" in name else b"\x00"
        with pytest.raises(errors.TrailingBytes) as raised:
            gbcs.decode(data + extra)
        assert raised.value.offset == len(data) + len(extra) - 1, name


def test_typed_values_are_validated_when_built() -> None:
    frame = ecs42_precommand()
    with pytest.raises(ValueError, match="signature"):
        dataclasses.replace(frame, signature=b"\x01" * 63, signature_element=True)
    with pytest.raises(ValueError, match="pre-command"):
        dataclasses.replace(frame, mac=bytes(12))
    with pytest.raises(ValueError, match="64 bits"):
        dataclasses.replace(frame, originator_counter=1 << 64)
    with pytest.raises(ValueError):
        gbcs.OtherInformation(0x10000)
    with pytest.raises(ValueError, match="needs"):
        gbcs.OtherInformation(1, supplementary_remote_party_counter=5)
    with pytest.raises(ValueError):
        DlmsDateTime(2015, 2, 29)
    with pytest.raises(ValueError):
        EUI64("00DB12")


def test_encode_reports_what_cannot_be_encoded() -> None:
    frame = dataclasses.replace(ecs42_precommand(), content=bytes(1 << 32))
    with pytest.raises(errors.EncodeError, match="content length"):
        gbcs.encode(frame)
