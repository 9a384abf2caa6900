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

import jax
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


@jax.tree_util.register_pytree_node_class
class _Constrained:
    """e(y, q) = E(R0 + sum_j q_j e_j + P y), P = 1 - sum_j e_j e_j^T, as a pytree.

    The energy (itself a pytree, pelsim.system), R0 and the modes are leaves, so the minimiser's
    program is compiled once per energy kernel and shape and reused for every point, mode and
    basin of a walk (a closure over R0 and the modes compiled anew for each map: 4 modes x 6
    basins = 24 compilations of the L-BFGS loop on a KA 3D N = 270 glass)."""

    def __init__(self, energy, R0, modes):
        self.energy, self.R0, self.E = energy, R0, modes

    def base(self, qvec):
        return self.R0 + jnp.tensordot(jnp.asarray(qvec, dtype=self.R0.dtype), self.E, axes=1)

    def __call__(self, y, qvec):
        proj = jnp.tensordot(jnp.tensordot(self.E, y, axes=y.ndim), self.E, axes=1)
        return self.energy(self.base(qvec) + y - proj)

    def tree_flatten(self):
        return (self.energy, self.R0, self.E), None

    @classmethod
    def tree_unflatten(cls, _aux, children):
        return cls(*children)


def _constrained_energy(energy, R0, modes):
    """(e(y, q), base(q)): the energy at R0 + sum_j q_j e_j + P y, one function for all q
    (q is an argument, so the minimiser compiles once per kernel and shape)."""
    from pelsim.system import as_pytree

    e = _Constrained(as_pytree(energy), jnp.asarray(R0), jnp.asarray(modes))
    return e, e.base


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


def _soft_modes(energy, R0, k: int) -> np.ndarray:
    """The k softest positive modes of R0 as columns: dense eigh of the (analytic) Hessian up
    to 1500 degrees of freedom (KA 3D N = 270: ~0.1 s), Lanczos on Hessian-vector products above
    (a dense Hessian of N = 1000 is 3000 x 3000)."""
    if R0.size <= 1500:
        lam, vec = normal_modes(energy, R0)
        return vec[:, lam > 0][:, :k]
    from pelsim.hessian import lowest_modes

    lam, vec = lowest_modes(energy, R0, k=k + 3)
    keep = np.flatnonzero(lam > 1e-6)[:k]
    return vec[keep].reshape(keep.size, -1).T


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
    vec = _soft_modes(energy, R0, n_modes if dim == 1 else 2)
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


@dataclass
class WalkStats:
    """Counts of one :func:`valley_walk`."""

    basins: int = 0  # basins explored (starts)
    valley_minima: int = 0  # valley minima reached, distinct from their start (with repeats)
    new_minima: int = 0  # distinct minima first met by the walk
    connections: int = 0  # start - valley minimum connections
    elementary: int = 0  # ... of which one verified step joined the two ends
    closing: int = 0  # valley - valley connections (triangle candidates)
    outside: int = 0  # minima outside the region where the energy is exact (not walked on)

    def as_dict(self) -> dict:
        return dict(self.__dict__)


def valley_walk(
    energy,
    R0,
    max_basins: int = 1,
    n_modes: int = 2,
    dim: int = 1,
    q_max: float = 1.0,
    n: int = 11,
    box=None,
    n_images: int = 12,
    params=None,
    max_depth: int = 1,
    fmax: float = 1e-8,
    is_valid=None,
    energy_tol: float = ENERGY_TOL,
    distance_tol: float = DISTANCE_TOL,
):
    """Intra-basin exploration breadth-first from the IS R0, ``max_basins`` basins in all.

    The basin of R0 is explored (:func:`explore_basin`); each valley minimum is connected to R0
    (connect.py: CI-NEB + saddle refinement + verification) and, when first met, queued, so that
    its own basin is explored next; and so on until ``max_basins`` basins have been explored or
    the queue is empty. ``max_basins`` = 1 is the exploration of the IS alone.

    Triangles (TWPs): two valley minima A, B of one start S that are each joined to S by a single
    verified elementary step are connected to each other; if A - B is elementary too, the three
    minima are pairwise joined through three saddles, a TWP of the catalogue. Pairs whose
    connection to S passes through further minima cannot close such a triangle and are not
    connected (the former valley_steps connected every pair, which re-found the same steps
    through the intermediate minima: KA 3D N = 270, 7 steps for 5 distinct ones).

    ``is_valid`` (optional): the region where ``energy`` is exact (a pair list); minima outside
    it are not explored from and the steps keep the check (search.add_checked_step drops those
    that leave it). Returns (minima [(R, E)] met other than R0, steps, WalkStats).
    """
    from collections import deque

    from pelsim.landscape.connect import connect, is_inside, joins_directly
    from pelsim.landscape.identity import find_minimum

    def join(Ra, Rb):
        return connect(
            energy,
            Ra,
            Rb,
            n_images,
            params,
            box=box,
            minimize_ends=False,
            max_depth=max_depth,
            is_valid=is_valid,
        )

    def is_edge(steps, Ea, Ra, Eb, Rb) -> bool:
        return joins_directly(steps, Ea, Ra, Eb, Rb, box, energy_tol, distance_tol)

    R0 = np.asarray(R0, float)
    known_R = [R0]
    known_E = [float(energy(jnp.asarray(R0)))]
    joined: set = set()  # pairs of known minima already connected
    queue = deque([0])
    steps, st = [], WalkStats()
    while queue and st.basins < max_basins:
        k = queue.popleft()
        S, ES = known_R[k], known_E[k]
        st.basins += 1
        _, found, _ = explore_basin(
            energy, S, n_modes=n_modes, dim=dim, q_max=q_max, n=n, box=box, fmax=fmax,
            energy_tol=energy_tol, distance_tol=distance_tol,
        )  # fmt: skip
        edges = []  # valley minima joined to S by one elementary step
        for R, E in found:
            st.valley_minima += 1
            j = find_minimum(E, R, known_E, known_R, box, energy_tol, distance_tol)
            if j < 0:
                j = len(known_R)
                known_R.append(np.asarray(R, float))
                known_E.append(float(E))
                st.new_minima += 1
                if is_inside(is_valid, R):
                    queue.append(j)
                else:
                    st.outside += 1
            if j == k or (min(j, k), max(j, k)) in joined:
                continue
            joined.add((min(j, k), max(j, k)))
            got = join(S, known_R[j])
            st.connections += 1
            steps += got
            if is_edge(got, ES, S, known_E[j], known_R[j]):
                st.elementary += 1
                edges.append(j)
        for x in range(len(edges)):
            for y in range(x + 1, len(edges)):
                a, b = edges[x], edges[y]
                if (min(a, b), max(a, b)) in joined:
                    continue
                joined.add((min(a, b), max(a, b)))
                st.closing += 1
                steps += join(known_R[a], known_R[b])
    return list(zip(known_R[1:], known_E[1:], strict=True)), steps, st


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
    """Verified elementary steps around the IS R0 alone (:func:`valley_walk` with one basin):
    R0 - valley minimum, and valley - valley where both are elementary neighbours of R0, so
    that pairwise-joined valleys form triangles (TWPs). Returns (valley minima [(R, E)], steps)."""
    found, steps, _ = valley_walk(
        energy, R0, 1, n_modes, dim, q_max, n, box=box, n_images=n_images, params=params,
        max_depth=max_depth, fmax=fmax,
    )  # fmt: skip
    return found, steps
