"""No piece of the package's code is written twice: a run of 6 identical lines (blank
lines, comments and import lists aside) stands in one place only. The workplace's
`duplicates` tool also finds same-shape pairs; this is the part a test can hold without
it, on a machine with only Python and pip."""

from __future__ import annotations

from pathlib import Path

import workspace

PACKAGE = Path(workspace.__file__).parent
RUN = 6


def _code_lines(text: str) -> list[tuple[int, str]]:
    lines = [(n, line.strip()) for n, line in enumerate(text.splitlines(), 1)]
    return [(n, line) for n, line in lines if line and not line.startswith("#")]


def _is_import_list(window: tuple[str, ...]) -> bool:
    return all(line.startswith(("from ", "import ", ")", "(")) or line.endswith(",")
               for line in window)


def copies(sources: dict[str, str], run: int = RUN) -> list[tuple[str, str]]:
    """Pairs of places ("file:line") where the same `run` code lines stand."""
    first: dict[tuple[str, ...], str] = {}
    found = []
    for name, text in sorted(sources.items()):
        lines = _code_lines(text)
        for k in range(len(lines) - run + 1):
            window = tuple(line for _, line in lines[k:k + run])
            if _is_import_list(window):
                continue
            place = f"{name}:{lines[k][0]}"
            if window in first:
                found.append((first[window], place))
            else:
                first[window] = place
    return found


def test_no_code_of_the_package_is_written_twice() -> None:
    sources = {str(p.relative_to(PACKAGE)): p.read_text(encoding="utf-8")
               for p in PACKAGE.rglob("*.py")}
    assert copies(sources) == []


def test_a_copy_is_found() -> None:
    """The check can fail: the same six lines in two modules."""
    body = "".join(f"x{n} = compute({n})\n" for n in range(6))
    assert copies({"a.py": "def f():\n" + body, "b.py": "# other\n" + body}) == [
        ("a.py:2", "b.py:2")]
