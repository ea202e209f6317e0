"""Fixtures the reliability tests share with other suites."""

from tests.serving.conftest import make_client

__all__ = ["make_client"]  # the API on the small real model, for the fault tests
