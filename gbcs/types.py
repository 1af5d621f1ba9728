"""Small value types shared by the whole codec: EUI-64, CRA flag, DLMS date-time, roles.

Rule: every type here validates when it is built, so a value that exists is a value GBCS can
carry. Decoders check bytes *before* building these and raise ``DecodeError`` with an offset;
code that builds them from its own values gets ``ValueError``.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from enum import IntEnum

from .errors import BadDateTime

__all__ = ["Cra", "DeviceType", "DlmsDateTime", "EUI64", "Role"]


class EUI64(bytes):
    """An EUI-64 entity identifier, 8 bytes in GBCS (transmission) byte order.

    ``str()`` gives the 16 upper-case hex digits GBCS documents use (``00DB1234567890A0``).
    It is ``bytes``, so it compares equal to the 8 raw bytes and hashes like them.
    """

    __slots__ = ()

    def __new__(cls, value: bytes | bytearray | str) -> EUI64:
        if isinstance(value, str):
            text = value.replace("-", "").replace(":", "").replace(" ", "")
            try:
                value = bytes.fromhex(text)
            except ValueError:
                raise ValueError(f"EUI-64 must be 16 hex digits, got {value!r}") from None
        if len(value) != 8:
            raise ValueError(f"EUI-64 must be 8 bytes, got {len(value)}")
        return super().__new__(cls, value)

    def __str__(self) -> str:
        return self.hex().upper()

    def __repr__(self) -> str:
        return f"EUI64('{self}')"


class Cra(IntEnum):
    """The CRA flag, first byte of the transaction id (primer §5)."""

    COMMAND = 1
    RESPONSE = 2
    ALERT = 3


class Role(IntEnum):
    """Remote Party Role codes: GBCS's RemotePartyRole integers, which are also the OU of an
    SMKI organisation certificate's subject (primer §1; RTDS key store). Load controller (8)
    is seen only in RTDS (certificate OU and CS02g/CS02f payloads)."""

    ROOT = 0
    RECOVERY = 1
    SUPPLIER = 2
    NETWORK_OPERATOR = 3
    ACCESS_CONTROL_BROKER = 4
    TRANSITIONAL_CHANGE_OF_SUPPLIER = 5
    WAN_PROVIDER = 6
    ISSUING_AUTHORITY = 7
    LOAD_CONTROLLER = 8
    OTHER = 127


class DeviceType(IntEnum):
    """GBCS DeviceType codes (as in the DER payloads of CS03/CS04 joins)."""

    GSME = 0
    ESME = 1
    CHF = 2
    GPF = 3
    HCALCS = 4
    PPMID = 5
    IHD = 6  # "Type 2" devices: IHDs and other consumer access devices (CAD)


# DLMS date-time wildcards and special values (DLMS Blue Book, as summarised in primer §3).
_NOT_SPECIFIED = 0xFF
_YEAR_NOT_SPECIFIED = 0xFFFF
_DEVIATION_NOT_SPECIFIED = -0x8000
_DAYLIGHT_SAVINGS_END, _DAYLIGHT_SAVINGS_BEGIN = 0xFD, 0xFE  # month values
_SECOND_LAST_DAY, _LAST_DAY = 0xFD, 0xFE  # day-of-month values


@dataclass(frozen=True, slots=True)
class DlmsDateTime:
    """A 12-byte DLMS COSEM date-time (primer §3), field by field, wildcards kept.

    ``0xFF`` (``0xFFFF`` for the year, ``-0x8000`` for the deviation) means "not specified".
    GBCS times are UTC; the deviation is normally left unspecified.
    """

    year: int
    month: int
    day: int
    day_of_week: int = _NOT_SPECIFIED
    hour: int = 0
    minute: int = 0
    second: int = 0
    hundredths: int = 0
    deviation: int = _DEVIATION_NOT_SPECIFIED
    clock_status: int = _NOT_SPECIFIED

    SIZE = 12

    def __post_init__(self) -> None:
        problem = _date_time_problem(self)
        if problem is not None:
            raise ValueError(f"impossible DLMS date-time: {problem[1]}")

    @classmethod
    def decode(cls, data: bytes, offset: int = 0, field: str = "date-time") -> DlmsDateTime:
        """Read 12 bytes.

        Raises:
            BadDateTime: the fields name no possible date or time.
        """
        if len(data) != cls.SIZE:
            raise BadDateTime(f"needs {cls.SIZE} bytes, got {len(data)}", offset=offset, field=field)
        value = cls._unchecked((
            int.from_bytes(data[0:2], "big"),
            data[2], data[3], data[4], data[5], data[6], data[7], data[8],
            int.from_bytes(data[9:11], "big", signed=True),
            data[11],
        ))  # fmt: skip
        problem = _date_time_problem(value)
        if problem is not None:
            index, reason = problem
            raise BadDateTime(reason, offset=offset + index, field=field)
        return value

    def encode(self) -> bytes:
        return (
            self.year.to_bytes(2, "big")
            + bytes((self.month, self.day, self.day_of_week, self.hour, self.minute,
                     self.second, self.hundredths))
            + self.deviation.to_bytes(2, "big", signed=True)
            + bytes((self.clock_status,))
        )  # fmt: skip

    @classmethod
    def from_datetime(cls, moment: datetime, *, clock_status: int = _NOT_SPECIFIED) -> DlmsDateTime:
        """The UTC date-time of ``moment`` (naive values are taken as UTC), weekday and
        deviation unspecified, as GBCS headers carry it (primer §5)."""
        if moment.tzinfo is not None:
            moment = moment.astimezone(timezone.utc)
        if not 0 <= clock_status <= 0xFF:
            raise ValueError(f"impossible DLMS date-time: clock status {clock_status} is out of range")
        # A datetime's fields are a possible date and time: no need for __post_init__'s checks
        # (every alert and response stamps one, so they showed in the profile).
        return cls._unchecked((moment.year, moment.month, moment.day, _NOT_SPECIFIED, moment.hour, moment.minute,
                               moment.second, moment.microsecond // 10_000, _DEVIATION_NOT_SPECIFIED, clock_status))  # fmt: skip

    @classmethod
    def _unchecked(cls, fields: tuple[int, ...]) -> DlmsDateTime:
        """A date-time of these fields, in slot order, without ``__post_init__``'s checks."""
        value = object.__new__(cls)
        for name, field_value in zip(cls.__slots__, fields, strict=True):
            object.__setattr__(value, name, field_value)
        return value

    @property
    def is_fully_specified(self) -> bool:
        return (
            1 <= self.year <= 9999  # what Python's datetime can hold
            and 1 <= self.month <= 12
            and 1 <= self.day <= 31
            and _NOT_SPECIFIED not in (self.hour, self.minute, self.second)
        )

    def to_datetime(self) -> datetime | None:
        """An aware ``datetime``, or None when a date or time field is a wildcard.

        GBCS times are UTC with the deviation unspecified (primer §3, §5): those come back in
        UTC. A specified deviation is read as DLMS COSEM defines it, minutes from local time
        to UTC (UTC = local + deviation); that reading is ours, RTDS has no example.
        """
        if not self.is_fully_specified:
            return None
        hundredths = 0 if self.hundredths == _NOT_SPECIFIED else self.hundredths
        zone = timezone.utc
        if self.deviation not in (_DEVIATION_NOT_SPECIFIED, 0):
            zone = timezone(timedelta(minutes=-self.deviation))
        return datetime(self.year, self.month, self.day, self.hour, self.minute,
                        self.second, hundredths * 10_000, tzinfo=zone)  # fmt: skip

    def isoformat(self) -> str:
        """ISO 8601 in UTC (``2015-01-01T00:00:00Z``) when fully specified; otherwise the
        fields in the same shape with ``*`` for each wildcard."""
        moment = self.to_datetime()
        if moment is not None:
            text = moment.strftime("%Y-%m-%dT%H:%M:%S")
            if moment.microsecond:
                text += f".{moment.microsecond // 10_000:02d}"
            offset = moment.utcoffset()
            return text + ("Z" if not offset else moment.strftime("%z")[:3] + ":" + moment.strftime("%z")[3:])

        def part(value: int, width: int, wildcard: int) -> str:
            return "*" * width if value == wildcard else f"{value:0{width}d}"

        return (
            f"{part(self.year, 4, _YEAR_NOT_SPECIFIED)}-{part(self.month, 2, _NOT_SPECIFIED)}"
            f"-{part(self.day, 2, _NOT_SPECIFIED)}T{part(self.hour, 2, _NOT_SPECIFIED)}"
            f":{part(self.minute, 2, _NOT_SPECIFIED)}:{part(self.second, 2, _NOT_SPECIFIED)}"
        )


