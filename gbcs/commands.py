"""Typed command builders: the content (payload) of a GBCS command for a use case, from the
parameters a head-end user gives as a JSON object or as ``key=value`` strings.

Each ``CommandBuilder`` knows one use case: its message code (``gbcs.catalogue``), the device
it is addressed to, the parameters it takes (kind, default, meaning) and the layout of its
payload as RTDS's COMMAND files show it. ``BUILDERS`` holds them by use-case name::

    ecs22b = builder("ECS22b")
    params = ecs22b.parse(["start=2014-12-31T00:00Z", "end=2015-01-01T00:00Z"])
    content = ecs22b.content(params, counter=1002, originator=supplier, recipient=esme)

Rules of this file:

1. Sans-IO like the rest of ``gbcs``: values in, bytes out.
2. Every bad input raises ``ParameterError`` naming the parameter: unknown, missing, of the
   wrong type, unreadable, out of range, or inconsistent with another. No KeyError, TypeError
   or ValueError gets out. ``parse`` checks all that ``content`` needs, so a parsed dict builds.
3. Layouts are RTDS's, byte for byte: tests/gbcs/test_commands.py builds each use case from
   the values read by hand in an RTDS COMMAND file and compares the bytes. Whatever no
   parameter covers is RTDS's fixed value.

Why ``content`` takes the frame's counter and parties: a DLMS Access-Request's invoke-id is
the low 24 bits of the originator counter (primer §12 rule 3), and a protected read names the
counter, the originator and the recipient in its protection parameters (primer §7.2). GBZ
contents do not depend on them.

No builder asks for the grouping header's date-time: it is absent in every RTDS command
(primer §5). A future-datable use case carries its execution time in the payload instead
(primer §12 rule 8: all zero = now, all FF = cancel), as ECS01a's ``activation`` does.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal, InvalidOperation
from types import MappingProxyType
from typing import Any, ClassVar, NamedTuple

from . import dlms, gbz
from .catalogue import UseCase, use_case
from .dlms import Data, DataType, Obis, RequestKind, RequestSpecification
from .errors import GbcsError
from .types import DeviceType, DlmsDateTime, Role
from .zcl_se import COMMANDS, Direction

__all__ = ["BUILDERS", "REQUIRED", "CommandBuilder", "Parameter", "ParameterError", "builder"]


class ParameterError(GbcsError):
    """A command's parameters cannot be used: one is unknown, missing, of the wrong type,
    unreadable, out of range or inconsistent with another; or no builder has the use case.

    Attributes:
        parameter: the parameter at fault (None when the use case name itself is unknown).
        reason: what is wrong, in words.
    """

    def __init__(self, reason: str, *, parameter: str | None = None, use_case: str | None = None) -> None:
        where = " ".join(part for part in (use_case, f"parameter {parameter!r}" if parameter else None) if part)
        super().__init__(f"{where}: {reason}" if where else reason)
        self.parameter = parameter
        self.reason = reason


class _Required:
    def __repr__(self) -> str:
        return "REQUIRED"


REQUIRED: Any = _Required()  # the default of a parameter the user must give


@dataclass(frozen=True, slots=True)
class Parameter:
    """One typed parameter of a builder.

    ``kind`` names the value's form (``KINDS`` says each in words); ``default`` is written
    as a user would write it (it goes through the same conversion), or ``REQUIRED``.
    ``minimum``/``maximum`` bound numbers; ``choices`` lists a choice's words.
    """

    name: str
    kind: str
    help: str
    default: Any = REQUIRED
    minimum: Any = None
    maximum: Any = None
    choices: tuple[str, ...] = ()

    @property
    def required(self) -> bool:
        return self.default is REQUIRED

    def convert(self, value: Any) -> Any:
        """The typed value of a JSON value or a command-line string.

        Raises:
            ParameterError: it is of the wrong type, unreadable or out of range.
        """
        return _CONVERTERS[self.kind](self, value)


# -- converters: one per kind; each takes JSON values, strings and its own typed values -------

KINDS = MappingProxyType({
    "datetime": "ISO 8601 date-time, UTC unless it has an offset (2014-12-31T00:00:00Z)",
    "int": "integer",
    "decimal": "decimal number (12.5)",
    "choice": "one of the listed words",
    "activation": "'now', 'cancel', or an ISO 8601 date-time to activate at",
    "decimals": "comma-separated decimal numbers, or a JSON list",
    "block-prices": "per block-tariff rate, its block prices separated by '/', rates by ',' "
                    "(0.02289/0.03546,0.04002/0.06969), or a JSON list of lists",
    "block-thresholds": "per block-tariff rate, its thresholds separated by '/', rates by ',' "
                        "(10000/20000,40000), or a JSON list of lists",
    "day-profiles": "'ID: HH:MM=SCRIPT ...' entries separated by ';' (1: 00:00=2 07:00=3; 2: 00:00=1), "
                    "or a JSON list of such entries",
    "week-profiles": "'ID: MON TUE WED THU FRI SAT SUN' day-profile ids, entries separated by ';'",
    "seasons": "'NAME START-DATE WEEK-ID' entries separated by ';' (winter 2014-10-27 1); "
               "'*' as the year repeats every year",
    "special-days": "'DATE DAY-ID' entries separated by ';' (2015-05-01 2; *-12-25 3)",
})  # fmt: skip


def _fail(parameter: Parameter, reason: str) -> ParameterError:
    return ParameterError(reason, parameter=parameter.name)


def _bounded(parameter: Parameter, value: Any) -> Any:
    if parameter.minimum is not None and value < parameter.minimum:
        raise _fail(parameter, f"{value} is below the minimum {parameter.minimum}")
    if parameter.maximum is not None and value > parameter.maximum:
        raise _fail(parameter, f"{value} is above the maximum {parameter.maximum}")
    return value


def _to_int(parameter: Parameter, value: Any) -> int:
    if isinstance(value, str):
        try:
            value = int(value.strip(), 10)
        except ValueError:
            raise _fail(parameter, f"expected an integer, got {value!r}") from None
    if isinstance(value, bool) or not isinstance(value, int):
        raise _fail(parameter, f"expected an integer, got {value!r}")
    return _bounded(parameter, value)


_DIGITS = 20


def _to_decimal(parameter: Parameter, value: Any) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, (str, int, float, Decimal)):
        raise _fail(parameter, f"expected a decimal number, got {value!r}")
    try:
        number = Decimal(str(value).strip())  # str(): a JSON float as written (0.1, not 0.1000000000000000055)
    except InvalidOperation:
        raise _fail(parameter, f"expected a decimal number, got {value!r}") from None
    if not number.is_finite():
        raise _fail(parameter, f"expected a finite number, got {value!r}")
    if number and not -_DIGITS <= number.adjusted() <= _DIGITS:  # no GBCS amount needs more, and huge
        raise _fail(parameter, f"{value!r} is out of range")  # exponents would cost time to scale
    return _bounded(parameter, number)


def _to_datetime(parameter: Parameter, value: Any) -> datetime:
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.strip())
        except ValueError:
            raise _fail(parameter, f"expected an ISO 8601 date-time, got {value!r}") from None
    elif isinstance(value, date) and not isinstance(value, datetime):
        value = datetime.combine(value, time())
    if not isinstance(value, datetime):
        raise _fail(parameter, f"expected an ISO 8601 date-time, got {value!r}")
    # GBCS times are UTC (primer §3); a time without an offset is taken as UTC, as --at does.
    value = value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)
    return _bounded(parameter, value)


def _to_choice(parameter: Parameter, value: Any) -> str:
    if not isinstance(value, str):
        raise _fail(parameter, f"expected one of {', '.join(parameter.choices)}, got {value!r}")
    word = value.strip().upper()
    if word not in parameter.choices:
        raise _fail(parameter, f"expected one of {', '.join(parameter.choices)}, got {value!r}")
    return word


_NOW, _CANCEL = "now", "cancel"


def _to_activation(parameter: Parameter, value: Any) -> str | datetime:
    if isinstance(value, str) and value.strip().lower() in (_NOW, _CANCEL):
        return value.strip().lower()
    return _to_datetime(parameter, value)


def _items(parameter: Parameter, value: Any, separator: str) -> list[Any]:
    """A list parameter's entries: a JSON list, or a string split at ``separator`` (an empty
    string is no entry; an empty piece between separators is an empty entry)."""
    if isinstance(value, str):
        return [item.strip() for item in value.split(separator)] if value.strip() else []
    if isinstance(value, (list, tuple)):
        return list(value)
    raise _fail(parameter, f"expected a list or a {separator!r}-separated string, got {value!r}")


def _to_decimals(parameter: Parameter, value: Any) -> tuple[Decimal, ...]:
    numbers = tuple(_to_decimal(parameter, item) for item in _items(parameter, value, ","))
    if parameter.maximum is not None and len(numbers) > parameter.maximum:
        raise _fail(parameter, f"at most {parameter.maximum} values, got {len(numbers)}")
    return numbers


def _nested(parameter: Parameter, value: Any, convert: Callable[[Any], Any], per_rate: int) -> tuple[tuple, ...]:
    """A list of lists: block-tariff rates (at most 8), each a list of at most ``per_rate``."""
    rates = []
    for rate, entry in enumerate(_items(parameter, value, ","), start=1):
        values = tuple(convert(item) for item in _items(parameter, entry, "/"))
        if len(values) > per_rate:
            raise _fail(parameter, f"block-tariff rate {rate} has {len(values)} values, at most {per_rate}")
        rates.append(values)
    if len(rates) > BLOCK_RATES:
        raise _fail(parameter, f"at most {BLOCK_RATES} block-tariff rates, got {len(rates)}")
    return tuple(rates)


def _to_block_prices(parameter: Parameter, value: Any) -> tuple[tuple[Decimal, ...], ...]:
    return _nested(parameter, value, lambda item: _to_decimal(parameter, item), BLOCKS)


def _to_block_thresholds(parameter: Parameter, value: Any) -> tuple[tuple[int, ...], ...]:
    def threshold(item: Any) -> int:
        number = _to_int(parameter, item)
        if not 0 <= number < _NO_THRESHOLD:
            raise _fail(parameter, f"a threshold is 0 to {_NO_THRESHOLD - 1}, got {number}")
        return number

    rates = _nested(parameter, value, threshold, BLOCKS - 1)
    for rate, thresholds in enumerate(rates, start=1):
        if list(thresholds) != sorted(set(thresholds)):
            raise _fail(parameter, f"block-tariff rate {rate}: thresholds must rise, got {list(thresholds)}")
    return rates


# Calendar entries, typed. A converter passes entries that already have these types through,
# so a parsed dict converts to itself.


class DaySwitch(NamedTuple):
    at: time  # switch time of day
    script: int  # tariff switching script selector: TOU rate 1-48, block-tariff rate 101-108


class DayProfile(NamedTuple):
    day_id: int
    switches: tuple[DaySwitch, ...]


class WeekProfile(NamedTuple):
    week_id: int
    days: tuple[int, ...]  # day-profile ids, Monday to Sunday


class Season(NamedTuple):
    name: str
    start: DlmsDateTime  # midnight of its first day; year 0xFFFF: every year
    week_id: int


class SpecialDay(NamedTuple):
    on: DlmsDateTime  # the day (the time fields are not sent); year 0xFFFF: every year
    day_id: int


def _entries(parameter: Parameter, value: Any, kind: type) -> list[Any]:
    entries = [item if isinstance(item, kind) else _text(parameter, item) for item in _items(parameter, value, ";")]
    return [entry for entry in entries if entry != ""]  # a trailing ';' adds nothing


def _text(parameter: Parameter, item: Any) -> str:
    if not isinstance(item, str):
        raise _fail(parameter, f"expected an entry as text ({KINDS[parameter.kind]}), got {item!r}")
    return item


def _small(parameter: Parameter, text: str, what: str, high: int = 0xFF, low: int = 0) -> int:
    try:
        number = int(text, 10)
    except ValueError:
        raise _fail(parameter, f"{what} must be a number, got {text!r}") from None
    if not low <= number <= high:
        raise _fail(parameter, f"{what} must be {low} to {high}, got {number}")
    return number


def _labelled(parameter: Parameter, entry: str) -> tuple[int, list[str]]:
    """'ID: words ...' -> (ID, words)."""
    label, colon, rest = entry.partition(":")
    if not colon or not label.strip().isdigit():
        raise _fail(parameter, f"expected 'ID: ...', got {entry!r}")
    return _small(parameter, label.strip(), "an id"), rest.split()


def _calendar_date(parameter: Parameter, text: str) -> DlmsDateTime:
    """'2015-05-01', or '*-12-25' for every year."""
    year, _, month_day = text.partition("-")
    month, _, day = month_day.partition("-")
    try:
        numbers = (0xFFFF if year == "*" else int(year, 10), int(month, 10), int(day, 10))
        return DlmsDateTime(*numbers)
    except ValueError:
        raise _fail(parameter, f"expected a date YYYY-MM-DD or *-MM-DD, got {text!r}") from None


def _unique(parameter: Parameter, ids: list[int], what: str) -> None:
    repeated = sorted({item for item in ids if ids.count(item) > 1})
    if repeated:
        raise _fail(parameter, f"{what} {repeated[0]} is defined twice")


_SWITCH = re.compile(r"(?P<at>\d\d:\d\d(:\d\d)?)=(?P<script>\d+)")  # 07:00=3


def _to_day_profiles(parameter: Parameter, value: Any) -> tuple[DayProfile, ...]:
    profiles = []
    for entry in _entries(parameter, value, DayProfile):
        if isinstance(entry, DayProfile):
            profiles.append(entry)
            continue
        day_id, words = _labelled(parameter, entry)
        switches = []
        for word in words:
            switch = _SWITCH.fullmatch(word)
            try:
                moment = time.fromisoformat(switch["at"]) if switch else None
            except ValueError:
                moment = None
            if moment is None:
                raise _fail(parameter, f"day {day_id}: expected HH:MM=SCRIPT, got {word!r}")
            number = _small(parameter, switch["script"], f"day {day_id}: the script selector", 0xFFFF, 1)
            if not (1 <= number <= TOU_RATES or 101 <= number <= 100 + BLOCK_RATES):
                raise _fail(parameter, f"day {day_id}: script {number} is neither a TOU rate (1-{TOU_RATES}) "
                                       f"nor a block-tariff rate (101-{100 + BLOCK_RATES})")  # fmt: skip
            switches.append(DaySwitch(moment, number))
        if not switches or [s.at for s in switches] != sorted({s.at for s in switches}):
            raise _fail(parameter, f"day {day_id}: needs switch times in rising order, got {entry!r}")
        profiles.append(DayProfile(day_id, tuple(switches)))
    _unique(parameter, [profile.day_id for profile in profiles], "day profile")
    return tuple(profiles)


def _to_week_profiles(parameter: Parameter, value: Any) -> tuple[WeekProfile, ...]:
    weeks = []
    for entry in _entries(parameter, value, WeekProfile):
        if isinstance(entry, WeekProfile):
            weeks.append(entry)
            continue
        week_id, words = _labelled(parameter, entry)
        if len(words) != 7:
            raise _fail(parameter, f"week {week_id}: needs 7 day-profile ids (Monday to Sunday), got {len(words)}")
        weeks.append(WeekProfile(week_id, tuple(_small(parameter, word, f"week {week_id}: a day id") for word in words)))
    _unique(parameter, [week.week_id for week in weeks], "week profile")
    return tuple(weeks)


def _to_seasons(parameter: Parameter, value: Any) -> tuple[Season, ...]:
    seasons = []
    for entry in _entries(parameter, value, Season):
        if isinstance(entry, Season):
            seasons.append(entry)
            continue
        words = entry.split()
        if len(words) != 3:
            raise _fail(parameter, f"expected 'NAME START-DATE WEEK-ID', got {entry!r}")
        name, start, week = words
        if not name.isascii() or len(name) > 126:
            raise _fail(parameter, f"a season name is ASCII, at most 126 characters, got {name!r}")
        seasons.append(Season(name, _calendar_date(parameter, start), _small(parameter, week, "a week id")))
    return tuple(seasons)


def _to_special_days(parameter: Parameter, value: Any) -> tuple[SpecialDay, ...]:
    days = []
    for entry in _entries(parameter, value, SpecialDay):
        if isinstance(entry, SpecialDay):
            days.append(entry)
            continue
        words = entry.split()
        if len(words) != 2:
            raise _fail(parameter, f"expected 'DATE DAY-ID', got {entry!r}")
        days.append(SpecialDay(_calendar_date(parameter, words[0]), _small(parameter, words[1], "a day id")))
    return tuple(days)


_CONVERTERS: dict[str, Callable[[Parameter, Any], Any]] = {
    "datetime": _to_datetime, "int": _to_int, "decimal": _to_decimal, "choice": _to_choice,
    "activation": _to_activation, "decimals": _to_decimals, "block-prices": _to_block_prices,
    "block-thresholds": _to_block_thresholds, "day-profiles": _to_day_profiles,
    "week-profiles": _to_week_profiles, "seasons": _to_seasons, "special-days": _to_special_days,
}  # fmt: skip


# -- builders -------------------------------------------------------------------------------


class Addressing(NamedTuple):
    """What a content may depend on in the frame around it."""

    counter: int
    originator: bytes
    recipient: bytes


Encoder = Callable[[dict[str, Any], Addressing], bytes]
_PROBE = Addressing(0, bytes(8), bytes(8))  # for building to check, in parse


@dataclass(frozen=True)
class CommandBuilder:
    """Builds the content of one use case's commands from typed parameters.

    Attributes:
        name: the use case, as GBCS writes it ("ECS17b").
        message_code: its message code (``gbcs.catalogue``).
        target: the device type the command is addressed to.
        role: the remote party role RTDS's command comes from (the catalogue's
            ``originator_roles`` lists every role allowed).
        summary: what the command does, in a line.
        parameters: what the user gives.
        encoder: builds the content from checked parameters (rule 3).
        check: checks parameters against each other (raises ParameterError), or None.
    """

    name: str
    message_code: int
    target: DeviceType
    role: Role
    summary: str
    parameters: tuple[Parameter, ...]
    encoder: Encoder = field(repr=False, compare=False)
    check: Callable[[dict[str, Any]], None] | None = field(default=None, repr=False, compare=False)

    # RTDS: every command's grouping-header date-time is absent (primer §5).
    header_date_time: ClassVar[bool] = False

    def __post_init__(self) -> None:
        if self.use_case.name != self.name:
            raise ValueError(f"message code 0x{self.message_code:04X} is {self.use_case.name}, not {self.name}")

    @property
    def use_case(self) -> UseCase:
        return use_case(self.message_code)

    @property
    def future_datable(self) -> bool:
        """Whether the command can carry an execution date-time (in its payload)."""
        return bool(self.use_case.future_datable)

    def parse(self, raw: Mapping[str, Any] | Sequence[str]) -> dict[str, Any]:
        """Typed parameters, defaults filled in, from a JSON object or ``key=value`` strings.

        Raises:
            ParameterError: a parameter is unknown, given twice, missing, of the wrong type,
                unreadable, out of range, or inconsistent with another.
        """
        given = self._given(raw)
        known = {parameter.name: parameter for parameter in self.parameters}
        unknown = sorted(set(given) - set(known))
        if unknown:
            takes = f"takes {', '.join(known)}" if known else "takes no parameters"
            raise ParameterError(f"unknown parameter; {self.name} {takes}", parameter=unknown[0], use_case=self.name)
        typed = {}
        for name, parameter in known.items():
            value = given.get(name, parameter.default)
            if value is REQUIRED:
                raise ParameterError(f"missing ({parameter.help})", parameter=name, use_case=self.name)
            typed[name] = self._within(name, lambda p=parameter, v=value: p.convert(v))
        if self.check is not None:
            self._within(None, lambda: self.check(typed))
        # What only encoding finds (an amount that does not fit its integer) is found now too.
        self._within(None, lambda: self.encoder(typed, _PROBE))
        return typed

    def content(self, params: Mapping[str, Any] | Sequence[str], *, counter: int, originator: bytes,
                recipient: bytes) -> bytes:  # fmt: skip
        """The payload of a command with these parameters.

        Args:
            params: raw or parsed parameters (``parse`` is applied, and keeps parsed ones).
            counter: the frame's originator counter.
            originator, recipient: the frame's business originator and target (EUI-64s).

        Raises:
            ParameterError: as ``parse``, or the counter or a party is not what a frame holds.
        """
        typed = self.parse(params)
        if isinstance(counter, bool) or not isinstance(counter, int) or not 0 <= counter < 1 << 64:
            raise ParameterError(f"an originator counter is an unsigned 64-bit integer, got {counter!r}",
                                 parameter="counter", use_case=self.name)  # fmt: skip
        for name, party in (("originator", originator), ("recipient", recipient)):
            if not isinstance(party, (bytes, bytearray)) or len(party) != 8:
                raise ParameterError(f"an EUI-64 is 8 bytes, got {party!r}", parameter=name, use_case=self.name)
        return self.encoder(typed, Addressing(counter, bytes(originator), bytes(recipient)))

    def _given(self, raw: Mapping[str, Any] | Sequence[str]) -> dict[str, Any]:
        if isinstance(raw, Mapping):
            for key in raw:
                if not isinstance(key, str):
                    raise ParameterError(f"parameter names are strings, got {key!r}", use_case=self.name)
            return dict(raw)
        if isinstance(raw, (str, bytes)) or not isinstance(raw, Sequence):
            raise ParameterError(f"give a JSON object or key=value strings, got {raw!r}", use_case=self.name)
        given: dict[str, Any] = {}
        for item in raw:
            if not isinstance(item, str) or "=" not in item:
                named = item.strip() if isinstance(item, str) and item.strip().isidentifier() else None
                raise ParameterError(f"expected key=value, got {item!r}", parameter=named, use_case=self.name)
            key, _, value = item.partition("=")
            key = key.strip()
            if key in given:
                raise ParameterError("given twice", parameter=key, use_case=self.name)
            given[key] = value
        return given

    def _within(self, name: str | None, convert: Callable[[], Any]) -> Any:
        """Run a conversion, naming this use case (and the parameter) in its error."""
        try:
            return convert()
        except ParameterError as error:
            raise ParameterError(error.reason, parameter=error.parameter or name, use_case=self.name) from None


# -- DLMS contents (primer §7.2) ------------------------------------------------------------

_BREAK_ON_ERROR = 0x20  # top byte of long-invoke-id-and-priority in every RTDS request


def _access_request(address: Addressing, *requests: tuple[RequestSpecification, Data]) -> bytes:
    """An Access-Request whose invoke-id is the counter's low 24 bits (primer §12 rule 3)."""
    invoke = _BREAK_ON_ERROR << 24 | address.counter & 0xFFFFFF
    specifications, data = zip(*requests, strict=True)
    return dlms.encode_apdu(dlms.AccessRequest(invoke, b"", specifications, data))


