"""General Block Transfer: segmentation to a size, reassembly in any order, and tshark's
reassembly of our blocks as the independent check."""

from __future__ import annotations

import dataclasses
import random

import pytest

import gbcs
from gbcs import errors
from gbcs.blocks import Reassembler, segment
from tests import tshark

BIG = "6.15.1_CS02bSupplierBySupplier/CS02bSupplierBySupplier_6.15.1_FUTURE_DATED_SUCCESS_COMMAND_GBCS.HEX"
ECS42 = "7.1_ECS42/ECS42_7.1_SUCCESS_COMMAND_GBCS.HEX"


@pytest.mark.parametrize("max_size", [60, 64, 100, 128, 200, 255, 256, 1000])
def test_blocks_respect_the_size_and_carry_the_whole_message(corpus, max_size) -> None:
    message = corpus[BIG]
    blocks = segment(message, max_size)
    encoded = [gbcs.encode(block) for block in blocks]
    assert all(len(data) <= max_size for data in encoded)
    assert len(encoded[0]) == max_size or len(blocks) == 1  # blocks are filled, not padded
    assert [block.block_number for block in blocks] == list(range(1, len(blocks) + 1))
    assert [block.last for block in blocks] == [False] * (len(blocks) - 1) + [True]
    assert b"".join(block.data for block in blocks) == message
    for data, block in zip(encoded, blocks, strict=True):
        assert gbcs.decode(data) == block  # each block round-trips through the codec
        assert gbcs.encode(gbcs.decode(data)) == data


def test_the_routing_header_names_the_message(corpus) -> None:
    frame = gbcs.decode(corpus[ECS42])
    block = segment(corpus[ECS42], 80)[0]
    assert (block.cra, block.originator_counter, block.originator, block.recipient,
            block.message_code) == (frame.cra, frame.originator_counter, frame.originator,
                                    frame.recipient, frame.message_code)  # fmt: skip
    assert block.form is gbcs.Form.BLOCK


def test_reassembly_in_any_order_with_duplicates(corpus) -> None:
    message = corpus[BIG]
    blocks = segment(message, 100)
    shuffled = blocks + blocks[: len(blocks) // 2]
    random.Random(7).shuffle(shuffled)
    reassembler = Reassembler()
    results = [reassembler.add(gbcs.decode(gbcs.encode(block))) for block in shuffled]
    completed = [result for result in results if result is not None]
    assert completed == [message]
    assert reassembler.pending == 0 or results[-1] is None


def test_interleaved_messages_reassemble_separately(corpus) -> None:
    first, second = segment(corpus[BIG], 90), segment(corpus[ECS42], 70)
    reassembler = Reassembler()
    out = []
    for index in range(max(len(first), len(second))):
        for blocks in (first, second):
            if index < len(blocks):
                out.append(reassembler.add(blocks[index]))
    assert [o for o in out if o is not None] == [corpus[ECS42], corpus[BIG]]
    assert reassembler.pending == 0


def test_contradicting_blocks_are_refused(corpus) -> None:
    blocks = segment(corpus[BIG], 100)
    reassembler = Reassembler()
    reassembler.add(blocks[0])
    with pytest.raises(errors.ReassemblyError, match="different data"):
        reassembler.add(dataclasses.replace(blocks[0], data=b"\x00" + blocks[0].data[1:]))
    assert reassembler.pending == 0  # the message's blocks are forgotten
    reassembler.add(blocks[0])
    with pytest.raises(errors.ReassemblyError, match="another message"):
        reassembler.add(dataclasses.replace(blocks[1], other_information=gbcs.OtherInformation(1)))
    reassembler.add(blocks[2])
    with pytest.raises(errors.ReassemblyError, match="start at 1"):
        reassembler.add(dataclasses.replace(blocks[2], block_number=0))


def test_a_block_after_the_last_is_refused(corpus) -> None:
    blocks = segment(corpus[ECS42], 70)
    reassembler = Reassembler()
    reassembler.add(dataclasses.replace(blocks[1], last=True))
    with pytest.raises(errors.ReassemblyError, match="after the last"):
        reassembler.add(blocks[2])


def test_reassembled_bytes_must_match_their_routing_header(corpus) -> None:
    block = segment(corpus[ECS42], 1000)[0]
    with pytest.raises(errors.ReassemblyError, match="routing header"):
        Reassembler().add(dataclasses.replace(block, originator_counter=999))
    with pytest.raises(errors.ReassemblyError, match="does not decode"):
        Reassembler().add(dataclasses.replace(block, data=block.data[:-1]))


def test_memory_is_bounded(corpus) -> None:
    reassembler = Reassembler(max_message_size=500, max_pending=3)
    blocks = segment(corpus[BIG], 100)
    with pytest.raises(errors.ReassemblyError, match="exceeds 500 bytes"):
        for block in blocks:
            reassembler.add(block)
    for counter in range(10):
        first = segment(corpus[ECS42], 70)[0]
        reassembler.add(dataclasses.replace(first, originator_counter=counter))
    assert reassembler.pending == 3


def test_acknowledgements_complete_nothing(corpus) -> None:
    block = segment(corpus[ECS42], 70)[0]
    ack = dataclasses.replace(block, data=b"", acknowledged_block_number=1)
    assert gbcs.decode(gbcs.encode(ack)) == ack
    assert Reassembler().add(ack) is None


def test_segmenting_refuses_what_it_cannot_do(corpus) -> None:
    with pytest.raises(errors.EncodeError, match="cannot hold"):
        segment(corpus[ECS42], 20)
    with pytest.raises(errors.EncodeError, match="decodable"):
        segment(b"\x00\x01", 100)
    with pytest.raises(errors.EncodeError, match="segmented again"):
        segment(gbcs.encode(segment(corpus[ECS42], 100)[0]), 100)


def test_a_block_with_a_wrong_ciphered_length_is_refused(corpus) -> None:
    data = bytearray(gbcs.encode(segment(corpus[ECS42], 80)[0]))
    length_at = 1 + 10 + 9 + 9 + 1 + 3 + 1  # tag, transaction id, parties, date-time, OI, key-info
    data[length_at] += 1
    with pytest.raises(errors.BadLength) as raised:
        gbcs.decode(bytes(data))
    assert raised.value.offset == length_at


@pytest.mark.tshark
def test_tshark_reassembles_our_blocks(corpus) -> None:
    message = corpus[BIG]
    blocks = segment(message, 128)
    seen = tshark.dissect([gbcs.encode(block) for block in blocks])
    assert [int(row.block_number) for row in seen] == [block.block_number for block in blocks]
    assert not any(row.has_error for row in seen)
    last = seen[-1]
    assert int(last.reassembled_length) == len(message)
    frame = gbcs.decode(message)
    assert int(last.message_code, 16) == frame.message_code
    assert int(last.counter) == frame.originator_counter
