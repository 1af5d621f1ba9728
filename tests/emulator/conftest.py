"""Fixtures the emulator's tests share: a mosquitto of the test's own
(``emulator.wan.mosquitto``), skipped with a printed reason where mosquitto is not installed."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest

from emulator.wan.mosquitto import MosquittoProcess, find_mosquitto

NO_MOSQUITTO = "mosquitto is not installed (scripts/install-system-deps test installs it)"


@pytest.fixture
def mosquitto(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[MosquittoProcess]:
    """A started mosquitto in ``tmp_path`` with the shipped settings, stopped after the test.

    Parametrise it indirectly for another kind: ``True`` is stock mosquitto
    (``MosquittoProcess(stock=True)``), a mapping is ``MosquittoProcess``'s keyword arguments
    (``{"auth": auth}``).
    """
    if find_mosquitto() is None:
        print(NO_MOSQUITTO)
        pytest.skip(NO_MOSQUITTO)
    param = getattr(request, "param", False)
    options = dict(param) if isinstance(param, Mapping) else {"stock": bool(param)}
    with MosquittoProcess(tmp_path / "mosquitto", **options) as broker:
        yield broker
