"""The grammar is compiled, all of it: construct falls back to interpreted code without a
word when a construct cannot be compiled (Construct._compileparse), which would cost the
codec its speed. Compiled code calls interpreted constructs as `linkedparsers[...]`."""

from __future__ import annotations

import pytest

from gbcs.grammar import messages

STRUCTURES = ["GeneralSigning", "GeneralCiphering", "GeneralBlockTransfer", "OtherInformation"]


@pytest.mark.parametrize("name", STRUCTURES)
def test_structures_compile_without_interpreted_fallbacks(name) -> None:
    source = getattr(messages, name).source
    assert "linkedparsers[" not in source
    assert "linkedbuilders[" not in source
