"""A fleet: many premises described once, with identities derived from a seed.

The description (TOML) names premises templates and groups of premises made from them; a
group also says where its premises sit for scenarios — a DNO ``region``, a substation
``feeder``, a ``supplier``::

    seed = 42                          # the same seed always gives the same fleet

    [templates.dual-fuel]
    devices = ["esme", "gsme", "ihd"]  # besides the Communications Hub (CHF and GPF)
    esme = "single"                    # single, twin or polyphase
    load_seed = 7                      # the load models' seed (default: each premises its own)

    [templates.electricity-only]
    devices = ["esme", "ihd"]

    [[group]]
    template = "dual-fuel"
    count = 300
    region = "north-west"
    feeder = "NW-014"
    supplier = "supplier-a"

Premises are numbered from 1 in the order of the groups. Their devices' EUI-64s are
``5E4D`` ‖ two bytes of the seed's hash ‖ the premises number (three bytes) ‖ the device's
index, so fleets of different seeds never share a device, and a premises keeps its
identities whatever comes after it in the file. Each electricity meter gets an MPAN core
(a distributor id from the region, a number from the premises, and the MPAN check digit),
each gas meter an MPRN (we chose: ten digits from the seed and the premises number; no
check digit is computed).
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gbcs.pki import parse_device_type
from gbcs.types import EUI64, DeviceType

from .errors import ConfigError
from .premises import HAN_DEVICES, PremisesConfig
from .toml_file import read_toml

__all__ = ["Fleet", "FleetPremises", "Group", "Template", "mpan_check_digit"]

MAX_PREMISES = (1 << 24) - 1  # three bytes of the EUI-64 number premises
_ELEMENTS = ("single", "twin", "polyphase")
# MPAN check digit: the first 12 digits of the core times these primes, summed, mod 11, mod 10.
_MPAN_PRIMES = (3, 5, 7, 13, 17, 19, 23, 29, 31, 37, 41, 43)


def mpan_check_digit(first_twelve: str) -> int:
    """The check digit of an MPAN core whose first twelve digits are given.

    Raises:
        ValueError: not twelve digits.
    """
    if len(first_twelve) != 12 or not first_twelve.isdigit():
        raise ValueError(f"an MPAN core's first part is twelve digits, not {first_twelve!r}")
    return sum(int(digit) * prime for digit, prime in zip(first_twelve, _MPAN_PRIMES, strict=True)) % 11 % 10


@dataclass(frozen=True)
class Template:
    name: str
    devices: tuple[DeviceType, ...]  # HAN devices, besides the hub's CHF and GPF
    esme: str = "single"
    load_seed: int | None = None


@dataclass(frozen=True)
class Group:
    template: Template
    count: int
    region: str = "default"
    feeder: str = "default"
    supplier: str = "default"


@dataclass(frozen=True)
class FleetPremises:
    """One premises of a fleet: its number, its devices, where it sits, its meters' numbers."""

    number: int
    config: PremisesConfig
    group: Group
    mpans: tuple[str, ...]
    mprns: tuple[str, ...]
    load_seed: int

    @property
    def hub(self) -> EUI64:
        return self.config.of_type(DeviceType.CHF)[0]


