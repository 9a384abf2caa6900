"""Analytic Hessian and Hessian-vector product of the multi-species LJ pair energy (KA-BLJ).

Why hand-written: ``jax.hessian`` of the O(N^2) all-pairs energy builds N d reverse passes
(measured 2.6 s per Hessian at KA 3D N=270); the pair structure gives the Hessian directly.
For a pair potential V(s) of s = |r_ij|^2 / sigma_ij^2 (r_ij = R_i - R_j, minimum image), with
a = 1 / sigma_ij^2, the 3x3 (d x d) block of the pair is

    K_ij = d^2 V / dR_i dR_i = 2 a V'(s) I + 4 a^2 V''(s) r_ij r_ij^T,

and the pair adds K_ij to the diagonal blocks (i, i), (j, j) and -K_ij to (i, j), (j, i).
With V = 4 eps u(s), u = s^-6 - s^-3 + c0 + c2 s + c4 s^2 (:mod:`pelsim.potentials`):
u' = -6 s^-7 + 3 s^-4 + c2 + 2 c4 s, u'' = 42 s^-8 - 12 s^-5 + 2 c4. Pairs beyond the cutoff
contribute nothing (for ``shifted`` the force jump at r_c is a delta in V'' that autodiff
ignores too). Both cutoff kinds are exact here.

* :func:`pair_hessian` - a :class:`PairHessian` for the all-pairs energy
  (:func:`pelsim.potentials.energy_fn`) or a fixed pair list (:func:`pelsim.potentials.fixed_pair_energy`);
  ``.dense(R)`` assembles the (N d, N d) matrix with one vectorised scatter-add (no Python loop
  over pairs), ``.hvp(R, v)`` computes H v in O(pairs) without forming H.
* :func:`attach` / :func:`get` - carry a PairHessian on an energy function (an attribute of
  the function object), so that :func:`pelsim.hessian.hessian`, :func:`pelsim.hessian.hvp_fn`
  and the saddle tools use it and fall back to autodiff for generic surfaces.
Units: eps_AA / sigma_AA^2.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from pelsim.errors import InputError
from pelsim.geometry import minimum_image
from pelsim.models import load_model
from pelsim.potentials import KINDS, pair_coefficients, pair_list
from pelsim.system import PairEnergy, PairHessian

__all__ = ["PairHessian", "pair_hessian", "attach", "get"]

_ATTR = "pair_hessian"


def pair_hessian(model, box, species, kind: str = "smooth", pairs=None) -> PairHessian:
    """PairHessian for the KA-type energy on all pairs i<j (``pairs=None``) or on the
    given pair list ``(i, j)`` (e.g. from :func:`pelsim.potentials.pair_list`)."""
    model = load_model(model)
    if kind not in KINDS:
        raise InputError(f"unknown potential kind {kind!r} (expected 'smooth' or 'shifted')")
    box = np.asarray(box, dtype=float).reshape(-1)
    if box.size == 1:
        box = np.full(model.dim, float(box[0]))
    species = np.asarray(species, dtype=np.int32)
    n, d = species.size, model.dim
    if box.size != d:
        raise InputError(f"box has {box.size} sides but model {model.name} is {d}D")
    if pairs is None:
        i, j = np.triu_indices(n, k=1)
    else:
        i, j = (np.asarray(p, dtype=np.int32) for p in pairs)
        if i.shape != j.shape or (i.size and (min(i.min(), j.min()) < 0 or max(i.max(), j.max()) >= n)):
            raise InputError("pair list indices out of range or of unequal length")
    i = jnp.asarray(i, jnp.int32)
    j = jnp.asarray(j, jnp.int32)
    _, c2, c4 = pair_coefficients(kind, model.rc_factor)
    sc2 = model.rc_factor**2
    eps = jnp.asarray(np.asarray(model.eps, float)[species[np.asarray(i)], species[np.asarray(j)]])
    a = jnp.asarray(1.0 / np.asarray(model.sigma, float)[species[np.asarray(i)], species[np.asarray(j)]] ** 2)
    box_j = jnp.asarray(box)
    eye = jnp.eye(d)

    def blocks(R):
        """(P, d, d) pair blocks K_ij and the pair vectors (P, d)."""
        R = jnp.asarray(R, jnp.float64).reshape(n, d)
        r = R[i] - R[j]
        r = minimum_image(r, box_j)
        s = jnp.sum(r * r, axis=-1) * a
        inside = s < sc2
        s = jnp.where(inside, s, 1.0)
        inv3 = 1.0 / (s * s * s)
        du = (-6.0 * inv3 * inv3 + 3.0 * inv3) / s + c2 + 2.0 * c4 * s
        d2u = (42.0 * inv3 * inv3 - 12.0 * inv3) / (s * s) + 2.0 * c4
        g1 = jnp.where(inside, 8.0 * eps * a * du, 0.0)  # 2 a V'(s)
        g2 = jnp.where(inside, 16.0 * eps * a * a * d2u, 0.0)  # 4 a^2 V''(s)
        return g1[:, None, None] * eye + g2[:, None, None] * r[:, :, None] * r[:, None, :]

    @jax.jit
    def dense(R):
        K = blocks(R)
        diag = jax.ops.segment_sum(K, i, n) + jax.ops.segment_sum(K, j, n)  # (N, d, d)
        H = jnp.zeros((n, d, n, d))
        # off-diagonal blocks: one scatter of -K at (i, j) and (j, i) (each pair once)
        H = H.at[i, :, j, :].add(-K)
        H = H.at[j, :, i, :].add(-jnp.swapaxes(K, 1, 2))
        idx = jnp.arange(n)
        H = H.at[idx, :, idx, :].add(diag)
        return H.reshape(n * d, n * d)

    def apply(K, v):
        """H v from the pair blocks K (precompute K once for many products at one R)."""
        shape = v.shape
        v = jnp.asarray(v).reshape(n, d)
        w = jnp.einsum("pab,pb->pa", K, v[i] - v[j])  # (H v)_i = sum_j K_ij (v_i - v_j)
        out = jax.ops.segment_sum(w, i, n) - jax.ops.segment_sum(w, j, n)
        return out.reshape(shape)

    @jax.jit
    def hvp(R, v):
        return apply(blocks(R), v)

    return PairHessian(n, d, int(i.size), dense, hvp, blocks, apply)


def attach(energy, ph: PairHessian):
    """Carry ``ph`` on the energy function object (returns ``energy``). A
    :class:`pelsim.system.PairEnergy` has its own analytic Hessian bound to its system (the same
    pair blocks from its neighbour rows) and is returned unchanged."""
    if isinstance(energy, PairEnergy):
        return energy
    try:
        setattr(energy, _ATTR, ph)
    except AttributeError as e:  # pragma: no cover - builtins / jitted wrappers without __dict__
        raise InputError(f"cannot attach an analytic Hessian to {energy!r}") from e
    return energy


def get(energy) -> PairHessian | None:
    """The analytic PairHessian of ``energy``: bound to its system for a
    :class:`pelsim.system.PairEnergy` (compiled once per kernel), the one carried by a plain
    function (:func:`attach`), or None (generic surface: use autodiff)."""
    if isinstance(energy, PairEnergy):
        return energy.analytic_hessian()
    return getattr(energy, _ATTR, None)


def for_pair_list(model, box, species, R_ref, skin: float, kind: str = "smooth") -> PairHessian:
    """PairHessian on the same pair list as :func:`pelsim.potentials.fixed_pair_energy`
    (built at R_ref with the same skin)."""
    model = load_model(model)
    return pair_hessian(model, box, species, kind, pair_list(model, box, species, R_ref, skin))
