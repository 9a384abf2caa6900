"""jax-md neighbor lists for multi-species LJ with overflow checks and reallocation.

The list cutoff is the largest pair cutoff r_c,max plus a skin (``dr_threshold`` in jax-md);
per-pair cutoffs are applied in the energy (:func:`pelsim.potentials.neighbor_list_energy`).
jax-md rebuilds the list inside ``update`` only when a particle moved more than skin/2.
A list whose capacity overflowed is silently wrong (jax-md issues #165, #399), so
:class:`NeighborList` callers check ``did_buffer_overflow`` after every jitted chunk and
then reallocate from the positions AFTER the failed chunk (reallocating from the start
repeats the overflow forever, /work/shared/MEASURED.md) and redo the chunk.

Default format OrderedSparse (each pair once, i<j) without a cell list at small N, with a
cell list above ``CELL_LIST_MIN_N``; chosen by measurement (benchmarks/bench_md.py).
"""

from __future__ import annotations

import numpy as np

from pelsim.errors import InputError
from pelsim.models import load_model

__all__ = ["make_neighbor_fn", "allocate", "CELL_LIST_MIN_N", "DEFAULT_SKIN"]

CELL_LIST_MIN_N = 3000
DEFAULT_SKIN = 0.5


def make_neighbor_fn(
    model,
    box,
    n: int,
    skin: float = DEFAULT_SKIN,
    fmt: str = "OrderedSparse",
    capacity_multiplier: float = 1.25,
    cell_list: bool | None = None,
):
    """jax-md neighbor function (``allocate``/``update``) for cutoff r_c,max + skin (sigma_AA)."""
    from jax_md import partition, space

    model = load_model(model)
    box = np.broadcast_to(np.asarray(box, float).reshape(-1), (model.dim,)).copy()
    if model.rc_max + skin >= 0.5 * box.min():
        raise InputError(
            f"cutoff + skin {model.rc_max + skin:.3f} must be below half the box side {box.min():.3f}"
        )
    try:
        format_ = getattr(partition.NeighborListFormat, fmt)
    except AttributeError:
        raise InputError(f"unknown neighbor-list format {fmt!r} (Dense, Sparse, OrderedSparse)") from None
    if cell_list is None:
        cell_list = n >= CELL_LIST_MIN_N
    displacement, _ = space.periodic(box)
    return partition.neighbor_list(
        displacement,
        box,
        model.rc_max,
        dr_threshold=skin,
        capacity_multiplier=capacity_multiplier,
        disable_cell_list=not cell_list,
        format=format_,
    )


def allocate(neighbor_fn, R):
    """Allocate a list at R and check it (raises InputError if even a fresh list overflows)."""
    import jax.numpy as jnp

    nbrs = neighbor_fn.allocate(jnp.array(R, copy=True))  # own buffer: MD chunks donate the state
    if bool(nbrs.did_buffer_overflow):
        raise InputError("neighbor list overflows right after allocation (particles overlapping?)")
    return nbrs
