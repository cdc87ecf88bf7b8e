"""Loopback fakes of third-party HTTP APIs, driven through the real vendor SDKs in tests."""

from tests.fakes.sendgrid_server import FakeSendGrid
from tests.fakes.twilio_server import FakeTwilio

__all__ = ["FakeSendGrid", "FakeTwilio"]
