"""The fault tests run on the real dev server where they need its visibility store."""

from tests.e2e.conftest import dev_server

__all__ = ["dev_server"]
