"""Per-hub credentials on the SMWAN's broker, and the ACL that keeps each hub to its own topics.

Accounts (our choice; GBCS leaves the SMWAN's transport to the WAN provider):

* a **hub** logs in as its CHF's EUI-64 in 16 upper-case hex digits, the same string as in its
  topics (``hub_username``);
* a **head-end** logs in under a name of its own (``head-end`` by default), which must not look
  like a hub's and may not hold MQTT's wildcard or separator characters.

What each may do (``HUB_ACL``, ``HEAD_END_ACL``; ``acl_text`` for mosquitto)::

    hub <EUI>   read   smwan/<EUI>/down            commands for it     (mosquitto: pattern, %u)
                read   smwan/<EUI>/control         the emulation's control plane (control.py)
                write  smwan/<EUI>/control/reply   ... and its replies
                write  smwan/<EUI>/up              responses and alerts
                write  smwan/<EUI>/state           its state and events, JSON, retained
    head-end    read   smwan/+/up, smwan/+/state, smwan/+/control/reply
                write  smwan/+/down, smwan/+/control

A hub's credentials are thus also what serves its control topic: one connection per hub.
Subscriptions are not refused: mosquitto's ACL file checks ``read`` as each message is
delivered, so a subscription to another hub's topic is granted and receives nothing
(mosquitto 2.0.11, as test_acl.py shows; its author on eclipse-mosquitto/mosquitto#1318: "the
'publish read' acl check will catch the messages later on").

Passwords are random (``secrets``) unless ``generate`` is given a ``secret``: then each is an
HMAC of the username under it, so every emulated hub process can compute its own from one
shared secret instead of reading a credentials file, and the broker's files can be rebuilt at
any time. Either way the broker stores only salted hashes: ``write_mosquitto_files`` writes
mosquitto's password file format itself (PBKDF2-SHA512, below), so no ``mosquitto_passwd`` is
needed.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import re
import secrets
import stat
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path

from ..errors import ConfigError
from .link import Broker

__all__ = [
    "HEAD_END_ACL",
    "HUB_ACL",
    "HubAuth",
    "acl_text",
    "generate",
    "hub_username",
    "mosquitto_password_hash",
    "write_mosquitto_files",
]

_FORMAT = 1  # the "format" of a saved HubAuth file
_HUB = re.compile(r"[0-9A-F]{16}")
_HEAD_END = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")

# (access, topic) with {eui} for the hub's own; mosquitto's %u in the ACL file.
HUB_ACL: tuple[tuple[str, str], ...] = (
    ("read", "smwan/{eui}/down"),
    ("read", "smwan/{eui}/control"),
    ("write", "smwan/{eui}/control/reply"),
    ("write", "smwan/{eui}/up"),
    ("write", "smwan/{eui}/state"),
)
HEAD_END_ACL: tuple[tuple[str, str], ...] = (
    ("read", "smwan/+/up"),
    ("read", "smwan/+/state"),
    ("read", "smwan/+/control/reply"),
    ("write", "smwan/+/down"),
    ("write", "smwan/+/control"),
)

# mosquitto_passwd's PBKDF2-SHA512 ("$7$"): 101 iterations and a 12-byte salt are its
# defaults (what mosquitto_passwd 2.0.11 writes: user:$7$101$<b64 salt>$<b64 64-byte hash>,
# standard base64 with padding; a test has mosquitto accept ours).
_ITERATIONS = 101
_SALT_BYTES = 12


def hub_username(chf_eui: bytes) -> str:
    """A hub's broker username: its CHF's EUI-64 as 16 upper-case hex digits (as in its topics).

    Raises:
        ValueError: ``chf_eui`` is not 8 bytes.
    """
    chf_eui = bytes(chf_eui)
    if len(chf_eui) != 8:
        raise ValueError(f"a CHF's EUI-64 is 8 bytes, not {len(chf_eui)}")
    return chf_eui.hex().upper()


@dataclass
class HubAuth:
    """The SMWAN broker's accounts: ``hubs`` and ``head_ends``, each username -> password.

    Passwords are secrets: this object's repr leaves them out, and ``save`` writes mode 0600.
    """

    hubs: dict[str, str] = field(default_factory=dict)
    head_ends: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name in self.hubs:
            if not _HUB.fullmatch(name):
                raise ConfigError(f"hub account {name!r}: a hub's username is its CHF's EUI-64 in 16 upper-case hex digits")
        for name in self.head_ends:
            if not _HEAD_END.fullmatch(name) or _HUB.fullmatch(name.upper()):
                raise ConfigError(f"head-end account {name!r}: use letters, digits, '.', '_' or '-' (at most 64), "
                                  "and not 16 hex digits (a hub's)")  # fmt: skip
        for name in self.hubs.keys() & self.head_ends.keys():
            raise ConfigError(f"account {name!r} is both a hub and a head-end")
        for name, password in {**self.hubs, **self.head_ends}.items():
            if not isinstance(password, str) or not password or "\n" in password:
                raise ConfigError(f"account {name!r}: a password is a non-empty string on one line")

    def __repr__(self) -> str:
        return f"HubAuth(hubs={len(self.hubs)}, head_ends={sorted(self.head_ends)})"

    @property
    def accounts(self) -> dict[str, str]:
        """Every account, hubs and head-ends, username -> password."""
        return {**self.hubs, **self.head_ends}

    def broker_for(self, account: bytes | str, broker: Broker) -> Broker:
        """``broker`` with an account's credentials.

        Args:
            account: a hub's CHF EUI-64 (bytes) or a head-end's name (str).
            broker: where the broker listens.

        Raises:
            KeyError: no such account.
        """
        name = hub_username(account) if isinstance(account, bytes | bytearray) else account
        accounts = self.hubs if isinstance(account, bytes | bytearray) else self.head_ends
        if name not in accounts:
            raise KeyError(f"no {'hub' if accounts is self.hubs else 'head-end'} account {name}")
        return replace(broker, username=name, password=accounts[name])

    def save(self, path: Path) -> None:
        """Write the accounts as JSON, mode 0600 (replacing the file whole)."""
        path = Path(path)
        text = json.dumps({"format": _FORMAT, "hubs": self.hubs, "head_ends": self.head_ends}, indent=1, sort_keys=True)
        _write_private(path, text + "\n")

    @classmethod
    def load(cls, path: Path) -> HubAuth:
        """Read what ``save`` wrote.

        Raises:
            ConfigError: the file is missing or unreadable, readable by others, not JSON, or
                not accounts (the message names the file and what is wrong).
        """
        path = Path(path)
        try:
            mode = stat.S_IMODE(path.stat().st_mode)
            text = path.read_text()
        except OSError as error:
            raise ConfigError(f"{path}: cannot read the SMWAN credentials: {error.strerror}") from None
        if mode & 0o077:
            raise ConfigError(f"{path} has mode {mode:04o}: it holds passwords and must be 0600 (chmod 600 {path})")
        try:
            data = json.loads(text)
        except json.JSONDecodeError as error:
            raise ConfigError(f"{path}: not JSON ({error})") from None
        if not isinstance(data, dict) or data.get("format") != _FORMAT:
            raise ConfigError(f"{path}: not a SMWAN credentials file (format {_FORMAT})")
        hubs, head_ends = data.get("hubs"), data.get("head_ends")
        for key, value in (("hubs", hubs), ("head_ends", head_ends)):
            if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
                raise ConfigError(f"{path}: {key!r} must map usernames to password strings")
        try:
            return cls(hubs=dict(hubs), head_ends=dict(head_ends))
        except ConfigError as error:
            raise ConfigError(f"{path}: {error}") from None


def generate(hubs: Iterable[bytes], head_ends: Iterable[str] = ("head-end",), *,
             secret: bytes | None = None) -> HubAuth:  # fmt: skip
    """Accounts for ``hubs`` (CHF EUI-64s) and ``head_ends`` (names).

    Args:
        secret: None: random passwords (``secrets.token_urlsafe``, 128 bits). Bytes (at least
            16): each password is HMAC-SHA256(secret, username), base64url: the same secret
            always gives the same passwords.

    Raises:
        ConfigError: a head-end name is not allowed, or ``secret`` is too short.
    """
    if secret is not None and len(secret) < 16:
        raise ConfigError("an SMWAN credentials secret must be at least 16 bytes")

    def password(username: str) -> str:
        if secret is None:
            return secrets.token_urlsafe(16)
        digest = hmac.new(secret, b"smwan-password:" + username.encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()

    hub_names = [hub_username(chf) for chf in hubs]
    return HubAuth(hubs={name: password(name) for name in hub_names},
                   head_ends={name: password(name) for name in head_ends})  # fmt: skip


def mosquitto_password_hash(password: str, *, salt: bytes | None = None, iterations: int = _ITERATIONS) -> str:
    """A password as mosquitto's password file holds it: ``$7$<iterations>$<salt>$<hash>``
    (PBKDF2-HMAC-SHA512, base64; a random 12-byte salt unless given)."""
    salt = secrets.token_bytes(_SALT_BYTES) if salt is None else salt
    digest = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, iterations)
    return f"$7${iterations}${base64.b64encode(salt).decode()}${base64.b64encode(digest).decode()}"


def acl_text(auth: HubAuth) -> str:
    """The text of mosquitto's ACL file for ``auth``: ``pattern`` lines (``%u``, the
    username) hold every hub to its own topics, a ``user`` block per head-end gives it all."""
    lines = ["# SMWAN ACL, written by smets-emu (emulator/wan/auth.py). Hubs: their own topics."]
    lines += [f"pattern {access} {topic.format(eui='%u')}" for access, topic in HUB_ACL]
    for name in sorted(auth.head_ends):
        lines += ["", f"user {name}"]
        lines += [f"topic {access} {topic}" for access, topic in HEAD_END_ACL]
    return "\n".join(lines) + "\n"


def write_mosquitto_files(auth: HubAuth, directory: Path) -> tuple[Path, Path]:
    """Write mosquitto's password file (``passwords``) and ACL file (``acl``) in ``directory``,
    both mode 0600, replacing any there.

    Returns:
        (password_file, acl_file): for mosquitto's ``password_file`` and ``acl_file``.
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    password_file, acl_file = directory / "passwords", directory / "acl"
    _write_private(password_file, "".join(f"{name}:{mosquitto_password_hash(password)}\n"
                                          for name, password in sorted(auth.accounts.items())))  # fmt: skip
    _write_private(acl_file, acl_text(auth))
    return password_file, acl_file


def _write_private(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` with mode 0600 from the start: a new file renamed into place."""
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(4)}")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(descriptor, "w") as file:
            file.write(text)
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