def _get(class_id: int, obis: str, attribute: int) -> tuple[RequestSpecification, Data]:
    return RequestSpecification(RequestKind.GET, class_id, Obis(obis), attribute), Data.null()


def _set(class_id: int, obis: str, attribute: int, value: Data) -> tuple[RequestSpecification, Data]:
    return RequestSpecification(RequestKind.SET, class_id, Obis(obis), attribute), value


def _action(class_id: int, obis: str, method: int, value: Data) -> tuple[RequestSpecification, Data]:
    return RequestSpecification(RequestKind.ACTION, class_id, Obis(obis), method), value


def _u8(value: int) -> Data:
    return Data.integer(DataType.UINT8, value)


def _u16(value: int) -> Data:
    return Data.integer(DataType.UINT16, value)


def _octets(value: bytes) -> Data:
    return Data.octet_string(value)


def _protected_read(address: Addressing, protection_object: str, class_id: int, obis: str,
                    selection: Data | None = None) -> bytes:  # fmt: skip
    """GBCS's protected read (ECS17b, ECS22b): the data-protection object's
    ``get_protected_attributes`` (class 30, method 1) with one object attribute (attribute
    2, data index 0, access selector 1 with ``selection`` or 0 with null) and the protection
    wanted: the parameter block a device answers with, minus the sealed data (primer §7.2)."""
    selector = Data.structure(Data.integer(DataType.ENUM, 0 if selection is None else 1), selection or Data.null())
    wanted = Data.array(Data.structure(_u16(class_id), _octets(Obis(obis)), Data.integer(DataType.INT8, 2), _u16(0), selector))
    protection = dlms.protected_attribute(address.counter, address.originator, address.recipient, b"").value[0]
    return _access_request(address, _action(30, protection_object, 1, Data.structure(wanted, protection)))


