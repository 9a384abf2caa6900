"""Choice of the JAX platform for the CLIs: ``--device cpu|gpu`` (default: what JAX finds).

Nothing in the library forces a platform. ``select`` must run before JAX's first computation
(the CLIs call it right after parsing their arguments); asking for a GPU that JAX cannot see is
an input error that names what JAX found.
"""

from __future__ import annotations

import os

from pelsim.errors import InputError

__all__ = ["select", "describe", "CHOICES", "one_blas_thread", "on_one_blas_thread"]

CHOICES = ("auto", "cpu", "gpu")


def select(device: str | None) -> None:
    """Restrict JAX to ``device`` ("cpu", "gpu"; None or "auto": leave JAX's own choice)."""
    if device in (None, "auto"):
        return
    if device not in CHOICES:
        raise InputError(f"unknown device {device!r} (expected one of {', '.join(CHOICES)})")
    import jax

    try:
        jax.config.update("jax_platforms", "cuda,rocm" if device == "gpu" else "cpu")
        devs = jax.devices()
    except RuntimeError as e:
        found = os.environ.get("JAX_PLATFORMS") or "cpu only"
        raise InputError(
            f"--device {device}: JAX finds no such device ({found}; install a CUDA build with "
            f'pip install -e ".[cuda12]" or ".[cuda13]"): {str(e).splitlines()[0]}'
        ) from None
    if not devs:
        raise InputError(f"--device {device}: JAX finds no such device")


def describe() -> str:
    """One line naming JAX's default backend and devices."""
    import jax

    devs = jax.devices()
    return f"{jax.default_backend()}: {len(devs)} x {devs[0].device_kind}"


def one_blas_thread():
    """Context manager: host BLAS/LAPACK (numpy, scipy, ARPACK) on one thread.

    The host linear algebra of the landscape tools works on small or banded problems (ARPACK
    on the 1D Schroedinger grids of a few 10^3 points, dense Hessians of n ~ 100-800): threaded
    BLAS only spins against the JAX threads there. Measured 2026-12-03 on the 2-core machine
    with another process running: ``dwp_parameters`` of KA DWPs 5-8x faster on one thread,
    bit-identical results; numpy ``eigh`` at n ~ 100-800 up to ~100x. Dask workers already get
    OPENBLAS_NUM_THREADS=1 from their nanny; this covers the CLIs and scripts."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover
        import contextlib

        return contextlib.nullcontext()
    return threadpool_limits(1)


def on_one_blas_thread(fn):
    """Decorator: ``fn`` runs inside :func:`one_blas_thread`."""
    import functools

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        with one_blas_thread():
            return fn(*args, **kwargs)

    return wrapper
