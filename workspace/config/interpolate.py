"""`${VAR}` interpolation in the apps' command, cwd and env, as compose does it.

    interpolate("serve --port ${PORT:-8000} --db $DATABASE_URL", {"PORT": "3002"})
    # "serve --port 3002 --db ..."; an undefined variable without default: Undefined

Forms: `$VAR`, `${VAR}`, `${VAR:-default}` (the default also when VAR is empty),
`${VAR-default}` (only when unset), and `$$` for a literal `$`. A default may itself
hold `${OTHER}`. Anything else after a `$` (`$1`, `$(`, a lone `$`) is kept as written,
so shell text passes through. stdlib's string.Template knows no defaults and
python-dotenv's expander no `$VAR` nor `$$`, hence this small parser.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

__all__ = ["Undefined", "interpolate"]

_PATTERN = re.compile(r"""
    \$(?:
      (?P<escaped>\$)
    | (?P<named>[A-Za-z_][A-Za-z0-9_]*)
    | \{(?P<braced>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?-)(?P<default>(?:[^{}]|\{[^{}]*\})*))?\}
    )""", re.VERBOSE)


class Undefined(Exception):
    """A variable without value nor default; `name` is the variable."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.name = name


def interpolate(text: str, variables: Mapping[str, str]) -> str:
    def replace(match: re.Match[str]) -> str:
        if match["escaped"]:
            return "$"
        name = match["named"] or match["braced"]
        value = variables.get(name)
        op = match["op"]
        if op is not None and (value is None or (op == ":-" and value == "")):
            return interpolate(match["default"], variables)
        if value is None:
            raise Undefined(name)
        return value

    return _PATTERN.sub(replace, text)

