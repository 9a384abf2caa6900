"""Pieces shared by the search routes (search.py, explore.py): the searches' NEB settings, the
validity check of a step and its addition to a catalogue, and the soft modes of an IS.

A module of its own so that explore.py and search.py do not import each other.
"""

from __future__ import annotations

import numpy as np

from pelsim.errors import RejectedStep
from pelsim.landscape.connect import ElementaryStep
from pelsim.landscape.neb import NEBParams
from pelsim.landscape.saddle import normal_modes

__all__ = ["SEARCH_NEB", "add_checked_step", "soft_modes"]

# NEB settings of the searches. The band only has to locate the climbing image (refined to
# max|F| < 1e-10 by dimer + Newton, saddle.py), reveal interior minima and give the path profile,
# whose energies a residual perpendicular force f shifts by ~ f^2 / (2 k_perp) ~ 1e-6 eps at
# f = 1e-2. On the quickstart IS pairs (KA 3D, N = 270) fmax 1e-3 with dt_max 0.03 took
# 3700-5000 FIRE steps per band (up to 21 min per glass); fmax 1e-2 with dt_max 0.06 took
# 830 steps and refined to the same saddle (2026-11-24). Climbing starts at band force 0.1:
# switched on at 0.5 the climbing image ran off before the band had found the path.
SEARCH_NEB = NEBParams(fmax=1e-2, max_steps=2000, climb_after=0.1, dt_max=0.06)


def valid_step(step: ElementaryStep, is_valid) -> bool:
    """The minima, the saddle and every image of the path profile (from which the tunneling
    parameters come) lie where the energy is exact."""
    from pelsim.landscape.connect import is_inside
    from pelsim.landscape.neb import band_validity

    if not is_inside(is_valid, step.min_a.R, step.saddle.R, step.min_b.R):
        return False
    return step.images is None or bool(band_validity(is_valid, np.asarray(step.images)))


def add_checked_step(catalogue, step: ElementaryStep, method, glass, seed, prov, is_valid):
    """Add a verified step to ``catalogue`` unless the pair list cannot vouch for it or the
    catalogue refuses it (e.g. a barrier below the zero-point energy: one bad step must not lose a
    glass). The check is the step's own (``step.is_valid``: the energy it was found with, e.g. a
    re-centred pair list) when it carries one, else ``is_valid`` (the glass's).
    Returns (DWP row index or None, "" | "invalid" | the refusal message)."""
    if not valid_step(step, step.is_valid if step.is_valid is not None else is_valid):
        return None, "invalid"
    try:
        return catalogue.add_step(step, method, glass, seed, prov), ""
    except RejectedStep as exc:
        return None, str(exc)


def soft_modes(energy, R, k):
    """(eigenvalues, modes as columns) of the k softest positive modes: dense eigh for small
    systems, Lanczos on Hessian-vector products above 600 degrees of freedom."""
    if R.size <= 600:
        lam, vec = normal_modes(energy, R)
        return lam[lam > 0], vec[:, lam > 0]
    from pelsim.hessian import lowest_modes

    lam, vec = lowest_modes(energy, R, k=k + 3)
    keep = lam > 1e-6
    return lam[keep], vec[keep].reshape(int(keep.sum()), -1).T
