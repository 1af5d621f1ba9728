"""Command builders: RTDS's commands rebuilt byte for byte from the values read in them, built
contents that our decoders (and tshark, for GBZ) read back, and every bad parameter refused
with a ParameterError that names it."""

from __future__ import annotations

import dataclasses
from datetime import datetime, timezone
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import gbcs
from gbcs import dlms, gbz
from gbcs.catalogue import PayloadKind
from gbcs.commands import BUILDERS, CommandBuilder, ParameterError, builder
from gbcs.errors import GbcsError
from gbcs.payload import decode_payload, encode_payload
from gbcs.types import EUI64, Cra, DeviceType
from tests import tshark
from tests.conftest import RTDS

SUPPLIER, ESME, GSME = (EUI64(text) for text in ("90B3D51F30010000", "00DB1234567890A0", "00DB1234567890A1"))

# ---------------------------------------------------------------------------------------------
# RTDS, byte for byte. Each row: the use case, an RTDS COMMAND file, and the parameters as read
# by hand in that file's decoded payload (smets-emu decode); the comment says where.

_TOU_CALENDAR = {  # 1.1.1_ECS01a IMMEDIATE_TOU and FUTURE_DATED_TOU_BLOCK: attributes 7, 8 of the calendar
    "week_profiles": "1: 1 1 1 1 1 3 3; 2: 2 2 2 2 2 3 3",
    "seasons": "winter 2014-10-27 1; summer 2015-03-29 2",  # 07DE0A1B..., 07DF031D...
}
_TOU_BLOCK = {  # 1.1.1_ECS01a FUTURE_DATED_TOU_BLOCK (and CANCELLATION, the same but for its time)
    **_TOU_CALENDAR,
    "day_profiles": "1: 00:00=102 07:00=101; 2: 06:00=101 23:00=102; 3: 00:00=1",  # scripts 0066, 0065, 0001
    "special_days": "2015-05-01 1; *-12-25 3",  # 07DF0501FF -> day 1, FFFF0C19FF -> day 3
    "tou_prices": "0.02121",  # index 01: int16 2121 at price scale -5
    "block_prices": "0.02289/0.03546,0.04002/0.06969",  # A1 2289, B1 3546, A2 4002, B2 6969
    "block_thresholds": "10000,40000",  # 0.0.16.1.11: [10000, FFFFFFFF], 0.0.16.1.12: [40000, FFFFFFFF]
    "standing_charge": "0.2",  # int16 20000 at scale -5
}
RTDS_CASES = [
    ("ECS17b", "4.1.1_ECS17b/ECS17b_4.1.1_SINGLE_SUCCESS_COMMAND_GBCS.HEX", {}),
    ("ECS17b", "4.1.1_ECS17b/ECS17b_4.1.1_TWIN_SUCCESS_COMMAND_GBCS.HEX", {}),  # from the network operator
    ("ECS17b", "4.1.1_ECS17b/ECS17b_4.1.1_ERROR_COMMAND_GBCS.HEX", {}),
    # the range: 07DE0C1FFF000000008000FF to 07DF0101FF000000008000FF
    ("ECS22b", "4.8.1_ECS22b/ECS22b_4.8.1_SINGLE_SUCCESS_COMMAND_GBCS.HEX",
     {"start": "2014-12-31T00:00:00Z", "end": "2015-01-01T00:00:00Z"}),
    ("ECS22b", "4.8.1_ECS22b/ECS22b_4.8.1_TWIN_SUCCESS_COMMAND_GBCS.HEX", ["start=2014-12-31", "end=2015-01-01"]),
    ("ECS24", "4.11.1_ECS24/ECS24_4.11.1_SUCCESS_COMMAND_GBCS.HEX", {}),
    ("ECS26e", "6.2.4_ECS26e/ECS26e_6.2.4_SUCCESS_COMMAND_GBCS.HEX", {}),
    ("ECS04a", "1.5_ECS04a/ECS04a_1.5_SUCCESS_COMMAND_GBCS.HEX", {"amount": "12"}),  # int32 1200000
    ("ECS04a", "1.5_ECS04a/ECS04a_1.5_ERROR_COMMAND_GBCS.HEX", ["amount=12.00000"]),
    ("ECS01a", "1.1.1_ECS01a/ECS01a_1.1.1_IMMEDIATE_TOU_SUCCESS_COMMAND_GBCS.HEX", {
        **_TOU_CALENDAR,
        "day_profiles": "1: 00:00=2 07:00=3; 2: 06:00=3 23:00=2; 3: 00:00=1",
        "special_days": "2015-05-01 2; *-12-25 3",
        "tou_prices": "0.02121, 0.03127, 0.04744",  # indices 01-03: 2121, 3127, 4744
        "standing_charge": "0.2",
    }),  # activation all zero: the default, now
    ("ECS01a", "1.1.1_ECS01a/ECS01a_1.1.1_IMMEDIATE_BLOCK_SUCCESS_COMMAND_GBCS.HEX", {
        "seasons": "all 2015-01-01 1",  # 616C6C, 07DF0101FF...
        "day_profiles": "1: 00:00=101",
        "block_prices": "0.01361/0.02289/0.05566",  # A1, B1, C1
        "block_thresholds": "10000/20000",  # 0.0.16.1.11: [10000, 20000, FFFFFFFF]
        "standing_charge": "0.2",
    }),  # week profile 1 every day: the default
    ("ECS01a", "1.1.1_ECS01a/ECS01a_1.1.1_IMMEDIATE_ERROR_COMMAND_GBCS.HEX", {
        **_TOU_CALENDAR,
        "day_profiles": "1: 00:00=2 07:00=3; 2: 06:00=3 23:00=2; 3: 00:00=1",
        "special_days": "2015-05-01 2; *-12-25 3",
        "tou_prices": [0.02121, "0.03127", Decimal("0.04744")],  # JSON numbers, strings, Decimals alike
        "standing_charge": 0.2,
    }),
    ("ECS01a", "1.1.1_ECS01a/ECS01a_1.1.1_FUTURE_DATED_TOU_BLOCK_SUCCESS_COMMAND_GBCS.HEX",
     {**_TOU_BLOCK, "activation": "2030-01-15T09:00:00Z"}),  # 07EE010FFF090000008000FF, six times
    ("ECS01a", "1.1.1_ECS01a/ECS01a_1.1.1_CANCELLATION_TOU_BLOCK_SUCCESS_COMMAND_GBCS.HEX",
     {**_TOU_BLOCK, "activation": "cancel"}),  # FFFFFFFFFFFFFFFFFF8000FF
    ("GCS13a", "4.1.1_GCS13a/GCS13a_4.1.1_SUCCESS_UNRELIABLE_COMMAND_GBCS.HEX", {}),  # to the GSME
    ("GCS13a", "4.1.1_GCS13a/GCS13a_4.1.1_SUCCESS_RELIABLE_GSME_COMMAND_GBCS.HEX", {}),  # to the GPF
    # earliest sample time 0x1C34A780 (2014-12-30T00:00Z), 97 samples
    ("GCS17", "4.8.1_GCS17/GCS17_4.8.1_SUCCESS_COMMAND_GBCS.HEX",
     {"start": "2014-12-30T00:00:00Z", "end": "2015-01-01T00:00:00Z"}),
    # 0x1874E380 (2013-01-01T00:00Z), 8690 samples: the last half-hour starts at 2013-07-01T00:30Z
    ("GCS17", "4.8.1_GCS17/GCS17_4.8.1_NOT_FOUND_COMMAND_GBCS.HEX",
     {"start": "2013-01-01T00:00:00Z", "end": "2013-07-01T00:30:00Z"}),
    ("GCS21e", "6.2.4_GCS21e/GCS21e_6.2.4_SUCCESS_COMMAND_GBCS.HEX", {}),
]  # fmt: skip


