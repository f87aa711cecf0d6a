"""Fixtures of the mirror tests. The sandbox ``sb``, its ``clock``, ``sandbox_client`` and
``redis_url`` are the root conftest's."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path

import pytest
from postgres_server import PostgresServer, running_postgres_server

_names = itertools.count()


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    """A fresh SQLite mirror database."""
    return f"sqlite:///{tmp_path / 'awork.db'}"


@pytest.fixture(scope="package")
def postgres() -> Iterator[PostgresServer]:
    """A throw-away PostgreSQL cluster on a free loopback port (skipped when not installed)."""
    with running_postgres_server() as server:
        yield server


@pytest.fixture
async def pg_url(postgres: PostgresServer) -> str:
    """A fresh, empty PostgreSQL database for each test."""
    asyncpg = pytest.importorskip(
        "asyncpg", reason="asyncpg is not installed (awork-async[postgres])"
    )
    name = f"mirror_{next(_names)}"
    conn = await asyncpg.connect(postgres.url())
    try:
        await conn.execute(f"CREATE DATABASE {name}")
    finally:
        await conn.close()
    return postgres.url(name)


@pytest.fixture(params=["sqlite", "postgresql"])
def any_db_url(request: pytest.FixtureRequest) -> str:
    """A fresh mirror database of each kind (the test runs once per database)."""
    if request.param == "sqlite":
        return str(request.getfixturevalue("db_url"))
    return str(request.getfixturevalue("pg_url"))
