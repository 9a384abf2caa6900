"""Periodic geometry of an orthorhombic box: minimum image, displacement functions, wrapping.

The one place where pelsim writes ``d - box * round(d / box)``. Every function works on numpy
arrays (host code: pair lists, identity of minima, file writers) and on JAX arrays or tracers
(jitted kernels), choosing the array library from its arguments; inside ``jax.jit`` a call is
inlined, so the kernels compile to the same program as with the expression written out
(checked on the N = 1000 energy, gradient and Hessian-vector kernels: identical optimised HLO).

Lengths are in sigma_AA; ``box`` holds the d side lengths (or one length for a cubic box).
jax-md's ``space.periodic`` is the MD engine's displacement (:mod:`pelsim.neighbors`,
:mod:`pelsim.md`); the landscape tools need displacements that are hashable static arguments
cached by box (:func:`periodic_displacement`) and numpy versions, hence this module.
"""

from __future__ import annotations

from functools import lru_cache

import jax
import jax.numpy as jnp
import numpy as np

__all__ = ["minimum_image", "wrap", "free_displacement", "periodic_displacement"]


def _xp(*arrays):
    """jax.numpy if any argument is a JAX array (or tracer), else numpy."""
    return jnp if any(isinstance(a, jax.Array) for a in arrays) else np


def minimum_image(d, box, inv_box=None):
    """The shortest periodic image ``d - box * round(d / box)`` of displacements d (..., dim).

    ``inv_box`` (1 / box, precomputed) replaces the division by a multiplication: the hot
    per-coordinate loops of the quench and the cell lists pass it (same values up to one
    rounding of 1 / box; they have always used it). Ties (|d| = box / 2) round half to even.
    """
    xp = _xp(d, box, inv_box)
    if inv_box is None:
        return d - box * xp.round(d / box)
    return d - box * xp.round(d * inv_box)


def wrap(R, box):
    """Positions R (..., dim) mapped into [0, box) per coordinate.

    ``mod`` can round a tiny negative coordinate up to exactly ``box``; such a coordinate is
    set to 0 (the same point), so that the result is always inside the half-open box.
    """
    xp = _xp(R, box)
    R = xp.mod(R, box)
    return xp.where(R >= box, 0.0, R)


def free_displacement(Ra, Rb):
    """Rb - Ra without periodic boundaries."""
    return Rb - Ra


def periodic_displacement(box):
    """``disp(Ra, Rb)``: the minimum-image Rb - Ra in an orthorhombic box of lengths ``box`` (d,).

    Cached by box, so repeated calls in the same box return the same function: jitted programs
    that take it as a static argument (the NEB) compile once per box.
    """
    return _periodic_displacement(tuple(float(b) for b in np.ravel(box)))


@lru_cache(maxsize=64)
def _periodic_displacement(box_t):
    box = jnp.asarray(box_t, dtype=jnp.float64)

    def disp(Ra, Rb):
        return minimum_image(Rb - Ra, box)

    return disp