@pytest.mark.parametrize(("name", "path", "params"), RTDS_CASES, ids=[path.split("/")[1] for _, path, _ in RTDS_CASES])
def test_builds_rtds_command_content_byte_for_byte(name: str, path: str, params) -> None:
    frame = gbcs.decode(bytes.fromhex((RTDS / "messages" / path).read_text()))
    command = builder(name)
    assert frame.message_code == command.message_code
    assert frame.date_time is None and not command.header_date_time  # primer §5
    content = command.content(params, counter=frame.originator_counter, originator=frame.originator,
                              recipient=frame.recipient)  # fmt: skip
    assert content.hex() == frame.content.hex()


def test_every_builder_is_held_to_an_rtds_command() -> None:
    assert {name for name, _, _ in RTDS_CASES} == set(BUILDERS)


def test_the_counter_and_parties_go_where_rtds_puts_them() -> None:
    """A DLMS invoke-id is the counter's low 24 bits; a protected read names counter and parties."""
    content = builder("ECS17b").content({}, counter=0x0102_0304_0506, originator=SUPPLIER, recipient=ESME)
    apdu = dlms.decode_apdu(content)
    assert apdu.invoke_id_and_priority == 0x2004_0506
    options = apdu.data[0].value[1].value[0].value[1].value
    assert [item.value for item in options[:3]] == [b"\x04" + (0x0102_0304_0506).to_bytes(8, "big"), SUPPLIER, ESME]


