"""Saddle refinement and single-ended saddle search by hybrid eigenvector following.

Eigenvector following (Cerjan & Miller, J. Chem. Phys. 75, 2800 (1981);
Wales, "Energy Landscapes" ch. 6) on the exact Hessian: in the Hessian eigenbasis
the step along the followed mode is uphill and along every other mode downhill,

    h_i = -s_i g_i / max(|lambda_i|, lambda_floor),   s = -1 for the followed mode, +1 otherwise,

which is the Newton step once the signature is right (quadratic convergence to
max|F| ~ 1e-12) and an uphill/downhill walk otherwise. Steps are capped so that
no particle moves more than ``trust`` (sigma). The followed mode is the one with
the largest overlap with the previous followed mode (mode tracking), starting
from the lowest mode or from a given direction. The same routine with no
followed mode polishes minima (Newton). Exact dense Hessians are affordable for
N <= ~1000 in 3D (3000 x 3000); zero modes (uniform translations of a periodic
system, |lambda| < zero_tol) are excluded from the step and from the count of
negative modes.

Used to refine NEB climbing images to saddles (connect.py) and, started from an
inherent structure displaced along a soft mode, as the ART-like single-ended
search of search.py. The saddles feed the DWP parameters of seed Eqs. 3-4.
"""

from __future__ import annotations

from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np

from pelsim.errors import InputError

_HESS_CACHE: dict = {}
_GRAD_CACHE: dict = {}


def _hess_fn(energy):
    fn = _HESS_CACHE.get(energy)
    if fn is None:
        fn = jax.jit(jax.hessian(energy))
        _HESS_CACHE[energy] = fn
    return fn


def _grad_fn(energy):
    fn = _GRAD_CACHE.get(energy)
    if fn is None:
        fn = jax.jit(jax.value_and_grad(energy))
        _GRAD_CACHE[energy] = fn
    return fn


