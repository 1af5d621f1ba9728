"""Signatures, MACs and payload encryption on frames built from typed values, checked against
the primer's worked values, our own verifier, and tshark."""

from __future__ import annotations

import dataclasses
from collections import Counter
from datetime import datetime, timezone

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

import gbcs
from gbcs import crypto, errors
from gbcs.crypto import KdfUsage
from gbcs.describe import describe
from gbcs.encryption import decrypt_block, find_encrypted_blocks, payload_key, seal
from gbcs.keystore import InMemoryKeyStore, KeyUsage
from gbcs.security import Check, mac_parties
from gbcs.types import EUI64, Cra, DlmsDateTime
from tests import tshark

ACB = EUI64("90B3D51F30000002")
SUPPLIER = EUI64("90B3D51F30010000")
NETWORK_OPERATOR = EUI64("90B3D51F30020000")
ESME = EUI64("00DB1234567890A0")
GPF = EUI64("00DB1234567890A3")


def test_key_derivation_matches_the_primers_worked_example(keystore) -> None:
    """primer §13.1: Z between ACB and ESME, and the command-MAC key for counter 1000."""
    secret = keystore.shared_secret(ACB, ESME)
    assert secret.hex() == "ed342441df01551a6beaff3b54adc981f4c6a7e71dff4c3e1cc80b3c9f4e5ac0"
    key = crypto.derive_key(secret, SUPPLIER, KdfUsage.COMMAND_MAC, 1000, ESME)
    assert key.hex() == "ec1d51bd8f8bf0cdd2314cf396cc12c0"


def test_payload_key_matches_the_primers_worked_example(keystore, corpus) -> None:
    """primer §13.2: the GPF's response encrypted for the supplier."""
    frame = gbcs.decode(corpus["4.1.1_GCS13a/GCS13a_4.1.1_SUCCESS_RELIABLE_GSME_RESPONSE_GBCS.HEX"])
    assert keystore.shared_secret(SUPPLIER, GPF).hex() == (
        "afa16a4d1a999876856e9f073127d4ad518c095cb8df47404b9351c0baba3e06"
    )
    assert payload_key(frame, keystore).hex() == "2b11caa7c88c7b480a8485a750d89420"


def command(counter: int = 0x0102030405, recipient: EUI64 = ESME, code: int = 0x004F) -> gbcs.Frame:
    return gbcs.Frame(
        cra=Cra.COMMAND,
        originator_counter=counter,
        originator=SUPPLIER,
        recipient=recipient,
        other_information=gbcs.OtherInformation(code),
        content=bytes.fromhex("D9 20030405 00 01 03 0009 00000A006AFF 01 01 120033"),
    )


def signed_and_maced(keystore, frame: gbcs.Frame) -> gbcs.Frame:
    frame = gbcs.sign(frame, keystore.private_key(frame.originator, KeyUsage.DS))
    return gbcs.add_mac(frame, keystore)


def test_built_frames_sign_mac_and_verify(keystore) -> None:
    frame = signed_and_maced(keystore, command())
    decoded = gbcs.decode(gbcs.encode(frame))
    assert decoded == frame
    assert gbcs.verify(decoded, keystore) == gbcs.Verdict(Check.VALID, Check.VALID)


@pytest.mark.parametrize("offset", [20, 24, 30, 40, 50, 80, 140, 145])
def test_a_flipped_bit_anywhere_fails_verification(keystore, offset) -> None:
    """Counter, originator, recipient, content, signature and MAC bytes (primer §13.1)."""
    data = bytearray(gbcs.encode(signed_and_maced(keystore, command())))
    assert len(data) == 146
    data[offset] ^= 0x01
    verdict = gbcs.verify(gbcs.decode(bytes(data)), keystore)
    assert not verdict.ok  # the signature or the MAC is invalid
    assert verdict.mac is not Check.VALID  # (NO_KEY when the flip names an unknown target)


def test_a_signature_by_another_party_is_invalid(keystore) -> None:
    other = keystore.private_key(NETWORK_OPERATOR, KeyUsage.DS)
    frame = gbcs.sign(command(), other)  # claims the supplier, signed by the network operator
    assert gbcs.verify(frame, keystore).signature is Check.INVALID


def test_the_mac_binds_the_access_control_broker(keystore) -> None:
    frame = signed_and_maced(keystore, command())
    assert mac_parties(frame, keystore) == (ACB, ESME)
    assert gbcs.verify(frame, keystore, broker=NETWORK_OPERATOR).mac is Check.INVALID


def test_responses_and_alerts_are_maced_between_device_and_target(keystore) -> None:
    for cra in (Cra.RESPONSE, Cra.ALERT):
        frame = dataclasses.replace(command(), cra=cra, originator=GPF, recipient=SUPPLIER)
        frame = gbcs.add_mac(frame, keystore)  # the supplier's private key agrees with the GPF
        assert mac_parties(frame, keystore) == (GPF, SUPPLIER)
        assert gbcs.verify(frame, keystore).mac is Check.VALID


def test_checks_without_keys_say_no_key() -> None:
    empty = InMemoryKeyStore()
    store = InMemoryKeyStore()
    private = ec.generate_private_key(ec.SECP256R1())
    store.add_private_key(SUPPLIER, KeyUsage.DS, private)
    frame = gbcs.sign(command(), private)
    assert gbcs.verify(frame, empty) == gbcs.Verdict(Check.NO_KEY, Check.ABSENT)
    with pytest.raises(errors.KeyStoreError, match="Access Control Broker"):
        gbcs.add_mac(frame, empty)


