"""The remote parties' side: build GBCS commands as a supplier, network operator, WAN provider
or the Access Control Broker would send them, and check what comes back.

``HeadEnd.command`` takes a use case and its payload and returns the frame bytes, protected as
the catalogue says the use case's commands are: signed by the originating party where the
use case is critical, MACed by the Access Control Broker (primer §8.2, §8.4, §8.6).
Originator counters only grow, per party, from a start the caller may set (a head-end
restarting must start above what it used before; the WAN issue persists them).

``build`` does the same from a use case's typed parameters (``gbcs.commands``). Transport is
not here: hand the bytes to ``Premises.send``, or send them over the SMWAN with
``emulator.wan.WanHeadEnd``.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

import gbcs
from gbcs.catalogue import Protection, use_case
from gbcs.commands import CommandBuilder
from gbcs.keystore import KeyStore, KeyUsage
from gbcs.security import Verdict, access_control_broker
from gbcs.types import EUI64, Cra, Role

from .errors import StoreError

if TYPE_CHECKING:
    from .wan.headend import WanHeadEnd
    from .wan.link import Broker

__all__ = ["HeadEnd"]


@dataclass
class HeadEnd:
    """Remote parties with their private keys (a ``PkiStore.keystore()`` or RTDS's).

    Args:
        keystore: the parties' keys, and the devices' certificates.
        first_counter: the first originator counter each party uses.
        counters: a file that keeps the counters across runs and processes: each counter is
            written there (locked, flushed to disk) as it is taken, before any command carrying
            it can leave, so no later head-end using the file repeats it.
    """

    keystore: KeyStore
    first_counter: int = 1
    counters: Path | None = None
    _last: dict[EUI64, int] = field(default_factory=dict)

    def party(self, role: Role) -> EUI64:
        """The store's party for ``role``.

        Raises:
            LookupError: the store has no party with that role.
        """
        parties = self.keystore.parties_with_role(role)
        if not parties:
            raise LookupError(f"the key store has no {role.name} party")
        return parties[0]

    def next_counter(self, party: EUI64) -> int:
        """The counter ``party``'s next command will carry (without using it): above every one
        this head-end used and, with a counters file, every one the file holds."""
        last = self._last.get(party, self.first_counter - 1)
        if self.counters is not None:
            last = max(last, self._saved_counters().get(str(party), 0))
        return last + 1

    def _use_counter(self, party: EUI64, counter: int | None) -> int:
        if self.counters is not None:
            return self._use_counter_from_file(party, counter)
        counter = self.next_counter(party) if counter is None else counter
        if counter < self.next_counter(party):
            raise ValueError(f"counter {counter} for {party} does not exceed {self._last[party]}, already used")
        self._last[party] = counter
        return counter

    def _use_counter_from_file(self, party: EUI64, counter: int | None) -> int:
        """Take a counter under the file's lock and make it durable before returning it.

        Raises:
            StoreError: the file cannot be read or written.
        """
        assert self.counters is not None
        with self._counters_locked():
            saved = self._saved_counters()
            self._last[party] = max(self._last.get(party, self.first_counter - 1), saved.get(str(party), 0))
            counter = self.next_counter(party) if counter is None else counter
            if counter < self.next_counter(party):
                raise ValueError(f"counter {counter} for {party} does not exceed {self._last[party]}, already used")
            self._last[party] = saved[str(party)] = counter
            # a new file renamed over the old, both flushed: a crash leaves the old counters or the new, never none
            staging = self.counters.with_name(self.counters.name + ".new")
            try:
                with open(staging, "w") as handle:
                    handle.write(json.dumps(saved, sort_keys=True))
                    handle.flush()
                    os.fsync(handle.fileno())
                staging.replace(self.counters)
                directory = os.open(self.counters.parent, os.O_RDONLY)
                try:
                    os.fsync(directory)
                finally:
                    os.close(directory)
            except OSError as error:
                raise StoreError(f"cannot keep the head-end's counters in {self.counters}: {error.strerror}") from None
        return counter

    @contextlib.contextmanager
    def _counters_locked(self) -> Iterator[None]:
        """The counters file's lock (a file beside it, since the file itself is replaced)."""
        assert self.counters is not None
        try:
            handle = open(self.counters.with_name(self.counters.name + ".lock"), "a")  # noqa: SIM115
        except OSError as error:
            raise StoreError(f"cannot lock the head-end's counters in {self.counters}: {error.strerror}") from None
        with handle:
            fcntl.flock(handle, fcntl.LOCK_EX)  # another head-end process waits here
            yield

    def _saved_counters(self) -> dict[str, int]:
        assert self.counters is not None
        try:
            saved = json.loads(self.counters.read_text())
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as error:
            raise StoreError(f"the head-end's counters in {self.counters} are unreadable: {error}") from None
        if not isinstance(saved, dict) or not all(isinstance(v, int) and not isinstance(v, bool) for v in saved.values()):
            raise StoreError(f"{self.counters} is not a head-end's counters file")
        return saved

    def command(self, message_code: int, recipient: bytes, content: bytes, *, role: Role,
                for_party: Role | None = None, date_time: datetime | None = None,
                counter: int | None = None) -> bytes:  # fmt: skip
        """A command of the use case ``message_code`` to ``recipient``.

        Args:
            message_code: the use case (``gbcs.catalogue``).
            recipient: the device's EUI-64.
            content: the payload (DLMS, GBZ or DER bytes).
            role: the business originator's role (for MAC-only commands of the ACB, ACCESS_CONTROL_BROKER).
            for_party: the role the ACB acts for, named as the supplementary remote party.
            date_time: the grouping header's date-time, if the use case carries one.
            counter: the originator counter (default: the party's next); it must exceed every
                one the party used, as a payload that repeats it needs (CS02b's sequence number).

        Raises:
            LookupError: no party for a role; ValueError: a counter already used;
            gbcs.errors.KeyStoreError: a key is missing.
        """
        originator = self.party(role)
        return self._command(message_code, recipient, content, originator, self._use_counter(originator, counter),
                             for_party=for_party, date_time=date_time)  # fmt: skip

    def _command(self, message_code: int, recipient: bytes, content: bytes, originator: EUI64, counter: int, *,
                 for_party: Role | None, date_time: datetime | None) -> bytes:  # fmt: skip
        """``command`` with the originator's counter already taken."""
        case = use_case(message_code)
        other = gbcs.OtherInformation(message_code)
        if for_party is not None:
            other = gbcs.OtherInformation(message_code, supplementary_remote_party_id=self.party(for_party),
                                          supplementary_remote_party_counter=self._use_counter(self.party(for_party), None))  # fmt: skip
        frame = gbcs.Frame(cra=Cra.COMMAND, originator_counter=counter, originator=originator,
                           recipient=EUI64(recipient), other_information=other, content=content,
                           date_time=None if date_time is None else gbcs.DlmsDateTime.from_datetime(date_time))  # fmt: skip
        protection = (case.protection.get(Cra.COMMAND) or (Protection.NONE,))[-1]
        if Protection.SIGNATURE in protection:
            private_key = self.keystore.private_key(originator, KeyUsage.DS)
            if private_key is None:
                raise gbcs.errors.KeyStoreError(f"no signing key for {originator}")
            frame = gbcs.sign(frame, private_key)
        if Protection.MAC in protection:
            frame = gbcs.add_mac(frame, self.keystore, broker=access_control_broker(self.keystore))
        return gbcs.encode(frame)

    def build(self, builder: CommandBuilder, recipient: bytes, params: Mapping[str, object] | Sequence[str] = (),
              *, role: Role | None = None) -> bytes:  # fmt: skip
        """A command of ``builder``'s use case to ``recipient`` from typed parameters (a JSON
        object or ``key=value`` strings), from the use case's party (or ``role``).

        Raises:
            gbcs.commands.ParameterError: a parameter is missing, unknown or wrong (named);
            LookupError: no party for the role.
        """
        values = builder.parse(params)
        role = role or builder.role
        originator = self.party(role)
        counter = self._use_counter(originator, None)  # taken first: the payload names it too (invoke-id, protected reads)
        content = builder.content(values, counter=counter, originator=originator, recipient=recipient)
        return self._command(builder.message_code, recipient, content, originator, counter, for_party=None, date_time=None)

    def connect(self, broker: Broker, *, identifier: str | None = "head-end", persistent: bool = True) -> WanHeadEnd:
        """This head-end on the SMWAN: ``async with head_end.connect(broker) as wan: await wan.send(...)``
        (``WanHeadEnd`` explains ``identifier`` and ``persistent``)."""
        from .wan.headend import WanHeadEnd

        return WanHeadEnd(broker, self, identifier=identifier, persistent=persistent)

    def check(self, response: bytes, at: datetime | None = None) -> tuple[gbcs.Frame, Verdict]:
        """Decode a response or alert and check its signature and MAC (at ``at``).

        Raises:
            gbcs.errors.DecodeError: it does not decode.
        """
        frame = gbcs.decode(response)
        return frame, gbcs.verify(frame, self.keystore, at=at)
