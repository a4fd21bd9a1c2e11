"""The project is found from any of its subdirectories, as git finds `.git`."""

from __future__ import annotations

from pathlib import Path

from workspace.config.models import load_config
from workspace.project.root import find_root


def test_the_nearest_config_up_the_tree_is_the_project(tmp_path: Path) -> None:
    (tmp_path / "config.yaml").write_text("embedded:\n  port: 5999\n")
    deep = tmp_path / "src" / "pkg"
    deep.mkdir(parents=True)
    assert find_root(deep) == tmp_path.resolve()
    assert find_root(tmp_path) == tmp_path.resolve()


def test_without_a_config_the_starting_directory_is_the_project(tmp_path: Path) -> None:
    (tmp_path / ".git").mkdir()
    inner = tmp_path / "sub"
    inner.mkdir()
    assert find_root(inner) == inner.resolve()


def test_a_config_above_the_repository_is_not_ours(tmp_path: Path) -> None:
    (tmp_path / "config.yaml").write_text("{}\n")  # some other tool's, above the repository
    repo = tmp_path / "repo"
    (repo / ".git").mkdir(parents=True)
    (repo / "docs").mkdir()
    assert find_root(repo / "docs") == (repo / "docs").resolve()


def test_load_config_from_a_subdirectory_reads_the_projects_file(
        tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "config.yaml").write_text("embedded:\n  port: 5999\n")
    (tmp_path / "apps" / "api").mkdir(parents=True)
    monkeypatch.chdir(tmp_path / "apps" / "api")
    config = load_config(environ={})
    assert config.project_dir == tmp_path.resolve()
    assert config.embedded.port == 5999
    assert config.state_dir == tmp_path.resolve() / ".workspace"
    assert load_config(tmp_path / "apps", environ={}).project_dir == (tmp_path / "apps").resolve()
