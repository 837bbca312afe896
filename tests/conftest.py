"""Fixtures and markers shared by the engine tests (the engine's namespace: devstack/__init__.py)."""

from devstack import ADDON, ROOT  # noqa: F401 - imported from here by the test modules


def pytest_configure(config):
    # Tests that need a service of this machine (the Docker engine, n8n). Pipelines that run
    # the suite inside a hermetic container deselect them with ``-m "not services"``;
    # scripts/test runs everything.
    config.addinivalue_line("markers", "services: needs the Docker engine or an n8n install on this machine")