def test_a_precommand_cannot_be_signed_or_maced(keystore) -> None:
    precommand = dataclasses.replace(command(), signature_element=False)
    with pytest.raises(errors.EncodeError):
        gbcs.sign(precommand, keystore.private_key(SUPPLIER, KeyUsage.DS))
    with pytest.raises(errors.EncodeError):
        gbcs.add_mac(precommand, keystore)


def test_an_encrypted_gbz_component_built_here_decrypts(keystore) -> None:
    """A GPF response with an encrypted Metering component, sealed with the payload key."""
    plaintext = bytes.fromhex("0000002539300000000000")
    frame = gbcs.Frame(
        cra=Cra.RESPONSE, originator_counter=7, originator=GPF, recipient=SUPPLIER,
        other_information=gbcs.OtherInformation(0x0074), content=b"",
        date_time=DlmsDateTime(2026, 11, 24, hour=12),
    )  # fmt: skip
    sealed = seal(GPF, payload_key(frame, keystore), plaintext)
    body = bytes.fromhex("0000 180001") + (len(sealed)).to_bytes(2, "big") + sealed
    content = bytes.fromhex("0109 01 03 0702") + len(body).to_bytes(2, "big") + body
    frame = gbcs.add_mac(dataclasses.replace(frame, content=content), keystore)
    decoded = gbcs.decode(gbcs.encode(frame))
    (block,) = find_encrypted_blocks(decoded)
    assert decrypt_block(decoded, block, payload_key(decoded, keystore)) == plaintext
    tampered = dataclasses.replace(block, sealed=block.sealed[:-1] + b"\x00")
    with pytest.raises(errors.AuthenticationFailed):
        decrypt_block(decoded, tampered, payload_key(decoded, keystore))


@pytest.mark.tshark
def test_tshark_reads_built_frames_as_we_do(keystore) -> None:
    """Frames built from typed values: tshark finds the same CRA, counter, parties and
    message code, and flags nothing malformed."""
    frames = [
        signed_and_maced(keystore, command(counter=1)),
        gbcs.add_mac(command(counter=2**63 - 1, code=0x0027), keystore),  # unsigned command
        dataclasses.replace(command(counter=3), signature_element=False),  # pre-command
        gbcs.sign(
            dataclasses.replace(command(counter=4), cra=Cra.RESPONSE,
                                originator=NETWORK_OPERATOR, recipient=ESME,
                                date_time=DlmsDateTime(2026, 11, 24, hour=8, minute=30)),
            keystore.private_key(NETWORK_OPERATOR, KeyUsage.DS),
        ),  # fmt: skip
        dataclasses.replace(
            gbcs.add_mac(command(counter=5), keystore),
            other_information=gbcs.OtherInformation(0x0034, ACB, 77),
        ),
    ]
    data = [gbcs.encode(frame) for frame in frames]
    for frame, seen in zip(frames, tshark.dissect(data), strict=True):
        assert int(seen.cra, 16) == frame.cra
        assert int(seen.counter) == frame.originator_counter
        assert tshark.eui(seen.originator) == str(frame.originator)
        assert tshark.eui(seen.recipient) == str(frame.recipient)
        assert int(seen.message_code, 16) == frame.message_code
        # Wireshark requires the signature element, so it flags pre-commands (primer §14.5).
        assert seen.has_error is (frame.form is gbcs.Form.PRE_COMMAND), seen


# -- trust in time: validity periods judged at a moment the caller gives, never the host's --

def test_corpus_frames_are_trusted_at_a_moment_inside_their_certificates(keystore, corpus) -> None:
    """RTDS's organisation certificates run from late 2015 to late 2025 (its frames are older)."""
    during = datetime(2020, 6, 1, tzinfo=timezone.utc)
    checks = Counter()
    for data in corpus.values():
        frame = gbcs.decode(data)
        if isinstance(frame, gbcs.Frame):
            verdict = gbcs.verify(frame, keystore, at=during)
            checks.update((verdict.signature, verdict.mac))
    assert Check.INVALID not in checks and Check.UNTRUSTED not in checks
    assert checks[Check.VALID] > 900


def test_corpus_commands_are_untrusted_after_their_certificates_expired(keystore, corpus) -> None:
    frame = gbcs.decode(corpus["1.1.1_ECS01a/ECS01a_1.1.1_CANCELLATION_TOU_BLOCK_SUCCESS_COMMAND_GBCS.HEX"])
    assert gbcs.verify(frame, keystore) == gbcs.Verdict(Check.VALID, Check.VALID)  # not judged
    late = gbcs.verify(frame, keystore, at=datetime(2026, 1, 1, tzinfo=timezone.utc))
    assert late == gbcs.Verdict(Check.UNTRUSTED, Check.UNTRUSTED) and not late.ok
    # A naive moment is UTC.
    assert gbcs.verify(frame, keystore, at=datetime(2025, 10, 29, 23, 59, 59)).ok
    assert not gbcs.verify(frame, keystore, at=datetime(2025, 10, 30, 0, 0, 0)).ok


def test_rtds_response_date_times_precede_its_device_certificates(keystore, corpus) -> None:
    """Judged at their own date-time, RTDS responses are untrusted: RTDS dates them all
    2015-01-01, before its device certificates start (2016-04-06). This pins that finding."""
    name = "2.1_ECS08/ECS08_2.1_IMMEDIATE_SUCCESS_RESPONSE_GBCS.HEX"
    description = describe(corpus[name], name, keystore, at="message")
    assert description.message.date_time.isoformat() == "2015-01-01T00:00:00Z"
    assert Check.UNTRUSTED in (description.signature, description.mac)
    assert not description.passes_check
    assert describe(corpus[name], name, keystore).passes_check
