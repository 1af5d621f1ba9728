"""Device alerts: the device's own messages to remote parties (primer §9).

Every alert has CRA alert, no date-time, a counter from the device's own sequence (strictly
increasing and durable, so a restart never reuses one), and the protection the catalogue
gives its message code: signed for critical alerts, MACed for the others.

``raise_generic_alert`` sends an alert code with no further content, in the generic critical
alert (0x1000) as RTDS does for 8F30 (primer §9.3): a Data-Notification from a DLMS device
(ESME), a GBZ alert from a ZigBee one (GSME), to the device's supplier.
"""

from __future__ import annotations

import gbcs
from gbcs.catalogue import Protection, use_case
from gbcs.dlms import Data, DataNotification, DataType, encode_apdu
from gbcs.errors import KeyStoreError
from gbcs.gbz import GbzAlert, encode_gbz
from gbcs.types import EUI64, Cra, DeviceType, DlmsDateTime, Role

from ..store import Transaction
from .device import Device

__all__ = ["GENERIC_CRITICAL_ALERT", "build_alert", "raise_dlms_alert", "raise_generic_alert"]

GENERIC_CRITICAL_ALERT = 0x1000
_EPOCH_2000 = 946684800  # 2000-01-01T00:00:00Z in Unix seconds: GBZ alert times count from it


def build_alert(device: Device, tx: Transaction, recipient: EUI64, message_code: int, content: bytes,
                *, counter: int | None = None) -> bytes:  # fmt: skip
    """An alert from ``device`` to ``recipient``: the device's next counter (or ``counter``,
    already taken from its sequence), protected as the alert use case's catalogue row says
    (signed, or MACed with the recipient's key)."""
    case = use_case(message_code)
    counter = tx.next_own_counter(device.eui) if counter is None else counter
    frame = gbcs.Frame(cra=Cra.ALERT, originator_counter=counter, originator=device.eui,
                       recipient=EUI64(recipient), other_information=gbcs.OtherInformation(message_code),
                       content=content)  # fmt: skip
    protection = (case.protection.get(Cra.ALERT) or (Protection.NONE,))[0]
    if Protection.SIGNATURE in protection and device.credentials.ds_key is not None:
        frame = gbcs.sign(frame, device.credentials.ds_key)
    if Protection.MAC in protection:
        try:
            frame = gbcs.add_mac(frame, device.keystore())
        except KeyStoreError:
            if device.peer_private_keys is None:
                raise
            frame = gbcs.add_mac(frame, device.peer_private_keys)
    return gbcs.encode(frame)


def raise_dlms_alert(device: Device, tx: Transaction, recipient: EUI64, message_code: int, alert_code: int,
                     *further: Data) -> bytes:  # fmt: skip
    """Queue an alert of a DLMS device: a Data-Notification whose invoke-id is the low 24 bits
    of the alert's counter, holding the alert code, the time, and ``further`` items (primer
    §9.2)."""
    counter = tx.next_own_counter(device.eui)
    value = Data.structure(Data.integer(DataType.UINT16, alert_code),
                           Data.octet_string(DlmsDateTime.from_datetime(device.now).encode()), *further)  # fmt: skip
    content = encode_apdu(DataNotification(0x20000000 | (counter & 0xFFFFFF), b"", value))
    alert = build_alert(device, tx, recipient, message_code, content, counter=counter)
    tx.record_sent(device.eui, device.now, "alert", alert)
    return alert


def raise_generic_alert(device: Device, tx: Transaction, alert_code: int) -> bytes | None:
    """Queue the generic critical alert ``alert_code`` to the device's supplier; None where the
    device type sends no generic alerts (the catalogue gives them to ESME and GSME) or it has
    no supplier to send them to."""
    case = use_case(GENERIC_CRITICAL_ALERT)
    supplier = device.cells.get(Role.SUPPLIER)
    if device.identity.device_type not in case.devices or supplier is None:
        return None
    if device.identity.device_type is DeviceType.ESME:
        return raise_dlms_alert(device, tx, supplier.party, GENERIC_CRITICAL_ALERT, alert_code)
    content = encode_gbz(GbzAlert(0, alert_code, int(device.now.timestamp()) - _EPOCH_2000))
    alert = build_alert(device, tx, supplier.party, GENERIC_CRITICAL_ALERT, content)
    tx.record_sent(device.eui, device.now, "alert", alert)
    return alert
