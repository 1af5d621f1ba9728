"""The use-case catalogue: one row per GBCS message code, loaded once.

Every rule that depends on the message code reads it from here, never from an ``if`` on the
code elsewhere: the codec picks payload grammars from it, the firmware checks MAC, role and
future dating against it.

Where the rows come from. Name, title, payload and protection: the primer's message-code
table (primer §10), itself a summary of RTDS. Devices, criticality, encrypted responses,
future dating and roles: DCC's GBCS use-case mapping table and DUIS service request matrix
(public JSON in SmartDCCInnovation's duis-templates and duis-parser), gbcs-parser, and the
RTDS corpus -- the full GBCS use-case tables were not available to us. A value ending in
``?`` was inferred (by analogy with a twin use case, or from the corpus alone) and is listed
in ``UseCase.inferred``; check it against GBCS before relying on it.

Columns of ``_TABLE``:

    code     the message code (Other Information, primer §5)
    name     the GBCS use case (``-`` where GBCS names none, as for most alert codes)
    payload  DLMS | GBZ | DER | DLMS/GBZ (the device's own format) | ``-`` (no RTDS sample)
    protect  per message class, ``C:`` command, ``R:`` response, ``A:`` alert: ``MAC``,
             ``sig``, ``sig+MAC``, or ``MAC/sig`` where RTDS has both variants
    rsp-dt   whether responses carry the grouping-header date-time (``-``: no responses)
    devices  the devices a command is addressed to, or that raise the alert
    crit     critical: commands signed by the remote party, alerts signed by the device
             (``var``: both variants exist; ``-``: not applicable, e.g. HAN-only commands)
    enc      whether the (successful) response -- or the alert -- carries encrypted data
    fd       whether the command can carry a future execution date-time to the device
    roles    for commands, the remote party roles that may originate them; for alerts, the
             roles they are sent to (SUP supplier, NO network operator, ACB access control
             broker, WAN WAN provider, TCOS transitional change of supplier, REC recovery,
             ROOT root, LC load controller, OTHER other user)
    title    condensed description
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum, Flag
from types import MappingProxyType

from .errors import UnknownMessageCode
from .types import Cra, DeviceType, Role

__all__ = ["CATALOGUE", "PayloadKind", "Protection", "UseCase", "use_case"]


class PayloadKind(str, Enum):
    """How a use case's content is encoded (primer §7)."""

    DLMS = "DLMS COSEM"
    GBZ = "ZigBee ZCL (GBZ)"
    DER = "ASN.1 DER"
    DEVICE = "DLMS COSEM or GBZ, as the device speaks"


class Protection(Flag):
    """What protects one message class of a use case."""

    NONE = 0
    MAC = 1  # General Ciphering wrapper with a MAC
    SIGNATURE = 2  # ECDSA signature in the General Signing APDU


@dataclass(frozen=True, slots=True)
class UseCase:
    """One row of the catalogue (see the module docstring for each column's meaning).

    ``protection`` maps each message class the use case has (command, response, alert) to
    the protections RTDS shows for it; two entries mean both variants occur. ``None`` in a
    yes/no column means "not applicable" or "depends on the variant". ``inferred`` names
    the values that were inferred rather than read in a source, as ``"column"`` or
    ``"column=VALUE"``.
    """

    message_code: int
    name: str | None
    title: str
    payload: PayloadKind | None
    protection: MappingProxyType  # Cra -> tuple[Protection, ...]
    response_date_time: bool | None
    devices: frozenset[DeviceType]
    critical: bool | None
    encrypted_response: bool | None
    future_datable: bool | None
    originator_roles: frozenset[Role]  # commands
    alert_recipients: frozenset[Role]  # alerts
    inferred: frozenset[str]

    @property
    def label(self) -> str:
        """The name, or the message code in hex where GBCS names no use case."""
        return self.name or f"0x{self.message_code:04X}"

    @property
    def is_alert(self) -> bool:
        return Cra.ALERT in self.protection