def _date_time(moment: datetime) -> Data:
    """A date-time as GBCS's DLMS payloads write it: UTC, weekday and deviation unspecified."""
    return _octets(DlmsDateTime.from_datetime(moment).encode())


def _import_registers(params: dict[str, Any], address: Addressing) -> bytes:
    # RTDS 4.1.1_ECS17b: the import register collection 0.0.94.44.34.10 through 0.0.43.2.8.255.
    return _protected_read(address, "0.0.43.2.8.255", 1, "0.0.94.44.34.10")


def _import_profile(params: dict[str, Any], address: Addressing) -> bytes:
    # RTDS 4.8.1_ECS22b: the half-hour active import profile 0.0.99.1.0.255 through
    # 0.0.43.2.7.255, selected by structure(from, to) of date-times.
    selection = Data.structure(_date_time(params["start"]), _date_time(params["end"]))
    return _protected_read(address, "0.0.43.2.7.255", 7, "0.0.99.1.0.255", selection)


def _check_range(params: dict[str, Any]) -> None:
    if params["end"] < params["start"]:
        raise ParameterError(f"{params['end'].isoformat()} is before start {params['start'].isoformat()}", parameter="end")


# RTDS 4.11.1_ECS24: what the tariff data read gets, in RTDS's order.
_TARIFF_DATA = (
    (3, "0.0.94.44.1.7", 2), (3, "0.0.94.44.1.7", 3),  # active tariff price, its scaler-unit
    (20, "0.0.13.0.0.255", 3), (20, "0.0.13.0.0.255", 4), (20, "0.0.13.0.0.255", 5),  # active calendar
    (11, "0.0.11.0.0.255", 2),  # special days
    *((21, f"0.0.16.0.{n}.255", 2) for n in range(11, 19)),  # block thresholds, rates 1-8
    (9000, "0.0.94.44.2.0", 2),  # currency
    (113, "0.0.19.20.4.255", 5), (113, "0.0.19.20.0.255", 5),  # standing charge, price matrix
)  # fmt: skip