def _date_time_problem(value: DlmsDateTime) -> tuple[int, str] | None:
    """Why these fields are no possible DLMS date-time, with the byte index (in the 12-byte
    form) of the field at fault; None if they are one."""

    def valid(field: int, low: int, high: int, *specials: int) -> bool:
        return low <= field <= high or field in specials

    checks = (
        (0, "year", value.year, 0, 0xFFFE, (_YEAR_NOT_SPECIFIED,)),
        (2, "month", value.month, 1, 12,
         (_DAYLIGHT_SAVINGS_END, _DAYLIGHT_SAVINGS_BEGIN, _NOT_SPECIFIED)),
        (3, "day of month", value.day, 1, 31, (_SECOND_LAST_DAY, _LAST_DAY, _NOT_SPECIFIED)),
        (4, "day of week", value.day_of_week, 1, 7, (_NOT_SPECIFIED,)),
        (5, "hour", value.hour, 0, 23, (_NOT_SPECIFIED,)),
        (6, "minute", value.minute, 0, 59, (_NOT_SPECIFIED,)),
        (7, "second", value.second, 0, 59, (_NOT_SPECIFIED,)),
        (8, "hundredths", value.hundredths, 0, 99, (_NOT_SPECIFIED,)),
        (9, "deviation", value.deviation, -720, 720, (_DEVIATION_NOT_SPECIFIED,)),
        (11, "clock status", value.clock_status, 0, 0xFF, ()),
    )  # fmt: skip
    for index, name, field, low, high, specials in checks:
        if not valid(field, low, high, *specials):
            return index, f"{name} {field} is out of range"
    if (
        value.year != _YEAR_NOT_SPECIFIED
        and 1 <= value.month <= 12
        and 1 <= value.day <= 31
        and value.day > calendar.monthrange(value.year or 1, value.month)[1]
    ):
        return 3, f"{value.year:04d}-{value.month:02d} has no day {value.day}"
    return None