@dataclass(frozen=True)
class Fleet:
    seed: int
    templates: Mapping[str, Template]
    groups: tuple[Group, ...]

    @property
    def size(self) -> int:
        return sum(group.count for group in self.groups)

    @property
    def regions(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(group.region for group in self.groups))

    @classmethod
    def from_toml(cls, path: Path) -> Fleet:
        """Read a fleet description (the module docstring shows one).

        Raises:
            ConfigError: unreadable, not TOML, or a key or value that is wrong (named).
        """
        document = read_toml(path)
        try:
            return cls.from_mapping(document)
        except ConfigError as error:
            raise ConfigError(f"{path}: {error}") from None

    @classmethod
    def from_mapping(cls, document: Mapping[str, Any]) -> Fleet:
        _only(document, {"seed", "templates", "group"}, "the fleet")
        seed = document.get("seed", 0)
        if not isinstance(seed, int) or isinstance(seed, bool):
            raise ConfigError(f"seed must be a whole number, not {seed!r}")
        raw_templates = document.get("templates", {})
        if not isinstance(raw_templates, Mapping) or not raw_templates:
            raise ConfigError("[templates] must name at least one premises template")
        templates = {name: _template(name, table) for name, table in raw_templates.items()}
        raw_groups = document.get("group", [])
        if not isinstance(raw_groups, list) or not raw_groups:
            raise ConfigError("a fleet needs at least one [[group]] of premises")
        groups = tuple(_group(index, table, templates) for index, table in enumerate(raw_groups, start=1))
        fleet = cls(seed, templates, groups)
        if fleet.size > MAX_PREMISES:
            raise ConfigError(f"a fleet has at most {MAX_PREMISES} premises, not {fleet.size}")
        return fleet

    def premises(self, region: str | None = None) -> Iterator[FleetPremises]:
        """Every premises in number order (only ``region``'s, if given): made on demand, so a
        fleet of any size costs nothing until walked."""
        number = 0
        for group in self.groups:
            if region is not None and group.region != region:
                number += group.count
                continue
            for _ in range(group.count):
                number += 1
                yield self.premises_number(number, group)

    def premises_number(self, number: int, group: Group | None = None) -> FleetPremises:
        """Premises ``number`` (from 1).

        Raises:
            ConfigError: the fleet has no such premises.
        """
        if group is None:
            first = 1
            for candidate in self.groups:
                if number < first + candidate.count:
                    group = candidate
                    break
                first += candidate.count
        if group is None or not 1 <= number <= self.size:
            raise ConfigError(f"the fleet has premises 1 to {self.size}, not {number}")
        base = self._base(number)
        kinds = (DeviceType.CHF, DeviceType.GPF, *group.template.devices)
        config = PremisesConfig({EUI64(base + bytes((index,))): kind for index, kind in enumerate(kinds)})
        distributor = 10 + self.regions.index(group.region) % 90  # GB's distributor ids are two digits
        mpans = tuple(_mpan(distributor, number, index) for index, _ in enumerate(config.of_type(DeviceType.ESME)))
        mprns = tuple(f"{(int.from_bytes(self._seed_bytes, 'big') * 10_000_000 + number * 10 + index) % 10**10:010d}"
                      for index, _ in enumerate(config.of_type(DeviceType.GSME)))  # fmt: skip
        load_seed = group.template.load_seed if group.template.load_seed is not None else self.seed * 1_000_003 + number
        return FleetPremises(number, config, group, mpans, mprns, load_seed)

    @staticmethod
    def number_of_device(eui: bytes) -> int:
        """The number of the premises a device of a fleet belongs to (its EUI-64's layout)."""
        return int.from_bytes(bytes(eui)[4:7], "big")

    @staticmethod
    def is_hub_device(eui: bytes) -> bool:
        """Whether a fleet device is half of its premises' Communications Hub (the CHF is
        device 0, the GPF device 1)."""
        return bytes(eui)[7] in (0, 1)

    def hub_of(self, number: int) -> EUI64:
        """The CHF EUI-64 of premises ``number``, without making the rest of it."""
        return EUI64(self._base(number) + b"\x00")

    def _base(self, number: int) -> bytes:
        return bytes.fromhex("5E4D") + self._seed_bytes + number.to_bytes(3, "big")

    @functools.cached_property
    def _seed_bytes(self) -> bytes:  # in every device's EUI-64: hashed once, not per premises
        return hashlib.sha256(b"smets-emu fleet" + self.seed.to_bytes(16, "big", signed=True)).digest()[:2]


def _mpan(distributor: int, number: int, index: int) -> str:
    first = f"{distributor:02d}{number * 10 + index:010d}"
    return first + str(mpan_check_digit(first))


def _only(table: Mapping[str, Any], allowed: set[str], where: str) -> None:
    unknown = set(table) - allowed
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {', '.join(sorted(unknown))}; known: {', '.join(sorted(allowed))}")


def _template(name: str, table: object) -> Template:
    where = f"[templates.{name}]"
    if not isinstance(table, Mapping):
        raise ConfigError(f"{where} must be a table")
    _only(table, {"devices", "esme", "load_seed"}, where)
    devices = table.get("devices", [])
    try:
        kinds = tuple(parse_device_type(device) for device in devices) if isinstance(devices, list) else None
    except (ValueError, AttributeError):
        kinds = None
    if kinds is None or not all(kind in HAN_DEVICES for kind in kinds):
        names = ", ".join(kind.name.lower() for kind in HAN_DEVICES)
        raise ConfigError(f"{where} devices: a list of {names}, not {devices!r}")
    esme = table.get("esme", "single")
    if esme not in _ELEMENTS:
        raise ConfigError(f"{where} esme: one of {', '.join(_ELEMENTS)}, not {esme!r}")
    load_seed = table.get("load_seed")
    if load_seed is not None and (not isinstance(load_seed, int) or isinstance(load_seed, bool)):
        raise ConfigError(f"{where} load_seed: a whole number, not {load_seed!r}")
    if len(kinds) > 250:
        raise ConfigError(f"{where} has {len(kinds)} devices; a premises has at most 250")
    return Template(name, kinds, esme, load_seed)


def _group(index: int, table: object, templates: Mapping[str, Template]) -> Group:
    where = f"[[group]] {index}"
    if not isinstance(table, Mapping):
        raise ConfigError(f"{where} must be a table")
    _only(table, {"template", "count", "region", "feeder", "supplier"}, where)
    name = table.get("template")
    if name not in templates:
        raise ConfigError(f"{where} template: one of {', '.join(templates)}, not {name!r}")
    count = table.get("count")
    if not isinstance(count, int) or isinstance(count, bool) or count < 1:
        raise ConfigError(f"{where} count: a whole number of premises, at least 1, not {count!r}")
    labels = {}
    for key in ("region", "feeder", "supplier"):
        value = table.get(key, "default")
        if not isinstance(value, str) or not value:
            raise ConfigError(f"{where} {key}: a name, not {value!r}")
        labels[key] = value
    return Group(templates[name], count, **labels)