def _tariff_data(params: dict[str, Any], address: Addressing) -> bytes:
    return _access_request(address, *(_get(*item) for item in _TARIFF_DATA))


# RTDS 6.2.4_ECS26e: device id, variant, model, manufacturer, and 0.0.94.44.0.4.
_IDENTITY = ("0.0.96.1.1.255", "0.0.96.1.2.255", "0.0.96.1.4.255", "0.0.96.1.6.255", "0.0.94.44.0.4")


def _identity(params: dict[str, Any], address: Addressing) -> bytes:
    return _access_request(address, *(_get(1, obis, 2) for obis in _IDENTITY))


BALANCE_SCALE = -5  # meter balances count 10^-5 of the currency (esme_defaults; RTDS ECS04a 1200000 = £12)


def _scaled(name: str, amount: Decimal, scale: int, kind: DataType) -> Data:
    """``amount`` in units of 10^``scale`` as an integer of ``kind``."""
    units = amount.scaleb(-scale)
    if units != units.to_integral_value():
        raise ParameterError(f"{amount} has more decimal places than units of 10^{scale} allow", parameter=name)
    try:
        return Data.integer(kind, int(units))
    except ValueError:
        raise ParameterError(f"{amount} is {int(units)} units of 10^{scale}, which does not fit {kind.name}"
                             + (" (a larger price_scale sends coarser units)" if name != "amount" else ""),
                             parameter=name) from None  # fmt: skip


