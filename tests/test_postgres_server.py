"""The throwaway PostgreSQL server the gradebook tests run on (tests/pg_server.py)."""

from __future__ import annotations

import os

import pytest
import sqlalchemy as sa

from tests import pg_server
from tests.pg_server import PostgresServer, postgres_server, postgres_url  # noqa: F401


def test_fresh_databases_hold_tables_and_are_separate(postgres_url, postgres_server):  # noqa: F811
    engine = sa.create_engine(postgres_url)
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE t (k text PRIMARY KEY, v integer)"))
        conn.execute(sa.text("INSERT INTO t VALUES ('a', 1), ('b', 41)"))
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT sum(v) FROM t")).scalar() == 42
        assert conn.execute(sa.text("SHOW listen_addresses")).scalar() == ""  # socket only
        assert conn.dialect.driver == "psycopg"
    engine.dispose()
    other = sa.create_engine(postgres_server.create_database("other_db"))
    assert "t" not in sa.inspect(other).get_table_names()
    other.dispose()


def test_start_connect_stop_removes_everything():
    pg_server.require_server()
    with PostgresServer() as server:
        root = server.root
        assert (root / ".s.PGSQL.5432").is_socket()
        engine = sa.create_engine(server.url())
        with engine.connect() as conn:
            user = conn.execute(sa.text("SELECT current_user")).scalar()
        engine.dispose()
        assert user == pg_server.SUPERUSER
        postmaster = int((server.data / "postmaster.pid").read_text().split()[0])
        if os.geteuid() == 0:  # postgres refuses root: the server runs as another user
            assert os.stat(f"/proc/{postmaster}").st_uid != 0
    assert not root.exists()
    with pytest.raises(sa.exc.OperationalError):
        sa.create_engine(server.url()).connect()


def test_a_missing_server_names_the_fix(monkeypatch):
    monkeypatch.setattr(pg_server, "find_bindir", lambda: None)
    with pytest.raises(pg_server.ServerMissing, match=r"make setup.*apt-get install postgresql"):
        PostgresServer()
    # Caught as BaseException: a skip escaping here would itself pass as a skipped test
    monkeypatch.setenv("CI", "true")
    with pytest.raises(BaseException) as outcome:
        pg_server.require_server()
    assert outcome.type is pytest.fail.Exception and "CI is set" in str(outcome.value)
    monkeypatch.delenv("CI")
    with pytest.raises(BaseException) as outcome:
        pg_server.require_server()
    assert outcome.type is pytest.skip.Exception
    assert "apt-get install postgresql" in str(outcome.value)
