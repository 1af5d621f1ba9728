"""Errors of the emulator, in one tree (the codec's own are in ``gbcs/errors.py``).

::

    EmulatorError
    ├── ConfigError      a configuration file or option is wrong: the user's to fix
    └── StoreError       a store on disk cannot be read, written or trusted (permissions,
                         missing files, an existing store in the way)

Each message names the file or option at fault and, where there is one, the fix.
"""

from __future__ import annotations

__all__ = ["ConfigError", "EmulatorError", "StoreError"]


class EmulatorError(Exception):
    """Base of every error the emulator raises on purpose."""


class ConfigError(EmulatorError):
    """A configuration file or option is wrong."""


class StoreError(EmulatorError):
    """A store on disk cannot be read, written or trusted."""