def _adjust_balance(params: dict[str, Any], address: Addressing) -> bytes:
    # RTDS 1.5_ECS04a: the token credit's update_amount (class 112 method 1), int32.
    amount = _scaled("amount", params["amount"], BALANCE_SCALE, DataType.INT32)
    return _access_request(address, _action(112, "0.0.19.10.0.255", 1, amount))


# -- ECS01a: set tariff and price -----------------------------------------------------------
#
# RTDS 1.1.1_ECS01a sets 21 attributes, always the same ones in the same order: the passive
# activity calendar (seasons, weeks, days), the passive special days, the next block thresholds
# of the 8 block-tariff rates, the passive currency, standing charge and price matrix, then six
# activation date-times, all the same (primer §12 rule 8).

TOU_RATES, BLOCKS, BLOCK_RATES = 48, 4, 8
_NO_THRESHOLD = 0xFFFFFFFF  # ends a threshold list (RTDS)
_CALENDAR, _TARIFF_SCRIPTS = "0.0.13.0.0.255", Obis("0.0.10.0.100.255")
_STANDING_CHARGE, _PRICE_MATRIX, _CURRENCY = "0.0.19.20.4.255", "0.0.19.20.0.255", "0.0.94.44.2.0"
_ACTIVATIONS = ((20, _CALENDAR, 10), (9000, "0.0.94.44.128.29", 6), (9000, _CURRENCY, 6),
                (113, _STANDING_CHARGE, 7), (113, _PRICE_MATRIX, 7), (9000, "0.0.63.1.1.255", 6))  # fmt: skip
