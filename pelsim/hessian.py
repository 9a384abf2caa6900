"""Hessians and normal modes of any JAX energy function of positions (N, d).

* :func:`hessian` - dense (N d x N d) matrix (N up to a few thousand: 8 (N d)^2 bytes): the
  analytic pair Hessian when the energy carries one (:mod:`pelsim.pair_hessian`, attached by
  :func:`pelsim.landscape.search.landscape_energy`), else forward-over-reverse autodiff.
* :func:`lowest_modes` - the k lowest eigenpairs from Hessian-vector products (analytic, or jvp of grad)
  and Lanczos (``scipy.sparse.linalg.eigsh`` on a LinearOperator, shift-free ``which="SA"``),
  any N. The d uniform translations (exact zero modes of a periodic system) are projected
  out of the operator, so the returned modes are the vibrational ones.
* :func:`participation_ratio` - P = (sum_i |e_i|^2)^2 / (N sum_i |e_i|^4), 1 for an extended
  mode, ~1/N for a mode on one particle.
* :func:`check_minimum` - max|F| and the lowest non-translational eigenvalue.
Units: eigenvalues in eps_AA/sigma_AA^2 (unit masses: squared angular frequencies).
"""

from __future__ import annotations

from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np
from scipy.sparse.linalg import LinearOperator, eigsh

from pelsim import pair_hessian as _ph
from pelsim.device import on_one_blas_thread
from pelsim.system import as_pytree, value_and_grad
from pelsim.system import hvp as autodiff_hvp

__all__ = ["hessian", "hvp_fn", "lowest_modes", "participation_ratio", "check_minimum", "translation_basis"]


@jax.jit
def _jacfwd_grad(energy, R):  # the energy is a pytree argument: compiled once per kernel and shape
    return jax.jacfwd(jax.grad(lambda x: energy(x.reshape(R.shape))))(R.reshape(-1))


def hessian(energy, R) -> np.ndarray:
    """Dense Hessian d^2E/dR dR as an (N d, N d) float64 array."""
    R = jnp.asarray(R, jnp.float64)
    n = R.size
    ph = _ph.get(energy)
    if ph is not None and ph.n * ph.dim == n:
        H = np.asarray(ph.dense(R))
        return 0.5 * (H + H.T)
    H = np.asarray(_jacfwd_grad(as_pytree(energy), R)).reshape(n, n)
    return 0.5 * (H + H.T)


def hvp_fn(energy, R):
    """v -> H v at R (analytic pair HVP if the energy carries one, else jitted jvp of the
    gradient), v of length N d."""
    R = jnp.asarray(R, jnp.float64)
    ph = _ph.get(energy)
    if ph is not None and ph.n * ph.dim == R.size:
        return lambda v: ph.hvp(R, jnp.asarray(v).reshape(-1))
    e = as_pytree(energy)
    return lambda v: autodiff_hvp(e, R, jnp.asarray(v).reshape(R.shape)).reshape(-1)


def translation_basis(n: int, d: int) -> np.ndarray:
    """Orthonormal (N d, d) basis of uniform translations."""
    T = np.zeros((n * d, d))
    for a in range(d):
        T[a::d, a] = 1.0 / np.sqrt(n)
    return T


@on_one_blas_thread
def lowest_modes(energy, R, k: int = 6, project_translations: bool = True, tol: float = 1e-10):
    """(eigenvalues (k,), modes (k, N, d)) of the k lowest Hessian eigenpairs, ascending.

    Translations are projected out (P H P with P = 1 - T T^T, plus a large shift on the
    translation subspace so they never appear among the lowest).
    """
    R = np.asarray(R, float)
    n, d = R.shape
    hv = hvp_fn(energy, R)
    T = translation_basis(n, d) if project_translations else np.zeros((n * d, 0))
    shift = 1e6

    def mv(v):
        v = np.asarray(v, float).ravel()
        c = T.T @ v
        w = v - T @ c
        Hw = np.asarray(hv(jnp.asarray(w)))
        return Hw - T @ (T.T @ Hw) + shift * (T @ c)

    op = LinearOperator((n * d, n * d), matvec=mv, dtype=np.float64)
    k = min(k, n * d - T.shape[1] - 1)
    vals, vecs = eigsh(op, k=k, which="SA", tol=tol, v0=np.random.default_rng(0).normal(size=n * d))
    order = np.argsort(vals)
    return vals[order], vecs[:, order].T.reshape(k, n, d)


def participation_ratio(mode) -> float:
    """P = (sum_i |e_i|^2)^2 / (N sum_i |e_i|^4) for a mode of shape (N, d)."""
    e = np.asarray(mode, float)
    e2 = np.sum(e.reshape(e.shape[0], -1) ** 2, axis=1)
    return float(e2.sum() ** 2 / (e.shape[0] * np.sum(e2**2)))


@dataclass
class MinimumCheck:
    is_minimum: bool
    max_force: float
    lowest_eigenvalue: float
    n_negative: int


def check_minimum(energy, R, fmax: float = 1e-6, k: int = 6, tol_eig: float = -1e-8) -> MinimumCheck:
    """Verify that R is a true minimum: max|F| <= fmax and the k lowest non-translational
    Hessian eigenvalues are all > tol_eig (eps_AA/sigma_AA^2)."""
    R = np.asarray(R, float)
    g = np.asarray(value_and_grad(energy, R)[1])
    f = float(np.sqrt(np.max(np.sum(g.reshape(R.shape[0], -1) ** 2, axis=1))))
    vals, _ = lowest_modes(energy, R, k)
    return MinimumCheck(bool(f <= fmax and vals[0] > tol_eig), f, float(vals[0]), int(np.sum(vals < tol_eig)))
