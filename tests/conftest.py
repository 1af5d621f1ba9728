"""Shared fixtures. The reference corpus (../shared/rtds, beside the repository) is the truth
the codec is tested against; it is read in place and never copied. ``mosquitto`` is a broker
of the test's own (``emulator.wan.mosquitto``), skipped with a printed reason where mosquitto
is not installed."""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

from emulator.wan.mosquitto import MosquittoProcess, find_mosquitto
from gbcs.keystore import InMemoryKeyStore

RTDS = Path(os.environ.get("SMETS_EMU_RTDS", Path(__file__).resolve().parents[2] / "shared" / "rtds"))
CORPUS_FILES = sorted((RTDS / "messages").glob("*/*.HEX"))
# A collection error, never a silent skip: without the corpus the suite proves nothing.
assert CORPUS_FILES, f"no reference corpus at {RTDS} (set SMETS_EMU_RTDS to its directory)"

# Bounded fuzzing: CI runs the "ci" profile; HYPOTHESIS_PROFILE=deep searches longer.
settings.register_profile("ci", max_examples=1000, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])  # fmt: skip
settings.register_profile("deep", max_examples=20_000, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])  # fmt: skip
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


def corpus_id(path: Path) -> str:
    return f"{path.parent.name}/{path.name}"


def read_corpus_file(path: Path) -> bytes:
    return bytes.fromhex(path.read_text())


@pytest.fixture(scope="session")
def keystore() -> InMemoryKeyStore:
    return InMemoryKeyStore.from_directory(RTDS / "keystore")


@pytest.fixture(scope="session")
def corpus() -> dict[str, bytes]:
    """Every corpus message by ``folder/file`` name."""
    return {corpus_id(path): read_corpus_file(path) for path in CORPUS_FILES}


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