_ACTIVATE_NOW = bytes(9) + b"\x80\x00\xff"  # all zero, deviation and status unspecified
_CANCEL_ACTIVATION = b"\xff" * 9 + b"\x80\x00\xff"
_CURRENCIES = {"GBP": True, "EUR": False}  # a boolean; RTDS and the emulator's factory state: TRUE, GBP (our reading)


def _price_matrix_indices() -> tuple[bytes, ...]:
    """The price matrix's 80 entry indices, RTDS's order: TOU rates 01-30 (hex), then block
    prices A1-A8 (block 1 of block-tariff rates 1-8), B1-B8, C1-C8, D1-D8."""
    blocks = (bytes((0xA0 + 0x10 * block + rate,)) for block in range(BLOCKS) for rate in range(1, BLOCK_RATES + 1))
    return (*(bytes((rate,)) for rate in range(1, TOU_RATES + 1)), *blocks)


def _charge(scalers: tuple[int, int], commodity: tuple[int, str, int], entries: list[tuple[bytes, Data]]) -> Data:
    """A charge's unit_charge (class 113): scalers, commodity reference, charge table."""
    class_id, obis, attribute = commodity
    return Data.structure(
        Data.structure(*(Data.integer(DataType.INT8, scale) for scale in scalers)),
        Data.structure(_u16(class_id), _octets(Obis(obis)), Data.integer(DataType.INT8, attribute)),
        Data.array(*(Data.structure(_octets(index), charge) for index, charge in entries)),
    )


def _tariff(params: dict[str, Any], address: Addressing) -> bytes:
    scale = params["price_scale"]

    def price(name: str, amount: Decimal) -> Data:
        return _scaled(name, amount, scale, DataType.INT16)

    seasons = Data.array(*map(_season, params["seasons"]))
    weeks = Data.array(*(Data.structure(_octets(bytes((w.week_id,))), *map(_u8, w.days)) for w in params["week_profiles"]))
    days = Data.array(*map(_day_profile, params["day_profiles"]))
    special_days = Data.array(*(Data.structure(_u16(index), _octets(day.on.encode()[:5]), _u8(day.day_id))
                                for index, day in enumerate(params["special_days"], start=1)))  # fmt: skip
    thresholds = [*params["block_thresholds"], *([()] * BLOCK_RATES)][:BLOCK_RATES]  # rates not given: no blocks
    prices = dict(zip(_price_matrix_indices(), params["tou_prices"], strict=False))
    for rate, block_prices in enumerate(params["block_prices"], start=1):
        for block, amount in enumerate(block_prices):
            prices[bytes((0xA0 + 0x10 * block + rate,))] = amount
    matrix = [(index, price("tou_prices" if index[0] <= TOU_RATES else "block_prices", prices.get(index, Decimal(0))))
              for index in _price_matrix_indices()]  # fmt: skip
    standing = [(b"", price("standing_charge", params["standing_charge"]))]
    when = _activation_time(params["activation"])
    return _access_request(
        address,
        _set(20, _CALENDAR, 7, seasons),
        _set(20, _CALENDAR, 8, weeks),
        _set(20, _CALENDAR, 9, days),
        _set(11, "0.1.11.0.0.255", 2, special_days),
        *(_set(21, f"0.0.16.1.{10 + rate}.255", 2, _thresholds(rate_thresholds))
          for rate, rate_thresholds in enumerate(thresholds, start=1)),
        _set(9000, _CURRENCY, 4, Data.boolean(_CURRENCIES[params["currency"]])),
        _set(113, _STANDING_CHARGE, 6, _charge((0, scale), (0, "0.0.0.0.0.0", 0), standing)),
        # commodity scale 3: prices per 10^3 Wh of active import (1.0.1.8.0.255), i.e. per kWh
        _set(113, _PRICE_MATRIX, 6, _charge((3, scale), (3, "1.0.1.8.0.255", 2), matrix)),
        *(_set(class_id, obis, attribute, _octets(when)) for class_id, obis, attribute in _ACTIVATIONS),
    )


