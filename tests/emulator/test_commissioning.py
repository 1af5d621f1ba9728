"""Commissioning as in the field, driven by GBCS commands from a head-end, in virtual time:
the hub is installed, the ACB puts each device on the CHF device log (CCS01), the devices
join with their install codes, the WAN provider replaces its certificate on the hub (CS02b,
proven up to the Root OCA), and the electricity meter regenerates its signing key through
the HAN tunnel (CS02c, the Issuing DCA, CS02d). A restart then loses nothing."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization

import gbcs
from emulator.clock import VirtualClock
from emulator.devices.chf import device_log
from emulator.headend import HeadEnd
from emulator.premises import Premises, PremisesConfig, install_code
from emulator.store import Store
from gbcs import pki
from gbcs.der import decode_der, encode_der_value
from gbcs.dlms import (
    AccessRequest,
    Data,
    DataType,
    Obis,
    RequestKind,
    RequestSpecification,
    encode_apdu,
)
from gbcs.pki import CertificateKind
from gbcs.security import Check
from gbcs.types import EUI64, Cra, DeviceType, Role
from tests.emulator.helpers import NOW, make_pki

CONFIG = PremisesConfig.standard(7)
CHF, ESME, GSME, IHD = (CONFIG.of_type(kind)[0] for kind in (DeviceType.CHF, DeviceType.ESME, DeviceType.GSME, DeviceType.IHD))
DEVICE_LOG = Obis("0.0.30.3.0.255")


def register_device(eui: EUI64, device_type: DeviceType) -> bytes:
    """CCS01's payload, as RTDS lays it out: register the device, a join timeout, joining on."""
    specifications = (RequestSpecification(RequestKind.ACTION, 104, DEVICE_LOG, 1),
                      RequestSpecification(RequestKind.SET, 104, DEVICE_LOG, 3),
                      RequestSpecification(RequestKind.SET, 104, DEVICE_LOG, 2))  # fmt: skip
    data = (Data.structure(Data.octet_string(bytes(eui)), Data.integer(DataType.ENUM, int(device_type)),
                           Data.octet_string(install_code(eui)), Data.integer(DataType.ENUM, 0)),
            Data.integer(DataType.UINT16, 90), Data.boolean(True))  # fmt: skip
    return encode_apdu(AccessRequest(0x20000000 | 1, b"", specifications, data))


def from_meter(premises: Premises, message_code: int) -> list[tuple[int, bytes]]:
    """The electricity meter's responses of one use case waiting for the WAN."""
    out = []
    for row, data in premises.wan_outbox():
        frame = gbcs.decode(data)
        if frame.originator == ESME and frame.other_information.message_code == message_code:
            out.append((row, data))
    return out


def test_a_premises_is_commissioned_by_gbcs_commands_and_survives_a_restart(tmp_path: Path) -> None:
    store_pki = make_pki(tmp_path, {})
    path = tmp_path / "premises.sqlite"
    premises = Premises.create(Store(path), VirtualClock(NOW), store_pki, CONFIG)  # issues the devices' credentials
    head_end = HeadEnd(store_pki.keystore())
    premises.install_hub()
    assert not premises.join(ESME)  # not on the device log yet

    # The ACB adds each HAN device to the CHF device log; each then joins.
    for eui in (ESME, GSME, IHD):
        outcome = premises.send(head_end.command(0x0001, CHF, register_device(eui, CONFIG.devices[eui]),
                                                 role=Role.ACCESS_CONTROL_BROKER, for_party=Role.SUPPLIER))  # fmt: skip
        assert outcome.accepted, outcome.rejection
        assert premises.join(eui)
    assert {entry.eui for entry in device_log(premises.store.read(), premises.chf)} == {ESME, GSME, IHD}
    premises.clock.advance(timedelta(seconds=1))  # the meters' tunnels open

    # The WAN provider replaces its signing certificate on the hub, proving the Root.
    new_key = pki.generate_key()
    wan = head_end.party(Role.WAN_PROVIDER)
    new_certificate = pki.organisation_certificate(Role.WAN_PROVIDER, wan, "ds", new_key.public_key(),
                                                   store_pki.issuer(CertificateKind.ISSUING_OCA), not_before=NOW)  # fmt: skip
    content = encode_der_value(0x0105, Cra.COMMAND, {
        "authorisingRemotePartyControl": {"credentialsReplacementMode": "wanProviderByWanProvider",
                                          "authorisingRemotePartySeqNumber": head_end.next_counter(wan),
                                          "newRemotePartyFloorSeqNumber": 0},
        "replacements": [{"replacementCertificate": new_certificate.public_bytes(serialization.Encoding.DER),
                          "targetTrustAnchorCell": {"remotePartyRole": "wanProvider", "keyUsage": ["digitalSignature"]}}],
        "certificationPathCertificates": [store_pki.issuer(CertificateKind.ISSUING_OCA).certificate.public_bytes(serialization.Encoding.DER)],
    })  # fmt: skip
    outcome = premises.send(head_end.command(0x0105, CHF, content, role=Role.WAN_PROVIDER, counter=head_end.next_counter(wan)))
    assert outcome.accepted and outcome.notes == (), (outcome.rejection, outcome.notes)
    assert premises.chf.cells[Role.WAN_PROVIDER].ds == new_certificate

    # The electricity meter regenerates its signing key, through the tunnel.
    premises.send(head_end.command(0x000A, ESME, encode_der_value(0x000A, Cra.COMMAND, {"keyUsage": ["digitalSignature"]}),
                                   role=Role.SUPPLIER))  # fmt: skip
    premises.clock.advance(timedelta(seconds=1))
    [(sent, response)] = from_meter(premises, 0x000A)
    frame, verdict = head_end.check(response, at=premises.clock.now())
    assert verdict.signature is Check.VALID and frame.originator == ESME
    request = x509.load_der_x509_csr(decode_der(frame.content, 0x000A, Cra.RESPONSE).value)
    certificate = store_pki.issue_from_request(request)
    premises.mark_sent(sent)
    premises.send(head_end.command(0x000B, ESME, encode_der_value(0x000B, Cra.COMMAND,
                                   certificate.public_bytes(serialization.Encoding.DER)), role=Role.SUPPLIER))  # fmt: skip
    premises.clock.advance(timedelta(seconds=1))
    [(_, response)] = from_meter(premises, 0x000B)
    assert decode_der(head_end.check(response)[0].content, 0x000B, Cra.RESPONSE).value == 0  # success
    assert {device.lifecycle for device in premises.devices.values()} == {"commissioned"}
    premises.store.close()

    # A restart: the device log, the replaced cell and the new meter key are all still there.
    restarted = Premises.load(Store(path), VirtualClock(NOW + timedelta(days=1)), CONFIG)
    assert {entry.eui for entry in device_log(restarted.store.read(), restarted.chf)} == {ESME, GSME, IHD}
    assert restarted.chf.cells[Role.WAN_PROVIDER].ds == new_certificate
    assert restarted.devices[ESME].credentials.ds_certificate == certificate
    assert all(restarted.medium.is_joined(eui) for eui in (ESME, GSME, IHD))
