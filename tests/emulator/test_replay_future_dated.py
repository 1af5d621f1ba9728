"""Future-dated corpus commands to the electricity meter execute at their date-time in virtual
time and raise the future-dated outcome alerts RTDS recorded: as many, to the same party,
with the same alert code, time and payload naming the command and the activated attribute."""

from __future__ import annotations

from pathlib import Path

import pytest

import gbcs
from emulator.replay import der_shape, replay_command
from gbcs.der import decode_der
from gbcs.dlms import DataNotification, decode_apdu
from gbcs.keystore import InMemoryKeyStore
from gbcs.types import EUI64, Cra
from tests.conftest import RTDS, read_corpus_file

MESSAGES = RTDS / "messages"
ESME = EUI64("00DB1234567890A0")
# every future-dated command to RTDS's electricity meter whose outcome alerts RTDS holds (ECS46d's
# go to an auxiliary controller, a device type not modelled)
COMMANDS = sorted(path for path in MESSAGES.glob("*/E*_FUTURE_DATED*SUCCESS_COMMAND_GBCS.HEX")
                  if any(path.parent.glob(path.name.split("_FUTURE_DATED")[0] + "_8F66_FUTURE_DATED*ALERT*"))
                  and gbcs.decode(read_corpus_file(path)).recipient == ESME)  # fmt: skip


def recorded_alerts(command: Path) -> list[Path]:
    prefix, rest = command.name.split("_FUTURE_DATED")
    return sorted(command.parent.glob(f"{prefix}_8F66_FUTURE_DATED{rest.removesuffix('_COMMAND_GBCS.HEX')}_ALERT*"))


def notification(alert: bytes) -> tuple:
    frame = gbcs.decode(alert)
    apdu = decode_apdu(frame.content)
    assert isinstance(apdu, DataNotification)
    code, moment, detail = (member.value for member in apdu.value.value)
    return frame.cra, frame.other_information.message_code, frame.recipient, code, moment, detail


def test_the_corpus_has_future_dated_meter_commands_with_alerts() -> None:
    assert {path.name.split("_")[0] for path in COMMANDS} >= {"ECS01a", "ECS01b", "ECS01c", "ECS02", "ECS03", "ECS08"}


@pytest.mark.parametrize("command", COMMANDS, ids=lambda path: path.name.removesuffix("_COMMAND_GBCS.HEX"))
def test_future_dated_activations_raise_the_recorded_alerts(command: Path, keystore: InMemoryKeyStore) -> None:
    alerts: list[bytes] = []
    result = replay_command(command, keystore, outcome_alerts=alerts)
    assert result.accepted, result
    recorded = sorted(notification(read_corpus_file(path)) for path in recorded_alerts(command))
    ours = sorted(notification(alert) for alert in alerts)
    assert recorded and all(alert[:2] == (Cra.ALERT, 0x00CC) for alert in recorded)
    assert ours == recorded


# the security credentials and firmware commands (ASN.1 DER) to the meter whose outcome alerts RTDS holds
DER_COMMANDS = sorted(path for path in MESSAGES.glob("*/CS0*_FUTURE_DATED*_COMMAND_GBCS.HEX")
                      if any(path.parent.glob(path.name.split("_FUTURE_DATED")[0] + "_8F6[67]_FUTURE_DATED*ALERT*"))
                      and gbcs.decode(read_corpus_file(path)).recipient == ESME)  # fmt: skip


def outcome(alert: bytes) -> tuple:
    """An alert's header and the shape of its DER outcome, with every ...Code (the alert code,
    each replacement's status, the activation's response code) compared by value."""
    frame = gbcs.decode(alert)
    code = frame.other_information.message_code
    return frame.cra, code, frame.recipient, der_shape(decode_der(frame.content, code, frame.cra))


def test_the_corpus_has_future_dated_credential_and_firmware_commands() -> None:
    assert {path.name.split("_")[0] for path in DER_COMMANDS} >= {"CS02bSupplierBySupplier", "CS02gLoadControllerBySupplier", "CS06"}
    assert any("_ERROR_" in path.name for path in DER_COMMANDS)  # failures (8F67) as well as successes


@pytest.mark.parametrize("command", DER_COMMANDS, ids=lambda path: path.name.removesuffix("_COMMAND_GBCS.HEX"))
def test_future_dated_credentials_and_firmware_report_the_recorded_outcome(command: Path, keystore: InMemoryKeyStore) -> None:
    alerts: list[bytes] = []
    result = replay_command(command, keystore, outcome_alerts=alerts)
    assert result.accepted, result
    prefix, rest = command.name.split("_FUTURE_DATED")
    recorded = sorted(command.parent.glob(f"{prefix}_8F6[67]_FUTURE_DATED{rest.removesuffix('_COMMAND_GBCS.HEX')}_ALERT*"))
    assert [outcome(alert) for alert in alerts] == [outcome(read_corpus_file(path)) for path in recorded]