# ---------------------------------------------------------------------------------------------
# Built contents read back by our decoders, with parameters other than RTDS's.

SAMPLES = {
    "ECS01a": {"tou_prices": "0.2121,0.1000", "standing_charge": "0.3", "day_profiles": "1: 00:00=1 07:00=2",
               "special_days": "*-12-25 1", "activation": "2027-04-01T00:00:00+01:00"},
    "ECS04a": {"amount": "-2.5"},
    "ECS17b": {},
    "ECS22b": {"start": "2026-11-30T00:00:00Z", "end": "2026-11-30T03:00:00Z"},
    "ECS24": {},
    "ECS26e": {},
    "GCS13a": {},
    "GCS17": {"start": "2026-11-30T00:00:00Z", "end": "2026-11-30T03:00:00Z"},
    "GCS21e": {},
}
RECIPIENTS = {DeviceType.ESME: ESME, DeviceType.GSME: GSME}


def command_frame(command: CommandBuilder, counter: int = 0x1234_5678) -> gbcs.Frame:
    recipient = RECIPIENTS[command.target]
    content = command.content(SAMPLES[command.name], counter=counter, originator=SUPPLIER, recipient=recipient)
    return gbcs.Frame(cra=Cra.COMMAND, originator_counter=counter, originator=SUPPLIER, recipient=recipient,
                      other_information=gbcs.OtherInformation(command.message_code), content=content)  # fmt: skip


def test_samples_cover_every_builder() -> None:
    assert set(SAMPLES) == set(BUILDERS)


@pytest.mark.parametrize("name", sorted(BUILDERS))
def test_built_content_decodes_completely_and_round_trips(name: str) -> None:
    command = builder(name)
    frame = command_frame(command)
    payload = decode_payload(frame)
    assert payload.kind is command.use_case.payload
    assert payload.complete
    assert encode_payload(payload) == frame.content
    if payload.kind is PayloadKind.DLMS:
        assert isinstance(payload.value, dlms.AccessRequest)
        assert payload.value.invoke_id == 0x34_5678
    else:
        assert isinstance(payload.value, gbz.GbzPayload)
        controls = [component.control for component in payload.value.components]
        assert controls[-1] & gbz.LAST and not any(control & gbz.LAST for control in controls[:-1])


def test_built_tariff_says_what_was_asked() -> None:
    frame = command_frame(builder("ECS01a"))
    apdu = decode_payload(frame).value
    by_attribute = {(spec.class_id, str(spec.instance), spec.member): value
                    for spec, value in zip(apdu.specifications, apdu.data, strict=True)}  # fmt: skip
    scalers, commodity, table = by_attribute[(113, "0.0.19.20.0.255", 6)].value
    assert [member.value for member in scalers.value] == [3, -5]  # per kWh, 10^-5 GBP
    assert [entry.value[1].value for entry in table.value[:3]] == [21210, 10000, 0]
    assert len(table.value) == 80
    assert by_attribute[(113, "0.0.19.20.4.255", 6)].value[2].value[0].value[1].value == 30000
    days = by_attribute[(20, "0.0.13.0.0.255", 9)].value[0].value[1].value
    assert [(switch.value[0].value, switch.value[2].value) for switch in days] == [(bytes(4), 1), (b"\x07\x00\x00\x00", 2)]
    # 2027-04-01T00:00+01:00 is 2027-03-31T23:00Z: GBCS times are UTC (primer §3)
    activation = gbcs.DlmsDateTime.decode(by_attribute[(20, "0.0.13.0.0.255", 10)].value)
    assert activation.to_datetime() == datetime(2027, 3, 31, 23, 0, tzinfo=timezone.utc)


