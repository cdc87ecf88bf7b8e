"""The Temporal client every process uses: the pydantic data converter, the configured namespace."""

from __future__ import annotations

from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter

from config import Settings


async def connect(settings: Settings, *, lazy: bool = False) -> Client:
    """`lazy` (the API's choice): connect on first use, so the API starts and answers 503 while Temporal is down,
    and reconnects by itself when it is back; the worker connects at once and is restarted if it cannot."""
    return await Client.connect(settings.temporal_address, namespace=settings.temporal_namespace,
                                data_converter=pydantic_data_converter, lazy=lazy)
