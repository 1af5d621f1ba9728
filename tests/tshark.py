"""Run Debian's tshark over frames: the independent GBCS reader the tests check our bytes
against (Wireshark's packet-gbcs.c, see ../shared/rtds/README.md)."""

from __future__ import annotations

import shutil
import struct
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytest

TSHARK = shutil.which("tshark")
_USER_DLT = 147  # LINKTYPE_USER0, mapped to the gbcs_message dissector below
_PREFERENCE = 'uat:user_dlts:"User 0 (DLT=147)","gbcs_message","0","","0",""'
_ERROR_SEVERITY = 8388608  # Wireshark's PI_ERROR
_FIELDS = {
    "cra": "gbcs_message.grouping_header.cra_flag",
    "counter": "gbcs_message.grouping_header.originator_counter",
    "originator": "gbcs_message.grouping_header.business_originator_id",
    "recipient": "gbcs_message.grouping_header.business_target_id",
    "message_code": "gbcs_message.grouping_header.message_code",
    "routing_counter": "gbcs_message.routing_header.originator_counter",
    "block_number": "gbcs_message.gbt_header.block_number",
    "reassembled_length": "gbcs_message.gbt.reassembled.length",
    "severities": "_ws.expert.severity",
    "malformed": "_ws.malformed",
}


def require_tshark() -> str:
    """The tshark path, or skip the test saying why (CI installs tshark; see Makefile)."""
    if TSHARK is None:
        pytest.skip("tshark is not installed (Debian package tshark; `make test` installs it)")
    return TSHARK


def pcap(frames: list[bytes]) -> bytes:
    """A classic pcap file holding one record per frame, link type USER0."""
    out = [struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, _USER_DLT)]
    for number, frame in enumerate(frames):
        out.append(struct.pack("<IIII", number, 0, len(frame), len(frame)) + frame)
    return b"".join(out)


@dataclass(frozen=True)
class Dissection:
    """What tshark read in one record (strings as tshark prints them; empty when absent)."""

    cra: str
    counter: str
    originator: str
    recipient: str
    message_code: str
    routing_counter: str
    block_number: str
    reassembled_length: str
    severities: str
    malformed: str

    @property
    def has_error(self) -> bool:
        """A Malformed mark or an expert item of severity Error."""
        severities = {int(s) for s in self.severities.split(",") if s}
        return bool(self.malformed) or any(s >= _ERROR_SEVERITY for s in severities)


def dissect(frames: list[bytes]) -> list[Dissection]:
    """tshark's reading of each frame, in order."""
    tshark = require_tshark()
    with tempfile.TemporaryDirectory() as directory:
        capture = Path(directory) / "frames.pcap"
        capture.write_bytes(pcap(frames))
        command = [tshark, "-n", "-r", str(capture), "-o", _PREFERENCE, "-T", "fields",
                   "-E", "separator=\t", "-E", "occurrence=a", "-E", "aggregator=,"]  # fmt: skip
        for field in _FIELDS.values():
            command += ["-e", field]
        result = subprocess.run(command, capture_output=True, text=True, timeout=60, check=True)
    rows = [line.split("\t") for line in result.stdout.splitlines()]
    assert len(rows) == len(frames), result.stdout + result.stderr
    return [Dissection(*row) for row in rows]


def eui(text: str) -> str:
    """tshark's EUI-64 form (00:db:12:...) as our 16 upper-case hex digits."""
    return text.replace(":", "").upper()
