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


@pytest.fixture(autouse=True, scope="module")
def _release_compiled_programs():
    """Drop JAX's compiled programs after each test module. Every XLA CPU executable maps its
    own code; one process compiling the whole suite's programs reached the kernel's limit of
    memory maps (vm.max_map_count 65530): "Failed to materialize symbols", then MemoryError in
    the last modules (2026-12-03). The persistent compilation cache makes the recompiles cheap."""
    yield
    import jax

    jax.clear_caches()
