"""pelsim's one L-BFGS: the two-loop direction over a circular memory, the iteration of the
minimisers as a flat state machine, and the result type of the minimisers.

:func:`lbfgs_direction` and :func:`store_pair` are the only L-BFGS recursion and memory update in
pelsim. They serve the minimisers' state machine :func:`lbfgs_steps` (:mod:`pelsim.minimize`, any
energy, and :mod:`pelsim.quench`, the KA quench with on-device pair-list rebuilds), the global
L-BFGS of the NEB band (:mod:`pelsim.landscape.neb`, on the NEB force, without line search) and
the dimer's translation (:mod:`pelsim.landscape.dimer`, on the modified force). This module
imports none of them.
"""

from __future__ import annotations

from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np

__all__ = [
    "MinResult",
    "max_force",
    "lbfgs_direction",
    "store_pair",
    "lbfgs_steps",
    "empty_memory",
    "lbfgs_active",
]


@dataclass
class MinResult:
    """Result of a minimisation.

    R: final positions (N, d); energy: E(R) (eps_AA); max_force: max_i |F_i|;
    steps: iterations (L-BFGS) or MD steps (FIRE); n_eval: energy+gradient evaluations;
    converged: max_force <= fmax; method: the method(s) used; time_s: wall time incl. compile.
    """

    R: np.ndarray
    energy: float
    max_force: float
    steps: int
    converged: bool
    method: str
    n_eval: int = 0
    time_s: float = 0.0
    stopped_invalid: bool = False
    memory: tuple | None = None
    info: dict | None = None


def max_force(G):
    """max_i |G_i| over rows of an (N, d) array (JAX)."""
    return jnp.sqrt(jnp.max(jnp.sum(G.reshape(G.shape[0], -1) ** 2, axis=-1)))


def lbfgs_direction(g, S, Y, rho, G, newest, n_valid):
    """H g: the L-BFGS inverse-Hessian approximation H applied to g (two-loop recursion,
    Nocedal & Wright Alg. 7.4) over a circular memory of curvature pairs.

    ``S``, ``Y`` (m, *g.shape): the steps s_t and gradient changes y_t; ``rho`` (m,): 1 / s_t.y_t
    (0 for an empty or cleared slot, which then contributes nothing); ``G`` (m, m):
    G[t, u] = s_t . y_u, kept up to date by :func:`store_pair`; ``newest``: the slot of the newest
    pair; ``n_valid``: how many slots, from the newest back, take part (older ones are ignored,
    so a memory is cleared by ``n_valid = 0`` without touching the buffers). The initial inverse
    Hessian is gamma = s.y / y.y of the newest pair (1 without a valid pair). A minimiser steps
    along -H g; a force field F = -g is followed along H F. Jittable and vmappable.

    Written as two small triangular solves on m-vectors rather than the two loops over the pairs:
    with G known, a_t = rho_t (s_t.g - sum_{u newer} a_u s_t.y_u) (first loop) and
    b_t = rho_t y_t.(gamma q + sum_{u older} (a_u - b_u) s_u) (second loop), so the big vectors
    enter only through 4 matrix-vector products. Reason (measured at N=1000 on XLA CPU): with the
    loops unrolled, one L-BFGS iteration of the minimiser compiled to 176 small kernels (97 now)
    and cost ~0.45 ms beyond its force evaluation, as much as the evaluation itself.
    """
    m = S.shape[0]
    order = (newest - jnp.arange(m)) % m  # newest first (the order of the first loop)
    Sf, Yf = S.reshape(m, -1), Y.reshape(m, -1)
    r_o = rho[order] * (jnp.arange(m) < n_valid)
    Go = G[order][:, order]  # Go[t, u] = s_t . y_u, newest-first
    low = jnp.tril(Go, -1)  # first loop: a_t = rho_t (s_t.g - sum_{u<t} a_u s_t.y_u)
    eye = jnp.eye(m, dtype=g.dtype)
    a = jax.scipy.linalg.solve_triangular(eye + r_o[:, None] * low, r_o * (Sf @ g.ravel())[order], lower=True)
    q = g.ravel() - Yf.T @ jnp.zeros(m, g.dtype).at[order].set(a)
    sy = G[newest, newest]
    yy = jnp.vdot(Yf[newest], Yf[newest])
    gamma = jnp.where((n_valid > 0) & (yy > 0) & (sy > 0), sy / jnp.where(yy > 0, yy, 1.0), 1.0)
    # second loop (oldest first): b_t = rho_t y_t.(gamma q + sum_u (a_u - b_u) s_u) over the pairs
    # u processed before t, i.e. older than t (u > t in newest-first order)
    up = jnp.triu(Go.T, 1)  # up[t, u] = y_t . s_u for u older than t
    rhs = r_o * (gamma * (Yf @ q)[order] + up @ a)
    b = jax.scipy.linalg.solve_triangular(eye + r_o[:, None] * up, rhs, lower=False)
    r = gamma * q + Sf.T @ jnp.zeros(m, g.dtype).at[order].set(a - b)
    return r.reshape(g.shape)


