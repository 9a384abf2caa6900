"""Identity of minima: are two local minima the same inherent structure?

Two minima A and B (positions (N, d), energies E_A, E_B) are the same when

    |E_A - E_B| <= energy_tol   and   max_i |r_i^B - r_i^A|_min-image <= distance_tol,

after removing the mean displacement (a uniform translation of a periodic
system is a symmetry, not a new minimum). Defaults: ``energy_tol = 1e-6``
(reduced energy; minima converged to max|F| = 1e-10 reproduce their energy to
~1e-10 for N ~ 1000) and ``distance_tol = 0.05`` sigma (a tenth of the smallest
DWP particle displacement of interest; converged minima reproduce positions to
~1e-8). Permutations of identical particles are not considered: a DWP never
exchanges particles in the glasses studied (the minimum-image displacement of
each particle stays small). Tested in tests/test_saddle.py.
"""

from __future__ import annotations

import numpy as np

from pelsim.geometry import minimum_image

ENERGY_TOL = 1e-6
DISTANCE_TOL = 0.05


def displacement_field(Ra, Rb, box=None, remove_drift: bool = True) -> np.ndarray:
    """Per-particle minimum-image displacement Rb - Ra (N, d), mean translation removed."""
    Ra = np.asarray(Ra, dtype=float)
    Rb = np.asarray(Rb, dtype=float)
    d = Rb - Ra
    if box is not None:
        box = np.asarray(box, dtype=float)
        d = minimum_image(d, box)
    if remove_drift and d.ndim == 2 and d.shape[0] > 1:
        d = d - d.mean(axis=0)
    return d


def max_displacement(Ra, Rb, box=None) -> float:
    """Largest per-particle minimum-image displacement (translation removed)."""
    d = displacement_field(Ra, Rb, box)
    return float(np.max(np.linalg.norm(d.reshape(-1, d.shape[-1]), axis=-1)))


def same_minimum(
    Ea, Ra, Eb, Rb, box=None, energy_tol: float = ENERGY_TOL, distance_tol: float = DISTANCE_TOL
) -> bool:
    """True when (Ea, Ra) and (Eb, Rb) are the same minimum within the tolerances."""
    if abs(float(Ea) - float(Eb)) > energy_tol:
        return False
    return max_displacement(Ra, Rb, box) <= distance_tol


def find_minimum(
    E, R, energies, positions, box=None, energy_tol: float = ENERGY_TOL, distance_tol: float = DISTANCE_TOL
) -> int:
    """Index of the stored minimum identical to (E, R), or -1 (energies screened first)."""
    energies = np.asarray(energies, dtype=float)
    for k in np.flatnonzero(np.abs(energies - float(E)) <= energy_tol):
        if max_displacement(R, positions[k], box) <= distance_tol:
            return int(k)
    return -1
