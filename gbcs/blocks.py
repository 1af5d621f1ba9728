"""General Block Transfer: cut a large GBCS message into blocks, and put blocks back together
(primer §11).

Each block repeats a routing header that names the whole message (CRA flag, originator
counter, originator, target, message code) and carries a slice of its bytes; block numbers
start at 1 and the last block says so. RTDS has no example, so the layout follows the only
public reader, Wireshark's ``packet-gbcs.c``, which reassembles by originator and counter and
decodes the result as an ordinary message. Our choices where the sources are silent:

* the routing header's date-time is absent and its Other Information is the message code
  alone (Wireshark reads no more than that);
* security control ``00`` and invocation counter 0, and no MAC after a block: the blocks are
  slices of a message that carries its own signature or MAC, checked once reassembled.

``segment`` is pure; ``Reassembler`` is a sans-IO state machine: feed it decoded blocks, it
returns the message bytes when the last missing block arrives.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from .errors import DecodeError, EncodeError, ReassemblyError
from .frame import Block, Frame, OtherInformation, decode, encode

__all__ = ["Reassembler", "segment"]

# Wireshark 4.0 shows this much of the routing and GBT headers for a one-byte slice; segment()
# measures the real overhead, this is only the smallest block size worth asking for.
_SMALLEST_USEFUL_BLOCK = 60


def segment(message: bytes, max_block_size: int, *, window: int = 0) -> list[Block]:
    """Split an encoded message into blocks whose encoded size is at most ``max_block_size``.

    Args:
        message: one complete GBCS message (General Ciphering or General Signing).
        max_block_size: the largest block, in bytes on the wire, that the link carries.
        window: the GBT window to advertise (0-63).

    Returns:
        blocks numbered from 1, the last one marked ``last``; ``encode`` gives their bytes.

    Raises:
        EncodeError: the message is not a complete GBCS message, or the size is too small.
    """
    if max_block_size < _SMALLEST_USEFUL_BLOCK:
        raise EncodeError(f"blocks of {max_block_size} bytes cannot hold a routing header and data")
    try:
        frame = decode(message)
    except DecodeError as error:
        raise EncodeError(f"only a decodable message can be segmented: {error}") from error
    if not isinstance(frame, Frame):
        raise EncodeError("a block cannot be segmented again")
    template = Block(
        cra=frame.cra,
        originator_counter=frame.originator_counter,
        originator=frame.originator,
        recipient=frame.recipient,
        other_information=OtherInformation(frame.message_code),
        block_number=1,
        data=b"",
        window=window,
    )
    capacity = max_block_size - len(encode(template))
    # Longer slices can need longer BER lengths (block data and ciphered content): shrink
    # until a full block fits.
    while capacity > 0 and len(_block(template, message[:capacity], 1, False)) > max_block_size:
        capacity -= 1
    if capacity <= 0:
        raise EncodeError(f"blocks of {max_block_size} bytes leave no room for data")
    slices = [message[start : start + capacity] for start in range(0, len(message), capacity)]
    return [
        replace(template, block_number=number, data=data, last=number == len(slices))
        for number, data in enumerate(slices, start=1)
    ]


def _block(template: Block, data: bytes, number: int, last: bool) -> bytes:
    return encode(replace(template, block_number=number, data=data, last=last))


@dataclass
class _Pending:
    first: Block
    slices: dict[int, bytes] = field(default_factory=dict)
    last_number: int | None = None
    size: int = 0


class Reassembler:
    """Collects blocks until a message is complete.

    Messages are told apart by (originator, originator counter), as Wireshark does. Memory is
    bounded: at most ``max_pending`` messages in progress (the oldest is dropped to make room)
    and ``max_message_size`` bytes each.
    """

    def __init__(self, *, max_message_size: int = 1 << 20, max_pending: int = 64) -> None:
        self.max_message_size = max_message_size
        self.max_pending = max_pending
        self._pending: dict[tuple[bytes, int], _Pending] = {}

    @property
    def pending(self) -> int:
        """How many messages are waiting for blocks."""
        return len(self._pending)

    def add(self, block: Block) -> bytes | None:
        """Take one block.

        Returns:
            the reassembled message when this block completes it, else None. An
            acknowledgement (a block with no data) never completes anything.

        Raises:
            ReassemblyError: the block contradicts earlier blocks of its message, breaks a
                limit, or the reassembled bytes do not match the routing header. The
                message's blocks are then forgotten.
        """
        if not block.data and not block.last:
            return None
        key = (bytes(block.originator), block.originator_counter)
        pending = self._pending.get(key)
        if pending is None:
            if len(self._pending) >= self.max_pending:
                self._pending.pop(next(iter(self._pending)))
            pending = self._pending[key] = _Pending(block)
        try:
            self._check(pending, block)
        except ReassemblyError:
            del self._pending[key]
            raise
        if block.block_number not in pending.slices:
            pending.slices[block.block_number] = block.data
            pending.size += len(block.data)
        if block.last:
            pending.last_number = block.block_number
        if pending.last_number is None or len(pending.slices) < pending.last_number:
            return None
        del self._pending[key]
        message = b"".join(pending.slices[number] for number in range(1, pending.last_number + 1))
        self._check_message(pending.first, message)
        return message

    def _check(self, pending: _Pending, block: Block) -> None:
        first = pending.first
        if (block.cra, block.recipient, block.message_code) != (first.cra, first.recipient, first.message_code):
            raise ReassemblyError(
                f"block {block.block_number} names another message than block {first.block_number}"
            )
        if block.block_number == 0:
            raise ReassemblyError("block numbers start at 1")
        earlier = pending.slices.get(block.block_number)
        if earlier is not None and earlier != block.data:
            raise ReassemblyError(f"block {block.block_number} arrived twice with different data")
        if block.last and pending.last_number not in (None, block.block_number):
            raise ReassemblyError(f"blocks {pending.last_number} and {block.block_number} both claim to be last")
        # Every block number stays within 1..last, so `last` slices make the whole message.
        last = block.block_number if block.last else pending.last_number
        highest = max(block.block_number, *pending.slices) if pending.slices else block.block_number
        if last is not None and highest > last:
            raise ReassemblyError(f"block {highest} comes after the last block {last}")
        if pending.size + len(block.data) > self.max_message_size:
            raise ReassemblyError(f"message exceeds {self.max_message_size} bytes")

    @staticmethod
    def _check_message(first: Block, message: bytes) -> None:
        try:
            frame = decode(message)
        except DecodeError as error:
            raise ReassemblyError(f"the reassembled message does not decode: {error}") from error
        if (not isinstance(frame, Frame)
                or (frame.originator, frame.originator_counter, frame.message_code)
                != (first.originator, first.originator_counter, first.message_code)):  # fmt: skip
            raise ReassemblyError("the reassembled message does not match its routing header")
