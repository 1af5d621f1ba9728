"""The decoder's contract (gbcs/errors.py): bytes from outside give a value or a DecodeError,
never another exception and never a hang. Mutations of real corpus frames, bounded by the
hypothesis profile in conftest.py."""

from __future__ import annotations

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

import gbcs
from gbcs import errors
from gbcs.describe import describe
from gbcs.encryption import find_encrypted_blocks
from tests.conftest import CORPUS_FILES, read_corpus_file

FRAMES = [read_corpus_file(path) for path in CORPUS_FILES]
ENCRYPTED = [data for data in FRAMES if find_encrypted_blocks(gbcs.decode(data))]
frames = st.sampled_from(FRAMES)


def decode_or_decode_error(data: bytes) -> None:
    try:
        message = gbcs.decode(data)
    except errors.DecodeError as error:
        assert 0 <= error.offset <= len(data), error
        return
    gbcs.encode(message)  # whatever decodes also encodes
    if isinstance(message, gbcs.Frame):
        try:
            find_encrypted_blocks(message)
        except errors.DecodeError:
            pass


@given(frames, st.data())
def test_truncated_frames(data, draw) -> None:
    cut = draw.draw(st.integers(0, len(data)))
    decode_or_decode_error(data[:cut])


@given(frames, st.data())
@example(FRAMES[0], None)
def test_bit_flipped_frames(data, draw) -> None:
    mutated = bytearray(data)
    flips = [] if draw is None else draw.draw(
        st.lists(st.tuples(st.integers(0, len(data) - 1), st.integers(0, 7)), min_size=1, max_size=4)
    )
    for offset, bit in flips:
        mutated[offset] ^= 1 << bit
    decode_or_decode_error(bytes(mutated))


@given(frames, st.data())
def test_length_corrupted_frames(data, draw) -> None:
    """Overwrite one byte with a value a length field could hold, or insert/delete bytes."""
    mutated = bytearray(data)
    offset = draw.draw(st.integers(0, len(data) - 1))
    action = draw.draw(st.sampled_from(["set", "insert", "delete"]))
    value = draw.draw(st.sampled_from([0x00, 0x01, 0x02, 0x08, 0x09, 0x0C, 0x40, 0x7F,
                                       0x80, 0x81, 0x82, 0x83, 0x84, 0x85, 0xFF]))  # fmt: skip
    if action == "set":
        mutated[offset] = value
    elif action == "insert":
        mutated[offset:offset] = bytes((value,))
    else:
        del mutated[offset]
    decode_or_decode_error(bytes(mutated))


@given(st.binary(max_size=300))
@example(b"\xdd\x09")
@example(b"\xdf\x09\x03" + bytes(8) + b"\x08" + bytes(8) + b"\x08" + bytes(8) + b"\x00\x02\x00\x67"
         + b"\x0b\x0f\x20\x00\x00\x01\x00\x13\x00\x01\x00\x00")  # the compact-array hang
@example(b"\xdd\x00\x00\x00\x00\x00\x00\x84\xff\xff\xff\xff")
@example(b"\xdf\x09\x01" + bytes(8) + b"\x08" + bytes(8) + b"\x08" + bytes(8) + b"\x00\x82\xff\xff")
def test_random_bytes(data) -> None:
    decode_or_decode_error(data)


@pytest.mark.skipif(not ENCRYPTED, reason="the corpus has no encrypted blocks")
@given(st.sampled_from(ENCRYPTED), st.data())
def test_describe_never_raises_on_mutated_payloads(data, draw) -> None:
    """The whole `smets-emu decode` path, payload walk and decryption included."""
    mutated = bytearray(data)
    for _ in range(draw.draw(st.integers(1, 3))):
        mutated[draw.draw(st.integers(0, len(data) - 1))] = draw.draw(st.integers(0, 255))
    description = describe(bytes(mutated), "fuzz")
    assert description.ok or description.error


# Payloads: mutated contents of real frames, through the decoder of their format.
PAYLOAD_FRAMES = [gbcs.decode(data) for data in FRAMES]


@given(st.sampled_from(PAYLOAD_FRAMES), st.data())
def test_mutated_payloads(frame, draw) -> None:
    """Found in CI: a compact array of NULL elements never reached the end of its contents."""
    import dataclasses

    from gbcs.payload import decode_payload, encode_payload

    content = bytearray(frame.content)
    for _ in range(draw.draw(st.integers(1, 4))):
        action = draw.draw(st.sampled_from(["flip", "set", "cut", "insert"]))
        offset = draw.draw(st.integers(0, max(0, len(content) - 1)))
        if action == "flip" and content:
            content[offset] ^= 1 << draw.draw(st.integers(0, 7))
        elif action == "set" and content:
            content[offset] = draw.draw(st.sampled_from([0x00, 0x01, 0x02, 0x09, 0x13, 0x30, 0x7F, 0x80, 0x81, 0x82, 0xFF]))
        elif action == "cut":
            del content[offset:]
        else:
            content[offset:offset] = bytes((draw.draw(st.integers(0, 255)),))
    mutated = dataclasses.replace(frame, content=bytes(content))
    try:
        payload = decode_payload(mutated)
    except errors.DecodeError as error:
        assert 0 <= error.offset <= len(content), error
        return
    encode_payload(payload)  # whatever decodes also encodes
