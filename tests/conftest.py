"""Fixtures: a fresh migrated database per test (SQLite, or PostgreSQL with TEST_DATABASE=postgresql), a fresh
time-skipping Temporal environment per test (skipped time is global to one environment), loopback providers."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from pathlib import Path
from typing import cast

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from config import venv_binary
from db.session import create_engine_for, create_session_factory
from tests.dbtools import DatabaseKind, make_database
from tests.fakes import FakeSendGrid, FakeTwilio

DATABASE_KIND = cast(DatabaseKind, os.environ.get("TEST_DATABASE", "sqlite"))

# The SDK waits 5 s for a server it starts; a loaded CI machine (the UI server above all) can take longer.
SERVER_STARTUP = timedelta(seconds=60)


@pytest.fixture
def database_url(tmp_path: Path) -> Iterator[str]:
    url, cleanup = make_database(DATABASE_KIND, tmp_path)
    yield url
    cleanup()


@pytest.fixture
async def sessions(database_url: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = create_engine_for(database_url)
    yield create_session_factory(engine)
    await engine.dispose()


@pytest.fixture
async def env() -> AsyncIterator[WorkflowEnvironment]:
    environment = await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=venv_binary("temporal-test-server"), data_converter=pydantic_data_converter,
        test_server_startup_timeout=SERVER_STARTUP)
    yield environment
    await environment.shutdown()


@pytest.fixture
def twilio() -> Iterator[FakeTwilio]:
    with FakeTwilio() as fake:
        yield fake


@pytest.fixture
def sendgrid() -> Iterator[FakeSendGrid]:
    with FakeSendGrid(api_keys=["SG.test-key"]) as fake:
        yield fake