_TABLE = """\
0x0001  CCS01       DLMS     C:MAC R:MAC            no   CHF                    no   no   no   ACB              add device to CHF device log
0x0002  CCS02       DLMS     C:MAC R:MAC            no   CHF                    no   no   no   ACB              remove device from CHF device log
0x0003  CCS03       DLMS     C:MAC R:MAC            no   CHF                    no   no   no   ACB              restore CHF device log
0x0004  CCS05/CCS04 DLMS     C:MAC R:MAC            no   CHF                    no   no   no   ACB              read CHF device log / check HAN comms (CHF comms store)
0x0007  CS01a       DLMS     C:MAC R:MAC            yes  ESME                   no   no   no   SUP              prepayment top-up (UTRN) to ESME
0x0008  CS02a       DER      C:MAC/sig R:MAC/sig    no   ESME,CHF,GSME,GPF?     var  no   no   ACB,TCOS,SUP?,REC? provide security credentials details
0x000A  CS02c       DER      C:sig+MAC R:sig        no   ESME,GSME?             yes  no   no   SUP              issue security credentials (device key generation)
0x000B  CS02d       DER      C:sig+MAC R:sig        no   ESME,GSME?             yes  no   no   SUP              update device certificates on device
0x000C  CS02e       DER      C:sig+MAC R:sig        no   ESME,GSME?             yes  no   no   SUP              provide device certificates from device
0x000D  CS03A1      DER      C:sig+MAC R:sig        no   ESME,GSME?             yes  no   no   SUP              method A join (meter)
0x000E  CS03B       DER      C:MAC R:MAC            no   GSME,ESME?             no   no   no   SUP,ACB          method B join
0x000F  CS04AC      DER      C:sig+MAC R:sig        no   ESME,GSME,PPMID,HCALCS? yes  no   no   SUP,ACB          method A or C unjoin
0x0010  CS04B       DER      C:MAC R:MAC            no   GSME,ESME?             no   no   no   SUP,ACB?         method B unjoin
0x0012  CS06        DER      C:sig+MAC R:sig        yes  ESME,GSME,CHF?         yes  no   yes  SUP              activate firmware
0x0013  CS07        DER      C:MAC R:MAC            no   GSME,ESME,PPMID,HCALCS? no   no   no   SUP,ACB          read device join details
0x0014  CS10a       GBZ      C:MAC R:MAC            no   GSME,GPF?              no   no   no   SUP,ACB?         read ZigBee device event log
0x0015  CS11        GBZ      C:MAC R:MAC            no   GSME                   no   no   no   SUP              clear ZigBee device event log
0x0018  CS14        DLMS     A:MAC                  -    CHF                    no   no   -    ACB              HAN whitelist addition/removal alerts
0x0019  ECS01a      DLMS     C:sig+MAC R:sig        yes  ESME                   yes  no   yes  SUP              set tariff and price (ESME)
0x001A  ECS02       DLMS     C:sig+MAC R:sig        yes  ESME                   yes  no   yes  SUP              set ESME payment mode to credit
0x001B  ECS03       DLMS     C:sig+MAC R:sig        yes  ESME                   yes  no   yes  SUP              set ESME payment mode to prepayment
0x001C  ECS04a      DLMS     C:sig+MAC R:sig        no   ESME                   yes  no   no   SUP              adjust meter balance (ESME)
0x001D  ECS05       DLMS     C:sig+MAC R:sig        no   ESME                   yes  no   no   SUP              reset tariff block counter matrix
0x001E  ECS07       DLMS     C:sig+MAC R:sig        no   ESME                   yes  no   no   SUP              manage debt (ESME)
0x001F  ECS08       DLMS     C:sig+MAC R:sig        yes  ESME                   yes  no   yes  SUP              update prepayment configuration (ESME)
0x0020  ECS09       DLMS     C:sig+MAC R:sig        no   ESME                   yes  no   no   SUP              activate emergency credit remotely (ESME)
0x0021  ECS10       DLMS     C:MAC R:MAC            no   ESME                   no   no   no   SUP              send message to ESME
0x0022  ECS12       DLMS     C:MAC R:MAC            no   ESME                   no   no   no   SUP              set change-of-tenancy date (ESME)
0x0023  ECS14       DLMS     C:MAC R:MAC            no   ESME                   no   no   no   SUP              disable privacy PIN protection (ESME)
0x0024  ECS15a      DLMS     C:MAC R:MAC            no   ESME                   no   no   no   SUP              clear ESME event log
0x0025  ECS16       DLMS     C:MAC R:MAC            no   ESME                   no   no   no   SUP              write supplier contact details (ESME)
0x0026  ECS17a      DLMS     C:MAC R:MAC            yes  ESME                   no   no   no   NO,ACB?          read energy registers - export
0x0027  ECS17b      DLMS     C:MAC R:MAC            yes  ESME                   no   yes  no   SUP,NO           read energy registers - import
0x0028  ECS17c      DLMS     C:MAC R:MAC            yes  ESME                   no   no?  no   SUP,NO?          read energy registers - power
0x0029  ECS17d      DLMS     C:MAC R:MAC            yes  ESME                   no   yes  no   SUP,NO?          read energy register - TOU
0x002A  ECS17e      DLMS     C:MAC R:MAC            yes  ESME                   no   yes  no   SUP,NO?          read energy register - TOU with blocks
0x002B  ECS18a      DLMS     C:MAC R:MAC            yes  ESME                   no   no?  no   NO,ACB?          read maximum demand registers - export
0x002C  ECS18b      DLMS     C:MAC R:MAC            yes  ESME                   no   no?  no   SUP,NO?          read maximum demand registers - import
0x002D  ECS19       DLMS     C:MAC R:MAC            yes  ESME                   no   yes  no   SUP              read ESME prepayment registers
0x002E  ECS20a      DLMS     C:MAC R:MAC            no   ESME                   no   no   no   SUP              read billing data log - payment-based debt payments
0x002F  ECS20b      DLMS     C:MAC R:MAC            no   ESME                   no   yes  no   SUP              read billing data log - change of mode/tariff (excl. export)
0x0030  ECS20c      DLMS     C:MAC R:MAC            no   ESME                   no   yes  no   SUP              read billing data log - billing calendar (excl. export)
0x0033  ECS21a      DLMS     C:MAC R:MAC            no   ESME                   no   yes  no   SUP              read daily read log (excl. export)
0x0034  ECS21b      DLMS     C:MAC R:MAC            no   ESME                   no   yes  no   SUP              read prepayment daily read log
0x0035  ECS21c      DLMS     C:MAC R:MAC            no   ESME                   no   no   no   ACB              read daily read log (export only)
0x0036  ECS22a      DLMS     C:MAC R:MAC            no   ESME                   no   no   no   NO,ACB?          read half-hour profile - export
0x0037  ECS22b      DLMS     C:MAC R:MAC            no   ESME                   no   yes  no   SUP,NO,ACB?      read half-hour profile - active import
0x0038  ECS22c      DLMS     C:MAC R:MAC            no   ESME                   no   no?  no   SUP,NO,ACB?      read half-hour profile - reactive import
0x0039  ECS23       DLMS     C:MAC R:MAC            yes  ESME                   no   no   no   SUP,NO?          read voltage operational data
0x003A  ECS24       DLMS     C:MAC R:MAC            no   ESME                   no   no   no   SUP,ACB?         read ESME tariff data
0x003B  ECS26a      DLMS     C:MAC R:MAC            no   ESME                   no   no   no   SUP              read ESME config - prepayment
0x003C  ECS26b      DLMS     C:MAC R:MAC            no   ESME                   no   no   no   SUP,NO,ACB?      read ESME config - voltage
0x003D  ECS26c      DLMS     C:MAC R:MAC            no   ESME                   no   no   no   SUP,NO,ACB?      read ESME device info - randomisation
0x003E  ECS26d      DLMS     C:MAC R:MAC            no   ESME                   no   no   no   SUP,ACB?         read ESME device info - billing calendar
0x003F  ECS26e      DLMS     C:MAC R:MAC            no   ESME                   no   no   no   SUP,NO,ACB?      read ESME device info - identity (excl. MPAN)
0x0040  ECS26f      DLMS     C:MAC R:MAC            no   ESME                   no   no   no   SUP,ACB?         read ESME device info - instantaneous power thresholds
0x0042  ECS27       DLMS     C:MAC R:MAC            no   ESME                   no   no?  no   SUP,NO?          read ESME load limit data
0x0043  ECS28a      DLMS     C:sig+MAC R:sig        yes  ESME                   yes  no   yes  SUP              set load limit configuration - general
0x0044  ECS28b      DLMS     C:MAC R:MAC            no   ESME                   no   no   no   SUP              reset load limit counter
0x0045  ECS29a      DLMS     C:MAC R:MAC            no   ESME                   no   no   no   NO               set voltage configuration (ESME)
0x0046  ECS30       DLMS     C:sig+MAC R:sig        no   ESME                   yes  no   no   SUP              set billing calendar (ESME)
0x0047  ECS34       DLMS     C:MAC R:MAC            no   ESME                   no   no   no   SUP              set instantaneous power threshold configuration
0x0048  ECS35a      DLMS     C:MAC R:MAC            no   ESME                   no   no   no   SUP,NO,ACB?      read ESME event log
0x0049  ECS35b      DLMS     C:MAC R:MAC            no   ESME                   no   no   no   SUP,NO,ACB?      read ESME security log
0x004A  ECS37       DLMS     C:MAC R:MAC            no   ESME                   no   no   no   NO               set maximum demand configurable period
0x004B  ECS38       DLMS     C:sig+MAC R:sig        no   ESME                   yes  no   no   SUP              update randomised offset limit
0x004C  ECS39a      DLMS     C:MAC R:MAC            no   ESME                   no   no   no   SUP              set import MPAN (ESME)
0x004D  ECS39b      DLMS     C:MAC R:MAC            no   ESME                   no   no   no   ACB              set export MPAN (ESME)
0x004E  ECS40       DLMS     C:MAC R:MAC            no   ESME                   no   no   no   SUP,NO,ACB?      read MPAN (ESME)
0x004F  ECS42       DLMS     C:sig+MAC R:sig        no   ESME                   yes  no   no   SUP              remotely close load switch (ESME)
0x0050  ECS43       DLMS     C:sig+MAC R:sig        no   ESME                   yes  no   no   SUP              remotely open load switch (ESME)
0x0051  ECS44       DLMS     C:sig+MAC R:sig        no   ESME                   yes  no   no   SUP              arm load switch (ESME)
0x0052  ECS45       DLMS     C:MAC R:MAC            no   ESME                   no   no   no   SUP,NO,ACB?      read load switch status (ESME)
0x0053  ECS46a      DLMS     C:sig+MAC R:sig        no   ESME                   yes  no   no   SUP              set HC ALCS / ALCS labels
0x0054  ECS46c      DLMS     C:sig+MAC R:sig        yes  ESME                   yes  no   yes  SUP              set HC ALCS / ALCS configuration (excl. labels)
0x0055  ECS47       DLMS     C:sig+MAC R:sig        no   ESME                   yes  no   no   SUP              set or reset HC ALCS / ALCS state
0x0058  ECS50       DLMS     C:MAC R:MAC            no   ESME                   no   no   no   ACB              send CIN to ESME
0x0059  ECS52       DLMS     C:MAC R:MAC            no   ESME,CHF               no   no   no   SUP,ACB?,NO?     read ESME / comms hub firmware version
0x005A  ECS57       DLMS     C:MAC R:MAC            no   ESME                   no   no   no   NO               reset ESME maximum demand registers
0x005E  ECS61c      DLMS     C:MAC R:MAC            no   ESME                   no   no   no   SUP,ACB?         read boost button data (ESME)
0x005F  ECS62       DLMS     C:MAC R:MAC            no   ESME                   no   no   no   SUP              set ALCS / boost button association
0x0060  ECS66       DLMS     C:MAC R:MAC            no   ESME                   no   yes  no   SUP,NO,ACB?      read ESME daily consumption log
0x0061  ECS68       DLMS     A:sig                  -    ESME                   yes  yes  -    SUP?             ESME critical sensitive alert (billing data log)
0x0062  ECS70       DLMS     C:sig+MAC R:sig        no   ESME                   yes  no   no   SUP              set clock (ESME)
0x0067  ECS80       DLMS     A:sig                  -    ESME                   yes  no   -    NO               supply outage restore alert (ESME)
0x0068  ECS81       DLMS     C:sig+MAC R:sig        no   ESME                   yes  no   no   SUP              set supply tamper state (ESME)
0x0069  ECS82       DLMS     C:MAC R:MAC            no   ESME                   no   no   no   SUP              read meter balance (ESME)
0x006B  GCS01a      GBZ      C:sig+MAC R:sig        yes  GSME                   yes  no   yes  SUP              set tariff and price (GSME)
0x006C  GCS02       GBZ      C:sig+MAC R:sig        yes  GSME                   yes  no   yes  SUP              set GSME payment mode to credit
0x006D  GCS03       GBZ      C:sig+MAC R:sig        yes  GSME                   yes  no   yes  SUP              set GSME payment mode to prepayment
0x006E  GCS04       GBZ      C:sig+MAC R:sig        no   GSME                   yes  no   no   SUP              manage debt (GSME)
0x006F  GCS05       GBZ      C:sig+MAC R:sig        yes  GSME                   yes  no   yes  SUP              update prepayment configuration (GSME)
0x0070  GCS06       GBZ      C:sig+MAC R:sig        no   GSME                   yes  no   no   SUP              activate emergency credit remotely (GSME)
0x0071  GCS07       GBZ      C:MAC R:MAC            no   GSME                   no   no   no   SUP              send message to GSME
0x0072  GCS09       GBZ      C:MAC R:MAC            no   GPF                    no   no   no   SUP              set change-of-tenancy date (GPF)
0x0073  GCS11       GBZ      C:MAC R:MAC            no   GSME                   no   no   no   SUP              disable privacy PIN protection (GSME)
0x0074  GCS13a      GBZ      C:MAC R:MAC            yes  GSME,GPF               no   yes  no   SUP,NO?,ACB?     read GSME consumption register
0x0075  GCS14       GBZ      C:MAC R:MAC            yes  GPF?,GSME?             no   yes? no   SUP              read GSME prepayment registers
0x0076  GCS15c      GBZ      C:MAC R:MAC            no   GSME                   no   yes  no   SUP              read GSME billing data log - billing calendar
0x0077  GCS16a      GBZ      C:MAC R:MAC            no   GPF?,GSME?             no   yes? no   SUP              read GSME daily read log
0x0078  GCS17       GBZ      C:MAC R:MAC            no   GSME,GPF?              no   yes  no   SUP,ACB?         read GSME profile data log
0x0079  GCS18       GBZ      C:MAC R:MAC            no   GSME?                  no   no?  no   SUP,ACB?         read gas network data log
0x007B  GCS21a      GBZ      C:MAC R:MAC            no   GSME                   no   no   no   SUP,ACB?         read gas config - device info
0x007C  GCS23       GBZ      C:sig+MAC R:sig        no   GSME                   yes  no   no   SUP              set CV and conversion factor (GSME)
0x007D  GCS24       GBZ      C:sig+MAC R:sig        no   GSME                   yes  no   no   SUP              set uncontrolled gas flow rate and supply tamper state
0x007E  GCS25       GBZ      C:sig+MAC R:sig        no   GSME                   yes  no   no   SUP              set billing calendar (GSME)
0x007F  GCS28       DER      C:sig+MAC R:sig        no   GSME                   yes  no   no   SUP              set clock (GSME)
0x0080  GCS31       GBZ      C:MAC R:MAC            no   GSME                   no   no   no   NO,ACB           start network data log (GSME)
0x0081  GCS32       GBZ      C:sig+MAC R:sig        no   GSME                   yes  no   no   SUP              remotely close valve (GSME)
0x0082  GCS33       GBZ      C:MAC R:MAC            no   GSME                   no   no   no   SUP,ACB?         read valve status (GSME)
0x0083  GCS36       GBZ      C:MAC R:MAC            no   GSME                   no   no   no   ACB              send CIN to GSME
0x0084  GCS38       GBZ      C:MAC R:MAC            no   GSME                   no   no   no   SUP,ACB?         read GSME firmware version
0x0085  GCS39       GBZ      C:sig+MAC R:sig        no   GSME                   yes  no   no   SUP              arm valve (GSME)
0x0086  GCS40a      GBZ      C:sig+MAC R:sig        no   GSME                   yes  no   no   SUP              adjust prepayment-mode meter balance (GSME)
0x0087  GCS41       GBZ      C:MAC R:MAC            no   GSME                   no   no   no   SUP              set MPRN (GSME)
0x0088  GCS44       GBZ      C:MAC R:MAC            no   GSME                   no   no   no   SUP              write contact details (GSME)
0x0089  GCS46       GBZ      C:MAC R:MAC            no   GSME                   no   no   no   SUP,ACB?         read MPRN (GSME)
0x008B  GCS53       GBZ      A:sig                  -    GPF?,GSME?             yes  yes? -    SUP?             billing data log pushed as alert (GSME)
0x008C  GCS59       DER      C:MAC R:MAC            no   GPF                    no   no   no   ACB              restore GPF device log
0x008D  GCS60       GBZ      C:MAC R:MAC            no   GSME                   no   no   no   SUP              read meter balance (GSME)
0x0090  PCS02       GBZ      C:MAC R:MAC            no   GSME                   -    no   no   -                activate emergency credit on GSME from PPMID
0x0092  ECS26i      DLMS     C:MAC R:MAC            no   CHF                    no?  no   no   ACB?             read CHF identity
0x0093  ECS35c      DLMS     C:MAC R:MAC            no   CHF                    no   no   no   ACB              read CHF event log
0x0094  ECS35d      DLMS     C:MAC R:MAC            no   CHF                    no   no   no   ACB              read CHF security log
0x0096  GCS16b      GBZ      C:MAC R:MAC            no   GPF?,GSME?             no   yes? no   SUP              read GSME prepayment daily read log
0x0097  CS01b       GBZ      C:MAC R:MAC            yes  GSME                   no   no   no   SUP              prepayment top-up (UTRN) to GSME
0x009B  PCS01       GBZ      C:MAC R:MAC            no   GSME                   -    no   no   -                top-up to GSME via PPMID
0x009D  GCS21d      GBZ      C:MAC R:MAC            no   GSME                   no   no   no   SUP,ACB?         read GSME device info - billing calendar
0x009E  GCS21e      GBZ      C:MAC R:MAC            no   GSME,GPF?              no   no   no   SUP,ACB?         read GSME/GPF device info - identity
0x009F  GCS21f      GBZ      C:MAC R:MAC            no   GSME                   no   no   no   SUP,ACB?         read GSME tariff data
0x00A0  GCS61       GBZ      C:MAC R:MAC            no   GPF?,GSME?             no   yes? no   SUP,ACB?         read gas daily consumption log
0x00A1  CS10b       GBZ      C:MAC R:MAC            no   GSME                   no   no   no   SUP,ACB?         read ZigBee device security log
0x00A2  ECS01b      DLMS     C:sig+MAC R:sig        yes  ESME                   yes  no   yes  SUP              set price (ESME)
0x00A3  GCS01b      GBZ      C:sig+MAC R:sig        yes  GSME                   yes  no   yes  SUP              set price (GSME)
0x00AB  CS03A2      DER      C:sig+MAC R:sig        no   PPMID,HCALCS           yes  no   no   SUP              method A join (non-meter)
0x00AC  ECS25a      DLMS     C:MAC R:MAC            no   ESME                   no   no   no   SUP              set alert behaviours - ESME - supplier
0x00AD  GCS20       GBZ      C:MAC R:MAC            no   GSME                   no   no   no   SUP              set alert behaviours - GSME
0x00AE  ECS29b      DLMS     C:MAC R:MAC            no   ESME                   no   no   no   NO               set voltage configuration - polyphase ESME
0x00AF  CS03C       DER      C:sig+MAC R:sig        no   GSME,PPMID             yes  no   no   SUP,ACB          method C join
0x00B0  ECS25b      DLMS     C:MAC R:MAC            no   ESME                   no   no   no   NO               set alert behaviours - ESME - network operator
0x00B2  GCS62       DER      A:MAC                  -    GPF                    no   no   -    ACB              GPF device log backup (alert)
0x00B3  ECS04b      DLMS     C:sig+MAC R:sig        no   ESME                   yes  no   no   SUP              reset meter balance (ESME)
0x00B4  GCS40b      GBZ      C:sig+MAC R:sig        no   GSME                   yes  no   no   SUP              reset prepayment-mode meter balance (GSME)
0x00B5  GCS21b      GBZ      C:MAC R:MAC            no   GSME                   no   no   no   SUP              read GSME config - prepayment
0x00B6  GCS13c      GBZ      C:MAC R:MAC            yes  GPF?,GSME?             no   yes? no   SUP              read GSME register - TOU
0x00B7  ECS01c      DLMS     C:sig+MAC R:sig        yes  ESME                   yes  no   yes  SUP              set tariff and price - ESME secondary element
0x00B8  GCS13b      GBZ      C:MAC R:MAC            yes  GSME,GPF               no   yes  no   SUP              read GSME block counters
0x00B9  ECS35e      DLMS     C:MAC R:MAC            no   ESME                   no   no?  no   SUP,NO,ACB?      read ESME power event log
0x00BA  ECS35f      DLMS     C:MAC R:MAC            no   ESME                   no   no   no   SUP,NO?          read ALCS event log
0x00BB  ECS61a      DLMS     C:MAC R:MAC            no   ESME                   no?  no?  no   SUP,NO,ACB?      read HC ALCS / ALCS data
0x00BC  ECS23b      DLMS     C:MAC R:MAC            yes  ESME                   no   no   no   SUP,NO?          read voltage operational data - polyphase
0x00BD  ECS24b      DLMS     C:MAC R:MAC            no   ESME                   no   no   no   SUP,ACB?         read ESME tariff data - second element
0x00BE  ECS26j      DLMS     C:MAC R:MAC            no   ESME                   no   no   no   SUP,ACB?         read ESME device info - payment mode
0x00BF  GCS21j      GBZ      C:MAC R:MAC            no   GSME                   no   no   no   SUP,ACB?         read GSME device info - payment mode
0x00C0  GCS40c      GBZ      C:sig+MAC R:sig        no   GSME                   yes  no   no   SUP              adjust credit-mode meter balance (GSME)
0x00C1  ECS15c      DLMS     C:MAC R:MAC            no   ESME                   no   no   no   SUP              clear ALCS event log
0x00C2  GCS40d      GBZ      C:sig+MAC R:sig        no   GSME                   yes  no   no   SUP              reset credit-mode meter balance (GSME)
0x00C3  GCS15b      GBZ      C:MAC R:MAC            no   GSME                   no   yes  no   SUP              read GSME billing data log - change of mode/tariff
0x00C4  GCS15d      GBZ      C:MAC R:MAC            no   GSME                   no   yes? no   SUP,ACB          read GSME billing data log - payment-based debt payments
0x00C5  GCS15e      GBZ      C:MAC R:MAC            no   GSME                   no   no   no   SUP              read GSME billing data log - prepayment credits
0x00C6  ECS26k      DLMS     C:MAC R:MAC            no   ESME                   no   no   no   SUP,NO,ACB?      read ESME config - voltage, polyphase
0x00C7  ECS01d      DLMS     C:sig+MAC R:sig        yes  ESME                   yes  no   yes  SUP              set price - ESME secondary element
0x00C9  ECS20d      DLMS     C:MAC R:MAC            no   ESME                   no   no?  no   SUP              read ESME billing data log - prepayment credits
0x00CA  -           DER      A:sig                  -    ESME,GSME,CHF?         yes  no   -    SUP              future-dated firmware activation outcome
0x00CB  -           DER      A:sig                  -    ESME                   yes  no   -    SUP              future-dated update-security-credentials outcome
0x00CC  -           DLMS     A:sig                  -    ESME                   yes  no   -    SUP              future-dated instruction outcome, DLMS COSEM devices
0x00CD  -           GBZ      A:sig                  -    GSME                   yes  no   -    SUP              future-dated instruction outcome, GBZ devices
0x00CE  -           DLMS     A:sig                  -    ESME,CHF               yes  no   -    SUP              firmware distribution receipt (ESME; Wireshark: ESME or CH)
0x00CF  -           GBZ      A:sig                  -    GSME                   yes  no   -    SUP              firmware distribution receipt (GSME)
0x00D1  ECS29c      DLMS     C:MAC R:MAC            no   ESME                   no   no   no   NO               set voltage configuration without counter reset
0x00D2  ECS29d      DLMS     C:MAC R:MAC            no   ESME                   no   no   no   NO               set voltage configuration, polyphase, without counter reset
0x00D3  ECS29e      DLMS     C:MAC R:MAC            no   ESME                   no   no   no   NO               reset RMS voltage counters
0x00D4  ECS29f      DLMS     C:MAC R:MAC            no   ESME                   no   no   no   NO               reset RMS voltage counters, polyphase
0x00D5  -           -        -                      -    CHF?                   ?    no   -    -                failure to deliver remote-party message to ESME (8F84)
0x00D7  ECS30a      DLMS     C:sig+MAC R:sig        no   ESME                   yes  no   no   SUP              set billing calendar, all periodicities (ESME)
0x00D8  GCS25a      GBZ      C:sig+MAC R:sig        no   GSME                   yes  no   no   SUP              set billing calendar, all periodicities (GSME)
0x00D9  ECS26l      DLMS     C:MAC R:MAC            no   ESME                   no   no   no   SUP,ACB?         read ESME device info - billing calendar, all periodicities
0x00DA  GCS21k      GBZ      C:MAC R:MAC            no   GSME                   no   no   no   SUP,ACB?         read GSME device info - billing calendar, all periodicities
0x00DB  ECS48       DLMS     C:sig+MAC R:sig        no   ESME                   yes  no   no   SUP              configure daily reset of tariff block counter matrix
0x00DE  ECS08a      DLMS     C:sig+MAC R:sig        yes  ESME                   yes  no   yes  SUP              update prepayment configuration (ESME, variant a)
0x00EA  ECS25a1     DLMS     C:MAC R:MAC            no   ESME                   no   no   no   SUP              set event behaviours - ESME to HAN device - supplier
0x00EB  ECS25a2     DLMS     C:MAC R:MAC            no   ESME                   no   no   no   SUP              set event behaviours - audible alarm - supplier
0x00EC  ECS25a3     DLMS     C:MAC R:MAC            no   ESME                   no   no   no   SUP              set event behaviours - logging - supplier
0x00ED  ECS25b3     DLMS     C:MAC R:MAC            no   ESME                   no   no   no   NO               set event behaviours - logging - network operator
0x00EE  ECS25r1     DLMS     C:MAC R:MAC            no   ESME                   no   no   no   SUP              read non-critical event/alert behaviours - ESME - supplier
0x00EF  ECS25r2     DLMS     C:MAC R:MAC            no   ESME                   no   no   no   NO               read non-critical event/alert behaviours - ESME - network operator
0x00F0  -           DLMS     A:MAC                  -    ESME                   no   no   -    SUP              meter integrity issue warning - ESME (81A0)
0x00F1  GCS20r      GBZ      C:MAC R:MAC            no   GSME                   no   no   no   SUP              read non-critical event/alert behaviours - GSME
0x00F2  -           GBZ      A:MAC                  -    GSME                   no   no   -    SUP              meter integrity issue warning - GSME (81A0)
0x00F9  ECS26m      DLMS     C:MAC R:MAC            no   ESME                   no   no   no   SUP,NO,ACB?      read ESME device info - identity, type, supply tamper state
0x00FA  ECS26n      DLMS     C:MAC R:MAC            no   CHF                    no   no   no   ACB              read CHF device info - CH identity and type
0x00FB  GCS21m      GBZ      C:MAC R:MAC            no   GSME                   no   no   no   SUP,ACB?         read GSME device info - identity, type, tamper/depletion state
0x00FC  GCS24a      GBZ      C:sig+MAC R:sig        no   GSME                   yes  no   no   SUP              set uncontrolled gas flow rate (finer resolution) and tamper state
0x00FD  ECS35g      DLMS     C:MAC R:MAC            no   ESME                   no   no   no   SUP,NO           read ALCS event log (variant g)
0x00FE  CCS07       DLMS     C:MAC R:MAC            no   CHF                    no   no   no   ACB              read CHF device logs
0x0100  CS02b       -        -                      -    ESME,GSME,GPF?         yes? no   ?    SUP?             update security credentials - rootBySupplier
0x0101  CS02b       -        -                      -    CHF?                   yes? no   ?    WAN?             update security credentials - rootByWanProvider
0x0102  CS02b       DER      C:sig+MAC R:sig        yes  ESME,GPF,GSME?         yes  no   yes  SUP,ACB          update security credentials - supplierBySupplier
0x0103  CS02b       DER      C:sig+MAC R:sig        yes  ESME,GPF               yes  no   yes  NO,ACB           update security credentials - networkOperatorByNetworkOperator
0x0104  CS02b       DER      C:MAC R:sig            yes  -                      ?    no   ?    ACB              update security credentials - accessControlBrokerByACB
0x0105  CS02b       DER      C:sig+MAC R:sig        yes  CHF                    yes  no   ?    WAN              update security credentials - wanProviderByWanProvider
0x0106  CS02b       DER      C:sig+MAC R:sig        yes  ESME,GSME,GPF?         yes  no   ?    TCOS             update security credentials - transCoSByTransCoS
0x0107  CS02b       DER      C:sig+MAC R:sig        yes  ESME,GSME,GPF?         yes  no   yes  TCOS?            update security credentials - supplierByTransCoS
0x0108  CS02b       DER      C:sig R:sig            yes  -                      yes? no   ?    REC?             update security credentials - anyExceptAbnormalRootByRecovery
0x0109  CS02b       DER      R:sig                  yes  ESME                   yes? no   ?    -                update security credentials - anyByContingency
0x010A  DBCH01      DLMS     C:MAC R:MAC            no   CHF                    no   no   no   ACB              read CHF sub-GHz channel
0x010B  DBCH02      DLMS     C:MAC R:MAC            no   CHF                    no   no   no   ACB?             read CHF sub-GHz channel log
0x010C  DBCH03      DLMS     C:MAC R:MAC            no   CHF                    no   no   no   ACB              read CHF sub-GHz configuration
0x010D  DBCH04      DLMS     C:MAC R:MAC            no   CHF                    no   no   no   ACB              set CHF sub-GHz configuration
0x010E  DBCH05      DLMS     C:MAC R:MAC            no   CHF                    no   no   no   ACB              request CHF sub-GHz channel scan
0x010F  CCS06       DLMS     C:MAC R:MAC            no   CHF                    no   no   no   ACB              read CHF device log and check HAN comms
0x0110  DBCH06      DLMS     A:MAC                  -    CHF                    no   no   -    ACB              sub-GHz alert: limited duty cycle action taken
0x0111  DBCH07      DLMS     A:MAC                  -    CHF                    no   no   -    ACB              sub-GHz alert: channel changed
0x0112  DBCH08      DLMS     A:MAC                  -    CHF                    no   no   -    ACB?             sub-GHz alert: channel scan request assessment outcome
0x0113  DBCH09      DLMS     A:MAC                  -    CHF                    no   no   -    ACB              sub-GHz alert: configuration changed
0x0114  DBCH10      DLMS     A:MAC                  -    CHF                    no   no   -    ACB              sub-GHz alert: message discarded (duty cycle management)
0x0115  DBCH11      DLMS     A:MAC                  -    CHF                    no   no   -    ACB              sub-GHz alert: no more device capacity
0x0116  PECS01      -        -                      -    ESME                   -    -    no   -                top-up to ESME via PPMID
0x0117  PECS02      -        -                      -    ESME                   -    -    no   -                activate emergency credit on ESME from PPMID
0x0118  PECS03      -        -                      -    ESME                   -    -    no   -                request ESME supply enable from PPMID
0x0119  HECS01      -        -                      -    ESME?                  -    -    no   -                HCALCS request to control a HAN-connected ALCS
0x011A  ECS46d      DLMS     C:sig+MAC R:sig        yes  ESME                   yes  no   yes  SUP              set auxiliary controller calendar
0x011B  CS02f       DER      C:MAC/sig R:MAC/sig    no   ESME                   var  no   no   ACB,SUP,TCOS     provide security credential details (ESME and SAPC)
0x011C  ECS61d      DLMS     C:MAC R:MAC            no   ESME                   no   no   no   SUP,ACB,NO?      read auxiliary controller configuration data
0x011D  ECS61e      DLMS     C:MAC R:MAC            no   ESME                   no   no   no   SUP,NO,ACB?      read auxiliary controller operational data
0x011E  ECS47a      DLMS     C:sig+MAC R:sig        no   ESME                   yes  no   no   SUP              set auxiliary controller state
0x011F  ECS47e      DLMS     C:sig+MAC R:sig        no   ESME                   yes  no   no   LC               limit APC level
0x0120  ECS100      DLMS     A:sig                  -    ESME?                  yes? no   -    -                command not supported by device (alert 8F85)
0x0121  ECS101      DLMS     A:sig                  -    ESME                   yes  no   -    SUP              limit APC level command processed (alert 8F86)
0x0122  ECS102      DLMS     A:sig                  -    ESME                   yes  no   -    SUP?,LC?         limit APC level ended or cancelled (alert 8F87)
0x0123  ECS200      DLMS     A:sig                  -    ESME                   yes  no   -    SUP,LC           operational update (alert 8F88)
0x0124  CS02g       DER      A:sig                  -    ESME                   yes  no   -    SUP,LC           future-dated load controller credentials outcome (alert 8F66/8F67)
0x0125  CS02g       DER      C:sig+MAC R:sig        yes  ESME?                  yes  no   yes  LC               update load controller security credentials - loadControllerByLoadController
0x0126  CS02g       DER      C:sig+MAC R:sig        yes  ESME                   yes  no   yes  SUP              update load controller security credentials - loadControllerBySupplier
0x0128  CCS08       DER      A:sig                  -    CHF                    yes  no   -    ACB              firmware transfer alert (8F89/8F8A)
0x0129  CS08        DER      C:MAC R:MAC            no   PPMID,HCALCS           no   no   no   ACB              read PPMID/HCALCS firmware version
0x012A  GCS60a      GBZ      C:MAC R:MAC            yes  GSME,GPF               no   no   no   SUP              (RTDS only; GSME/GPF meter-balance read variant)
0x012B  CS09        DER      A:sig                  -    PPMID,HCALCS?          yes  no   -    ACB              PPMID firmware activation alert (8F8B)
0x1000  -           DLMS/GBZ A:sig                  -    ESME,GSME              yes  no   -    SUP              generic critical alert
0x1001  -           DLMS/GBZ A:MAC                  -    GSME                   no   no   -    SUP              generic non-critical alert
"""

