"""Every reference payload decoded to meaning: complete, byte-exact, and saying what its file
name says (an ERROR response fails, a FUTURE_DATED command carries its execution time, an
alert carries the alert code in its name ...)."""

from __future__ import annotations

import collections
import re

import pytest

import gbcs
from gbcs import dlms, gbz
from gbcs.catalogue import PayloadKind
from gbcs.der import DerNode
from gbcs.payload import decode_payload, encode_payload, succeeded
from tests.conftest import CORPUS_FILES, corpus_id, read_corpus_file


@pytest.mark.parametrize("path", CORPUS_FILES, ids=corpus_id)
def test_corpus_payload_is_complete_and_byte_exact(path, keystore) -> None:
    frame = gbcs.decode(read_corpus_file(path))
    payload = decode_payload(frame, keystore)
    assert payload.complete
    assert encode_payload(payload) == frame.content
    assert payload.to_json()  # every decoded value has a JSON form


def test_without_keys_encrypted_payloads_are_incomplete(corpus) -> None:
    frame = gbcs.decode(corpus["4.1.1_GCS13a/GCS13a_4.1.1_SUCCESS_RELIABLE_GSME_RESPONSE_GBCS.HEX"])
    payload = decode_payload(frame)
    assert not payload.complete
    assert encode_payload(payload) == frame.content


# ---------------------------------------------------------------------------------------
# What a person can check against the file name. Each rule returns how many assertions it
# made, so the last test can hold every use case to at least one.

_IMMEDIATE_DLMS = bytes.fromhex("0000000000000000008000FF")  # primer §12 rule 8
_CANCEL_DLMS = bytes.fromhex("FFFFFFFFFFFFFFFFFF8000FF")


def _times(payload) -> list[str]:
    """The execution-type times of a command: 'now', 'cancel' or 'real'."""
    kinds = []
    value = payload.value
    if isinstance(value, dlms.AccessRequest):
        for data in value.data:
            for item in dlms.walk(data):
                if item.type is dlms.DataType.OCTET_STRING and len(item.value) == 12:
                    kinds.append({_IMMEDIATE_DLMS: "now", _CANCEL_DLMS: "cancel"}.get(item.value, "real"))
    elif isinstance(value, gbz.GbzPayload):
        for component in value.components:
            fields = component.command.value.as_dict() if component.command.value is not None else {}
            for name in ("start_time", "implementation_date_time"):
                if name in fields:
                    seconds = int(fields[name])
                    kinds.append("now" if seconds == 0 else "cancel" if seconds >= 0xFFFFFFFE else "real")
    elif isinstance(value, DerNode):
        node = value.child("executionDateTime")
        if node is not None:
            kinds.append("cancel" if node.value == "99991231235959Z" else "real")
        elif value.name in ("UpdateSecurityCredentialsCommand", "ActivateFirmwareCommand"):
            kinds.append("now")
    return kinds


def _alert_code(payload) -> int | None:
    value = payload.value
    if isinstance(value, dlms.DataNotification):
        first = value.value.value[0] if value.value.type is dlms.DataType.STRUCTURE else value.value
        return first.value
    if isinstance(value, gbz.GbzAlert):
        return value.alert_code
    if isinstance(value, DerNode):
        node = value.child("alertCode")
        return None if node is None else node.value
    return None


def _checks(name: str, frame: gbcs.Frame, payload) -> int:
    made = 0
    if frame.cra is gbcs.Cra.RESPONSE:
        outcome = succeeded(payload)
        if "_ERROR_" in name and "FUTURE_DATED" in name and payload.kind is PayloadKind.DER:
            # A future-dated command is accepted now; its failure comes in the 8F67 alert.
            assert payload.value.child("commandAccepted") is not None or payload.value.kind == "null", name
        elif "_ERROR_" in name:
            assert outcome is False, name
        else:
            assert outcome is not False, name
        made += 1
    if frame.cra is gbcs.Cra.ALERT:
        named = re.search(r"_([89][0-9A-F]{3})_", name)
        if named:
            assert _alert_code(payload) == int(named.group(1), 16), name
            made += 1
        else:  # no code in the name: the alert's use case is named in it (CCS08, DBCH09 ...)
            use_case = gbcs.use_case(frame.message_code)
            assert use_case.name and use_case.name in name.split("/")[1], name
            listed = re.findall(r"[89][0-9A-F]{3}", use_case.title)  # "(8F89/8F8A)"
            assert not listed or f"{_alert_code(payload):04X}" in listed, name
            made += 1
    if frame.cra is gbcs.Cra.COMMAND:
        times = _times(payload)
        if "FUTURE_DATED" in name:
            assert "real" in times and "now" not in times, (name, times)
            made += 1
        elif "CANCELLATION" in name:
            assert "cancel" in times, (name, times)
            made += 1
        elif "IMMEDIATE" in name:
            assert times and set(times) <= {"now", "real"} and "now" in times, (name, times)
            made += 1
    return made


def test_decoded_values_say_what_the_file_names_say(corpus, keystore) -> None:
    per_use_case: collections.Counter[str] = collections.Counter()
    for name, data in corpus.items():
        frame = gbcs.decode(data)
        per_use_case[name.split("/")[0]] += _checks(name, frame, decode_payload(frame, keystore))
    folders = {name.split("/")[0] for name in corpus}
    unchecked = sorted(folder for folder in folders if per_use_case[folder] == 0)
    assert not unchecked, f"use cases with no name-derived assertion: {unchecked}"