def test_gas_profile_asks_for_each_half_hour_of_the_range() -> None:
    [component] = decode_payload(command_frame(builder("GCS17"))).value.components
    request = component.command.value
    assert component.command.name == "get_sampled_data"
    assert (int(request.earliest_sample_time), request.number_of_samples) == (849312000, 7)  # 2026-11-30T00:00Z


def test_parse_keeps_parsed_values_and_reads_both_forms() -> None:
    for name, params in SAMPLES.items():
        parsed = builder(name).parse(params)
        assert builder(name).parse(parsed) == parsed
        assert builder(name).parse([f"{key}={value}" for key, value in params.items()]) == parsed


def test_json_lists_and_command_line_text_give_the_same_tariff() -> None:
    text = builder("ECS01a").parse(["block_prices=0.1/0.2,0.3", "block_thresholds=100,", "tou_prices=0.01"])
    json = builder("ECS01a").parse({"block_prices": [[0.1, 0.2], ["0.3"]], "block_thresholds": [[100], []],
                                    "tou_prices": [0.01]})  # fmt: skip
    assert text == json
    assert text["block_thresholds"] == ((100,), ())


def test_builders_follow_the_catalogue() -> None:
    for name, command in BUILDERS.items():
        case = command.use_case
        assert case.name == name and command.target in case.devices and command.role in case.originator_roles
        assert command.future_datable is bool(case.future_datable)
        assert all(parameter.kind and parameter.help for parameter in command.parameters)
    assert builder("ECS01a").future_datable and not builder("ECS17b").future_datable
    assert builder("ecs17B") is BUILDERS["ECS17b"]


@pytest.mark.tshark
def test_tshark_reads_built_frames_without_fault(keystore) -> None:
    """tshark dissects GBZ contents field by field (DLMS only as far as the header), so a
    misplaced GBZ length or count would be flagged Malformed."""
    commands = [builder(name) for name in sorted(BUILDERS)]
    frames = [gbcs.add_mac(command_frame(command, counter), keystore) for counter, command in enumerate(commands, start=1)]
    for frame, seen in zip(frames, tshark.dissect([gbcs.encode(frame) for frame in frames]), strict=True):
        assert int(seen.message_code, 16) == frame.message_code
        assert not seen.has_error, seen


# ---------------------------------------------------------------------------------------------
# Bad parameters: a ParameterError that names the parameter, and nothing else.

