"""`${VAR}` interpolation, as compose does it."""

from __future__ import annotations

import pytest

from workspace.config.interpolate import Undefined, interpolate

VARS = {"PORT": "3002", "EMPTY": "", "HOST": "db"}


@pytest.mark.parametrize(("text", "expected"), [
    ("python3 -m http.server $PORT", "python3 -m http.server 3002"),
    ("--port=${PORT}", "--port=3002"),
    ("${MISSING:-8000}", "8000"),
    ("${EMPTY:-fallback}", "fallback"),
    ("${EMPTY-fallback}", ""),
    ("${MISSING-x}", "x"),
    ("${MISSING:-${HOST}:${PORT}}", "db:3002"),
    ("costs $$5 and $${PORT}", "costs $5 and ${PORT}"),
    ("awk '{print $1}' $(pwd) $", "awk '{print $1}' $(pwd) $"),
])
def test_variables_are_filled_as_compose_fills_them(text: str, expected: str) -> None:
    assert interpolate(text, VARS) == expected


def test_an_undefined_variable_without_default_names_it() -> None:
    with pytest.raises(Undefined) as caught:
        interpolate("x ${NOPE} y", VARS)
    assert caught.value.name == "NOPE"