def _season(season: Season) -> Data:
    return Data.structure(_octets(season.name.encode("ascii")), _octets(season.start.encode()), _octets(bytes((season.week_id,))))


def _day_profile(profile: DayProfile) -> Data:
    """Day id, then per switch: its time (hh mm ss 00), the tariff switching script table
    0.0.10.0.100.255 and the script selector."""
    switches = (Data.structure(_octets(bytes((s.at.hour, s.at.minute, s.at.second, 0))), _octets(_TARIFF_SCRIPTS), _u16(s.script))
                for s in profile.switches)  # fmt: skip
    return Data.structure(_u8(profile.day_id), Data.array(*switches))


def _activation_time(activation: str | datetime) -> bytes:
    if activation == _NOW:
        return _ACTIVATE_NOW
    if activation == _CANCEL:
        return _CANCEL_ACTIVATION
    return DlmsDateTime.from_datetime(activation).encode()


def _thresholds(thresholds: tuple[int, ...]) -> Data:
    """A block-tariff rate's thresholds as RTDS sends them, ended by FFFFFFFF: [FFFFFFFF] for
    one block, [10000, 20000, FFFFFFFF] for three. With all three thresholds (four blocks) we
    send no end mark: RTDS never sends three, and there is no fourth threshold to end."""
    ended = thresholds if len(thresholds) == BLOCKS - 1 else (*thresholds, _NO_THRESHOLD)
    return Data.array(*(Data.integer(DataType.UINT32, value) for value in ended))


def _check_tariff(params: dict[str, Any]) -> None:
    """The calendar refers to what it defines, and there is a price to charge."""
    days = {profile.day_id for profile in params["day_profiles"]}
    weeks = {week.week_id for week in params["week_profiles"]}
    for week in params["week_profiles"]:
        missing = [day for day in week.days if day not in days]
        if missing:
            raise ParameterError(f"week {week.week_id} uses day profile {missing[0]}, which day_profiles does not define",
                                 parameter="week_profiles")  # fmt: skip
    for season in params["seasons"]:
        if season.week_id not in weeks:
            raise ParameterError(f"season {season.name} uses week {season.week_id}, which week_profiles does not define",
                                 parameter="seasons")  # fmt: skip
    for special in params["special_days"]:
        if special.day_id not in days:
            raise ParameterError(f"day profile {special.day_id} is not in day_profiles", parameter="special_days")
    if not params["tou_prices"] and not params["block_prices"]:
        raise ParameterError("give TOU prices or block prices (or both)", parameter="tou_prices")
    if not params["seasons"]:
        raise ParameterError("at least one season is needed", parameter="seasons")
    thresholds = params["block_thresholds"]
    for rate, prices in enumerate(params["block_prices"], start=1):
        blocks = len(thresholds[rate - 1]) + 1 if rate <= len(thresholds) else 1
        if len(prices) > blocks:
            raise ParameterError(f"block-tariff rate {rate} has {len(prices)} prices but block_thresholds give it "
                                 f"{blocks} block(s)", parameter="block_prices")  # fmt: skip


# -- GBZ contents (primer §7.3) -------------------------------------------------------------

_METERING, _BASIC = 0x0702, 0x0000
_EPOCH = datetime(2000, 1, 1, tzinfo=timezone.utc)  # ZigBee UTC time (primer §3)
_GLOBAL, _CLUSTER_SPECIFIC = 0x00, 0x01  # ZCL frame control, client to server, default response on


def _gbz(*commands: tuple[int, int, int, Any]) -> bytes:
    """GBZ components, one per (cluster, frame control, command id, payload), sequence
    numbers 0, 1, ... and the last one flagged last (RTDS GCS21e, GCS21f)."""
    components = tuple(
        gbz.GbzComponent(gbz.LAST if number == len(commands) - 1 else 0, cluster,
                         gbz.ZclCommand(frame_control, number, command_id, value=value))
        for number, (cluster, frame_control, command_id, value) in enumerate(commands)
    )  # fmt: skip
    return gbz.encode_gbz(gbz.GbzPayload(components))


def _read_attributes(cluster: int, *attributes: int) -> tuple[int, int, int, Any]:
    return cluster, _GLOBAL, 0x00, gbz.ReadAttributes(attribute_ids=list(attributes))


def _consumption_register(params: dict[str, Any], address: Addressing) -> bytes:
    # RTDS 4.1.1_GCS13a (primer §13.2): divisor, multiplier, unit of measure, current summation delivered.
    return _gbz(_read_attributes(_METERING, 0x0302, 0x0301, 0x0300, 0x0000))


HALF_HOUR = timedelta(minutes=30)
_GET_SAMPLED_DATA = COMMANDS[(_METERING, Direction.CLIENT_TO_SERVER, 0x08)]


def _half_hours(params: dict[str, Any]) -> int:
    """The number of samples GCS17 asks for: the half-hours starting from ``start`` up to and
    including ``end`` (RTDS 4.8.1_GCS17 SUCCESS: 2014-12-30T00:00Z to 2015-01-01T00:00Z, 97)."""
    return (params["end"] - params["start"]) // HALF_HOUR + 1


def _profile_log(params: dict[str, Any], address: Addressing) -> bytes:
    # RTDS 4.8.1_GCS17: Metering GetSampledData, sample id 0, sample type 0 (consumption delivered).
    earliest = int((params["start"] - _EPOCH).total_seconds())
    request = _GET_SAMPLED_DATA.schema(sample_id=0, earliest_sample_time=earliest, sample_type=0,
                                       number_of_samples=_half_hours(params))  # fmt: skip
    return _gbz((_METERING, _CLUSTER_SPECIFIC, _GET_SAMPLED_DATA.command_id, request))


