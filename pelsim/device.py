"""Choice of the JAX platform for the CLIs: ``--device cpu|gpu`` (default: what JAX finds).

Nothing in the library forces a platform. ``select`` must run before JAX's first computation
(the CLIs call it right after parsing their arguments); asking for a GPU that JAX cannot see is
an input error that names what JAX found.
"""

from __future__ import annotations

import os

from pelsim.errors import InputError

__all__ = ["select", "describe", "CHOICES"]

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
