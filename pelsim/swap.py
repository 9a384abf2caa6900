"""Swap Monte Carlo in the hybrid MD/MC form, for polydisperse soft spheres (``polydisperse-ss``).

One *block* = ``md_steps`` steps of NVT molecular dynamics (jax-md's Nose-Hoover chain, or
Langevin) on pelsim's dense neighbour list (:mod:`pelsim.neighbors`, cutoff 1.25 sigma_max + skin,
the per-pair cutoffs 1.25 sigma_ij applied in :func:`pelsim.polydisperse.dense_energy_forces`),
then ``swaps`` swap attempts: two distinct particles i != j drawn uniformly, their diameters
exchanged with the Metropolis probability min(1, exp(-dE/kT)) of the *exact* energy change

    dE = sum_{k != i,j} [v(r_ik; sigma_j, sigma_k) - v(r_ik; sigma_i, sigma_k)]
       + sum_{k != i,j} [v(r_jk; sigma_i, sigma_k) - v(r_jk; sigma_j, sigma_k)]

(the pair i-j keeps its sigma_ij, which is symmetric), evaluated on the two particles' neighbour
rows (O(M) per attempt). Optionally a move is only proposed when |sigma_i - sigma_j| < ``window``
(a symmetric restriction: detailed balance holds). This is the algorithm of Berthier, Flenner,
Fullerton, Scalliet & Singh, J. Stat. Mech. (2019) 064004 (MD + swap), whose pure-MC form (swap
attempts with probability p_swap = 0.2 among the elementary moves) is that of Ninarello,
Berthier & Coslovich, PRX 7, 021039 (2017).

Written here rather than taken from ``jax_md.simulate.hybrid_swap_mc`` (checked, jax-md 0.2.x):
that one evaluates dE the same local way and its proposal is symmetric, so it satisfies detailed
balance for this model too, but it (1) never checks ``did_buffer_overflow`` of its neighbour
list, so an overflowed list silently gives wrong forces and wrong dE; (2) differentiates the
energy with scatter-adds instead of pelsim's analytic row-sum forces; (3) may draw i == j (a
wasted attempt) and has no diameter window. Here each block is one jitted program and the list
is checked after every block (overflow: reallocate, redo the block, as :class:`pelsim.md.MDRunner`).

Detailed balance of the swap moves alone is tested against the exact Boltzmann distribution of the
24 diameter permutations of a 4-particle system (tests/test_swap.py). Units: eps, mean diameter,
tau = sigma sqrt(m/eps), unit masses.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import jax
import jax.numpy as jnp
import numpy as np

from pelsim.errors import InputError
from pelsim.models import soft_sphere_coefficients
from pelsim.neighbors import allocate, make_dense_neighbor_fn
from pelsim.polydisperse import check_system, dense_energy_forces, pair_inv_sigma2

__all__ = ["swap_delta", "swap_attempts", "SwapMD", "SwapThermo", "self_intermediate_scattering"]


def _row_energy(model, R, i, idx_i, diameters, d_i, exclude, box):
    """Energy of particle i given the diameter d_i with its listed neighbours (without ``exclude``)."""
    n = R.shape[0]
    c0, c2, c4 = soft_sphere_coefficients(model.rc_factor)
    sc2 = float(model.rc_factor) ** 2
    ok = (idx_i < n) & (idx_i != exclude) & (idx_i != i)
    k = jnp.where(ok, idx_i, 0)
    d = R[i][None, :] - R[k]
    d = d - box * jnp.round(d / box)
    a = pair_inv_sigma2(model, d_i, diameters[k])
    s = jnp.sum(d * d, axis=-1) * a
    inside = ok & (s < sc2)
    s = jnp.where(inside, s, 1.0)
    inv3 = 1.0 / (s * s * s)
    return jnp.sum(jnp.where(inside, inv3 * inv3 + c0 + (c2 + c4 * s) * s, 0.0))


def swap_delta(model, R, idx, diameters, i, j, box):
    """Exact energy change of exchanging the diameters of particles i and j (neighbour rows idx)."""
    di, dj = diameters[i], diameters[j]
    ei = _row_energy(model, R, i, idx[i], diameters, dj, j, box) - _row_energy(
        model, R, i, idx[i], diameters, di, j, box
    )
    ej = _row_energy(model, R, j, idx[j], diameters, di, i, box) - _row_energy(
        model, R, j, idx[j], diameters, dj, i, box
    )
    return ei + ej


def swap_attempts(model, key, R, idx, diameters, kT, n_attempts: int, box, window=None):
    """``n_attempts`` sequential Metropolis swap attempts; returns (diameters, accepted count).

    i uniform in 0..N-1, j uniform among the others (ordered pairs: a symmetric proposal);
    with ``window``, pairs with |sigma_i - sigma_j| >= window are rejected without evaluation.
    A pure function of its arguments (jit it with ``model``, ``n_attempts`` and ``window`` static).
    """
    n = R.shape[0]
    box = jnp.asarray(box, R.dtype)

    def body(_, carry):
        diam, key, acc = carry
        key, k1, k2, k3 = jax.random.split(key, 4)
        i = jax.random.randint(k1, (), 0, n)
        j = jax.random.randint(k2, (), 0, n - 1)
        j = j + (j >= i)
        dE = swap_delta(model, R, idx, diam, i, j, box)
        ok = jax.random.uniform(k3, (), dtype=R.dtype) < jnp.exp(-dE / kT)
        if window is not None:
            ok = ok & (jnp.abs(diam[i] - diam[j]) < window)
        new = diam.at[i].set(diam[j]).at[j].set(diam[i])
        return jnp.where(ok, new, diam), key, acc + ok.astype(jnp.int32)

    diam, _, acc = jax.lax.fori_loop(0, n_attempts, body, (diameters, key, jnp.int32(0)))
    return diam, acc


def self_intermediate_scattering(displacements, q: float = 2 * np.pi):
    """F_s(q) = 1/N sum_i sin(q |dr_i|)/(q |dr_i|) (isotropic average) of unwrapped displacements."""
    x = q * np.linalg.norm(np.asarray(displacements), axis=-1)
    return float(np.mean(np.sinc(x / np.pi)))


@dataclass
class SwapThermo:
    """Per block: time (tau), potential energy per particle U/N, kinetic temperature, swap acceptance."""

    time: list = field(default_factory=list)
    potential: list = field(default_factory=list)
    temperature: list = field(default_factory=list)
    acceptance: list = field(default_factory=list)

    def arrays(self) -> dict:
        return {k: np.asarray(v) for k, v in self.__dict__.items()}


class SwapMD:
    """Hybrid MD / swap Monte Carlo of polydisperse soft spheres, one jitted program per block.

    Parameters: model, box, diameters (N,), kT, dt (tau), md_steps (MD steps per block), swaps
    (swap attempts per block, default N), window (diameter window of the swaps, None: none),
    integrator ("nose_hoover" or "langevin"), tau_T (Nose-Hoover time, default 100 dt), gamma
    (Langevin friction), skin (list skin, sigma), seed. After :meth:`init`, :meth:`run` advances
    blocks; ``positions`` (wrapped), ``unwrapped`` (continuous trajectories) and ``diameters``.
    """

    def __init__(
        self,
        model,
        box,
        diameters,
        kT: float,
        dt: float = 0.01,
        md_steps: int = 10,
        swaps: int | None = None,
        window: float | None = None,
        integrator: str = "nose_hoover",
        tau_T: float | None = None,
        gamma: float = 1.0,
        skin: float = 0.3,
        seed: int = 0,
        dtype=np.float64,
    ):
        from jax_md import simulate, space

        self.model, self.box, d0 = check_system(model, box, diameters)
        if kT <= 0 or dt <= 0 or md_steps < 0:
            raise InputError("need kT > 0, dt > 0 and md_steps >= 0")
        self.n, self.dim = d0.size, self.model.dim
        self.dtype = np.dtype(dtype)
        self.kT, self.dt, self.md_steps = float(kT), float(dt), int(md_steps)
        self.swaps = self.n if swaps is None else int(swaps)
        self.window = None if window is None else float(window)
        self.diameters = jnp.asarray(d0, self.dtype)
        self.neighbor_fn = make_dense_neighbor_fn(
            self.model, self.box, self.n, skin, capacity_multiplier=1.25
        )
        e_nl, f_nl = dense_energy_forces(self.model, self.box)
        force = lambda R, neighbor, diameters, **kw: f_nl(R, neighbor.idx, diameters)  # noqa: E731
        _, shift = space.periodic(jnp.asarray(self.box, self.dtype))
        dt_ = jnp.asarray(dt, self.dtype)
        if integrator == "nose_hoover":
            init, apply = simulate.nvt_nose_hoover(
                force, shift, dt_, self.kT, tau=100 * dt if tau_T is None else tau_T
            )
        elif integrator == "langevin":
            init, apply = simulate.nvt_langevin(force, shift, dt_, self.kT, gamma=gamma)
        else:
            raise InputError(f"unknown integrator {integrator!r} (expected 'nose_hoover' or 'langevin')")
        self._init = init
        self.key = jax.random.PRNGKey(seed)
        model_, box_, n_sw, win, d = self.model, self.box, self.swaps, self.window, self.dim
        kT_ = self.kT

        def block(state, nbrs, diam, key):
            # plain steps while the list is valid, then one rebuild (as pelsim.md.MDRunner: a rebuild
            # check inside every step costs more than the force call on XLA CPU)
            def step(c):
                st, nb, i = c
                new = apply(st, neighbor=nb, diameters=diam)
                return jax.tree_util.tree_map(lambda a, b: a.astype(b.dtype), new, st), nb, i + 1

            def steps_while_valid(c):
                cond = lambda c: (c[2] < self.md_steps) & ~c[1].fn.needs_rebuild(c[0].position, c[1])  # noqa: E731
                st, nb, i = jax.lax.while_loop(cond, step, c)
                return st, nb.update(st.position), i

            R0 = state.position
            state, nbrs, _ = jax.lax.while_loop(
                lambda c: c[2] < self.md_steps, steps_while_valid, (state, nbrs, jnp.int32(0))
            )
            nbrs = nbrs.update(state.position)
            diam, acc = swap_attempts(model_, key, state.position, nbrs.idx, diam, kT_, n_sw, box_, win)
            dR = state.position - R0
            b = jnp.asarray(box_, dR.dtype)
            dR = dR - b * jnp.round(dR / b)
            U = e_nl(state.position, nbrs.idx, diam)
            V = state.velocity
            T = jnp.sum(state.mass * V * V) / (d * self.n - d)
            return state, nbrs, diam, dR, U, T, acc, nbrs.did_buffer_overflow

        self._block = jax.jit(block)

    def init(self, R, V=None):
        """Start at positions R (velocities Maxwell-Boltzmann at kT, or V)."""
        R = jnp.asarray(np.mod(np.asarray(R, float), self.box), self.dtype)
        self.nbrs = allocate(self.neighbor_fn, R)
        self.key, k = jax.random.split(self.key)
        self.state = self._init(k, R, kT=self.kT, neighbor=self.nbrs, diameters=self.diameters)
        if V is not None:
            self.state = self.state.set(momentum=jnp.asarray(V, self.dtype) * self.state.mass)
        self.unwrapped = np.asarray(R, float).copy()
        self.time = 0.0
        return self.state

    def run(self, blocks: int, thermo: SwapThermo | None = None, every: int = 1, callback=None):
        """Advance ``blocks`` blocks; record into ``thermo`` every ``every`` blocks; ``callback(self)``
        after each block (e.g. to store F_s and diameter correlations)."""
        for b in range(int(blocks)):
            for _attempt in range(5):
                self.key, k = jax.random.split(self.key)
                out = self._block(self.state, self.nbrs, self.diameters, k)
                if not bool(out[-1]):
                    break
                self.neighbor_fn.capacity_multiplier = min(2.0, self.neighbor_fn.capacity_multiplier + 0.25)
                self.nbrs = allocate(self.neighbor_fn, out[0].position)
            else:
                raise InputError("neighbour list keeps overflowing (system exploding? reduce dt)")
            self.state, self.nbrs, self.diameters, dR, U, T, acc, _ = out
            self.unwrapped += np.asarray(dR, float)
            self.time += self.md_steps * self.dt
            if not np.isfinite(float(U)):
                raise InputError(f"swap MD blew up at t = {self.time:g} (non-finite energy): reduce dt")
            if thermo is not None and b % every == 0:
                thermo.time.append(self.time)
                thermo.potential.append(float(U) / self.n)
                thermo.temperature.append(float(T))
                thermo.acceptance.append(int(acc) / max(self.swaps, 1))
            if callback is not None:
                callback(self)
        return self.state

    @property
    def positions(self) -> np.ndarray:
        return np.asarray(self.state.position, np.float64)