def _check_profile_range(params: dict[str, Any]) -> None:
    _check_range(params)
    if params["start"].microsecond:
        raise ParameterError("ZigBee UTC time counts whole seconds", parameter="start")
    if _half_hours(params) > 0xFFFF:
        raise ParameterError(f"the range holds {_half_hours(params)} half-hours, GCS17 reads at most 65535", parameter="end")


def _gas_identity(params: dict[str, Any], address: Addressing) -> bytes:
    # RTDS 6.2.4_GCS21e: Basic manufacturer, model, hardware version; Metering supply
    # depletion and tamper states.
    return _gbz(_read_attributes(_BASIC, 0x0004, 0x0005, 0x0003), _read_attributes(_METERING, 0x0608, 0x0607))


# -- the table --------------------------------------------------------------------------------

_DLMS_EARLIEST, _DLMS_LATEST = datetime(1, 1, 1, tzinfo=timezone.utc), datetime(9999, 12, 31, tzinfo=timezone.utc)
_ZIGBEE_LATEST = _EPOCH + timedelta(seconds=0xFFFFFFFE)  # FFFFFFFF means "undefined" (primer §3)


def _range(earliest: datetime, latest: datetime, what: str) -> tuple[Parameter, Parameter]:
    return (Parameter("start", "datetime", f"first {what} to read", minimum=earliest, maximum=latest),
            Parameter("end", "datetime", f"last {what} to read (inclusive)", minimum=earliest, maximum=latest))  # fmt: skip


_TARIFF_PARAMETERS = (
    Parameter("tou_prices", "decimals", "price per kWh of TOU rates 1, 2, ... (at most 48), in the currency",
              default="", maximum=TOU_RATES),
    Parameter("block_prices", "block-prices", "per block-tariff rate 1-8, its price per kWh in blocks 1-4",
              default=""),
    Parameter("block_thresholds", "block-thresholds", "per block-tariff rate 1-8, the consumption (in the active "
              "import register's unit) where its blocks 2, 3, 4 start", default=""),
    Parameter("standing_charge", "decimal", "standing charge per day, in the currency", default="0"),
    Parameter("price_scale", "int", "prices are sent as integers of 10^price_scale of the currency",
              default=-5, minimum=-128, maximum=127),
    Parameter("currency", "choice", "the currency", default="GBP", choices=tuple(_CURRENCIES)),
    Parameter("day_profiles", "day-profiles", "switch times of day to a script: TOU rate 1-48 or block-tariff "
              "rate 101-108", default="1: 00:00=1"),
    Parameter("week_profiles", "week-profiles", "day profiles of each weekday", default="1: 1 1 1 1 1 1 1"),
    Parameter("seasons", "seasons", "from which date which week profile applies", default="all 2000-01-01 1"),
    Parameter("special_days", "special-days", "days that take another day profile", default=""),
    Parameter("activation", "activation", "when the new tariff becomes active", default="now"),
)  # fmt: skip

_TABLE = (
    CommandBuilder("ECS01a", 0x0019, DeviceType.ESME, Role.SUPPLIER,
                   "set the tariff (calendar, TOU and block prices, standing charge) of the ESME",
                   _TARIFF_PARAMETERS, _tariff, _check_tariff),
    CommandBuilder("ECS04a", 0x001C, DeviceType.ESME, Role.SUPPLIER,
                   "add to (or take from) the ESME's meter balance",
                   (Parameter("amount", "decimal", "credit to add, in the currency (negative takes it away)",
                              minimum=Decimal("-21474.83648"), maximum=Decimal("21474.83647")),),
                   _adjust_balance),
    CommandBuilder("ECS17b", 0x0027, DeviceType.ESME, Role.SUPPLIER,
                   "read the ESME's import energy registers (answered encrypted)", (), _import_registers),
    CommandBuilder("ECS22b", 0x0037, DeviceType.ESME, Role.SUPPLIER,
                   "read the ESME's half-hour active import profile over a range (answered encrypted)",
                   _range(_DLMS_EARLIEST, _DLMS_LATEST, "moment"), _import_profile, _check_range),
    CommandBuilder("ECS24", 0x003A, DeviceType.ESME, Role.SUPPLIER,
                   "read the ESME's tariff data", (), _tariff_data),
    CommandBuilder("ECS26e", 0x003F, DeviceType.ESME, Role.SUPPLIER,
                   "read the ESME's identity", (), _identity),
    # GCS13a, GCS17, GCS21e may go to the GPF too (RTDS's RELIABLE_GSME GCS13a does; same content).
    CommandBuilder("GCS13a", 0x0074, DeviceType.GSME, Role.SUPPLIER,
                   "read the GSME's consumption register (answered encrypted)", (), _consumption_register),
    CommandBuilder("GCS17", 0x0078, DeviceType.GSME, Role.SUPPLIER,
                   "read the GSME's half-hourly profile data log over a range",
                   _range(_EPOCH, _ZIGBEE_LATEST, "half-hour"), _profile_log, _check_profile_range),
    CommandBuilder("GCS21e", 0x009E, DeviceType.GSME, Role.SUPPLIER,
                   "read the GSME's identity and supply states", (), _gas_identity),
)  # fmt: skip

BUILDERS: Mapping[str, CommandBuilder] = MappingProxyType({entry.name: entry for entry in _TABLE})


def builder(name: str) -> CommandBuilder:
    """The builder of the use case ``name`` ("ECS17b"; letter case does not matter).

    Raises:
        ParameterError: no builder has that use case.
    """
    if isinstance(name, str):
        found = BUILDERS.get(name) or next((b for key, b in BUILDERS.items() if key.lower() == name.strip().lower()), None)
        if found is not None:
            return found
    raise ParameterError(f"no command builder for use case {name!r}; known: {', '.join(BUILDERS)}")
