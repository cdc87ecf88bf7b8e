"""Slowing clients that keep sending bad API keys, without locking out the agent whose key is good.

Keys are 256-bit random strings, so guessing one is hopeless whatever the rate; what repeated bad keys cost is
load and noise: a script looping on a revoked key. So a client address that sent `limit` bad keys within
`window` seconds gets `429` with `Retry-After` instead of `401` for further bad keys; a good key from the same
address still works (it is looked up first), because offices share one address behind NAT and the agent with a
valid key must not pay for a colleague's stale script. The count lives in the API process:
several API processes each count their own, which only makes the limit per process.
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable


class BadKeyGuard:
    def __init__(self, *, limit: int = 20, window: float = 60.0, clock: Callable[[], float] = time.monotonic,
                 max_clients: int = 10_000) -> None:
        self._limit, self._window, self._clock, self._max_clients = limit, window, clock, max_clients
        self._failures: dict[str, deque[float]] = {}

    def retry_after(self, client: str) -> int | None:
        """Seconds until `client` may try a bad key again, or None while it is under the limit."""
        failures = self._recent(client)
        if failures is None or len(failures) < self._limit:
            return None
        return max(1, math.ceil(failures[0] + self._window - self._clock()))

    def failed(self, client: str) -> None:
        failures = self._recent(client)
        if failures is None:
            if len(self._failures) >= self._max_clients:  # bounded memory under a spray from many addresses
                self._forget_idle()
            failures = self._failures.setdefault(client, deque())
        failures.append(self._clock())
        while len(failures) > self._limit:
            failures.popleft()

    def _recent(self, client: str) -> deque[float] | None:
        failures = self._failures.get(client)
        if failures is None:
            return None
        horizon = self._clock() - self._window
        while failures and failures[0] <= horizon:
            failures.popleft()
        if not failures:
            del self._failures[client]
            return None
        return failures

    def _forget_idle(self) -> None:
        for client in list(self._failures):
            self._recent(client)
        if len(self._failures) >= self._max_clients:  # all still active: drop the oldest half
            oldest = sorted(self._failures, key=lambda c: self._failures[c][-1])
            for client in oldest[: len(oldest) // 2]:
                del self._failures[client]
