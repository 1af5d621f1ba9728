"""Replay of RTDS's DER use cases says which device state it took from the recorded outcome of
the very command under test ("primed from the recording:"), and takes state from another corpus
file where one gives it: the CS06 image from the meter's firmware distribution receipt (8F72),
device-log entries from another command's CS07 listing, a pending key pair from CS02c."""

from __future__ import annotations

from pathlib import Path

import gbcs
from emulator.replay import replay_command
from emulator.replay_der import PRIMED
from gbcs import pki
from gbcs.der import decode_der
from gbcs.keystore import InMemoryKeyStore
from gbcs.types import EUI64
from tests.conftest import RTDS

MESSAGES = RTDS / "messages"
CS06 = MESSAGES / "11.3_CS06"


def replay(keystore: InMemoryKeyStore, path: Path, alerts: list[bytes] | None = None):
    result = replay_command(path, keystore, outcome_alerts=alerts)
    assert result.accepted, result
    return result


def notes(detail: str) -> list[str]:
    return detail.split("; ")


def test_priming_is_a_note_of_its_own_with_the_agreed_prefix() -> None:
    assert PRIMED == "primed from the recording:"


def test_a_mismatched_activation_runs_on_the_image_the_meter_verified(keystore: InMemoryKeyStore) -> None:
    """RTDS's 8F72 alert from the ESME names the image it verified; its hash is not the one
    CS06 names, so the future-dated activation fails as RTDS's 8F67 alert records, with
    nothing taken from that alert."""
    alerts: list[bytes] = []
    result = replay(keystore, CS06 / "CS06_11.3_FUTURE_DATED_ERROR_COMMAND_GBCS.HEX", alerts)
    assert PRIMED not in result.detail
    assert any("FDRA-DLMS_NA_8F72_ALERT_GBCS.HEX" in note for note in notes(result.detail))
    [alert] = alerts
    ours = gbcs.decode(alert)
    recorded = gbcs.decode(bytes.fromhex("".join((CS06 / "CS06_11.3_8F67_FUTURE_DATED_ERROR_ALERT_GBCS.HEX").read_text().split())))
    ours_value = decode_der(ours.content, ours.other_information.message_code, ours.cra).to_json()
    recorded_value = decode_der(recorded.content, recorded.other_information.message_code, recorded.cra).to_json()
    assert ours_value["alertCode"] == recorded_value["alertCode"]  # 8F67, failed
    assert ours_value["executionOutcome"]["responseCode"] == recorded_value["executionOutcome"]["responseCode"]  # hashMismatch


def test_an_activation_or_refusal_the_corpus_gives_no_other_source_for_is_primed(keystore: InMemoryKeyStore) -> None:
    success = replay(keystore, CS06 / "CS06_11.3_IMMEDIATE_SUCCESS_COMMAND_GBCS.HEX")
    assert any(note.startswith(f"{PRIMED} the device holds the firmware image the command names")
               for note in notes(success.detail))  # fmt: skip
    no_image = replay(keystore, CS06 / "CS06_11.3_IMMEDIATE_ERROR_COMMAND_GBCS.HEX")
    assert any(note.startswith(f"{PRIMED} no firmware image held") for note in notes(no_image.detail))


def test_a_hand_over_cell_taken_from_the_recorded_outcome_is_primed(keystore: InMemoryKeyStore) -> None:
    for path in sorted(MESSAGES.glob("6.21_CS02b*Handover/*_COMMAND_GBCS.HEX")):
        if "PRECOMMAND" in path.name:
            continue
        cells = [note for note in notes(replay(keystore, path).detail) if "existingSubjectUniqueID" in note]
        assert cells and all(note.startswith(PRIMED) for note in cells), path.name


def test_device_log_entries_are_primed_only_from_the_listing_under_test(keystore: InMemoryKeyStore) -> None:
    listing = replay(keystore, MESSAGES / "8.9_CS07" / "CS07_8.9_SUCCESS_COMMAND_GBCS.HEX")
    entries = [note for note in notes(listing.detail) if "on the device log" in note]
    assert entries and all(note.startswith(PRIMED) for note in entries)
    # The ERROR case's entries come from the SUCCESS case's listing: another file.
    failure = replay(keystore, MESSAGES / "8.9_CS07" / "CS07_8.9_ERROR_COMMAND_GBCS.HEX")
    assert PRIMED not in failure.detail
    assert "fault injected as recorded: CS07 (readFailure)" in failure.detail


def test_an_entry_an_unjoin_removes_because_its_recording_succeeded_is_primed(keystore: InMemoryKeyStore) -> None:
    result = replay(keystore, MESSAGES / "8.8.1_CS04ACCritical" / "CS04ACCritical_8.8.1_SUCCESS_COMMAND_GBCS.HEX")
    assert any(note.startswith(PRIMED) and "RTDS records its unjoin as a success" in note for note in notes(result.detail))


def test_a_pending_key_pair_comes_from_the_devices_cs02c_answer_not_the_recording(keystore: InMemoryKeyStore) -> None:
    for path in sorted(MESSAGES.glob("6.15.2_CS02d/*_COMMAND_GBCS.HEX")):
        if "PRECOMMAND" in path.name:
            continue
        result = replay(keystore, path)
        assert PRIMED not in result.detail
        assert "a ds key pair awaits its certificate: the device generated it in CS02c" in result.detail


def test_a_certification_requests_usage_is_read_as_a_certificates_is() -> None:
    for usage in ("ds", "ka"):
        request = pki.device_certification_request(EUI64("00DB1234567890A0"), usage, pki.generate_key())
        assert pki.key_usage_of(request) == usage