BAD = [
    ("ECS22b", {"start": "yesterday", "end": "2015-01-01"}, "start", "ISO 8601"),
    ("ECS22b", {"start": "2015-01-01", "end": 20150102}, "end", "ISO 8601"),
    ("ECS22b", {"end": "2015-01-01"}, "start", "missing"),
    ("ECS22b", {"start": "2015-01-02", "end": "2015-01-01"}, "end", "before start"),
    ("ECS22b", ["start=2015-01-01", "end=2015-01-02", "finish=2015-01-03"], "finish", "unknown parameter"),
    ("ECS22b", ["start=2015-01-01", "start=2015-01-02", "end=2015-01-02"], "start", "given twice"),
    ("ECS17b", {"register": "import"}, "register", "takes no parameters"),
    ("ECS04a", {}, "amount", "missing"),
    ("ECS04a", ["amount"], "amount", "key=value"),
    ("ECS04a", {"amount": "twelve"}, "amount", "decimal number"),
    ("ECS04a", {"amount": True}, "amount", "decimal number"),
    ("ECS04a", {"amount": "NaN"}, "amount", "finite"),
    ("ECS04a", {"amount": "1e999999999"}, "amount", "out of range"),
    ("ECS04a", {"amount": "21474.83648"}, "amount", "maximum"),
    ("ECS04a", {"amount": "0.000001"}, "amount", "decimal places"),
    ("GCS17", {"start": "1999-12-31T23:30:00Z", "end": "2000-01-01"}, "start", "minimum"),
    ("GCS17", {"start": "2000-01-01", "end": "2010-01-01"}, "end", "at most 65535"),
    ("GCS17", {"start": "2015-01-01T00:00:00.5", "end": "2015-01-02"}, "start", "whole seconds"),
    ("ECS01a", {}, "tou_prices", "TOU prices or block prices"),
    ("ECS01a", {"tou_prices": "0.5"}, "tou_prices", "does not fit INT16"),
    ("ECS01a", {"tou_prices": "0.1,,0.2"}, "tou_prices", "decimal number"),
    ("ECS01a", {"tou_prices": ",".join(["0.1"] * 49)}, "tou_prices", "at most 48"),
    ("ECS01a", {"tou_prices": {"1": 0.1}}, "tou_prices", "expected a list"),
    ("ECS01a", {"tou_prices": "0.1", "standing_charge": "0.000001"}, "standing_charge", "decimal places"),
    ("ECS01a", {"tou_prices": "0.1", "price_scale": "-5.5"}, "price_scale", "integer"),
    ("ECS01a", {"tou_prices": "0.1", "price_scale": 128}, "price_scale", "maximum"),
    ("ECS01a", {"tou_prices": "0.1", "currency": "USD"}, "currency", "GBP, EUR"),
    ("ECS01a", {"tou_prices": "0.1", "activation": "soon"}, "activation", "ISO 8601"),
    ("ECS01a", {"tou_prices": "0.1", "day_profiles": "1: 07:00=1 00:00=2"}, "day_profiles", "rising order"),
    ("ECS01a", {"tou_prices": "0.1", "day_profiles": "1: 7h=1"}, "day_profiles", "HH:MM=SCRIPT"),
    ("ECS01a", {"tou_prices": "0.1", "day_profiles": "1: 00:00=60"}, "day_profiles", "neither a TOU rate"),
    ("ECS01a", {"tou_prices": "0.1", "day_profiles": "1: 00:00=1; 1: 00:00=2"}, "day_profiles", "defined twice"),
    ("ECS01a", {"tou_prices": "0.1", "day_profiles": "00:00=1"}, "day_profiles", "HH:MM=SCRIPT"),
    ("ECS01a", {"tou_prices": "0.1", "day_profiles": "1 00:00=1"}, "day_profiles", "expected 'ID: ...'"),
    ("ECS01a", {"tou_prices": "0.1", "day_profiles": "x: 00:00=1"}, "day_profiles", "expected 'ID: ...'"),
    ("ECS01a", {"tou_prices": "0.1", "day_profiles": "300: 00:00=1"}, "day_profiles", "an id must be 0 to 255"),
    ("ECS01a", {"tou_prices": "0.1", "day_profiles": "1: 24:00=1"}, "day_profiles", "HH:MM=SCRIPT"),
    ("ECS01a", {"tou_prices": "0.1", "week_profiles": "1: 1 1 1 1 1 1"}, "week_profiles", "needs 7"),
    ("ECS01a", {"tou_prices": "0.1", "week_profiles": "1: 1 1 1 1 1 1 2"}, "week_profiles", "day profile 2"),
    ("ECS01a", {"tou_prices": "0.1", "seasons": "all 2015-13-01 1"}, "seasons", "YYYY-MM-DD"),
    ("ECS01a", {"tou_prices": "0.1", "seasons": "all 2015-01-01 2"}, "seasons", "week 2"),
    ("ECS01a", {"tou_prices": "0.1", "seasons": ""}, "seasons", "at least one season"),
    ("ECS01a", {"tou_prices": "0.1", "special_days": "2015-05-01 9"}, "special_days", "day profile 9"),
    ("ECS01a", {"tou_prices": "0.1", "special_days": [["2015-05-01", 1]]}, "special_days", "as text"),
    ("ECS01a", {"block_prices": "0.1/0.2"}, "block_prices", "1 block"),
    ("ECS01a", {"block_prices": "0.1/0.2/0.3/0.4/0.5"}, "block_prices", "at most 4"),
    ("ECS01a", {"block_prices": ",".join(["0.1"] * 9)}, "block_prices", "at most 8"),
    ("ECS01a", {"tou_prices": "0.1", "block_thresholds": "20/10"}, "block_thresholds", "must rise"),
    ("ECS01a", {"tou_prices": "0.1", "block_thresholds": "4294967295"}, "block_thresholds", "a threshold is"),
]  # fmt: skip


