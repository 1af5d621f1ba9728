"""Field constructs for the GBCS grammar: each parses one GBCS field, checks it, and raises a
``gbcs.errors.DecodeError`` naming the field and the byte offset where it went wrong.

Theory of operation. construct's own primitives are not enough here, for two reasons:

* its compiled parsers read fixed-size fields with a bare ``io.read(n)`` and never notice a
  short read, so a truncated frame would parse into short fields;
* its errors carry a path but no byte offset, and some are ``KeyError`` or lambda errors.

So every leaf of the grammar is one of the classes below. Each has an interpreted
``_parse``/``_build`` and an ``_emitparse``/``_emitbuild`` that calls the same module-level
function, so ``Struct.compile()`` inlines them instead of quietly falling back to interpreted
code. Lengths that a ``this`` expression gives (``Octets(this.content_length, ...)``) are
evaluated in the context, as construct's own ``Bytes`` does.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from construct import Construct, SizeofError, evaluate

from ..errors import BadLength, BadTag, BadValue, EncodeError, TrailingBytes, Truncated
from ..types import DlmsDateTime

_HERE = "gbcs.grammar.primitives"


def read_exact(io: Any, size: int, field: str) -> bytes:
    """``size`` bytes from ``io``, or ``Truncated`` (``BadLength`` for a negative size)."""
    if size < 0:
        raise BadLength(f"length leaves {size} bytes", offset=io.tell(), field=field)
    data = io.read(size)
    if len(data) != size:
        raise Truncated(
            f"needs {size} bytes, {len(data)} left", offset=io.tell() - len(data), field=field
        )
    return data


def read_byte(io: Any, field: str) -> int:
    data = io.read(1)
    if not data:
        raise Truncated("needs 1 byte, 0 left", offset=io.tell(), field=field)
    return data[0]


def read_tag(io: Any, expected: bytes, field: str) -> None:
    data = read_exact(io, len(expected), field)
    if data != expected:
        raise BadTag(
            f"expected {expected.hex().upper()}, found {data.hex().upper()}",
            offset=io.tell() - len(data),
            field=field,
        )


def read_unsigned(io: Any, size: int, field: str) -> int:
    return int.from_bytes(read_exact(io, size, field), "big")


def read_ber_length(io: Any, field: str) -> int:
    """A BER definite length (primer §3): ``00``-``7F``, or ``8n`` and n big-endian bytes.

    Returns an ``int``, or a ``Length`` remembering its width when the form is not minimal.
    """
    start = io.tell()
    first = read_byte(io, field)
    if first < 0x80:
        return first
    width = first & 0x7F
    if width == 0:
        raise BadLength("indefinite length (80) is not allowed", offset=start, field=field)
    if width > 4:
        raise BadLength(f"length of {width} bytes is not supported", offset=start, field=field)
    value = read_unsigned(io, width, field)
    if width == minimal_ber_width(value):
        return value
    return Length(value, width)


def minimal_ber_width(value: int) -> int:
    """Bytes after the first in the shortest BER form of ``value`` (0 for 0-127)."""
    return 0 if value < 0x80 else (value.bit_length() + 7) // 8


def ber_length_size(value: int) -> int:
    """How many bytes ``encode_ber_length(value)`` writes."""
    width = getattr(value, "width", None)
    return 1 + (minimal_ber_width(value) if width is None else width)


def encode_ber_length(value: int, field: str = "length") -> bytes:
    """The BER form of ``value``: minimal, or of ``value.width`` bytes for a ``Length``."""
    if value < 0:
        raise EncodeError(f"{field}: negative length {value}")
    width = getattr(value, "width", None)
    if width is None:
        width = minimal_ber_width(value)
    if width == 0:
        return bytes((value,))
    if value >= 1 << (8 * width) or width > 4:
        raise EncodeError(f"{field}: length {value} does not fit in {width} bytes")
    return bytes((0x80 | width,)) + int(value).to_bytes(width, "big")


def encode_length(value: int, width: int | None = None) -> bytes:
    """A BER length in minimal form, or with ``width`` bytes after the first."""
    return encode_ber_length(value if width is None else Length(value, width))


class Length(int):
    """A BER length read in a longer form than needed, which it remembers as ``width`` (the
    number of bytes after the first) so that rebuilding reproduces the exact bytes."""

    width: int

    def __new__(cls, value: int, width: int) -> Length:
        self = super().__new__(cls, value)
        self.width = width
        return self

    def __repr__(self) -> str:
        return f"Length({int(self)}, width={self.width})"


def read_end(io: Any, field: str) -> None:
    at = io.tell()
    if io.read(1):
        raise TrailingBytes("bytes follow the end of the message", offset=at, field=field)


def read_date_time(io: Any, field: str) -> DlmsDateTime | None:
    """A length-prefixed DLMS date-time: ``00`` (absent) or ``0C`` and 12 bytes (primer §5)."""
    start = io.tell()
    size = read_byte(io, field)
    if size == 0:
        return None
    if size != DlmsDateTime.SIZE:
        raise BadLength(f"date-time length must be 00 or 0C, found {size:02X}", offset=start,
                        field=field)  # fmt: skip
    return DlmsDateTime.decode(read_exact(io, DlmsDateTime.SIZE, field), start + 1, field)


def read_signature(io: Any, field: str) -> bytes | None:
    """The signature element (primer §5 row 8): returns None when the element is missing (a
    pre-command ends after its content), ``b""`` for ``00``, or the 64 bytes r ‖ s of ``40``."""
    start = io.tell()
    data = io.read(1)
    if not data:
        return None
    if data[0] == 0:
        return b""
    if data[0] != 64:
        raise BadLength(f"signature length must be 00 or 40, found {data[0]:02X}", offset=start,
                        field=field)  # fmt: skip
    return read_exact(io, 64, field)


def write_unsigned(io: Any, value: int, size: int, field: str) -> int:
    try:
        io.write(int(value).to_bytes(size, "big"))
    except (OverflowError, TypeError, ValueError) as error:
        raise EncodeError(f"{field}: {value!r} is not an unsigned {8 * size}-bit integer") from error
    return value


def write_octets(io: Any, value: bytes, size: int | None, field: str) -> bytes:
    if not isinstance(value, (bytes, bytearray)):
        raise EncodeError(f"{field}: expected bytes, got {type(value).__name__}")
    if size is not None and len(value) != size:
        raise EncodeError(f"{field}: expected {size} bytes, got {len(value)}")
    io.write(value)
    return value


def write_date_time(io: Any, value: DlmsDateTime | None, field: str) -> DlmsDateTime | None:
    if value is None:
        io.write(b"\x00")
    elif isinstance(value, DlmsDateTime):
        io.write(b"\x0c" + value.encode())
    else:
        raise EncodeError(f"{field}: expected a DlmsDateTime or None, got {value!r}")
    return value


def write_signature(io: Any, value: bytes | None, field: str) -> bytes | None:
    if value is None:
        return None
    if len(value) not in (0, 64):
        raise EncodeError(f"{field}: a signature is 64 bytes (r ‖ s), got {len(value)}")
    io.write(bytes((len(value),)) + value)
    return value


class _Field(Construct):
    """A leaf that reads with ``reader(io, *args, field)`` and writes with
    ``writer(io, obj, *args, field)``; both are module-level functions of this file."""

    reader: str
    writer: str

    def __init__(self, field: str, *args: Any) -> None:
        super().__init__()
        self.field = field
        self.args = args

    def _values(self, context: Any) -> tuple[Any, ...]:
        return tuple(evaluate(arg, context) for arg in self.args)

    def _parse(self, stream: Any, context: Any, path: str) -> Any:
        return globals()[self.reader](stream, *self._values(context), self.field)

    def _build(self, obj: Any, stream: Any, context: Any, path: str) -> Any:
        return globals()[self.writer](stream, obj, *self._values(context), self.field)

    def _sizeof(self, context: Any, path: str) -> int:
        raise SizeofError(path=path)

    def _arguments(self) -> str:
        # A `this` expression's repr is the Python code that evaluates it in compiled code.
        return "".join(f"{arg!r}, " for arg in self.args) + repr(self.field)

    def _emitparse(self, code: Any) -> str:
        code.append(f"from {_HERE} import {self.reader}")
        return f"{self.reader}(io, {self._arguments()})"

    def _emitbuild(self, code: Any) -> str:
        code.append(f"from {_HERE} import {self.writer}")
        return f"{self.writer}(io, obj, {self._arguments()})"


class Tag(_Field):
    """Fixed bytes GBCS prescribes (a tag, or a fixed length byte). Parses to None and builds
    from nothing."""

    reader = "read_tag"
    writer = "write_tag"

    def __init__(self, value: bytes, field: str) -> None:
        super().__init__(field, value)
        self.flagbuildnone = True


def write_tag(io: Any, obj: Any, value: bytes, field: str) -> None:
    io.write(value)


class Octets(_Field):
    """``size`` raw bytes (an int or a ``this`` expression)."""

    reader = "read_exact"
    writer = "write_octets"

    def __init__(self, size: int | Callable[..., int], field: str) -> None:
        super().__init__(field, size)


class Unsigned(_Field):
    """A big-endian unsigned integer of ``size`` bytes."""

    reader = "read_unsigned"
    writer = "write_unsigned"

    def __init__(self, size: int, field: str) -> None:
        super().__init__(field, size)


class BerLength(_Field):
    """A BER definite length (primer §3). Builds from an int in minimal form, or from a
    ``Length`` in the width it was read with."""

    reader = "read_ber_length"
    writer = "write_ber_length"


def write_ber_length(io: Any, value: int, field: str) -> int:
    io.write(encode_ber_length(value, field))
    return value


class DateTimeElement(_Field):
    """``00`` for no date-time, or ``0C`` and a 12-byte DLMS date-time."""

    reader = "read_date_time"
    writer = "write_date_time"


class SignatureElement(_Field):
    """The optional signature element ending a General Signing APDU (see ``read_signature``)."""

    reader = "read_signature"
    writer = "write_signature"

    def __init__(self, field: str) -> None:
        super().__init__(field)
        self.flagbuildnone = True


class End(_Field):
    """The end of the input: anything more is ``TrailingBytes``."""

    reader = "read_end"
    writer = "write_end"

    def __init__(self, field: str) -> None:
        super().__init__(field)
        self.flagbuildnone = True


def write_end(io: Any, obj: Any, field: str) -> None:
    return None


class Choice(_Field):
    """One byte that must be one of ``allowed`` (a CRA flag, a control byte ...)."""

    reader = "read_choice"
    writer = "write_choice"

    def __init__(self, field: str, allowed: frozenset[int]) -> None:
        super().__init__(field, allowed)


def read_choice(io: Any, allowed: frozenset[int], field: str) -> int:
    value = read_byte(io, field)
    if value not in allowed:
        raise BadValue(
            f"{value:02X} is not one of {', '.join(f'{v:02X}' for v in sorted(allowed))}",
            offset=io.tell() - 1,
            field=field,
        )
    return value


def write_choice(io: Any, value: int, allowed: frozenset[int], field: str) -> int:
    if value not in allowed:
        raise EncodeError(f"{field}: {value!r} is not one of {sorted(allowed)}")
    io.write(bytes((value,)))
    return value
