"""`smets-emu decode` and `smets-emu bench codec`, run as a user runs them: a subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import CORPUS_FILES, RTDS

KEYSTORE = RTDS / "keystore"
ECS42 = RTDS / "messages/7.1_ECS42/ECS42_7.1_SUCCESS_COMMAND_GBCS.HEX"
REQUIRED_KEYS = {"input", "ok", "error", "cra", "message_code", "use_case", "originator",
                 "recipient", "counter", "date_time", "signature", "mac", "roundtrip",
                 "payload_hex", "payload", "payload_complete"}  # fmt: skip


def smets_emu(*args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "emulator.cli", *args], input=stdin,
                          capture_output=True, timeout=120)  # fmt: skip


def json_lines(result: subprocess.CompletedProcess) -> list[dict]:
    return [json.loads(line) for line in result.stdout.decode().splitlines()]


def test_the_whole_corpus_in_one_call() -> None:
    result = smets_emu("decode", "--json", "--check", "--keystore", str(KEYSTORE),
                       *map(str, CORPUS_FILES))  # fmt: skip
    assert result.returncode == 0, result.stderr.decode()
    rows = json_lines(result)
    assert len(rows) == len(CORPUS_FILES)
    assert all(REQUIRED_KEYS <= row.keys() for row in rows)
    assert all(row["ok"] and row["roundtrip"] for row in rows)
    assert all(row["payload_complete"] and row["payload_roundtrip"] for row in rows)
    assert {row["signature"] for row in rows} == {"valid", "absent"}
    assert {row["mac"] for row in rows} == {"valid", "absent", "no-key"}
    assert sum(row["mac"] == "no-key" for row in rows) == 4  # PCS01, PCS02 (primer §14.10)


def test_json_fields_of_one_message() -> None:
    (row,) = json_lines(smets_emu("decode", "--json", "--keystore", str(KEYSTORE), str(ECS42)))
    assert row["cra"] == "command"
    assert row["message_code"] == 0x004F
    assert row["use_case"] == "ECS42"
    assert row["originator"] == "90B3D51F30010000"
    assert row["recipient"] == "00DB1234567890A0"
    assert row["counter"] == 1000
    assert row["date_time"] is None
    assert (row["signature"], row["mac"], row["roundtrip"]) == ("valid", "valid", True)
    assert row["payload_hex"] == "D9200003E8000103000900000A006AFF0101120033"
    assert row["payload"]["apdu"] == "access-request"
    assert row["payload"]["specifications"] == [
        {"kind": "action", "class_id": 9, "instance": "0.0.10.0.106.255", "method": 1,
         "object": "load switch (supply state) script table", "method_name": "execute"}]
    assert row["payload"]["data"] == [{"type": "uint16", "value": 51}]


def test_hex_on_stdin_binary_files_and_directories(tmp_path) -> None:
    data = bytes.fromhex(ECS42.read_text())
    binary = tmp_path / "frame.bin"
    binary.write_bytes(data)
    spaced = " ".join(ECS42.read_text().strip()[i : i + 2] for i in range(0, 292, 2))
    rows = json_lines(smets_emu("decode", "--json", "-", str(binary), str(ECS42.parent),
                                stdin=spaced.encode()))  # fmt: skip
    assert rows[0]["input"] == "-" and rows[0]["ok"]
    assert rows[1]["payload_hex"] == rows[0]["payload_hex"]
    assert len(rows) == 2 + len(list(ECS42.parent.iterdir()))
    # Without a key store nothing can be checked, and nothing is claimed.
    assert (rows[0]["signature"], rows[0]["mac"]) == ("no-key", "no-key")


def test_the_tree_view_reads_like_the_primer() -> None:
    result = smets_emu("decode", "--keystore", str(KEYSTORE),
                       str(RTDS / "messages/4.1.1_GCS13a/GCS13a_4.1.1_SUCCESS_RELIABLE_GSME_RESPONSE_GBCS.HEX"))  # fmt: skip
    text = result.stdout.decode()
    assert result.returncode == 0
    for line in ("message code          0x0074 GCS13a", "date-time             2015-01-01T00:00:00Z",
                 "mac                   valid", "encrypted gbz block   at payload byte 15: valid",
                 "02030022E8030001030022010000000300300100000025393000000000",
                 "decoded payload       complete, re-encodes byte-exact",
                 "attribute: current_summ_delivered", "value: 12345",
                 "round trip            byte-exact"):  # fmt: skip
        assert line in text, text


def test_bad_inputs_are_reported_not_raised(tmp_path) -> None:
    (tmp_path / "odd.hex").write_text("DF0")
    (tmp_path / "words.hex").write_text("hello")
    (tmp_path / "truncated.hex").write_text(ECS42.read_text()[:100])
    (tmp_path / "empty.hex").write_text("\n")
    names = ["odd.hex", "words.hex", "truncated.hex", "empty.hex", "absent.hex"]
    result = smets_emu("decode", "--json", "--check", *(str(tmp_path / n) for n in names))
    rows = json_lines(result)
    assert [row["ok"] for row in rows] == [False] * 5
    assert "odd number of hex digits" in rows[0]["error"]
    assert "not hex text" in rows[1]["error"]
    assert rows[2]["error"].startswith("Truncated: ")
    assert "empty input" in rows[3]["error"]
    assert "cannot read" in rows[4]["error"]
    assert result.returncode == 2  # an unreadable input is a usage error
    assert b"Traceback" not in result.stderr


def test_check_fails_on_a_bad_mac(tmp_path) -> None:
    text = ECS42.read_text().strip()
    (tmp_path / "bad-mac.hex").write_text(text[:-2] + ("00" if text[-2:] != "00" else "01"))
    plain = smets_emu("decode", "--json", "--keystore", str(KEYSTORE), str(tmp_path / "bad-mac.hex"))
    assert plain.returncode == 0 and json_lines(plain)[0]["mac"] == "invalid"
    checked = smets_emu("decode", "--check", "--keystore", str(KEYSTORE), str(tmp_path / "bad-mac.hex"))
    assert checked.returncode == 1
    assert b"mac                   invalid" in checked.stdout


@pytest.mark.parametrize("args, message", [
    (["decode"], b"the following arguments are required"),
    (["decode", "--broker", "xyz", str(ECS42)], b"EUI-64"),
    (["decode", "--keystore", "/nonexistent", str(ECS42)], b"cannot read key store"),
    (["decode", "--at", "yesterday", str(ECS42)], b"not an ISO 8601 date-time or 'message'"),
    (["pki", "init"], b"the following arguments are required: DIR"),
    (["pki", "device", "/tmp", "--type", "esme"], b"required: --eui"),
    (["pki", "show", "/nonexistent/store"], b"cannot read /nonexistent/store"),
    (["bench", "codec", "--passes", "0"], b"at least 1"),
    (["bench", "codec", "--corpus", "/nonexistent"], b"no messages"),
    (["frobnicate"], b"invalid choice"),
])  # fmt: skip
def test_usage_errors_exit_2_with_a_message(args, message) -> None:
    result = smets_emu(*args)
    assert result.returncode == 2
    assert message in result.stderr
    assert b"Traceback" not in result.stderr


def test_the_console_script_is_installed() -> None:
    script = Path(sys.executable).with_name("smets-emu")
    assert script.exists(), "pip install -e . creates it (see Makefile)"
    result = subprocess.run([str(script), "--help"], capture_output=True, timeout=60)
    assert result.returncode == 0 and b"decode" in result.stdout


def test_bench_codec_prints_figures() -> None:
    result = smets_emu("bench", "codec", "--passes", "1", "--json", "--corpus", str(RTDS))
    assert result.returncode == 0, result.stderr.decode()
    figures = json.loads(result.stdout)
    assert figures["frames"] == len(CORPUS_FILES)
    assert figures["signatures_checked"] > 300 and figures["macs_checked"] > 600
    for key in ("parse_only_frames_per_second", "parse_verify_frames_per_second",
                "build_sign_frames_per_second", "full_decode_frames_per_second",
                "parse_verify_over_bare_cryptography"):  # fmt: skip
        assert figures[key] > 0


def test_output_to_a_closed_pipe_is_not_an_error() -> None:
    command = [sys.executable, "-m", "emulator.cli", "decode", str(RTDS / "messages")]
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          env={**os.environ, "PYTHONUNBUFFERED": "1"}) as process:  # fmt: skip
        process.stdout.read(100)
        process.stdout.close()
        stderr = process.stderr.read()
        assert process.wait(timeout=60) == 0
    assert b"Traceback" not in stderr


def test_blocks_are_reassembled_across_inputs(tmp_path) -> None:
    import gbcs
    from gbcs.blocks import segment

    message = bytes.fromhex(ECS42.read_text())
    paths = []
    for block in segment(message, 64):
        path = tmp_path / f"block{block.block_number}.bin"
        path.write_bytes(gbcs.encode(block))
        paths.append(str(path))
    rows = json_lines(smets_emu("decode", "--json", "--check", "--keystore", str(KEYSTORE), *paths))
    assert [row["form"] for row in rows] == ["general-block-transfer"] * len(paths) + ["general-ciphering"]
    whole = rows[-1]
    assert whole["input"].endswith("(reassembled)")
    assert (whole["signature"], whole["mac"], whole["roundtrip"]) == ("valid", "valid", True)
    assert rows[0]["block"] == {"number": 1, "last": False, "streaming": False, "window": 0,
                                "acknowledged": 0}  # fmt: skip


def test_bench_firmware_prints_figures() -> None:
    result = smets_emu("bench", "firmware", "--commands", "50", "--json")
    assert result.returncode == 0, result.stderr.decode()
    figures = json.loads(result.stdout)
    assert figures["commands"] == 50
    assert figures["accepted_commands_per_second"] > 0 and figures["refused_commands_per_second"] > 0


def test_bench_memory_prints_figures() -> None:
    """The figures, not a target: the 13-month half-hourly log has a row per half-hour."""
    result = smets_emu("bench", "memory", "--premises", "2", "--json")
    assert result.returncode == 0, result.stderr.decode()
    shared, separate = json.loads(result.stdout)
    assert (shared["store"], separate["store"]) == ("shared", "one per premises")
    for figures in (shared, separate):
        assert figures["premises"] == 2
        assert figures["log_rows"] == 396 * 48 + 1  # from 396 days back to now, both ends included
