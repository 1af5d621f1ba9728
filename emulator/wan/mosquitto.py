"""A mosquitto of our own: Debian's ``mosquitto`` binary run as a child process on a loopback
port, with the settings the project ships (``smwan.conf`` in this package) and, optionally,
per-hub credentials and an ACL (``auth.py``).

For tests and for a laptop with mosquitto installed; a production broker is configured by its
operator (``docker/mosquitto/smwan.conf`` is the same settings file). Rules:

* Everything lives in the directory it is given: the configuration, the persistence file
  (``mosquitto.db``: sessions and queued messages survive ``restart()``), the password and
  ACL files, and mosquitto's log (``mosquitto.log``, which a failed start quotes).
* The process is ours: ``stop()`` ends it by its PID and waits for it; nothing else is
  touched. A ``with`` block stops it on the way out.
"""

from __future__ import annotations

import getpass
import shutil
import socket
import subprocess
import time
from importlib.resources import files
from pathlib import Path
from types import TracebackType
from typing import IO, TYPE_CHECKING

from ..errors import EmulatorError
from .link import Broker

if TYPE_CHECKING:
    from .auth import HubAuth

__all__ = ["SHIPPED_CONFIG", "MosquittoError", "MosquittoProcess", "find_mosquitto"]

# The one source of the SMWAN's mosquitto settings, shipped inside the package so an
# installed smets-emu finds it; docker/mosquitto/smwan.conf is a copy a test keeps equal.
SHIPPED_CONFIG: Path = Path(str(files(__package__).joinpath("smwan.conf")))

_DEBIAN_PATH = Path("/usr/sbin/mosquitto")  # not on a non-root user's PATH on Debian
_START_TIMEOUT = 10.0
_STOP_TIMEOUT = 10.0


class MosquittoError(EmulatorError):
    """mosquitto is missing, or would not start; ``log`` holds what it printed.

    (An ``EmulatorError`` of its own rather than ``LinkDown``: the broker did not fail under a
    running link, it never came up, and the fix is in its configuration or on the host.)
    """

    def __init__(self, detail: str, *, log: str = "") -> None:
        super().__init__(f"{detail}\n{log}".rstrip())
        self.detail, self.log = detail, log


