"""RTDS replay for the Communications Hub Function: every corpus command addressed to the CHF,
fed to an emulated CHF with the corpus identities and trust anchors."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from emulator.replay import compare_responses, replay_command, replay_folders
from gbcs.keystore import InMemoryKeyStore
from tests.conftest import RTDS
from tests.emulator.test_cli import json_lines, smets_emu

MESSAGES = RTDS / "messages"


@pytest.fixture(scope="module")
def chf_results(keystore: InMemoryKeyStore) -> list:
    results = [result for result in replay_folders([MESSAGES], keystore) if result.target == "chf"]
    verdicts = Counter(result.verdict for result in results)
    accepted = sum(result.accepted for result in results)
    print(f"\nRTDS replay, CHF: {accepted}/{len(results)} accepted ({100 * accepted / len(results):.0f}%); {dict(verdicts)}")
    return results


def test_every_chf_command_is_accepted_and_answered_like_the_corpus(chf_results: list) -> None:
    assert len(chf_results) == 28  # every RTDS COMMAND addressed to 00DB1234567890A2
    for result in chf_results:
        assert result.accepted, result
        assert result.verdict in ("exact", "structure"), result


def test_error_cases_are_refused_with_the_corpus_error_byte_for_byte(chf_results: list) -> None:
    errors = [result for result in chf_results if "_ERROR_" in Path(result.input).name]
    assert len(errors) == 13
    for result in errors:
        assert result.verdict == "exact", result
        assert "fault injected as recorded" in result.detail


def test_set_and_action_responses_match_the_corpus_exactly(chf_results: list) -> None:
    """Sets and actions answer only results: nothing device-specific, so byte for byte (the
    backup action CCS07 returns device state, and is compared by structure)."""
    exact = {Path(result.input).name for result in chf_results if result.verdict == "exact"}
    for name in ("CCS01_8.11_SUCCESS_COMMAND_GBCS.HEX", "CCS02_8.11_SUCCESS_COMMAND_GBCS.HEX",
                 "CCS03_8.12.1_SUCCESS_COMMAND_GBCS.HEX", "DBCH04_6.28_SUCCESS_COMMAND_GBCS.HEX",
                 "DBCH05_6.29_SUCCESS_COMMAND_GBCS.HEX"):  # fmt: skip
        assert name in exact


def test_credentials_use_cases_match_the_corpus_payload(chf_results: list) -> None:
    """CS02a's details and CS02b's replacement outcome are the corpus's bytes; CS02b's response
    must be signed, which a device without its private key cannot do, and replay says so."""
    by_case = {result.use_case: result for result in chf_results if result.use_case.startswith("CS02")}
    assert by_case["CS02a"].verdict == "exact"
    assert by_case["CS02b"].verdict == "structure"
    assert "same payload" in by_case["CS02b"].detail and "response not signed" in by_case["CS02b"].detail
    assert "not checked up to the Root" in by_case["CS02b"].detail


def test_macs_rely_on_the_remote_partys_key_and_say_so(chf_results: list) -> None:
    """RTDS has no device key-agreement private keys: the replay says where it used the remote
    party's side of the ECDH exchange instead."""
    for result in chf_results:
        if result.accepted:
            assert "MAC computed from the remote party's private key" in result.detail


def test_a_corrupted_recording_is_a_mismatch(tmp_path: Path, keystore: InMemoryKeyStore) -> None:
    folder = tmp_path / "8.11_CCS01"
    folder.mkdir()
    source = MESSAGES / "8.11_CCS01"
    (folder / "CCS01_8.11_SUCCESS_COMMAND_GBCS.HEX").write_text((source / "CCS01_8.11_SUCCESS_COMMAND_GBCS.HEX").read_text())
    recorded = bytearray(bytes.fromhex((source / "CCS01_8.11_SUCCESS_RESPONSE_GBCS.HEX").read_text()))
    recorded[-20] ^= 0x01  # one result code in the recorded response's payload
    (folder / "CCS01_8.11_SUCCESS_RESPONSE_GBCS.HEX").write_text(recorded.hex())
    result = replay_command(folder / "CCS01_8.11_SUCCESS_COMMAND_GBCS.HEX", keystore)
    assert result.accepted and result.verdict == "mismatch", result


def test_compare_says_what_differs() -> None:
    response = bytes.fromhex((MESSAGES / "8.11_CCS01/CCS01_8.11_SUCCESS_RESPONSE_GBCS.HEX").read_text())
    other = bytes.fromhex((MESSAGES / "8.11_CCS02/CCS02_8.11_SUCCESS_RESPONSE_GBCS.HEX").read_text())
    assert compare_responses(response, response) == ("exact", "")
    assert compare_responses(None, response)[0] == "mismatch"
    verdict, detail = compare_responses(other, response)
    assert verdict == "mismatch" and detail


def test_the_replay_command_line(tmp_path: Path) -> None:
    result = smets_emu("replay", "--json", "--keystore", str(RTDS / "keystore"), str(MESSAGES / "8.11_CCS01"),
                       str(MESSAGES / "NA_CS02aSignature"))  # fmt: skip
    assert result.returncode == 0, result.stderr.decode()
    rows = json_lines(result)
    assert [(row["target"], row["use_case"], row["accepted"], row["verdict"]) for row in rows] == [
        ("chf", "CCS01", True, "exact"), ("chf", "CCS01", True, "exact"),
        ("esme", "CS02a", True, "structure"), ("chf", "CS02a", True, "exact")]
    assert all(row.keys() == {"input", "target", "use_case", "accepted", "verdict", "detail"} for row in rows)
    text = smets_emu("replay", "--keystore", str(RTDS / "keystore"), str(MESSAGES / "8.11_CCS01"))
    assert text.returncode == 0 and b"exact" in text.stdout and b"2 commands" in text.stdout
    missing = smets_emu("replay", "--keystore", str(RTDS / "keystore"), str(tmp_path / "nothing"))
    assert missing.returncode == 2 and b"no COMMAND files" in missing.stderr
