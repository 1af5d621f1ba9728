"""Imports point one way, hardware -> emulator -> gbcs, and the codec does no I/O of its own:
no asyncio, sockets or subprocesses anywhere under gbcs/. From zigpy the codec takes only
its ZCL types and cluster definitions (zigpy.types, zigpy.zcl), never its radio stack."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FORBIDDEN = {
    "gbcs": {"emulator", "hardware", "asyncio", "socket", "subprocess", "aiomqtt", "zigpy"},
    "emulator": {"hardware"},
}
ALLOWED = {"gbcs": ("zigpy.types", "zigpy.zcl")}


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
    return names


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_imports_point_one_way(package) -> None:
    files = sorted((ROOT / package).rglob("*.py"))
    assert files
    allowed = ALLOWED.get(package, ())
    for path in files:
        wrong = {
            name for name in imported_modules(path)
            if name.split(".")[0] in FORBIDDEN[package]
            and not any(name == a or name.startswith(a + ".") for a in allowed)
        }  # fmt: skip
        assert not wrong, f"{path.relative_to(ROOT)} imports {sorted(wrong)}"