def find_mosquitto() -> str | None:
    """The path of the ``mosquitto`` binary (on ``PATH``, else Debian's ``/usr/sbin``), or None."""
    found = shutil.which("mosquitto")
    if found is None and _DEBIAN_PATH.is_file():
        found = str(_DEBIAN_PATH)
    return found


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class MosquittoProcess:
    """A mosquitto of our own on a loopback port.

    ``with MosquittoProcess(tmp_path) as mosquitto: link = HubLink(premises, mosquitto.broker)``.

    Args:
        directory: where its configuration, persistence, password, ACL and log files go
            (created if missing).
        port: the loopback port; default a free one, chosen once so that a ``restart()``
            comes back where clients look for it.
        stock: run with mosquitto's defaults instead of the shipped SMWAN settings (to show
            what those settings prevent). Persistence stays on either way.
        auth: per-hub and head-end accounts: anonymous clients are then refused and every
            account held to ``auth.py``'s ACL. ``broker`` stays without credentials; take
            an account's from ``auth.broker_for``.
    """

    def __init__(self, directory: Path, *, port: int | None = None, stock: bool = False,
                 auth: HubAuth | None = None) -> None:  # fmt: skip
        self.directory = Path(directory)
        self._chosen_port = port is None
        self.port = _free_port() if port is None else port
        self.stock, self.auth = stock, auth
        self.config = self.directory / "mosquitto.conf"
        self.log_file = self.directory / "mosquitto.log"
        self.process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    @property
    def broker(self) -> Broker:
        """Where it listens (127.0.0.1, ``port``), with no credentials."""
        return Broker(host="127.0.0.1", port=self.port)

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def start(self) -> None:
        """Start mosquitto and return once its port accepts connections.

        Raises:
            MosquittoError: mosquitto is not installed, exited (its log says why: a bad
                configuration, a port in use), or did not listen within 10 s.
        """
        if self.running:
            return
        binary = find_mosquitto()
        if binary is None:
            raise MosquittoError("mosquitto is not installed (Debian: apt-get install mosquitto)")
        for attempt in range(3):
            try:
                self._start_once(binary)
                self._chosen_port = False
                return
            except MosquittoError as error:
                # Another process took the free port between our probe and mosquitto's bind:
                # take another, but only before the first start (clients may know this port).
                if not (self._chosen_port and "Address already in use" in error.log and attempt < 2):
                    raise
                self.port = _free_port()
        raise AssertionError("unreachable")

    def _start_once(self, binary: str) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        self.config.write_text(self._config_text())
        self._log = self.log_file.open("ab")
        start = self._log.tell()
        self.process = subprocess.Popen([binary, "-c", str(self.config)], stdin=subprocess.DEVNULL,
                                        stdout=self._log, stderr=subprocess.STDOUT)  # fmt: skip
        # Ready: the port accepts and it is mosquitto that listens there, which its log says
        # ("mosquitto version 2.0.11 running", after it opened its listeners; an older one
        # that never says so is taken once the port has accepted for half a second).
        deadline = time.monotonic() + _START_TIMEOUT
        accepting_since: float | None = None
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                code = self.process.returncode
                self._forget()
                raise MosquittoError(f"mosquitto exited with status {code} on start ({self.config})",
                                     log=self._read_log(start))  # fmt: skip
            with socket.socket() as probe:
                accepting = probe.connect_ex(("127.0.0.1", self.port)) == 0
            if accepting:
                now = time.monotonic()
                accepting_since = accepting_since or now
                if " running" in self._read_log(start) or now - accepting_since > 0.5:
                    return
            time.sleep(0.02)
        self.stop()
        raise MosquittoError(f"mosquitto did not listen on 127.0.0.1:{self.port} within {_START_TIMEOUT:.0f} s",
                             log=self._read_log(start))  # fmt: skip

    def stop(self) -> None:
        """Stop it (SIGTERM, so it saves its sessions; SIGKILL after 10 s) and wait for it.
        Does nothing when it is not running."""
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(_STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._forget()

    def restart(self) -> None:
        """Stop and start again on the same port; persistent sessions and their queued
        messages come back from ``mosquitto.db``."""
        self.stop()
        self.start()

    def __enter__(self) -> MosquittoProcess:
        self.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 traceback: TracebackType | None) -> None:  # fmt: skip
        self.stop()

    def __repr__(self) -> str:
        state = f"pid {self.process.pid}" if self.running and self.process else "stopped"
        return f"<MosquittoProcess 127.0.0.1:{self.port} {state} in {self.directory}>"

    def _config_text(self) -> str:
        lines = [
            f"listener {self.port} 127.0.0.1",
            # Started as root, mosquitto would drop to the "mosquitto" user, who cannot write here.
            f"user {getpass.getuser()}",
            f"persistence_location {self.directory}/",
            "persistence true",
            "log_dest stderr",
        ]
        if self.auth is None:
            lines.append("allow_anonymous true")
        else:
            from .auth import write_mosquitto_files

            password_file, acl_file = write_mosquitto_files(self.auth, self.directory)
            lines += ["allow_anonymous false", f"password_file {password_file}", f"acl_file {acl_file}"]
        if not self.stock:
            lines += ["", SHIPPED_CONFIG.read_text()]
        return "\n".join(lines) + "\n"

    def _read_log(self, start: int) -> str:
        with self.log_file.open("rb") as log:
            log.seek(start)
            return log.read().decode(errors="replace").strip()

    def _forget(self) -> None:
        self.process = None
        if self._log is not None:
            self._log.close()
            self._log = None
