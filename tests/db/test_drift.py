"""Comparison on in-memory catalogs: one case per kind of difference."""

from __future__ import annotations

import copy

from workspace.db.catalog import Catalog, Column, Item, Table
from workspace.db.drift import Drift, compare


def catalog() -> Catalog:
    tags = Table("kb.tags", False,
                 {"id": Column("id", "uuid", True, "gen_random_uuid()", "", ""),
                  "name": Column("name", "text", True, None, "", "")},
                 {"tags_pkey": ("p", "PRIMARY KEY (id)")},
                 {"tags_touch": "CREATE TRIGGER tags_touch ..."})
    return Catalog(schemas=["kb"], extensions={"vector": "0.6.2"}, tables={"kb.tags": tags},
                   indexes={"kb.tags_name_idx": ("kb.tags", "CREATE INDEX tags_name_idx ...")},
                   functions={"kb.f()": "CREATE OR REPLACE FUNCTION kb.f() ..."},
                   views={"kb.v": (False, "SELECT 1", True)})


def test_identical_catalogs_have_no_drift() -> None:
    assert compare(catalog(), catalog()) == []


def test_extension_version_alone_is_not_drift() -> None:
    live = catalog()
    live.extensions["vector"] = "0.7.0"
    assert compare(catalog(), live) == []


def test_missing_table_hides_its_own_indexes_and_columns() -> None:
    live = catalog()
    del live.tables["kb.tags"], live.indexes["kb.tags_name_idx"]
    assert compare(catalog(), live) == [Drift("table", "kb.tags", "missing")]


def test_column_type_nullability_and_default_changes_are_described() -> None:
    live = copy.deepcopy(catalog())
    live.tables["kb.tags"].columns["name"] = Column("name", "varchar(5)", False, "'x'::text", "", "")
    (drift,) = compare(catalog(), live)
    assert (drift.kind, drift.name, drift.problem) == ("column", "kb.tags.name", "changed")
    assert drift.detail == ("type varchar(5), expected text; nullable, expected NOT NULL; "
                            "default 'x'::text, expected none")


def test_extra_objects_of_each_kind() -> None:
    live = copy.deepcopy(catalog())
    live.tables["kb.custom_table"] = Table("kb.custom_table", False)
    live.functions["kb.g()"] = "..."
    live.views["kb.mv"] = (True, "SELECT 2", True)
    found = {(d.kind, d.name, d.problem) for d in compare(catalog(), live)}
    assert found == {("table", "kb.custom_table", "extra"), ("function", "kb.g()", "extra"),
                     ("materialized view", "kb.mv", "extra")}
    assert str(Drift("table", "kb.custom_table", "extra")) == \
        "Table kb.custom_table exists but not in migrations (extra)"


def test_ignored_names_cover_the_object_and_what_hangs_off_it() -> None:
    live = copy.deepcopy(catalog())
    live.tables["kb.custom_table"] = Table("kb.custom_table", False)
    live.tables["kb.tags"].columns["scratch"] = Column("scratch", "int", False, None, "", "")
    assert compare(catalog(), live, ignore=["kb.custom_table", "kb.tags.scratch"]) == []


def _grant(table: str) -> Item:
    return Item("grant", f"SELECT ON TABLE {table} TO app", "", f"GRANT SELECT ON TABLE {table} TO app",
                f"REVOKE SELECT ON TABLE {table} FROM app", table)


def test_items_of_a_missing_table_are_its_repair_and_of_an_extra_table_its_drift() -> None:
    want = catalog()
    want.items = {i.key: i for i in (_grant("kb.tags"),)}
    live = copy.deepcopy(want)
    del live.tables["kb.tags"], live.indexes["kb.tags_name_idx"], live.items[_grant("kb.tags").key]
    assert compare(want, live) == [Drift("table", "kb.tags", "missing")]
    live = copy.deepcopy(want)
    del live.items[_grant("kb.tags").key]
    assert compare(want, live) == [Drift("grant", "SELECT ON TABLE kb.tags TO app", "missing")]
    live = copy.deepcopy(want)
    live.tables["kb.custom"] = Table("kb.custom", False)
    live.items[_grant("kb.custom").key] = _grant("kb.custom")
    assert compare(want, live) == [Drift("table", "kb.custom", "extra")]


def test_a_missing_type_names_its_dependents_and_owners_count_only_when_asked() -> None:
    want = catalog()
    want.types["kb.state"] = "'a', 'b'"
    want.tables["kb.tags"].columns["state"] = Column("state", "kb.state", False, None, "", "")
    want.type_dependents["kb.state"] = ["column:kb.tags.state"]
    want.owners = {"TABLE kb.tags": "app_owner"}
    live = copy.deepcopy(want)
    del live.types["kb.state"], live.tables["kb.tags"].columns["state"]
    live.owners = {"TABLE kb.tags": "someone"}
    assert [str(d) for d in compare(want, live)] == [
        "Missing type: kb.state (1 column depends on it)", "Missing column: kb.tags.state"]
    assert Drift("owner", "TABLE kb.tags", "changed",
                 "owned by someone, expected app_owner") in compare(want, live, owners=True)
