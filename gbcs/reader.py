"""``Reader``: bounds-checked reading of a payload, for the hand-written payload decoders.

Every read names the field it is for; running past the end raises ``Truncated`` and a bad
length ``BadLength``, both at the offset where the field starts (counted from the start of
the bytes the reader was given, plus ``base``). No read ever raises ``IndexError``.
"""

from __future__ import annotations

from .errors import BadLength, DecodeError, TrailingBytes, Truncated
from .grammar.primitives import minimal_ber_width

__all__ = ["Reader"]


class Reader:
    def __init__(self, data: bytes, position: int = 0, end: int | None = None, *, base: int = 0):
        self.data = data
        self.position = position
        self.end = len(data) if end is None else end
        self.base = base  # added to offsets in errors: where `data` sits in the payload

    @property
    def remaining(self) -> int:
        return self.end - self.position

    @property
    def at_end(self) -> bool:
        return self.position >= self.end

    def error(self, kind: type[DecodeError], reason: str, field: str, at: int | None = None) -> DecodeError:
        """An error of ``kind`` at ``at`` (default: the current position)."""
        return kind(reason, offset=self.base + (self.position if at is None else at), field=field)

    def take(self, size: int, field: str) -> bytes:
        if size < 0:
            raise self.error(BadLength, f"length leaves {size} bytes", field)
        if self.position + size > self.end:
            raise self.error(Truncated, f"needs {size} bytes, {self.remaining} left", field)
        start = self.position
        self.position += size
        return self.data[start : self.position]

    def byte(self, field: str) -> int:
        if self.position >= self.end:
            raise self.error(Truncated, "needs 1 byte, 0 left", field)
        self.position += 1
        return self.data[self.position - 1]

    def unsigned(self, size: int, field: str, byteorder: str = "big") -> int:
        return int.from_bytes(self.take(size, field), byteorder)  # type: ignore[arg-type]

    def signed(self, size: int, field: str, byteorder: str = "big") -> int:
        return int.from_bytes(self.take(size, field), byteorder, signed=True)  # type: ignore[arg-type]

    def ber_length(self, field: str) -> tuple[int, int | None]:
        """A BER definite length: (value, width) where width is None for the minimal form
        and the number of length bytes for a longer one."""
        start = self.position
        first = self.byte(field)
        if first < 0x80:
            return first, None
        width = first & 0x7F
        if not 1 <= width <= 4:
            raise self.error(BadLength, f"unsupported length form {first:02X}", field, start)
        value = self.unsigned(width, field)
        return value, (None if width == minimal_ber_width(value) else width)

    def sub(self, size: int, field: str) -> Reader:
        """A reader over the next ``size`` bytes, which this reader then skips."""
        start = self.position
        self.take(size, field)
        return Reader(self.data, start, start + size, base=self.base)

    def expect_end(self, field: str) -> None:
        if self.position < self.end:
            raise self.error(TrailingBytes, f"{self.remaining} bytes left over", field)
