"""Conformance replay: feed recorded commands to emulated devices and compare what they send
with the recorded responses (``smets-emu replay``).

For each COMMAND file (corpus layout: ``<prefix>COMMAND_GBCS.HEX`` with its
``<prefix>...RESPONSE...`` files beside it) the target device is built afresh: the
recipient's EUI-64, certificates and type, the key store's remote parties in its trust
anchor cells (the command's own originator in its role's cell), a virtual clock in the
recording's era, and an empty store. Then the command goes through ``process_command`` and
the device's response is compared with the recorded one:

* ``exact``: the same bytes.
* ``structure``: same CRA, message code, counter, originator and target, and the same payload
  structure (DLMS: APDU, invoke-id, every result code, and the type tree of the data, arrays
  compared by the shapes of their elements, not their lengths); values may differ, because
  they are device state.
* ``mismatch``: anything else (``detail`` says what).
* ``unsupported``: the device model does not serve this use case yet.

What RTDS cannot give, and how replay handles it (each noted in ``detail``):

* RTDS has no device private keys. A MAC is checked, and a response MACed, with the remote
  party's private key, which yields the same ECDH secret (``Outcome.mac_from_peer``); a
  response that must be signed cannot be, and is compared without its signature.
* Devices in service: a CHF's device logs hold the premises' other devices, and a meter's
  device log holds the premises' PPMID (Method C) before the command.
* A MAC between two devices (a PPMID's command to a GSME) cannot be checked: RTDS holds the
  key-agreement private key of neither; replay reports such commands ``unsupported``.
* RTDS's ERROR cases are device faults (``hardware-fault``), not command errors: replay injects
  the fault on the object member the ERROR response reports it for; the device's own rules
  produce every other result.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import zigpy.types as zigpy_types
from cryptography.hazmat.primitives import serialization

import gbcs
from gbcs import crypto
from gbcs.catalogue import PayloadKind, use_case
from gbcs.der import DerNode, decode_der, schema_for
from gbcs.dlms import (
    AccessRequest,
    AccessResponse,
    Data,
    DataType,
    RequestKind,
    decode_apdu,
    decode_data,
)
from gbcs.encryption import decrypt_block, find_encrypted_blocks, payload_key
from gbcs.errors import DecodeError, GbcsError
from gbcs.frame import Frame
from gbcs.gbz import GbzPayload, decode_gbz
from gbcs.keystore import KeyStore, KeyUsage
from gbcs.payload import payload_kind
from gbcs.pki import device_type_name
from gbcs.reader import Reader
from gbcs.types import EUI64, Cra, DeviceType

from .clock import VirtualClock
from .devices import chf, esme, gas, gas_model
from .errors import BadMac, Unsupported
from .firmware.command import process_command
from .firmware.cosem import HARDWARE_FAULT, inject_fault
from .firmware.device import Credentials, Device, Identity, cells_from_keystore
from .replay_der import stage_recorded_der_state
from .store import Store

__all__ = ["RTDS_DEVICE_TYPES", "ReplayResult", "device_for", "replay_command", "replay_folders"]

# The device types of RTDS's device EUI-64s (observed: each use case's target device type).
# 00DB1234567890A6 receives ECS46d (APC output) and CS02f/CS02g (load controller) commands: an
# auxiliary controller, a type this emulator does not model, so it has no entry.
RTDS_DEVICE_TYPES = {
    EUI64("00DB1234567890A0"): DeviceType.ESME,
    EUI64("00DB1234567890A1"): DeviceType.GSME,
    EUI64("00DB1234567890A2"): DeviceType.CHF,
    EUI64("00DB1234567890A3"): DeviceType.GPF,
    EUI64("00DB1234567890A4"): DeviceType.PPMID,
    EUI64("00DB1234567890A5"): DeviceType.HCALCS,
}
# Inside the validity of RTDS's certificates (organisations from 2015-12-23, devices from
# 2016-04-06; the load controller's, from 2018, move a command's era later: ``_era_for``). RTDS commands carry no date-time, and its responses' 2015-01-01 is
# a placeholder (gbcs/security.py).
RTDS_ERA = datetime(2016, 6, 1, tzinfo=timezone.utc)
_FAR_FUTURE = datetime(2100, 1, 1, tzinfo=timezone.utc)  # after every RTDS future date


@dataclass(frozen=True, slots=True)
class ReplayResult:
    input: str
    target: str | None
    use_case: str | None
    accepted: bool
    verdict: str  # exact | structure | mismatch | unsupported
    detail: str

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def command_files(folders: list[Path]) -> Iterator[Path]:
    for folder in folders:
        if folder.is_file():
            yield folder
            continue
        yield from sorted(path for path in folder.rglob("*COMMAND_GBCS.HEX") if "PRECOMMAND" not in path.name)


def replay_folders(folders: list[Path], keystore: KeyStore, device_types: dict[EUI64, DeviceType] | None = None,
                   ) -> Iterator[ReplayResult]:  # fmt: skip
    for path in command_files(folders):
        yield replay_command(path, keystore, device_types)


def replay_command(path: Path, keystore: KeyStore, device_types: dict[EUI64, DeviceType] | None = None,
                   era: datetime = RTDS_ERA, *, outcome_alerts: list[bytes] | None = None) -> ReplayResult:  # fmt: skip
    """Replay one command file against a freshly built target device (module docstring).

    With ``outcome_alerts``, the device's virtual clock then runs on through everything it
    keeps for later (future-dated commands and activations), and the alerts it raises on the
    way are appended there.
    """
    types = {**RTDS_DEVICE_TYPES, **(device_types or {})}
    name = str(path)
    try:
        data = _read_hex(path)
        command = gbcs.decode(data)
    except (OSError, ValueError, DecodeError) as error:
        return ReplayResult(name, None, None, False, "mismatch", f"unreadable command: {error}")
    if not isinstance(command, Frame):
        return ReplayResult(name, None, None, False, "unsupported", "a General Block Transfer block")
    case = _label(command)
    device_type = types.get(command.recipient)
    if device_type is None:
        return ReplayResult(name, None, case, False, "unsupported", f"no device type known for {command.recipient}")
    recorded = _recorded_response(path)
    device = _build_device(command, device_type, keystore, era, types)
    notes = _configure_recorded_meter(device, path, command)
    notes += stage_recorded_der_state(device, command, recorded, path, keystore)
    notes += _inject_recorded_faults(device, command, recorded)
    outcome = process_command(device, data)
    if outcome_alerts is not None and outcome.accepted:
        device.alert_sink = outcome_alerts.append
        device.clock.set(_FAR_FUTURE)
    target = device_type_name(device_type)
    if outcome.rejection is not None:
        verdict = "unsupported" if isinstance(outcome.rejection, Unsupported) else "mismatch"
        if isinstance(outcome.rejection, BadMac) and "no key-agreement private key" in outcome.rejection.detail:
            verdict = "unsupported"  # device to device: RTDS holds neither device's private key
            return ReplayResult(name, target, case, False, verdict, "the MAC cannot be checked: RTDS holds the "
                                "key-agreement private key of neither device")  # fmt: skip
        return ReplayResult(name, target, case, False, verdict,
                            f"{type(outcome.rejection).__name__}: {outcome.rejection.detail}")  # fmt: skip
    notes += list(outcome.notes)
    if outcome.mac_from_peer:
        notes.append("MAC computed from the remote party's private key (RTDS has no device key-agreement keys)")
    if recorded is None:
        return ReplayResult(name, target, case, True, "mismatch", "; ".join(["no recorded response", *notes]))
    verdict, detail = compare_responses(outcome.response, recorded, keystore)
    return ReplayResult(name, target, case, True, verdict, "; ".join([detail, *notes]) if detail or notes else "")


# GSME reads only a prepayment meter answers with data (GCS15d debt payments, GCS15e credits).
_PREPAYMENT_READS = ("payment-based debt payments", "prepayment credits")


def _configure_recorded_meter(device: Device, path: Path, command: Frame) -> list[str]:
    """The electricity meter RTDS recorded: a twin-element meter for its ``_TWIN_`` cases, a
    polyphase one for the polyphase use cases, else single element. The gas meter: in
    service (``gas_model``'s default), and a prepayment meter for the reads of logs only a
    prepayment meter keeps."""
    case = use_case(command.other_information.message_code)
    if device.identity.device_type in (DeviceType.GSME, DeviceType.GPF) and "_UNRELIABLE" in path.name:
        with device.store.transaction() as tx:  # the GSME's clock, as recorded: unreliable
            tx.set_register(device.eui, gas.CLOCK_RELIABLE, False)
        return ["the gas meter's clock unreliable, as recorded"]
    if device.identity.device_type is DeviceType.GPF and "_RELIABLE_GSME_" in path.name:
        with device.store.transaction() as tx:  # what GasProxyMirror keeps of a GSME report
            tx.set_register(device.eui, "gpf.mirror", {"updated": device.now.isoformat()})
        return ["the GPF answers from a GSME report, as recorded"]
    if device.identity.device_type is DeviceType.GSME:
        if case is None or not any(words in case.title for words in _PREPAYMENT_READS):
            return []
        with device.store.transaction() as tx:
            gas_model.configure_gas_metering(tx, device, prepayment=True)
        return ["a prepayment gas meter, as recorded"]
    if device.identity.device_type is not DeviceType.ESME:
        return []
    elements = "twin" if "_TWIN_" in path.name else "polyphase" if case and "polyphase" in case.title else "single"
    with device.store.transaction() as tx:
        esme.configure_metering(tx, device, elements=elements)
    return [] if elements == "single" else [f"a {elements} meter, as recorded"]


def _label(frame: Frame) -> str:
    try:
        return use_case(frame.other_information.message_code).label
    except GbcsError:
        return f"0x{frame.other_information.message_code:04X}"


def _read_hex(path: Path) -> bytes:
    return bytes.fromhex("".join(path.read_text().split()))


def _recorded_response(command_path: Path) -> bytes | None:
    prefix = command_path.name.split("COMMAND_GBCS")[0]
    for candidate in sorted(command_path.parent.glob(f"{prefix}*RESPONSE*.HEX")):
        return _read_hex(candidate)
    return None


def device_for(command: Frame, keystore: KeyStore, device_types: dict[EUI64, DeviceType] | None = None,
               era: datetime = RTDS_ERA) -> Device:  # fmt: skip
    """The device replay builds for ``command`` (its recipient as RTDS knows it, in service),
    for tests that feed RTDS's commands to it themselves."""
    types = {**RTDS_DEVICE_TYPES, **(device_types or {})}
    return _build_device(command, types[command.recipient], keystore, era, types)


def _build_device(command: Frame, device_type: DeviceType, keystore: KeyStore, era: datetime,
                  types: dict[EUI64, DeviceType]) -> Device:  # fmt: skip
    parties = {}
    for party in (command.originator, command.other_information.supplementary_remote_party_id):
        role = None if party is None else keystore.role(party)
        if role is not None:
            parties[role] = party
    device = Device.create(
        Store(":memory:"), VirtualClock(_era_for(command, keystore, era)), Identity(command.recipient, device_type),
        Credentials.from_keystore(keystore, command.recipient), cells_from_keystore(keystore, parties),
        lifecycle="commissioned",
    )  # fmt: skip
    device.peer_private_keys = keystore
    device.trust_path_without_root = True
    if device_type is DeviceType.CHF:
        _commission_rtds_premises(device, types)
    elif device_type in (DeviceType.ESME, DeviceType.GSME):
        _join_rtds_ppmid(device, keystore, types)
    return device


def _join_rtds_ppmid(meter: Device, keystore: KeyStore, types: dict[EUI64, DeviceType]) -> None:
    """Replay meets meters in service: the premises' PPMID is on their device logs (Method C,
    with its key-agreement certificate), so its HAN commands (PCS01, PCS02) are its own."""
    for eui, device_type in types.items():
        certificate = keystore.certificate(eui, KeyUsage.KA)
        if device_type is DeviceType.PPMID and certificate is not None:
            with meter.store.transaction() as tx:
                tx.set_register(meter.eui, "han.device_log", [{
                    "eui": str(eui), "device_type": int(device_type), "method": 3,
                    "ka_certificate": certificate.public_bytes(serialization.Encoding.DER).hex()}])  # fmt: skip


def _era_for(command: Frame, keystore: KeyStore, era: datetime) -> datetime:
    """The recording's era, or a day after the originator's certificates begin where they
    begin later (RTDS's load controller certificates start in 2018)."""
    starts = [certificate.not_valid_before_utc for usage in (KeyUsage.DS, KeyUsage.KA)
              if (certificate := keystore.certificate(command.originator, usage)) is not None]  # fmt: skip
    return max([era, *(start + timedelta(days=1) for start in starts)])


def _commission_rtds_premises(device: Device, types: dict[EUI64, DeviceType]) -> None:
    """Replay meets a hub in service: every other device of the premises is on its device
    logs (RTDS's device log reads list them). Install codes are derived from the EUI-64s."""
    with device.store.transaction() as tx:
        for eui, device_type in types.items():
            if eui != device.eui:
                for log in ("chf.device_log", "chf.device_log.1"):
                    chf.add_to_device_log(tx, device, eui, int(device_type), bytes(eui) * 2, log=log)


def _inject_recorded_faults(device: Device, command: Frame, recorded: bytes | None) -> list[str]:
    """For an ERROR recording: inject the fault it reports (a DLMS hardware fault, or a ZCL
    Default Response's failure status)."""
    if recorded is None:
        return []
    zcl_notes = _inject_recorded_zcl_faults(device, command, recorded)
    if zcl_notes is not None:
        return zcl_notes
    try:
        request, response = decode_apdu(command.content), decode_apdu(gbcs.decode(recorded).content)
    except (DecodeError, AttributeError):
        return []
    if not isinstance(request, AccessRequest) or not isinstance(response, AccessResponse):
        return []
    notes = []
    with device.store.transaction() as tx:
        for specification, result in zip(request.specifications, response.results, strict=False):
            if result.result == HARDWARE_FAULT:
                kind = RequestKind.GET if specification.kind is RequestKind.GET_WITH_SELECTION else specification.kind
                inject_fault(tx, device, specification.class_id, str(specification.instance), kind.name.lower(),
                             specification.member)  # fmt: skip
                notes.append(f"fault injected as recorded: {specification.instance} {kind.name.lower()} {specification.member}")
    return notes


def _inject_recorded_zcl_faults(device: Device, command: Frame, recorded: bytes) -> list[str] | None:
    """None when the recording is not a GBZ answer. Otherwise inject the failures it records,
    by component: a Default Response's failure status, a read record's failure status, or a
    ZSE response in its failure form (``gas.recorded_failure``). A Default Response FAILURE
    for command FF is not a fault: it is how a device answers the components after a failed
    one (RTDS GCS04, GCS15b, GCS60 ERROR), and the device does that by itself."""
    try:
        frame = gbcs.decode(recorded)
        answer = decode_gbz(frame.content, Cra.RESPONSE, frame.other_information.message_code,
                            _gbz_decrypter(frame, device.peer_private_keys))  # a failure may be sealed
    except (DecodeError, AttributeError, ValueError):
        return None
    if not isinstance(answer, GbzPayload) or not answer.components:
        return None
    notes = []
    with device.store.transaction() as tx:
        for index, component in enumerate(answer.components):
            for attribute, status in gas.recorded_failures(component):
                gas.inject_zcl_fault(tx, device, index, status, attribute)
                where = "" if attribute is None else f" attribute {attribute:04X}"
                notes.append(f"fault injected as recorded: component {index} (cluster {component.cluster_id:04X})"
                             f"{where} status {status}")  # fmt: skip
    return notes


def compare_responses(ours: bytes | None, recorded: bytes, keystore: KeyStore | None = None) -> tuple[str, str]:
    """(verdict, detail) for the device's response against the recorded one; with a
    ``keystore`` able to decrypt them, protected attributes are compared inside too."""
    if ours is None:
        return "mismatch", "the device sent no response"
    if ours == recorded:
        return "exact", ""
    mine, theirs = gbcs.decode(ours), gbcs.decode(recorded)
    if not isinstance(mine, Frame) or not isinstance(theirs, Frame):
        return "mismatch", "a block transfer on one side"
    for field in ("cra", "originator_counter", "originator", "recipient"):
        if getattr(mine, field) != getattr(theirs, field):
            return "mismatch", f"{field}: ours {getattr(mine, field)}, recorded {getattr(theirs, field)}"
    if mine.other_information != theirs.other_information:
        return "mismatch", f"other information: ours {mine.other_information}, recorded {theirs.other_information}"
    if (mine.date_time is None) != (theirs.date_time is None):
        return "mismatch", "date-time present on one side only"
    if mine.date_time is not None and mine.date_time.clock_status != theirs.date_time.clock_status:
        return "mismatch", (f"date-time clock status: ours {mine.date_time.clock_status:02X}, "
                            f"recorded {theirs.date_time.clock_status:02X}")  # fmt: skip
    if mine.content == theirs.content:
        return "structure", "same payload; protection differs"
    code = theirs.other_information.message_code
    if schema_for(code, theirs.cra) is not None:  # ASN.1 DER: compare the trees' shapes
        try:
            ours_tree, recorded_tree = decode_der(mine.content, code, mine.cra), decode_der(theirs.content, code, theirs.cra)
        except DecodeError as error:
            return "mismatch", f"our DER payload does not decode: {error}"
        if der_shape(ours_tree) != der_shape(recorded_tree):
            return "mismatch", f"DER structure differs: ours {ours_tree.to_json()}, recorded {recorded_tree.to_json()}"
        return "structure", "values differ (device state)"
    if payload_kind(theirs) is PayloadKind.GBZ:
        return _compare_gbz(mine, theirs, keystore)
    try:
        ours_apdu, recorded_apdu = decode_apdu(mine.content), decode_apdu(theirs.content)
    except DecodeError:
        return "mismatch", "payloads differ"
    if type(ours_apdu) is not type(recorded_apdu) or ours_apdu.invoke_id_and_priority != recorded_apdu.invoke_id_and_priority:
        return "mismatch", "APDU kind or invoke-id differs"
    if isinstance(ours_apdu, AccessResponse):
        ours_results = [(r.kind, r.result) for r in ours_apdu.results]
        recorded_results = [(r.kind, r.result) for r in recorded_apdu.results]
        if ours_results != recorded_results:
            return "mismatch", f"results: ours {ours_results}, recorded {recorded_results}"
        ours_shapes = [data_shape(item) for item in ours_apdu.data]
        recorded_shapes = [data_shape(item) for item in recorded_apdu.data]
        if len(ours_shapes) != len(recorded_shapes) or not all(map(shapes_agree, ours_shapes, recorded_shapes)):
            return "mismatch", f"data structure differs: ours {ours_shapes}, recorded {recorded_shapes}"
        hollow = any(map(hollow_where_recorded, ours_apdu.data, recorded_apdu.data))
        verdict, detail = _compare_protected(mine, theirs, keystore) if keystore is not None else ("structure", "values differ (device state)")
        return verdict, f"{detail}; {HOLLOW}" if hollow and verdict == "structure" and HOLLOW not in detail else detail
    return "mismatch", "payloads differ"


HOLLOW = "ours empty where the recording has entries"


def hollow_where_recorded(ours: Data, recorded: Data) -> bool:
    """Whether an array or log is empty in ours where the recording's has entries (a log
    outside what the replayed device holds at its time): the structure agrees, but replay
    says so, and the meters' test counts these apart."""
    if ours.type in (DataType.ARRAY, DataType.COMPACT_ARRAY) and ours.type is recorded.type:
        ours_items = ours.value if ours.type is DataType.ARRAY else ours.value[1]
        recorded_items = recorded.value if recorded.type is DataType.ARRAY else recorded.value[1]
        if not ours_items:
            return bool(recorded_items)
        return any(map(hollow_where_recorded, ours_items, recorded_items))
    if ours.type is DataType.STRUCTURE and recorded.type is DataType.STRUCTURE:
        return any(map(hollow_where_recorded, ours.value, recorded.value))
    return False


def _compare_protected(mine: Frame, theirs: Frame, keystore: KeyStore) -> tuple[str, str]:
    """Protected reads: decrypt both answers' protected attributes (RTDS holds the remote
    party's private key) and compare the shapes of the values inside."""
    try:
        ours_blocks, recorded_blocks = find_encrypted_blocks(mine), find_encrypted_blocks(theirs)
        if len(ours_blocks) != len(recorded_blocks):
            return "mismatch", "protected attributes on one side only"
        if not ours_blocks:
            return "structure", "values differ (device state)"
        ours_key, recorded_key = payload_key(mine, keystore), payload_key(theirs, keystore)
        hollow = False
        for ours_block, recorded_block in zip(ours_blocks, recorded_blocks, strict=True):
            ours_value = decode_data(Reader(decrypt_block(mine, ours_block, ours_key)))
            recorded_value = decode_data(Reader(decrypt_block(theirs, recorded_block, recorded_key)))
            if not shapes_agree(data_shape(ours_value), data_shape(recorded_value)):
                return "mismatch", (f"protected attributes differ: ours {data_shape(ours_value)}, "
                                    f"recorded {data_shape(recorded_value)}")  # fmt: skip
            hollow = hollow or hollow_where_recorded(ours_value, recorded_value)
    except GbcsError as error:
        return "mismatch", f"protected attributes do not decrypt: {error}"
    detail = "values differ (device state); protected attributes decrypted, same structure"
    return "structure", f"{detail}; {HOLLOW}" if hollow else detail


def _compare_gbz(mine: Frame, theirs: Frame, keystore: KeyStore | None = None) -> tuple[str, str]:
    """Compare two GBZ answers by ``gbz_shape``; with a ``keystore`` able to (RTDS holds the
    remote party's private key), encrypted components are decrypted on both sides and their
    ZCL payloads compared inside."""
    code = theirs.other_information.message_code
    try:
        ours = decode_gbz(mine.content, mine.cra, code, _gbz_decrypter(mine, keystore))
    except DecodeError as error:
        return "mismatch", f"our GBZ payload does not decode: {error}"
    recorded = decode_gbz(theirs.content, theirs.cra, code, _gbz_decrypter(theirs, keystore))
    if not isinstance(ours, GbzPayload) or not isinstance(recorded, GbzPayload):
        return "mismatch", "payloads differ"
    ours_shape, recorded_shape = gbz_shape(ours), gbz_shape(recorded)
    if len(ours_shape) != len(recorded_shape):
        return "mismatch", f"GBZ components: ours {len(ours_shape)}, recorded {len(recorded_shape)}"
    for index, (mine_component, theirs_component) in enumerate(zip(ours_shape, recorded_shape, strict=True)):
        if mine_component != theirs_component:
            return "mismatch", f"GBZ component {index} differs: ours {mine_component}, recorded {theirs_component}"
    if any(component.is_encrypted for component in recorded.components):
        return "structure", "values differ (device state); encrypted components decrypted, same structure"
    return "structure", "values differ (device state)"


def _gbz_decrypter(frame: Frame, keystore: KeyStore | None) -> Any:
    """The decrypt callback ``decode_gbz`` takes for ``frame``'s encrypted components (primer
    §8.5), or None without a key; a component that does not authenticate stays sealed."""
    if keystore is None:
        return None
    try:
        key = payload_key(frame, keystore)
    except GbcsError:
        return None

    def decrypt(component: Any) -> bytes | None:
        sealed = component.sealed
        iv = frame.originator + sealed.invocation_counter.to_bytes(4, "big")
        try:
            return crypto.decrypt(key, iv, sealed.sealed, bytes((sealed.security_control,)))
        except GbcsError:
            return None

    return decrypt


def gbz_shape(payload: GbzPayload) -> tuple[Any, ...]:
    """The shape of each GBZ component: cluster, whether it is encrypted, whether it has a
    From-Date-Time, the ZCL frame control byte (frame type, direction, disable default
    response: all part of the answer) and command id, and the shape of its payload
    (``zcl_shape``). An encrypted payload is compared inside once decrypted, else only as
    "sealed" (its plaintext needs a key-agreement private key)."""
    shapes = []
    for component in payload.components:
        command = component.command
        sealed = component.is_encrypted and (component.sealed is None or component.sealed.plaintext is None)
        body = "sealed" if sealed else zcl_shape(command.name, command.value, command.raw)
        shapes.append((f"cluster {component.cluster_id:04X}", "encrypted" if component.is_encrypted else "clear",
                       "from-date-time" if component.from_date_time is not None else "no from-date-time",
                       f"frame control {command.frame_control:02X}", f"command {command.command_id:02X}", body))  # fmt: skip
    return tuple(shapes)


def zcl_shape(name: str | None, value: Any, raw: bytes | None = None) -> Any:
    """The shape of a ZCL payload. Outcomes are the answer itself and compared by value: a
    Default Response's command id and status, a read record's attribute id and status (and
    its data type). Other payloads by field names and types, repeated items as the set of
    their shapes; values are device state."""
    if name == "default_response":
        return ("default_response", int(value.command_id), int(value.status))
    if name == "read_attributes_response":
        return ("read_attributes_response", tuple((f"{r.attribute_id:04X}", r.status, r.type_id) for r in value))
    if value is None:
        return ("unknown", raw is not None)
    return (name, _value_shape(value))


def _value_shape(value: Any) -> Any:
    if isinstance(value, zigpy_types.Struct):
        return tuple((field, _value_shape(getattr(value, field))) for field, item in value.as_dict().items()
                     if item is not None)  # fmt: skip
    if isinstance(value, list):
        return ("list", frozenset(_value_shape(item) for item in value))
    return type(value).__name__


def der_shape(node: DerNode) -> Any:
    """The shape of a DER tree: field names and kinds, not values (a SEQUENCE OF by the set of
    its items' shapes), except outcome codes (fields named ``...Code``), which are the
    answer itself and must be equal."""
    if node.kind in ("integer", "enumerated") and node.name and node.name.endswith("Code"):
        return (node.name, node.kind, node.value)
    if node.kind == "sequence":
        return (node.name, "sequence", tuple(der_shape(child) for child in node.value))
    if node.kind == "sequence-of":
        return (node.name, "sequence-of", frozenset(der_shape(child) for child in node.value))
    return (node.name, node.kind)


def shapes_agree(ours: Any, recorded: Any) -> bool:
    """Two ``data_shape``s agree when equal, except that an empty array agrees with any array:
    how many entries a table holds is device state (a fresh meter has no special days), the
    entries' type is not."""
    if isinstance(ours, tuple) and isinstance(recorded, tuple) and ours[:1] == recorded[:1]:
        if ours[0] == "array":
            return not ours[1] or not recorded[1] or ours[1] == recorded[1]
        if ours[0] == "structure":
            return len(ours[1]) == len(recorded[1]) and all(map(shapes_agree, ours[1], recorded[1]))
    return ours == recorded


def data_shape(value: Data) -> Any:
    """The type tree of an A-XDR value; an array's shape is the set of its elements' shapes."""
    if value.type is DataType.STRUCTURE:
        return ("structure", tuple(data_shape(member) for member in value.value))
    if value.type is DataType.ARRAY:
        return ("array", frozenset(data_shape(element) for element in value.value))
    if value.type is DataType.COMPACT_ARRAY:
        return ("compact-array", value.value[0])
    return value.type.name.lower()
