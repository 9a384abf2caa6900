"""Choice of the JAX platform for the CLIs: ``--device cpu|gpu`` (default: what JAX finds).

Nothing in the library forces a platform. ``select`` must run before JAX's first computation
(the CLIs call it right after parsing their arguments); asking for a GPU that JAX cannot see is
an input error that names what JAX found.
"""

from __future__ import annotations

import os

from pelsim.errors import InputError

__all__ = [
    "select",
    "describe",
    "CHOICES",
    "one_blas_thread",
    "on_one_blas_thread",
    "xla_flags_for_cores",
    "ynn_flag_known",
]

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


YNN_FLAG = "--xla_cpu_experimental_ynn_fusion_type="


def _cores_seen() -> int:
    n = os.environ.get("NPROC", "")
    if n.isdigit() and int(n) > 0:
        return int(n)
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover (not Linux)
        return os.cpu_count() or 1


def _backend_started() -> bool:
    try:
        from jax._src import xla_bridge

        return bool(xla_bridge._backends)
    except (ImportError, AttributeError):  # pragma: no cover
        return True


def ynn_flag_known() -> bool:
    """Whether the installed jaxlib (>= 0.12) knows the YNN fusion flag (an unknown XLA flag
    aborts the process)."""
    try:
        import jaxlib

        major, minor = (int(x) for x in jaxlib.__version__.split(".")[:2])
    except (ImportError, ValueError):  # pragma: no cover
        return False
    return (major, minor) >= (0, 12)


def xla_flags_for_cores() -> bool:
    """On a process that sees one core, turn off XLA:CPU's YNNPACK fusions (jaxlib >= 0.12) by
    appending ``--xla_cpu_experimental_ynn_fusion_type=`` to XLA_FLAGS. Returns True if it did.

    Why (measured 2026-12-07, 2-core machine, jaxlib 0.12.1, one 12-image NEB of KA N = 270 with
    1124 steps): with XLA's CPU pool of one thread (a pinned Dask worker, ``taskset -c 0``,
    ``NPROC=1``) the *first* execution of each compiled program runs 18-24 s and holds a 5.3 GB
    heap inside ``YnnFusionThunk`` (gdb), the later ones 5 s; without the fusions every execution
    takes 4.7-6.0 s with 0.3 GB. This was the quickstart's 5-6 GB task peaks (docs/landscape.md
    "Memory"). On two threads the fusions are faster (4.2-4.9 s against 5.7-5.9 s), so they stay on
    there. Nothing happens when XLA_FLAGS already names the flag, with PELSIM_YNN_FUSIONS=1, on an
    older jaxlib (an unknown XLA flag aborts the process) or once a JAX backend exists (XLA reads
    its flags when the first backend starts). XLA_FLAGS is part of JAX's compilation-cache key,
    so no cached program carries the other setting."""
    flags = os.environ.get("XLA_FLAGS", "")
    if "xla_cpu_experimental_ynn_fusion_type" in flags or os.environ.get("PELSIM_YNN_FUSIONS") == "1":
        return False
    if _cores_seen() != 1 or _backend_started() or not ynn_flag_known():
        return False
    os.environ["XLA_FLAGS"] = (flags + " " + YNN_FLAG).strip()
    return True


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
