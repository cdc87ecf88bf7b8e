"""API keys: random, shown once, stored as a SHA-256 digest (keys are high-entropy, so a fast digest is enough
and lets a request be authenticated by one indexed lookup)."""

from __future__ import annotations

import hashlib
import hmac
import secrets

KEY_PREFIX = "sp_"


def new_api_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


def hash_api_key(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def same_secret(given: str, expected: str) -> bool:
    return hmac.compare_digest(given.encode("utf-8"), expected.encode("utf-8"))