_PAYLOADS = {"DLMS": PayloadKind.DLMS, "GBZ": PayloadKind.GBZ, "DER": PayloadKind.DER,
             "DLMS/GBZ": PayloadKind.DEVICE, "-": None}  # fmt: skip
_CLASSES = {"C": Cra.COMMAND, "R": Cra.RESPONSE, "A": Cra.ALERT}
_PROTECTIONS = {
    "MAC": (Protection.MAC,),
    "sig": (Protection.SIGNATURE,),
    "sig+MAC": (Protection.SIGNATURE | Protection.MAC,),
    "MAC/sig": (Protection.MAC, Protection.SIGNATURE),
}
_YES_NO = {"yes": True, "no": False, "var": None, "-": None, "": None}
_ROLES = {"ROOT": Role.ROOT, "REC": Role.RECOVERY, "SUP": Role.SUPPLIER,
          "NO": Role.NETWORK_OPERATOR, "ACB": Role.ACCESS_CONTROL_BROKER,
          "TCOS": Role.TRANSITIONAL_CHANGE_OF_SUPPLIER, "WAN": Role.WAN_PROVIDER,
          "LC": Role.LOAD_CONTROLLER, "OTHER": Role.OTHER}  # fmt: skip


def _load(table: str) -> MappingProxyType:
    rows: dict[int, UseCase] = {}
    for line in table.splitlines():
        code_text, name, payload, rest = line.split(None, 3)
        words = rest.split()
        protection: dict[Cra, tuple[Protection, ...]] = {}
        while words and words[0][:2] in ("C:", "R:", "A:"):
            klass, kind = words.pop(0).split(":")
            protection[_CLASSES[klass]] = _PROTECTIONS[kind]
        if not protection:  # "-": no RTDS sample, protection unknown
            words.pop(0)
        response_date_time = _YES_NO[words.pop(0)]
        devices, critical, encrypted, future, roles = words[:5]
        title = " ".join(words[5:])
        inferred: set[str] = set()
        role_set = _members("roles", roles, _ROLES, inferred)
        code = int(code_text, 16)
        if code in rows:
            raise ValueError(f"message code {code_text} twice in the catalogue")
        rows[code] = UseCase(
            message_code=code,
            name=None if name == "-" else name,
            title=title,
            payload=_PAYLOADS[payload],
            protection=MappingProxyType(protection),
            response_date_time=response_date_time,
            devices=_members("devices", devices, DeviceType.__members__, inferred),
            critical=_flag("critical", critical, inferred),
            encrypted_response=_flag("encrypted_response", encrypted, inferred),
            future_datable=_flag("future_datable", future, inferred),
            originator_roles=frozenset() if Cra.ALERT in protection else role_set,
            alert_recipients=role_set if Cra.ALERT in protection else frozenset(),
            inferred=frozenset(inferred),
        )
    return MappingProxyType(rows)


def _flag(column: str, text: str, inferred: set[str]) -> bool | None:
    if text.endswith("?"):
        inferred.add(column)
    return _YES_NO.get(text.rstrip("?"))


def _members(column: str, text: str, names: dict, inferred: set[str]) -> frozenset:
    found = set()
    for token in text.split(","):
        if token in ("-", ""):
            continue
        if token.endswith("?"):
            inferred.add(f"{column}={token[:-1]}")
        found.add(names[token.rstrip("?")])
    return frozenset(found)


CATALOGUE: MappingProxyType = _load(_TABLE)


def use_case(message_code: int) -> UseCase:
    """The catalogue row for a message code.

    Raises:
        UnknownMessageCode: no row has this code.
    """
    try:
        return CATALOGUE[message_code]
    except KeyError:
        raise UnknownMessageCode(message_code) from None
