"""Fixtures shared across test tiers: a throwaway PostgreSQL server for the index tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support import postgres


@pytest.fixture(scope="session")
def pg_server() -> Iterator[postgres.PgServer]:
    reason = postgres.available()
    if reason is not None:
        pytest.skip(reason)
    server = postgres.PgServer()
    try:
        server.start()
        yield server
    finally:
        server.stop()


@pytest.fixture(params=["sqlite", "postgresql"])
def index_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> str:
    """An empty index database of each engine."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path_factory.mktemp('index') / 'index.sqlite'}"
    server: postgres.PgServer = request.getfixturevalue("pg_server")
    return server.create_database()
