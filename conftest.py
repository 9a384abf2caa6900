"""Project-wide pytest options.

Slow physics tests (``@pytest.mark.slow``) always run; by default in a reduced
form that keeps CI under its time budget. ``pytest --full`` runs them at full size.
Tests read the size through the ``full`` fixture.
"""

import os

import pytest

os.environ.setdefault("JAX_PLATFORMS", "cpu")
os.environ.setdefault("MPLBACKEND", "Agg")


def pytest_addoption(parser):
    parser.addoption("--full", action="store_true", default=False,
                     help="run slow physics tests at full size (default: reduced size)")


@pytest.fixture(scope="session")
def full(request) -> bool:
    """True when the slow tests should run at full size."""
    return bool(request.config.getoption("--full"))
