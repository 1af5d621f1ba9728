"""The electricity meter's factory state: the value of every configuration attribute before a
supplier sets it.

A meter out of the box is in credit mode, on a single-rate tariff (one season, one week, one
day with one switch at midnight), bills on the first of each month at midnight, has no
special days, no debts, no blocks (every block threshold at its maximum, i.e. none), no
contact details or MPAN, and alerts filtered off. Types are those of GBCS's ESME use cases
(the sets and reads RTDS records); amounts are in the currency's 10^-5 units, as the
account objects' scalers say, durations in seconds.
"""

from __future__ import annotations

from gbcs.dlms import BitString, Data, DataType

__all__ = ["FACTORY_DEFAULTS"]

_U8, _U16, _U32, _I8, _I16, _I32 = DataType.UINT8, DataType.UINT16, DataType.UINT32, DataType.INT8, DataType.INT16, DataType.INT32
_NONE = 2**32 - 1  # a threshold never reached


def _int(kind: DataType, value: int) -> Data:
    return Data.integer(kind, value)


def _octets(hex_text: str) -> Data:
    return Data.octet_string(bytes.fromhex(hex_text))


def _bits(count: int) -> Data:
    return Data(DataType.BIT_STRING, BitString(count, bytes(count // 8)))


_ALWAYS = "07D00101FF000000008000FF"  # 2000-01-01 00:00 UTC: active since before any reading
_TARIFF_SCRIPT = "00000A0064FF"  # the tariff switching script table (0.0.10.0.100.255)


def _calendar(script: str) -> dict[int, Data]:
    """Activity calendar (class 20): one season from 2000, every weekday day profile 1, one
    switch at midnight to rate 1; the passive copy the same, with no activation pending."""
    season = Data.array(Data.structure(_octets("01"), _octets(_ALWAYS), _octets("01")))
    week = Data.array(Data.structure(_octets("01"), *(_int(_U8, 1) for _ in range(7))))
    day = Data.array(Data.structure(_int(_U8, 1), Data.array(Data.structure(_octets("00000000"), _octets(script), _int(_U16, 1)))))
    return {3: season, 4: week, 5: day, 7: season, 8: week, 9: day, 10: _octets("FFFFFFFFFFFFFFFFFF8000FF")}


def _charge(*, units: Data, entries: int) -> dict[int, Data]:
    """Charge (class 113): unit charge active/passive {scalers, commodity, charge table}."""
    charge = Data.structure(Data.structure(_int(_I8, 0), _int(_I8, -5)), units,
                            Data.array(*(Data.structure(_octets(f"{index + 1:02X}") if entries > 1 else _octets(""),
                                                        _int(_I16, 0)) for index in range(entries))))  # fmt: skip
    return {5: charge, 6: charge, 7: _octets("FFFFFFFFFFFFFFFFFF8000FF"), 8: _int(_U32, 86400), 12: _int(_I32, 0),
            13: _int(_U16, 0)}  # fmt: skip


def _extended(value: Data) -> dict[int, Data]:
    return {2: value, 4: value, 6: _octets("FFFFFFFFFFFFFFFFFF8000FF")}


_ENERGY = Data.structure(_int(_U16, 3), _octets("0100010800FF"), _int(_I8, 2))  # charged per active import unit
_TIME = Data.structure(_int(_U16, 0), _octets("000000000000"), _int(_I8, 0))  # charged per period

FACTORY_DEFAULTS: dict[tuple[int, str], dict[int, Data]] = {
    # configuration data objects (class 1)
    (1, "0.0.94.44.0.0"): {2: _int(_U16, 0)},  # randomisation offsets (seconds)
    (1, "0.0.94.44.0.1"): {2: _int(_U16, 0)},
    (1, "0.0.94.44.0.2"): {2: _int(_U16, 0)},
    (1, "0.0.94.44.0.4"): {2: Data.boolean(False)},
    **{(1, f"0.0.94.44.0.{n}"): {2: Data(DataType.VISIBLE_STRING, "")} for n in range(11, 16)},  # ALCS descriptions
    **{(1, f"0.0.94.44.0.{n}"): {2: _octets("00" * 8)} for n in (21, 22, 25)},  # HCALCS identities
    (1, "0.0.94.44.0.23"): {2: _octets("00")},
    (1, "0.0.94.44.0.24"): {2: _octets("")},
    **{(1, f"0.0.94.44.0.{n}"): {2: Data(DataType.UTF8_STRING, "{}")} for n in range(31, 36)},
    (1, "0.0.94.44.34.11"): {2: _octets("")},  # import MPANs
    **{(1, f"0.0.94.44.6.{n}"): {2: Data.boolean(False)} for n in range(1, 6)},
    (1, "0.0.94.44.7.255"): {2: Data.boolean(False)},
    **{(1, f"0.30.97.98.{n}.255"): {2: _bits(256)} for n in range(15, 19)},  # alert filters: all off
    **{(1, f"0.33.97.98.{n}.255"): {2: _bits(256)} for n in (15, 18)},
    (1, "1.0.0.0.2.255"): {2: _octets("")},  # MPAN
    # average RMS under- and over-voltage thresholds (V) per phase: 230 V - 6% and + 10%
    **{(1, f"1.0.{phase}.31.0.4"): {2: _int(_U32, 216)} for phase in (32, 52, 72)},
    **{(1, f"1.0.{phase}.35.0.4"): {2: _int(_U32, 253)} for phase in (32, 52, 72)},
    # prices and counters (class 3)
    **{(3, f"0.0.94.44.1.{n}"): {2: _int(_U32, 0), 3: Data.structure(_int(_I8, -5), _int(DataType.ENUM, 254))} for n in (7, 8)},
    **{(3, f"1.0.{phase}.{kind}.0.4"): {2: _int(_U32, 0), 3: Data.structure(_int(_I8, 0), _int(DataType.ENUM, 255))}
       for phase in (32, 52, 72) for kind in (32, 36)},  # fmt: skip
    # maximum demand (class 4)
    **{(4, obis): {2: _int(_U32, 0), 3: Data.structure(_int(_I8, 0), _int(DataType.ENUM, 27))}
       for obis in ("1.0.1.6.0.255", "1.0.1.6.1.255", "1.0.2.6.0.255")},  # fmt: skip
    # non-disablement and ALCS calendars, special days (classes 10, 11), tariff calendars (20)
    (10, "0.0.12.0.1.255"): {2: Data.array()},
    (10, "0.0.12.0.2.255"): {2: Data.array()},
    **{(11, f"0.{b}.11.0.{n}.255"): {2: Data.array()} for b in (0, 1) for n in range(4)},
    (20, "0.0.13.0.0.255"): _calendar(_TARIFF_SCRIPT),
    (20, "0.0.13.0.1.255"): _calendar(_TARIFF_SCRIPT),
    # thresholds (class 21): block thresholds none, load limit none, low credit 0
    (21, "0.0.16.0.0.255"): {2: Data.array(_int(_U32, _NONE), _int(_U32, _NONE))},
    (21, "0.0.16.0.1.255"): {2: Data.array(_int(_I32, 0))},
    **{(21, f"0.0.16.{b}.{n}.255"): {2: Data.array(*(_int(_U32, _NONE) for _ in range(3)))}
       for b in (0, 1) for n in range(11, 19)},  # fmt: skip
    # billing calendar (class 22): midnight on the first of every month
    (22, "0.0.15.0.0.255"): {4: Data.array(Data.structure(_octets("00000000"), _octets("FFFFFF01FF")))},
    # supply switch (class 70): connected
    (70, "0.0.96.3.10.255"): {2: Data.boolean(True), 3: _int(DataType.ENUM, 1), 4: _int(DataType.ENUM, 4)},
    # voltage limiters (class 71): extreme over, extreme under, sag, swell (V) and periods (s)
    **{(71, f"0.0.17.0.{n}.255"): {4: _int(_U32, volts), 6: _int(_U32, 30)}
       for n, volts in ((1, 276), (2, 184), (3, 200), (4, 264))},  # fmt: skip
    # account (class 111): credit mode, active; low credit £5, max provision, its period a week
    (111, "0.0.19.0.0.255"): {2: Data.structure(_int(DataType.ENUM, 1), _int(DataType.ENUM, 2)), 11: Data.array(),
                              16: _int(_I32, 500_000), 18: _int(_U16, 10_000), 19: _int(_I32, 604_800)},  # fmt: skip
    # the passive account (a payment mode to come) and when it becomes active: none pending
    (111, "0.1.19.0.0.255"): {2: Data.structure(_int(DataType.ENUM, 1), _int(DataType.ENUM, 2)), 11: Data.array(),
                              13: _octets("FFFFFFFFFFFFFFFFFF8000FF")},  # fmt: skip
    # credits (class 112): token credit, emergency credit (£5 when invoked, offered below £1), accumulated
    (112, "0.0.19.10.0.255"): {2: _int(_I32, 0)},
    (112, "0.0.19.10.1.255"): {2: _int(_I32, 0), 9: _int(_I32, 500_000), 10: _int(_I32, 100_000)},
    (112, "0.0.19.10.2.255"): {2: _int(_I32, 0)},
    # charges (class 113): the energy tariff, two time-based debts, payment-based debt, standing
    # charge, the secondary element's tariff
    (113, "0.0.19.20.0.255"): _charge(units=_ENERGY, entries=4),
    (113, "0.0.19.20.1.255"): _charge(units=_TIME, entries=1),
    (113, "0.0.19.20.2.255"): _charge(units=_TIME, entries=1),
    (113, "0.0.19.20.3.255"): _charge(units=_TIME, entries=1),
    (113, "0.0.19.20.4.255"): _charge(units=_TIME, entries=1),
    (113, "0.0.19.20.5.255"): _charge(units=Data.structure(_int(_U16, 3), _octets("0114010800FF"), _int(_I8, 2)), entries=4),
    # GBCS extended data (class 9000; active value 2, passive value 4, activation time 6):
    # currency GBP, max credit £50, max meter balance £100, emergency credit £5 offered below
    # £1, low credit £2, debt recovery capped at £10 a week, supply disabled below £0
    **{(9000, obis): _extended(value) for obis, value in (
        ("0.0.94.44.2.0", Data.boolean(True)),
        ("0.0.94.44.2.10", _int(_I32, 5_000_000)),
        ("0.0.94.44.2.20", _int(_I32, 10_000_000)),
        ("0.0.94.44.128.2", _int(_I32, 500_000)),
        ("0.0.94.44.128.3", _int(_I32, 100_000)),
        ("0.0.94.44.128.9", _int(_I32, 200_000)),
        ("0.0.94.44.128.12", _int(_U16, 1_000)),
        ("0.0.94.44.128.13", _int(_I32, 604_800)),
        ("0.0.94.44.128.22", _int(_I32, 0)),
    )},  # fmt: skip
}
