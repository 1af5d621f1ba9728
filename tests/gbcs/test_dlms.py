"""DLMS payloads: every one in RTDS decodes to typed values and re-encodes byte for byte."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given
from hypothesis import strategies as st

import gbcs
from gbcs import errors
from gbcs.dlms import (
    AccessRequest,
    AccessResponse,
    BitString,
    Data,
    DataNotification,
    DataType,
    Obis,
    RequestKind,
    ResponseSpecification,
    decode_apdu,
    decode_data,
    encode_apdu,
    encode_data,
    walk,
)
from gbcs.reader import Reader
from tests.conftest import CORPUS_FILES, corpus_id, read_corpus_file

DLMS_FILES = [path for path in CORPUS_FILES
              if gbcs.decode(read_corpus_file(path)).content[:1] in (b"\xd9", b"\xda", b"\x0f")]  # fmt: skip


@pytest.mark.parametrize("path", DLMS_FILES, ids=corpus_id)
def test_corpus_dlms_payload_round_trips(path) -> None:
    frame = gbcs.decode(read_corpus_file(path))
    apdu = decode_apdu(frame.content)
    assert encode_apdu(apdu) == frame.content
    # primer §12 rule 3: the invoke id is the low 24 bits of the originator counter.
    assert apdu.invoke_id == frame.originator_counter & 0xFFFFFF
    assert apdu.invoke_id_and_priority >> 24 == 0x20  # break-on-error, in all of RTDS
    expected = {gbcs.Cra.COMMAND: AccessRequest, gbcs.Cra.RESPONSE: AccessResponse,
                gbcs.Cra.ALERT: DataNotification}[frame.cra]  # fmt: skip
    assert isinstance(apdu, expected)


def test_the_worked_example_decodes_to_its_fields(corpus) -> None:
    """primer §13.1: ECS42 runs method 1 of the script table 0.0.10.0.106.255 with 51."""
    frame = gbcs.decode(corpus["7.1_ECS42/ECS42_7.1_SUCCESS_COMMAND_GBCS.HEX"])
    apdu = decode_apdu(frame.content)
    (spec,) = apdu.specifications
    assert (spec.kind, spec.class_id, str(spec.instance), spec.member) == (
        RequestKind.ACTION, 9, "0.0.10.0.106.255", 1)
    assert apdu.data == (Data.integer(DataType.UINT16, 51),)


def test_the_outage_alert_carries_its_alert_code(corpus) -> None:
    """primer §13.3: 8F36, alert time and two more date-times."""
    frame = gbcs.decode(corpus["NA_ECS80/ECS80_NA_8F36_ALERT_GBCS.HEX"])
    value = decode_apdu(frame.content).value
    assert value.type is DataType.STRUCTURE and len(value.value) == 4
    assert value.value[0] == Data.integer(DataType.UINT16, 0x8F36)
    assert value.value[1] == Data.octet_string(bytes.fromhex("07DF0101FF000000008000FF"))


def test_error_responses_carry_a_failed_result(corpus) -> None:
    failed = 0
    for name, data in corpus.items():
        frame = gbcs.decode(data)
        if frame.cra is gbcs.Cra.RESPONSE and frame.content[:1] == b"\xda":
            apdu = decode_apdu(frame.content)
            if "_ERROR_" in name:
                assert not apdu.succeeded, name
                failed += 1
    assert failed > 20


def test_booleans_keep_their_byte() -> None:
    assert encode_data(Data.boolean(True)) == b"\x03\xff"
    odd = decode_data(Reader(b"\x03\x01"))
    assert odd.value is True and odd == Data.boolean(True)
    assert encode_data(odd) == b"\x03\x01"


def test_long_lengths_keep_their_form() -> None:
    data = b"\x09\x81\x05" + b"12345"  # five bytes, length written in the long form
    value = decode_data(Reader(data))
    assert value == Data.octet_string(b"12345")
    assert encode_data(value) == data


def test_compact_arrays_decode_to_elements(corpus) -> None:
    found = 0
    for data in corpus.values():
        frame = gbcs.decode(data)
        if frame.content[:1] in (b"\xd9", b"\xda", b"\x0f"):
            apdu = decode_apdu(frame.content)
            values = apdu.data if not isinstance(apdu, DataNotification) else (apdu.value,)
            for value in values:
                for item in walk(value):
                    if item.type is DataType.COMPACT_ARRAY:
                        description, elements = item.value
                        # RTDS logs: structures of a timestamp (uint32) and 1-3 more fields.
                        assert description.type is DataType.STRUCTURE
                        assert description.members[0].type is DataType.UINT32
                        assert elements
                        for element in elements:
                            kinds = [member.type for member in element.value]
                            assert kinds == [member.type for member in description.members]
                        found += 1
    assert found == 17


def test_obis_text() -> None:
    assert str(Obis(bytes.fromhex("00000A006AFF"))) == "0.0.10.0.106.255"
    assert Obis("1.0.1.8.0.255") == bytes((1, 0, 1, 8, 0, 255))
    with pytest.raises(ValueError):
        Obis("1.2.3")


@pytest.mark.parametrize("data, error, offset", [
    (b"", errors.Truncated, 0),
    (b"\x07", errors.BadTag, 0),
    (b"\x12\x00", errors.Truncated, 1),
    (b"\x02\x02\x11\x01", errors.Truncated, 4),
    (b"\x09\x80", errors.BadLength, 1),
    (b"\x13\x13", errors.BadValue, 1),
    (b"\x02\x01" * 40 + b"\x00", errors.BadValue, 64),
    (bytes.fromhex("13 00 01 00"), errors.BadValue, 1),            # null elements: no progress
    (bytes.fromhex("13 01FFFF00 01 00"), errors.BadValue, 1),      # arrays of nulls
])  # fmt: skip
def test_malformed_data(data, error, offset) -> None:
    with pytest.raises(error) as raised:
        decode_data(Reader(data))
    assert raised.value.offset == offset


def test_malformed_apdus() -> None:
    with pytest.raises(errors.BadTag):
        decode_apdu(b"\xc0\x00\x00\x00\x00\x00")
    with pytest.raises(errors.TrailingBytes):
        decode_apdu(bytes.fromhex("0F20000001 00 1100 01"))  # uint8 0, then a stray byte
    with pytest.raises(errors.BadValue):
        decode_apdu(bytes.fromhex("0F20000001 05"))


# Typed values built by hypothesis: encode -> decode gives them back.
_leaves = st.one_of(
    st.just(Data.null()),
    st.booleans().map(Data.boolean),
    st.binary(max_size=300).map(Data.octet_string),
    st.integers(0, 0xFFFF).map(lambda v: Data.integer(DataType.UINT16, v)),
    st.integers(-(2**63), 2**63 - 1).map(lambda v: Data.integer(DataType.INT64, v)),
    st.integers(0, 255).map(lambda v: Data.integer(DataType.ENUM, v)),
    st.text(max_size=20).map(lambda s: Data(DataType.UTF8_STRING, s)),
    st.integers(0, 40).flatmap(lambda n: st.binary(min_size=(n + 7) // 8, max_size=(n + 7) // 8).map(
        lambda b, n=n: Data(DataType.BIT_STRING, BitString(n, b)))),
    st.binary(min_size=12, max_size=12).map(lambda b: Data(DataType.DATE_TIME, b)),
)
_values = st.recursive(_leaves, lambda inner: st.one_of(
    st.lists(inner, max_size=5).map(lambda items: Data.structure(*items)),
    st.lists(inner, max_size=5).map(lambda items: Data.array(*items)),
), max_leaves=30)  # fmt: skip


@given(_values)
def test_built_values_round_trip(value) -> None:
    data = encode_data(value)
    reader = Reader(data)
    assert decode_data(reader) == value
    assert reader.at_end


@given(_values, st.data())
def test_every_prefix_of_a_value_is_refused(value, draw) -> None:
    data = encode_data(value)
    cut = draw.draw(st.integers(0, len(data) - 1))
    with pytest.raises(errors.DecodeError):  # a strict prefix never decodes as a whole value
        decode_data(Reader(data[:cut]))


def test_an_esme_builds_its_ecs17b_response_from_its_registers(corpus, keystore) -> None:
    """The response RTDS shows, built from typed values: active and reactive import
    registers of 10 Wh and 10 varh (DLMS units 30 and 32), sealed for the supplier."""
    from gbcs.dlms import protected_attribute
    from gbcs.encryption import payload_key, seal

    expected = gbcs.decode(corpus["4.1.1_ECS17b/ECS17b_4.1.1_SINGLE_SUCCESS_RESPONSE_GBCS.HEX"])

    def register(value: int, unit: int) -> list[Data]:
        scaler_unit = Data.structure(Data.integer(DataType.INT8, 0), Data.integer(DataType.ENUM, unit))
        return [Data.integer(DataType.UINT32, value), scaler_unit]

    registers = Data.structure(Data.structure(*register(10, 30), *register(10, 32)))
    # The device knows who asked (header of the command) and holds its key-agreement pair;
    # RTDS holds the supplier's half, which agrees the same key.
    header = dataclasses.replace(expected, content=b"")
    key = payload_key(header, keystore)
    sealed = seal(expected.originator, key, encode_data(registers))
    response = AccessResponse(
        invoke_id_and_priority=0x20000000 | (expected.originator_counter & 0xFFFFFF),
        date_time=b"",
        data=(protected_attribute(expected.originator_counter, expected.originator,
                                  expected.recipient, sealed),),
        results=(ResponseSpecification(RequestKind.ACTION, 0),),
    )  # fmt: skip
    assert encode_apdu(response) == expected.content


def test_every_object_the_corpus_addresses_has_a_name(corpus) -> None:
    from gbcs.cosem import member_name, object_name

    for name, data in corpus.items():
        frame = gbcs.decode(data)
        if frame.content[:1] == b"\xd9":
            for spec in decode_apdu(frame.content).specifications:
                assert object_name(spec.class_id, str(spec.instance)), (name, str(spec.instance))
                assert member_name(spec.class_id, spec.member, method=spec.kind is RequestKind.ACTION), name
