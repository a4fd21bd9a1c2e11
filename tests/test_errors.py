"""Guards for the error tree: codes unique, documented in the module and the README."""

from __future__ import annotations

import inspect
from pathlib import Path

from workspace import errors

README = Path(__file__).resolve().parent.parent / "README.md"


def test_codes_and_exit_codes_are_unique() -> None:
    names = [c.name for c in errors.CODES]
    exits = [c.exit_code for c in errors.CODES]
    assert len(set(names)) == len(names) and len(set(exits)) == len(exits)
    assert not set(exits) & {0, 1, 2, 70, 130, 141, 143}
    assert all(n.startswith("PRECHECK_") for n in names)


def test_every_error_class_has_a_listed_code() -> None:
    doc = errors.__doc__ or ""
    for _, cls in inspect.getmembers(errors, inspect.isclass):
        if issubclass(cls, errors.WorkspaceError) and cls is not errors.WorkspaceError:
            assert cls.code_info in errors.CODES
            assert f"{cls.__name__}" in doc and cls.code_info.name in doc


def test_readme_table_lists_every_code_with_its_exit_code() -> None:
    text = README.read_text()
    for code in errors.CODES:
        assert f"| `{code.name}` | {code.exit_code} |" in text, code.name


def test_every_code_is_provoked_and_checked_by_some_test() -> None:
    """Each PRECHECK_* code appears in an assertion of a test outside this file."""
    tests = Path(__file__).resolve().parent
    text = "\n".join(p.read_text() for p in tests.rglob("test_*.py") if p.name != "test_errors.py")
    for code in errors.CODES:
        assert code.name in text, f"no test provokes {code.name}"


def test_an_apps_remedy_names_that_app_not_a_placeholder() -> None:
    failures = [errors.AppStartFailed("web", "nosuchcmd: No such file or directory"),
                errors.AppExited("web", 1, ["boom"]),
                errors.AppNotReady("web", 30, "connection refused")]
    for failure in failures:
        assert "<name>" not in failure.remedy and "<app>" not in failure.remedy, failure.remedy
    assert "apps.web.command or apps.web.cwd" in failures[0].remedy
    assert ".workspace/logs/web.log" in failures[1].remedy
    assert "apps.web.ready_timeout_s" in failures[2].remedy