def store_pair(S, Y, rho, G, slot, s, y, sy, store):
    """The memory (S, Y, rho, G) of :func:`lbfgs_direction` with the pair (s, y), s.y = ``sy``, put
    into ``slot`` where ``store`` (a JAX bool) holds, else unchanged. Only that slot's row and
    column of G are recomputed (2 matrix-vector products); the buffers are updated in place (no
    select over whole buffers, which would copy them)."""
    m = S.shape[0]
    S = S.at[slot].set(jnp.where(store, s, S[slot]))
    Y = Y.at[slot].set(jnp.where(store, y, Y[slot]))
    rho = rho.at[slot].set(jnp.where(store, 1.0 / jnp.where(sy > 0, sy, 1.0), rho[slot]))
    Gs = S.reshape(m, -1) @ y.ravel()  # s_t . y_new (the new pair is in S already)
    Gy = Y.reshape(m, -1) @ s.ravel()  # s_new . y_t
    G = G.at[:, slot].set(jnp.where(store, Gs, G[:, slot]))
    G = G.at[slot, :].set(jnp.where(store, Gy, G[slot, :]))
    return S, Y, rho, G


def lbfgs_steps(vg, m=10, max_step=0.2, c1=1e-4, c2=0.9, max_ls=25, e_tol=1e-11):
    """The L-BFGS iteration as ``(init, step)`` on a state dict, ONE evaluation per ``step``.

    ``vg(x, aux) -> (E, dE/dx)``; ``aux`` is anything the energy needs besides x (a pair list).
    ``init(x, aux, memory)`` evaluates at x and proposes the trial point ``xt``; each ``step``
    evaluates at ``xt`` and either accepts it (updates the curvature memory and proposes the next
    trial) or moves the trial point along the same direction (line search). Hand-written as one flat
    state machine rather than a line-search ``while_loop`` nested in the iteration loop: the trial
    point is known before the evaluation, so a caller (:mod:`pelsim.quench`) can rebuild a pair list
    at exactly that point, and XLA runs one loop body per evaluation instead of two nested loops.

    Acceptance: strong-Wolfe curvature on the *directional derivative* plus Armijo with a round-off
    allowance of ``e_tol`` |E| on the energy (1e-11 in float64, 1e-5 for a float32 energy), so the
    search keeps working when energy differences fall below float64 precision (scipy's L-BFGS-B
    stalls at max|F| ~ 1e-6 on KA for that reason, /work/shared/MEASURED.md). Rejected trials
    bracket the minimum along the line and move by a secant step on the directional derivative.
    A search that fails ``max_ls`` times clears the memory and restarts along -g; callers stop
    after 3 such failures in a row (``fails``).
    """

    def propose(s):
        """New direction from (x, g, memory) and the first trial point along it."""
        g = s["g"]
        # k pairs stored since the last clearing, the newest at slot (k - 1) % m
        k = s["k"]
        d = -lbfgs_direction(g, s["S"], s["Y"], s["rho"], s["G"], (k - 1) % m, jnp.minimum(k, m))
        dphi0 = jnp.vdot(g, d)
        bad = ~(dphi0 < 0)
        d = jnp.where(bad, -g, d)
        dphi0 = jnp.where(bad, -jnp.vdot(g, g), dphi0)
        dmax = jnp.sqrt(jnp.max(jnp.sum(d.reshape(d.shape[0], -1) ** 2, axis=-1)))
        a = jnp.minimum(1.0, max_step / jnp.where(dmax > 0, dmax, 1.0)).astype(g.dtype)
        zero = jnp.zeros((), g.dtype)
        return dict(
            s,
            d=d,
            dphi0=dphi0,
            a=a,
            lo=zero,
            dlo=dphi0,
            hi=jnp.asarray(jnp.inf, g.dtype),
            j=jnp.int32(0),
            xt=s["x"] + a * d,
        )

    def init(x, aux, memory):
        E, g = vg(x, aux)
        S, Y, rho, k = memory
        G = S.reshape(m, -1) @ Y.reshape(m, -1).T
        s = dict(
            x=x, E=E, g=g, S=S, Y=Y, G=G, rho=rho, k=k, it=jnp.int32(0), nev=jnp.int32(1), fails=jnp.int32(0)
        )
        return propose(s)

    def step(s, aux):
        a, d, E0, dphi0 = s["a"], s["d"], s["E"], s["dphi0"]
        Et, gt = vg(s["xt"], aux)
        dphi = jnp.vdot(gt, d)
        fin = jnp.isfinite(Et)
        armijo = Et <= E0 + c1 * a * dphi0 + (e_tol * jnp.abs(E0) + 1e-14)
        accept = armijo & (jnp.abs(dphi) <= -c2 * dphi0) & fin
        # bracket [lo, hi] of the line minimum, secant zero of the directional derivative
        too_far = (~armijo) | (dphi > 0) | (~fin)
        lo = jnp.where(too_far, s["lo"], a)
        dlo = jnp.where(too_far, s["dlo"], dphi)
        hi = jnp.where(too_far, a, s["hi"])
        denom = dphi - s["dlo"]
        sec = s["lo"] - s["dlo"] * (a - s["lo"]) / jnp.where(denom != 0, denom, 1.0)
        sec_ok = fin & (denom > 0)
        a_br = jnp.where(sec_ok, jnp.clip(sec, lo + 0.1 * (hi - lo), hi - 0.1 * (hi - lo)), 0.5 * (lo + hi))
        a_ext = jnp.where(sec_ok, jnp.clip(sec, 1.5 * a, 4.0 * a), 4.0 * a)
        a_new = jnp.where(jnp.isfinite(hi), a_br, a_ext)
        j = s["j"] + 1
        failed = (~accept) & (j >= max_ls)
        # accepted: store the curvature pair in place (no copy of the buffers)
        sv = s["xt"] - s["x"]
        yv = gt - s["g"]
        sy = jnp.vdot(sv, yv)
        store = accept & (sy > 1e-300)
        S, Y, rho, G = store_pair(s["S"], s["Y"], s["rho"], s["G"], s["k"] % m, sv, yv, sy, store)
        k = jnp.where(store, s["k"] + 1, s["k"])
        # failed search: clear the memory (rho = 0, k = 0) and restart along -g
        rho = jnp.where(failed, jnp.zeros_like(rho), rho)
        k = jnp.where(failed, 0, k)
        new = dict(
            s,
            x=jnp.where(accept, s["xt"], s["x"]),
            E=jnp.where(accept, Et, E0),
            g=jnp.where(accept, gt, s["g"]),
            S=S,
            Y=Y,
            G=G,
            rho=rho,
            k=k,
            it=s["it"] + accept.astype(jnp.int32),
            nev=s["nev"] + 1,
            fails=jnp.where(accept, 0, jnp.where(failed, s["fails"] + 1, s["fails"])),
        )
        # the next direction is computed every step and kept only after an accept or a failure:
        # cheaper on XLA CPU than a lax.cond (accepts are ~97% of the steps). Only the fields that
        # propose() sets are selected (a select over the memory buffers would copy them).
        prop = propose(new)
        renew = accept | failed
        keep = dict(lo=lo, dlo=dlo, hi=hi, j=j, a=a_new, xt=s["x"] + a_new * d)
        for key in ("d", "dphi0", "a", "lo", "dlo", "hi", "j", "xt"):
            new[key] = jnp.where(renew, prop[key], keep.get(key, new[key]))
        out = new
        return out

    return init, step


def empty_memory(m, R0):
    """Empty L-BFGS memory (S, Y, rho, k) for positions like R0."""
    R0 = jnp.asarray(R0)
    return (
        jnp.zeros((m, *R0.shape), R0.dtype),
        jnp.zeros((m, *R0.shape), R0.dtype),
        jnp.zeros(m, R0.dtype),
        jnp.int32(0),
    )


def lbfgs_active(s, fmax, max_steps):
    """JAX bool: the L-BFGS state s should keep iterating."""
    return (max_force(s["g"]) > fmax) & (s["it"] < max_steps) & (s["fails"] < 3) & jnp.isfinite(s["E"])