@pytest.mark.parametrize(("name", "raw", "parameter", "reason"), BAD,
                         ids=[f"{name}-{parameter}-{reason}" for name, _, parameter, reason in BAD])  # fmt: skip
def test_bad_parameters_are_refused_by_name(name: str, raw, parameter: str, reason: str) -> None:
    with pytest.raises(ParameterError) as refused:
        builder(name).parse(raw)
    assert refused.value.parameter == parameter
    assert f"{name} parameter {parameter!r}" in str(refused.value)
    assert reason in str(refused.value)
    with pytest.raises(ParameterError):  # content refuses them the same way
        builder(name).content(raw, counter=1, originator=SUPPLIER, recipient=ESME)


@pytest.mark.parametrize("raw", ["start=2015-01-01", b"start=2015-01-01", 42, [42], {1: "2015-01-01"}])
def test_params_that_are_neither_an_object_nor_key_value_strings_are_refused(raw) -> None:
    with pytest.raises(ParameterError, match="ECS22b"):
        builder("ECS22b").parse(raw)


def test_an_unknown_use_case_is_refused_with_the_known_ones() -> None:
    with pytest.raises(ParameterError, match=r"use case 'ECS99'; known: ECS01a, .*GCS21e") as refused:
        builder("ECS99")
    assert refused.value.parameter is None
    assert isinstance(refused.value, GbcsError)
    with pytest.raises(ParameterError):
        builder(None)  # type: ignore[arg-type]


@pytest.mark.parametrize(("addressing", "parameter"), [
    ({"counter": -1, "originator": SUPPLIER, "recipient": ESME}, "counter"),
    ({"counter": 1 << 64, "originator": SUPPLIER, "recipient": ESME}, "counter"),
    ({"counter": True, "originator": SUPPLIER, "recipient": ESME}, "counter"),
    ({"counter": 1, "originator": "90B3D51F30010000", "recipient": ESME}, "originator"),
    ({"counter": 1, "originator": SUPPLIER, "recipient": bytes(7)}, "recipient"),
])  # fmt: skip
def test_a_frame_field_that_no_frame_holds_is_refused(addressing, parameter: str) -> None:
    with pytest.raises(ParameterError) as refused:
        builder("ECS17b").content({}, **addressing)
    assert refused.value.parameter == parameter


def test_every_required_parameter_is_named_when_missing() -> None:
    for name, command in BUILDERS.items():
        for parameter in command.parameters:
            if parameter.required:
                params = {key: value for key, value in SAMPLES[name].items() if key != parameter.name}
                with pytest.raises(ParameterError, match=f"'{parameter.name}': missing"):
                    command.parse(params)


_JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30),
                     lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
                     max_leaves=10)  # fmt: skip
_TEXT = st.text(alphabet="0123456789:;,/=-*. TZabcnow", max_size=40)  # the characters the grammars use


@settings(max_examples=300)
@given(name=st.sampled_from(sorted(BUILDERS)), values=st.lists(_JSON | _TEXT, min_size=1, max_size=12))
def test_any_values_give_parameters_or_a_parameter_error(name: str, values: list) -> None:
    """The contract of parse and content: typed values or ParameterError, nothing else."""
    command = builder(name)
    names = [parameter.name for parameter in command.parameters] or ["x"]
    raw = {**SAMPLES[name], **{names[index % len(names)]: value for index, value in enumerate(values)}}
    try:
        content = command.content(raw, counter=7, originator=SUPPLIER, recipient=ESME)
    except ParameterError:
        return
    assert decode_payload(dataclasses.replace(command_frame(command), content=content)).complete