def _eigh(H):
    """numpy eigh on one BLAS thread: on a shared machine the threaded LAPACK was measured
    to be ~100x slower for n ~ 100-800 (oversubscription)."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover
        return np.linalg.eigh(H)
    with threadpool_limits(1):
        return np.linalg.eigh(H)


def hessian_matrix(energy, R) -> np.ndarray:
    """Dense Hessian d^2E/dR dR as an (n, n) array, n = R.size."""
    R = jnp.asarray(R, dtype=jnp.float64)
    H = np.asarray(_hess_fn(energy)(R)).reshape(R.size, R.size)
    return 0.5 * (H + H.T)


def normal_modes(energy, R, zero_tol: float = 1e-6, masses=None):
    """Eigenvalues (ascending) and eigenvectors (columns) with zero modes removed.

    With ``masses`` (N,), the mass-weighted Hessian M^-1/2 H M^-1/2 is used
    (eigenvalues = omega^2). Zero modes: |lambda| < zero_tol.
    """
    H = hessian_matrix(energy, R)
    if masses is not None:
        w = 1.0 / np.sqrt(np.repeat(np.asarray(masses, dtype=float), np.shape(R)[-1]))
        H = H * w[:, None] * w[None, :]
    lam, vec = _eigh(H)
    keep = np.abs(lam) >= zero_tol
    return lam[keep], vec[:, keep]


def count_negative_modes(energy, R, tol: float = 1e-6) -> int:
    """Number of Hessian eigenvalues below -tol."""
    lam = _eigh(hessian_matrix(energy, R))[0]
    return int(np.sum(lam < -tol))


@dataclass
class StationaryResult:
    """A refined stationary point: positions R, energy, max per-particle force, the
    number of negative Hessian modes, the followed mode (unit vector, shape of R)
    and its eigenvalue (``None`` for minima)."""

    R: np.ndarray
    energy: float
    max_force: float
    n_negative: int
    mode: np.ndarray | None
    eigenvalue: float | None
    steps: int
    converged: bool


def _max_atom(v, shape):
    v = np.asarray(v).reshape(shape)
    if v.ndim == 1:
        return float(np.linalg.norm(v))
    return float(np.max(np.linalg.norm(v.reshape(-1, shape[-1]), axis=-1)))


def eigenvector_following(energy, R0, follow: bool = True, direction=None, fmax: float = 1e-10,
                          max_steps: int = 500, trust: float = 0.1, lambda_floor: float = 1e-3,
                          zero_tol: float = 1e-6) -> StationaryResult:
    """Walk to a first-order saddle (``follow=True``) or a minimum (``follow=False``).

    direction: initial mode to follow (shape of R); default the lowest mode at R0.
    Converged when max per-particle force <= fmax and the signature is right
    (one negative mode for a saddle, none for a minimum).
    """
    R = np.array(R0, dtype=float)
    if not np.all(np.isfinite(R)):
        raise InputError("saddle search start contains NaN or inf coordinates")
    shape = R.shape
    vg = _grad_fn(energy)
    prev = None if direction is None else np.asarray(direction, dtype=float).reshape(-1)
    if prev is not None:
        prev = prev / np.linalg.norm(prev)
    E = 0.0
    fm = np.inf
    for step in range(max_steps + 1):
        E, g = vg(jnp.asarray(R))
        g = np.asarray(g).reshape(-1)
        fm = _max_atom(g, shape)
        lam, vec = _eigh(hessian_matrix(energy, R))
        nz = np.abs(lam) >= zero_tol
        n_neg = int(np.sum(lam < -zero_tol))
        lam, vec = lam[nz], vec[:, nz]
        k = None
        if follow:
            k = 0 if prev is None else int(np.argmax(np.abs(vec.T @ prev)))
            prev = vec[:, k] * (1.0 if prev is None or vec[:, k] @ prev >= 0 else -1.0)
        good = (n_neg == 1 and k == 0) if follow else n_neg == 0
        if fm <= fmax and good:
            break
        if step == max_steps:
            break
        gi = vec.T @ g
        s = np.ones_like(lam)
        if k is not None:
            s[k] = -1.0
        h = -s * gi / np.maximum(np.abs(lam), lambda_floor)
        dx = vec @ h
        big = _max_atom(dx, shape)
        if big > trust:
            dx *= trust / big
        R = R + dx.reshape(shape)
    mode = None if prev is None or not follow else prev.reshape(shape)
    eig = float(lam[k]) if (follow and k is not None) else None
    ok = bool(fm <= fmax and ((n_neg == 1) if follow else (n_neg == 0)))
    return StationaryResult(R, float(E), float(fm), n_neg, mode, eig, step, ok)


def refine_saddle(energy, R0, direction=None, fmax: float = 1e-10, **kw) -> StationaryResult:
    """Refine an approximate saddle (e.g. an NEB climbing image) by eigenvector following.

    direction: the NEB tangent at the climbing image is a good initial mode.
    """
    return eigenvector_following(energy, R0, follow=True, direction=direction, fmax=fmax, **kw)


def refine_minimum(energy, R0, fmax: float = 1e-10, **kw) -> StationaryResult:
    """Newton polish of an approximate minimum (needs the dense Hessian)."""
    return eigenvector_following(energy, R0, follow=False, fmax=fmax, **kw)


def single_ended_search(energy, R_min, mode, push: float = 0.05, fmax: float = 1e-10,
                        trust: float = 0.05, max_steps: int = 500) -> StationaryResult:
    """ART-like search: from a minimum, push along ``mode`` by ``push`` (max particle
    displacement, sigma) and follow that mode uphill to a first-order saddle."""
    mode = np.asarray(mode, dtype=float)
    mode = mode / _max_atom(mode, mode.shape)
    R0 = np.asarray(R_min, dtype=float) + push * mode.reshape(np.shape(R_min))
    return eigenvector_following(energy, R0, follow=True, direction=mode, fmax=fmax, trust=trust,
                                 max_steps=max_steps)
