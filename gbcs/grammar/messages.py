"""The GBCS message forms as construct declarations, field by field as the primer lays them
out. Declarations only: ``gbcs/frame.py`` turns their Containers into typed values.

Each structure is compiled once at import (``Struct.compile()``); ``tests/gbcs/test_grammar``
checks that no leaf fell back to interpreted code.
"""

from __future__ import annotations

from construct import Default, GreedyBytes, Struct, Tell, len_, this

from .primitives import (
    BerLength,
    Choice,
    DateTimeElement,
    End,
    Octets,
    SignatureElement,
    Tag,
    Unsigned,
)

EUI64_SIZE = 8
MAC_SIZE = 12  # AES-GCM tag truncated to 96 bits (primer §8.4)
SECURITY_HEADER_SIZE = 5  # security control (1) + invocation counter (4)
CRA_FLAGS = frozenset({1, 2, 3})  # command, response, alert (primer §5)

GENERAL_CIPHERING_TAG = 0xDD
GENERAL_SIGNING_TAG = 0xDF
GENERAL_BLOCK_TRANSFER_TAG = 0xE0
TRANSACTION_ID_LENGTH = 0x09  # CRA flag (1) + originator counter (8)


def _transaction_and_parties() -> list:
    """Transaction id, business originator and business target (primer §5 rows 2-4), shared
    by the General Signing header and the block-transfer routing header (primer §11)."""
    return [
        Tag(bytes((TRANSACTION_ID_LENGTH,)), "transaction-id length"),
        "cra" / Choice("CRA flag", CRA_FLAGS),
        "originator_counter" / Unsigned(8, "originator counter"),
        Tag(bytes((EUI64_SIZE,)), "business originator id length"),
        "originator" / Octets(EUI64_SIZE, "business originator id"),
        Tag(bytes((EUI64_SIZE,)), "business target id length"),
        "recipient" / Octets(EUI64_SIZE, "business target id"),
        "date_time" / DateTimeElement("date-time"),
    ]


def _other_information() -> list:
    """Other Information (primer §5 row 6) as length-prefixed bytes; ``OtherInformation``
    below reads inside them. The offset is kept for errors found there."""
    return [
        "other_information_length"
        / Default(BerLength("other-information length"), len_(this.other_information)),
        "other_information_offset" / Tell,
        "other_information" / Octets(this.other_information_length, "other information"),
    ]


# General Signing APDU, primer §5. The signed bytes run from the transaction-id length up to
# the end of the content (primer §8.2): `signed_end` marks where the signature element starts.
GeneralSigning = Struct(
    Tag(bytes((GENERAL_SIGNING_TAG,)), "general-signing tag"),
    *_transaction_and_parties(),
    *_other_information(),
    "content_length" / Default(BerLength("content length"), len_(this.content)),
    "content" / Octets(this.content_length, "content"),
    "signed_end" / Tell,
    "signature" / SignatureElement("signature"),
    End("general signing APDU"),
).compile()


# Other Information, primer §5: the message code, then as many supplementary fields as the
# length holds. Their layout depends on the length alone (2, 10, 18, 26 or 18 + a DER
# certificate), so frame.py splits `supplementary`.
OtherInformation = Struct(
    "message_code" / Unsigned(2, "message code"),
    "supplementary" / GreedyBytes,
).compile()


# General Ciphering APDU as GBCS uses it (primer §4): five empty fields and no key-info, then
# the ciphered content = security header, one complete General Signing APDU, the MAC.
GeneralCiphering = Struct(
    Tag(bytes((GENERAL_CIPHERING_TAG,)), "general-ciphering tag"),
    # transaction-id, originator- and recipient-system-title, date-time, other-information:
    # all empty in GBCS, and key-info absent. One tag, because every frame pays per field.
    Tag(b"\x00" * 6, "empty general-ciphering header fields"),
    "ciphered_length"
    / Default(
        BerLength("ciphered-content length"),
        SECURITY_HEADER_SIZE + len_(this.general_signing) + MAC_SIZE,
    ),
    "security_control" / Unsigned(1, "security control"),
    "invocation_counter" / Unsigned(4, "invocation counter"),
    "general_signing_offset" / Tell,
    "general_signing"
    / Octets(this.ciphered_length - SECURITY_HEADER_SIZE - MAC_SIZE, "general signing APDU"),
    "mac" / Octets(MAC_SIZE, "MAC"),
    End("general ciphering APDU"),
).compile()


# One block of a General Block Transfer (primer §11; Wireshark's packet-gbcs.c is the only
# public reader): a General Ciphering routing header that names the whole message, then the
# GBT header and a slice of the message. RTDS has no example; `ciphered_length` covers the
# security header and the GBT APDU, and no MAC follows (each block is a slice of a message
# that carries its own signature or MAC) -- our reading, see gbcs/blocks.py.
GeneralBlockTransfer = Struct(
    Tag(bytes((GENERAL_CIPHERING_TAG,)), "general-ciphering tag"),
    *_transaction_and_parties(),
    *_other_information(),
    Tag(b"\x00", "key-info (absent in GBCS)"),
    "ciphered_length_offset" / Tell,
    "ciphered_length" / BerLength("ciphered-content length"),  # blocks.py computes and checks it
    "security_control" / Unsigned(1, "security control"),
    "invocation_counter" / Unsigned(4, "invocation counter"),
    Tag(bytes((GENERAL_BLOCK_TRANSFER_TAG,)), "general-block-transfer tag"),
    "block_control" / Unsigned(1, "block control"),
    "block_number" / Unsigned(2, "block number"),
    "acknowledged_block_number" / Unsigned(2, "acknowledged block number"),
    "block_data_length" / Default(BerLength("block data length"), len_(this.block_data)),
    "block_data" / Octets(this.block_data_length, "block data"),
    End("general block transfer APDU"),
).compile()
