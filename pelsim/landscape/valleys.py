"""Intra-basin valley exploration around one inherent structure (seed paper §8).

Construction (also in docs/landscape.md):

1. At the IS R0 take the k softest non-zero modes e_1..e_k (k = 1 or 2) of the
   mass-weighted Hessian (unit vectors; for KA all masses are 1).
2. The *relaxed landscape* over the soft subspace is
       W(q) = min_y E(R0 + sum_j q_j e_j + P y),   P = 1 - sum_j e_j e_j^T,
   i.e. the energy minimised in the orthogonal complement of the subspace at fixed
   projections q_j = (R - R0) . e_j. The minimisation runs over y with the energy
   E(R0 + sum q e + P y), whose gradient lies in the complement automatically
   (``pelsim.minimize``, max|F| <= ``fmax``).
3. q is swept outward from 0 on a uniform grid (1D: -q_max..q_max; 2D: a square
   grid), each point warm-started from its relaxed neighbour (continuation), so
   the relaxed configurations follow one valley continuously.
4. Valleys = local minima of W on the grid other than the IS itself. Each valley
   point is relaxed without constraint: if it lands in a minimum distinct from R0
   (identity.py), the pair (R0, valley minimum) is connected by CI-NEB + saddle
   refinement (connect.py) and reported as a DWP with method "intra_basin".
   If it falls back into R0, the valley is only a shoulder of the relaxed landscape;
   in 1D it is still reported as an *effective* DWP whose profile is W(q) along
   the mode (``effective`` list), so that its statistics can be compared with IS-IS
   DWPs.
5. :func:`valley_steps` also connects the valley minima pairwise: around one IS, three
   valleys (the IS and two valley minima, typically from the 2D map) pairwise joined
   through verified saddles are a triangle of the minima graph, i.e. a TWP tagged
   ``intra_basin`` in the catalogue (search.py).

The relaxed surface W(q) is the adiabatic potential of the soft coordinate(s):
the fast, stiff coordinates follow the slow ones, the picture behind TLS
tunneling along one collective coordinate.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import jax.numpy as jnp
import numpy as np

from pelsim.landscape.identity import DISTANCE_TOL, ENERGY_TOL, same_minimum
from pelsim.landscape.saddle import normal_modes


@dataclass
class ValleyMap:
    """Relaxed landscape W on a grid of soft-mode amplitudes.

    q: (n,) grid (1D) or (n, n, 2) grid (2D); W: energies relative to E(R0);
    R: relaxed configurations (same grid shape + (N, d)); modes: (k, N, d)."""

    q: np.ndarray
    W: np.ndarray
    R: np.ndarray
    modes: np.ndarray
    valleys: list = field(default_factory=list)


def _constrained_energy(energy, R0, modes):
    """(e(y, q), base(q)): the energy at R0 + sum_j q_j e_j + P y, one function for all q
    (q is an argument, so the minimiser compiles once per map)."""
    R0 = jnp.asarray(R0)
    E = jnp.asarray(modes)

    def base(qvec):
        return R0 + jnp.tensordot(jnp.asarray(qvec, dtype=R0.dtype), E, axes=1)

    def e(y, qvec):
        proj = jnp.tensordot(jnp.tensordot(E, y, axes=y.ndim), E, axes=1)
        return energy(base(qvec) + y - proj)

    return e, base


def relaxed_profile_1d(energy, R0, mode, q_max: float = 1.0, n: int = 21, fmax: float = 1e-8) -> ValleyMap:
    """W(q) along one unit mode for q in [-q_max, q_max] (n odd), by continuation from q = 0."""
    from pelsim.minimize import minimize

    mode = np.asarray(mode, float)
    mode = mode / np.linalg.norm(mode)
    q = np.linspace(-q_max, q_max, n)
    i0 = n // 2
    e, base = _constrained_energy(energy, R0, mode[None])
    E0 = float(energy(jnp.asarray(R0)))
    W = np.zeros(n)
    Rs = np.zeros((n,) + np.shape(R0))
    Rs[i0] = R0
    for order in (range(i0 + 1, n), range(i0 - 1, -1, -1)):
        y = np.zeros(np.shape(R0))
        for i in order:
            qv = jnp.asarray([q[i]])
            res = minimize(e, y, method="auto", fmax=fmax, args=(qv,))
            y = np.asarray(res.R)
            proj = np.tensordot(np.tensordot(mode, y, axes=y.ndim), mode, axes=0)
            Rs[i] = np.asarray(base(qv)) + y - proj
            W[i] = res.energy - E0
    return ValleyMap(q, W, Rs, mode[None])


def relaxed_map_2d(energy, R0, modes, q_max: float = 0.8, n: int = 9, fmax: float = 1e-8) -> ValleyMap:
    """W(q1, q2) on an n x n grid (n odd), rows swept outward from the q1 axis by continuation."""
    from pelsim.minimize import minimize

    modes = np.asarray(modes, float)
    q1 = np.linspace(-q_max, q_max, n)
    i0 = n // 2
    e, base = _constrained_energy(energy, R0, modes)
    E0 = float(energy(jnp.asarray(R0)))
    W = np.zeros((n, n))
    Rs = np.zeros((n, n) + np.shape(R0))
    ys = {}

    def solve(i, j, y):
        qv = jnp.asarray([q1[i], q1[j]])
        res = minimize(e, y, method="auto", fmax=fmax, args=(qv,))
        y = np.asarray(res.R)
        proj = np.tensordot(np.tensordot(modes, y, axes=y.ndim), modes, axes=1)
        Rs[i, j] = np.asarray(base(qv)) + y - proj
        W[i, j] = res.energy - E0
        ys[(i, j)] = y
        return y

    ys[(i0, i0)] = np.zeros(np.shape(R0))
    Rs[i0, i0] = R0
    for order in (range(i0 + 1, n), range(i0 - 1, -1, -1)):  # the q1 axis at q2 = 0
        y = ys[(i0, i0)]
        for i in order:
            y = solve(i, i0, y)
    for i in range(n):  # each column outward in q2
        for order in (range(i0 + 1, n), range(i0 - 1, -1, -1)):
            y = ys[(i, i0)]
            for j in order:
                y = solve(i, j, y)
    qq = np.stack(np.meshgrid(q1, q1, indexing="ij"), axis=-1)
    return ValleyMap(qq, W, Rs, modes)


def grid_valleys(W: np.ndarray, exclude=None, depth_tol: float = 1e-6) -> list[tuple]:
    """Indices of strict local minima of W (1D or 2D grid, interior points), excluding ``exclude``."""
    out = []
    if W.ndim == 1:
        for i in range(1, W.size - 1):
            if W[i] < W[i - 1] - depth_tol and W[i] < W[i + 1] - depth_tol and (i,) != exclude:
                out.append((i,))
        return out
    n1, n2 = W.shape
    for i in range(1, n1 - 1):
        for j in range(1, n2 - 1):
            nb = W[i - 1 : i + 2, j - 1 : j + 2].copy()
            nb[1, 1] = np.inf
            if W[i, j] < nb.min() - depth_tol and (i, j) != exclude:
                out.append((i, j))
    return out


def explore_basin(
    energy,
    R0,
    n_modes: int = 2,
    dim: int = 1,
    q_max: float = 1.0,
    n: int = 21,
    box=None,
    fmax: float = 1e-8,
    energy_tol: float = ENERGY_TOL,
    distance_tol: float = DISTANCE_TOL,
):
    """Explore the relaxed landscape of the IS R0 along its softest modes.

    dim = 1: each of the ``n_modes`` softest modes separately; dim = 2: the plane of
    the two softest. Returns (maps, new_minima, effective) where new_minima is a list
    of (R, E) distinct from R0 reached from valleys, and effective a list of
    1D effective DWP profiles {"s", "V", "mode"} for valleys that relax back to R0.
    """
    from pelsim.landscape.connect import relax

    R0 = np.asarray(R0, float)
    E0 = float(energy(jnp.asarray(R0)))
    lam, vec = normal_modes(energy, R0)
    vec = vec[:, lam > 0]
    shape = R0.shape
    maps, found, effective = [], [], []
    if dim == 1:
        for k in range(min(n_modes, vec.shape[1])):
            maps.append(relaxed_profile_1d(energy, R0, vec[:, k].reshape(shape), q_max, n, fmax))
    else:
        maps.append(relaxed_map_2d(energy, R0, vec[:, :2].T.reshape((2,) + shape), q_max, n, fmax))
    for vm in maps:
        centre = tuple(s // 2 for s in vm.W.shape)
        for idx in grid_valleys(vm.W, exclude=centre):
            m = relax(energy, vm.R[idx])
            if same_minimum(m.energy, m.R, E0, R0, box, energy_tol, distance_tol):
                if vm.W.ndim == 1:
                    i = idx[0]
                    lo, hi = (centre[0], i) if i > centre[0] else (i, centre[0])
                    seg = slice(lo, hi + 1)
                    s = vm.q[seg] - vm.q[lo]
                    effective.append(
                        {"s": s, "V": vm.W[seg] - vm.W[lo], "mode": vm.modes[0], "valley_q": float(vm.q[i])}
                    )
                continue
            if all(not same_minimum(m.energy, m.R, e, r, box, energy_tol, distance_tol) for r, e in found):
                found.append((m.R, m.energy))
            vm.valleys.append(idx)
    return maps, found, effective


def valley_steps(
    energy,
    R0,
    n_modes: int = 2,
    dim: int = 1,
    q_max: float = 1.0,
    n: int = 11,
    box=None,
    n_images: int = 12,
    params=None,
    max_depth: int = 1,
    fmax: float = 1e-8,
):
    """Verified elementary steps around the IS R0: R0 - valley minimum and valley - valley.

    Runs :func:`explore_basin` and connects (connect.py, CI-NEB + saddle refinement) every
    pair of {R0} + the distinct valley minima, so that pairwise-joined valleys form
    triangles (TWPs). Returns (valley minima [(R, E)], steps).
    """
    from pelsim.landscape.connect import connect

    R0 = np.asarray(R0, float)
    _, found, _ = explore_basin(energy, R0, n_modes=n_modes, dim=dim, q_max=q_max, n=n, box=box, fmax=fmax)
    ends = [R0] + [R for R, _ in found]
    steps = []
    for i in range(len(ends)):
        for j in range(i + 1, len(ends)):
            steps += connect(
                energy, ends[i], ends[j], n_images, params, box=box, minimize_ends=False, max_depth=max_depth
            )
    return found, steps
