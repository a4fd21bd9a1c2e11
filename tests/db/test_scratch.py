"""Scratch databases: the name swapped as libpq reads the URL, whatever its form."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from psycopg.conninfo import conninfo_to_dict

from tests.conftest import query
from workspace.db.scratch import PREFIX, database_url_for, scratch_database


@pytest.mark.parametrize("url", [
    "postgresql://app:pw@db.example:5432/app",
    "postgresql://app:pw@h1:5432,h2:5433/app?target_session_attrs=read-write",
    "postgresql://app@/app?host=/var/run/postgresql",
    "postgresql://app:pw@db.example/?dbname=app",  # the query's dbname wins in libpq
    "host=db.example dbname=app user=app password='a://b c'",  # "://" inside a value
])
def test_the_database_name_is_swapped_as_libpq_reads_it(url: str) -> None:
    before = conninfo_to_dict(url)
    after = conninfo_to_dict(database_url_for(url, "scratch_1"))
    assert after.pop("dbname") == "scratch_1"
    before.pop("dbname", None)
    assert after == before  # hosts, ports, credentials, options kept


def test_a_scratch_database_from_a_url_naming_its_database_in_the_query(db_url: str) -> None:
    parts = urlsplit(db_url)
    url = parts._replace(path="/", query=f"dbname={parts.path.lstrip('/')}").geturl()
    with scratch_database(url, timeout_s=5) as scratch:
        assert query(scratch, "SELECT current_database()")[0][0].startswith(PREFIX)
