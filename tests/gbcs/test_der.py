"""DER payloads: every one in RTDS decodes by its use case's schema and re-encodes exactly."""

from __future__ import annotations

import pytest

import gbcs
from gbcs import errors
from gbcs.der import Choice, DerNode, decode_der, encode_der, encode_der_value, schema_for
from tests.conftest import CORPUS_FILES, corpus_id, read_corpus_file


def _is_der(content: bytes) -> bool:
    return content[:2] != b"\x01\x09" and content[:1] not in (b"\xd9", b"\xda", b"\x0f")


DER_FILES = [path for path in CORPUS_FILES if _is_der(gbcs.decode(read_corpus_file(path)).content)]


@pytest.mark.parametrize("path", DER_FILES, ids=corpus_id)
def test_corpus_der_payload_round_trips(path) -> None:
    frame = gbcs.decode(read_corpus_file(path))
    assert schema_for(frame.message_code, frame.cra) is not None
    node = decode_der(frame.content, frame.message_code, frame.cra)
    assert encode_der(node) == frame.content


def _payload(corpus, name: str) -> DerNode:
    frame = gbcs.decode(corpus[name])
    return decode_der(frame.content, frame.message_code, frame.cra)


def test_join_results_match_the_file_names(corpus) -> None:
    checked = 0
    for name in corpus:
        frame = gbcs.decode(corpus[name])
        if frame.message_code in (0x000D, 0x000E, 0x00AB, 0x00AF) and frame.cra is gbcs.Cra.RESPONSE:
            node = _payload(corpus, name)
            assert (node.value == 0) is ("_SUCCESS_" in name), name
            checked += 1
    assert checked >= 8


def test_future_dated_credential_updates_carry_their_time(corpus) -> None:
    folder = "6.15.1_CS02bSupplierBySupplier/CS02bSupplierBySupplier_6.15.1_"
    future = _payload(corpus, folder + "FUTURE_DATED_SUCCESS_COMMAND_GBCS.HEX")
    assert future.child("executionDateTime").value[:4] >= "2015"
    cancel = _payload(corpus, folder + "CANCELLATION_SUCCESS_COMMAND_GBCS.HEX")
    assert cancel.child("executionDateTime").value == "99991231235959Z"
    immediate = _payload(corpus, folder + "IMMEDIATE_SUCCESS_COMMAND_GBCS.HEX")
    assert immediate.child("executionDateTime") is None
    control = immediate.child("authorisingRemotePartyControl")
    assert control.child("credentialsReplacementMode").label == "supplierBySupplier"
    cell = control.child("authorisingRemotePartyTACellIdentifier")
    assert cell.child("keyUsage").label == "digitalSignature"


def test_long_lengths_are_kept(corpus) -> None:
    """RTDS writes device-side lengths of 128-255 as 82 00 LL (not DER's 81 LL)."""
    response = corpus["6.15.1_CS02bSupplierBySupplier/CS02bSupplierBySupplier_6.15.1_IMMEDIATE_SUCCESS_RESPONSE_GBCS.HEX"]
    frame = gbcs.decode(response)
    assert frame.content[:4] == bytes.fromhex("308200CA")
    node = decode_der(frame.content, frame.message_code, frame.cra)
    assert node.width == 2
    minimal = DerNode(node.name, node.kind, node.tag, node.value)
    assert encode_der(minimal)[:3] == bytes.fromhex("3081CA")


def test_certificates_are_shown_through_cryptography(corpus) -> None:
    node = _payload(corpus, "6.15.2_CS02d/CS02d_6.15.2_SUCCESS_COMMAND_GBCS.HEX")
    shown = node.to_json()
    assert shown["kind"] == "certificate"
    assert "not_after" in shown and "error" not in shown


def test_unknown_use_cases_decode_generically() -> None:
    node = decode_der(bytes.fromhex("3006 020101 0A0100"), 0x7777, gbcs.Cra.COMMAND)
    assert [child.value for child in node.value] == [1, 0]
    assert encode_der(node) == bytes.fromhex("3006020101" "0A0100")


@pytest.mark.parametrize("payload, code, cra, error, offset", [
    ("", 0x000D, gbcs.Cra.RESPONSE, errors.Truncated, 0),
    ("0401FF", 0x000D, gbcs.Cra.RESPONSE, errors.BadTag, 0),           # not an INTEGER
    ("0200", 0x000D, gbcs.Cra.RESPONSE, errors.BadValue, 0),           # empty INTEGER
    ("020100 00", 0x000D, gbcs.Cra.RESPONSE, errors.TrailingBytes, 3),
    ("0405 0102030405", 0x000F, gbcs.Cra.COMMAND, errors.BadLength, 0),  # entity id is 8 bytes
    ("3003 020100", 0x000D, gbcs.Cra.COMMAND, errors.BadTag, 5),       # entity id missing
    ("1F0100", 0x7777, gbcs.Cra.COMMAND, errors.BadTag, 0),
    ("180F 3939393931323331323335393539 5A", 0x00B2, gbcs.Cra.ALERT, errors.BadTag, 0),  # a time, not a SEQUENCE
])  # fmt: skip
def test_malformed_der(payload, code, cra, error, offset) -> None:
    with pytest.raises(error) as raised:
        decode_der(bytes.fromhex(payload), code, cra)
    assert raised.value.offset == offset, raised.value


def _plain(node: DerNode):
    """A decoded node as the plain values ``encode_der_value`` takes."""
    if node.kind == "sequence":
        return {child.name: _plain(child) for child in node.value}
    if node.kind == "sequence-of":
        return [_plain(child) for child in node.value]
    if node.kind == "bit-string":
        return node.label.split(",") if node.label else []
    return node.value


@pytest.mark.parametrize("path", DER_FILES, ids=corpus_id)
def test_corpus_der_payloads_encode_from_plain_values(path) -> None:
    """What firmware writes: plain values in, the corpus's bytes out (where RTDS used DER's
    minimal lengths; its 82 00 LL forms come only from decoding)."""
    frame = gbcs.decode(read_corpus_file(path))
    code = frame.other_information.message_code
    node = decode_der(frame.content, code, frame.cra)
    schema = schema_for(code, frame.cra)
    value = {node.name: _plain(node)} if isinstance(schema, Choice) else _plain(node)
    built = encode_der_value(code, frame.cra, value)
    if b"\x82\x00" in frame.content and built != frame.content:
        assert len(built) < len(frame.content)  # only the length forms differ
        return
    assert built == frame.content


def test_plain_values_that_do_not_fit_are_refused() -> None:
    from gbcs.types import Cra

    with pytest.raises(errors.EncodeError, match="no ASN.1 schema"):
        encode_der_value(0x0001, Cra.COMMAND, {})
    with pytest.raises(errors.EncodeError, match="remotePartyRolesCredentialsRequired is required"):
        encode_der_value(0x0008, Cra.COMMAND, {"authorisingRemotePartyTACellIdentifier": {
            "remotePartyRole": 4, "keyUsage": ["keyAgreement"]}})
    with pytest.raises(errors.EncodeError, match="no bit named"):
        encode_der_value(0x0008, Cra.COMMAND, {"authorisingRemotePartyTACellIdentifier": {
            "remotePartyRole": 4, "keyUsage": ["flying"]}, "remotePartyRolesCredentialsRequired": []})
