"""EUI-64 and DLMS date-time values."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from gbcs.errors import BadDateTime
from gbcs.types import EUI64, DlmsDateTime


def test_eui64_text_forms() -> None:
    eui = EUI64("00-DB-12-34-56-78-90-A0")
    assert str(eui) == "00DB1234567890A0"
    assert eui == bytes.fromhex("00DB1234567890A0")
    assert EUI64(bytes(eui)) == eui
    with pytest.raises(ValueError, match="16 hex digits"):
        EUI64("not an eui")


@pytest.mark.parametrize("text, iso", [
    ("07DF0101FF000000008000FF", "2015-01-01T00:00:00Z"),       # primer §3
    ("07DE0C1FFF173B00008000FF", "2014-12-31T23:59:00Z"),       # primer §13.3
    ("07EA0B18FF0C1E0A328000FF", "2026-11-24T12:30:10.50Z"),
    ("FFFF0101FF000000008000FF", "****-01-01T00:00:00"),        # wildcard year
])  # fmt: skip
def test_date_time_text(text, iso) -> None:
    value = DlmsDateTime.decode(bytes.fromhex(text))
    assert value.encode().hex().upper() == text
    assert value.isoformat() == iso


def test_deviation() -> None:
    """DLMS: deviation is minutes from local time to UTC (UTC = local + deviation)."""
    value = DlmsDateTime(2015, 1, 1, hour=1, deviation=-60)
    assert value.to_datetime() == datetime(2015, 1, 1, 0, 0, tzinfo=timezone.utc)
    assert value.isoformat() == "2015-01-01T01:00:00+01:00"


@pytest.mark.parametrize("text, index", [
    ("07DF0D01FF000000008000FF", 2),   # month 13
    ("07DF0100FF000000008000FF", 3),   # day 0
    ("07E0021EFF000000008000FF", 3),   # 30 February 2016
    ("07DF010108000000008000FF", 4),   # day of week 8
    ("07DF0101FF180000008000FF", 5),   # hour 24
    ("07DF0101FF003C00008000FF", 6),   # minute 60
    ("07DF0101FF00003C008000FF", 7),   # second 60
    ("07DF0101FF00000064 8000FF", 8),  # hundredths 100
    ("07DF0101FF0000000002D1FF", 9),   # deviation 721
])  # fmt: skip
def test_impossible_date_times_name_the_byte(text, index) -> None:
    with pytest.raises(BadDateTime) as raised:
        DlmsDateTime.decode(bytes.fromhex(text), offset=100)
    assert raised.value.offset == 100 + index


def test_from_datetime_is_utc_with_wildcards() -> None:
    value = DlmsDateTime.from_datetime(datetime(2026, 11, 24, 21, 30, 5, 120000, tzinfo=timezone.utc))
    assert value.encode().hex().upper() == "07EA0B18FF15" "1E" "050C" "8000" "FF"
