"""GBZ payloads and ZCL commands: values a person can read off the primer, lossless strings,
and malformed components."""

from __future__ import annotations

import pytest

import gbcs
from gbcs import errors
from gbcs.gbz import FutureDatedOutcome, GbzAlert, decode_gbz, encode_gbz
from gbcs.payload import decode_payload
from gbcs.types import Cra
from gbcs.zcl_se import LongOctets, Octets


def test_the_primers_gbz_alert(corpus) -> None:
    """primer §13.3: 8F66 at 2030-01-15 09:00 for GCS02-style change payment mode."""
    frame = gbcs.decode(corpus["1.6_GCS03/GCS03_1.6_8F66_FUTURE_DATED_SUCCESS_ALERT_CHANGE_PAYMENT_MODE_GBCS.HEX"])
    alert = decode_gbz(frame.content, frame.cra, frame.message_code)
    assert isinstance(alert, GbzAlert) and alert.alert_code == 0x8F66
    assert alert.body == FutureDatedOutcome(0x006D, 1005, 0x0705, 0x01, 0x06)


def test_the_primers_read_of_the_gas_register(corpus, keystore) -> None:
    """primer §13.2: the command reads divisor, multiplier, unit and summation; the
    response's encrypted component decodes to their values."""
    folder = "4.1.1_GCS13a/GCS13a_4.1.1_SUCCESS_RELIABLE_GSME_"
    command = decode_payload(gbcs.decode(corpus[folder + "COMMAND_GBCS.HEX"])).value
    (read,) = command.components
    assert read.cluster_id == 0x0702 and read.command.name == "read_attributes"
    assert list(read.command.value.attribute_ids) == [0x0302, 0x0301, 0x0300, 0x0000]
    response = decode_payload(gbcs.decode(corpus[folder + "RESPONSE_GBCS.HEX"]), keystore).value
    records = {r.attribute_id: r.value for r in response.components[0].command.value}
    assert records == {0x0302: 1000, 0x0301: 1, 0x0300: 1, 0x0000: 12345}


@pytest.mark.parametrize("cls, data", [
    (Octets, b"\x03abc"), (Octets, b"\xff"), (Octets, b"\x02\xff\x00"),
    (LongOctets, b"\x02\x00ab"), (LongOctets, b"\xff\xff"),
])  # fmt: skip
def test_zcl_strings_are_lossless(cls, data) -> None:
    value, rest = cls.deserialize(data)
    assert rest == b"" and value.serialize() == data


def _component(body: str, control: str = "01", cluster: str = "0702") -> bytes:
    raw = bytes.fromhex(body)
    return bytes.fromhex("0109 01" + control + cluster) + len(raw).to_bytes(2, "big") + raw


@pytest.mark.parametrize("payload, error, offset", [
    (bytes.fromhex("0109"), errors.Truncated, 2),
    (bytes.fromhex("0110 00"), errors.BadTag, 0),
    (_component("00 01")[:-1], errors.Truncated, 8),                  # frame cut
    (_component("000001") + b"\x00", errors.TrailingBytes, 11),       # read attributes: odd byte left
    (_component("180001 0000 00 25 0102"), errors.BadValue, 3),       # uint48 cut short
    (_component("0000 180001 0003 31 00000000 01", "03"), errors.BadLength, 13),  # ciphered length
])  # fmt: skip
def test_malformed_gbz(payload, error, offset) -> None:
    with pytest.raises(error) as raised:
        decode_gbz(payload, Cra.RESPONSE, 0x0074)
    assert raised.value.offset == offset, raised.value


def test_unknown_commands_are_kept_whole_and_reported_incomplete() -> None:
    payload = _component("09 07 42 DEADBEEF", cluster="0704")  # Tunneling: no table has it
    value = decode_gbz(payload, Cra.RESPONSE, 0x0074)
    assert value.components[0].command.raw == bytes.fromhex("DEADBEEF")
    assert encode_gbz(value) == payload


def test_a_read_attributes_record_of_no_data_round_trips() -> None:
    """Found by the fuzzer in CI: a record of ZCL type 0x00 (no data) decoded but did not
    encode back (zigpy's NoData cannot be built from its own value)."""
    from gbcs.gbz import ReadAttributesResponse

    data = bytes.fromhex("0000" "00" "00")  # attribute 0, status success, type 0x00, no value
    records, rest = ReadAttributesResponse.deserialize(data)
    assert rest == b"" and records[0].type_id == 0
    assert records.serialize() == data
