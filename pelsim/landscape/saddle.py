"""Saddle refinement and single-ended saddle search: dimer walk, Newton polish, eigenvector following.

Two routes to a first-order saddle, both verified at the end (max per-particle |F| <= fmax and
exactly one negative Hessian mode, translations excluded):

* ``method="dimer"`` (default for refinement and searches): the Hessian-free dimer of
  :mod:`pelsim.landscape.dimer` (exact Hessian-vector products, L-BFGS translation) walks to
  max|F| <= ``switch_fmax`` (1e-3; 1e-5 on a second try), then Newton steps on the dense
  Hessian polish to ``fmax`` (quadratic convergence, 2-3 steps to 1e-10; H dx = -g solved
  by LDL^T with the translations shifted out). The single-ended search first pushes out of
  the basin along the chosen mode (ART-like activation, dimer.activate) until a negative
  curvature appears.
* ``method="ef"``: hybrid eigenvector following (Cerjan & Miller, J. Chem. Phys. 75, 2800
  (1981); Wales, "Energy Landscapes" ch. 6) on the exact Hessian: in its eigenbasis the
  followed mode is climbed and all others descended,

      h_i = -s_i g_i / max(|lambda_i|, lambda_floor),   s = -1 for the followed mode, +1 otherwise,

  the Newton step once the signature is right. Steps are capped so that no particle moves more
  than ``trust`` (sigma); the followed mode is tracked by maximum overlap. One dense eigh per
  step: used as the fallback of ``refine_saddle`` when the dimer fails, and for minima
  (``refine_minimum``).

Dense Hessians come from :func:`hessian_matrix`: the analytic pair Hessian when the energy
carries one (:mod:`pelsim.pair_hessian`, attached by ``search.landscape_energy``), else
``jax.hessian`` (generic surfaces). Zero modes (uniform translations of a periodic system,
|lambda| < zero_tol) are excluded from steps and from the count of negative modes.

Used to refine NEB climbing images to saddles (connect.py) and, from an inherent structure
displaced along a soft mode, as the ART-like single-ended search of search.py. The saddles feed
the DWP parameters of seed Eqs. 3-4.
"""

from __future__ import annotations

from dataclasses import dataclass

import jax.numpy as jnp
import numpy as np

from pelsim import pair_hessian as _ph
from pelsim.device import one_blas_thread
from pelsim.errors import InputError
from pelsim.landscape import dimer as _dimer
from pelsim.system import autodiff_hessian, value_and_grad


def _grad_fn(energy):
    """R -> (E, dE/dR), jitted once per energy kernel (pelsim.system)."""
    return lambda R: value_and_grad(energy, R)


def _solve_sym(A, b):
    """Symmetric indefinite solve (LDL^T) on one BLAS thread (see :func:`_eigh`)."""
    import scipy.linalg

    with one_blas_thread():
        return scipy.linalg.solve(A, b, assume_a="sym")


def _eigh(H):
    """numpy eigh on one BLAS thread (:func:`pelsim.device.one_blas_thread`)."""
    with one_blas_thread():
        return np.linalg.eigh(H)


def hessian_matrix(energy, R) -> np.ndarray:
    """Dense Hessian d^2E/dR dR as an (n, n) array, n = R.size: the analytic pair Hessian if
    the energy carries one (:mod:`pelsim.pair_hessian`), else ``jax.hessian``."""
    R = jnp.asarray(R, dtype=jnp.float64)
    ph = _ph.get(energy)
    if ph is not None and ph.n * ph.dim == R.size:
        H = np.asarray(ph.dense(R))
    else:
        H = np.asarray(autodiff_hessian(energy, R)).reshape(R.size, R.size)
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
    method: str = "ef"


def _max_atom(v, shape):
    v = np.asarray(v).reshape(shape)
    if v.ndim == 1:
        return float(np.linalg.norm(v))
    return float(np.max(np.linalg.norm(v.reshape(-1, shape[-1]), axis=-1)))


def eigenvector_following(
    energy,
    R0,
    follow: bool = True,
    direction=None,
    fmax: float = 1e-10,
    max_steps: int = 500,
    trust: float = 0.1,
    lambda_floor: float = 1e-3,
    zero_tol: float = 1e-6,
) -> StationaryResult:
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


#: largest R.size for which negative_modes assembles the analytic pair Hessian and diagonalises it
#: densely: KA 3D N = 270 saddles (R.size 810) 0.1 s against 0.9-1.4 s for Lanczos on
#: Hessian-vector products, same eigenvalue to 3e-13 (one core, 2026-12-03); O(n^3) beyond
DENSE_MODES_MAX = 1500


def negative_modes(energy, R, tol: float = 1e-6, k: int = 3):
    """(number of eigenvalues below -tol among the lowest k, lowest eigenvalue, its mode).

    Dense eigh for small systems (R.size <= 600, or <= :data:`DENSE_MODES_MAX` with the analytic
    pair Hessian), else Lanczos on Hessian-vector products (:func:`pelsim.hessian.lowest_modes`,
    translations projected out) - the end check of the dimer route at any N.
    """
    R = np.asarray(R, dtype=float)
    dense_max = DENSE_MODES_MAX if _ph.get(energy) is not None else 600
    if R.size <= dense_max or R.ndim != 2 or R.shape[0] < 2:
        lam, vec = _eigh(hessian_matrix(energy, R))
        nz = np.abs(lam) >= tol
        lam, vec = lam[nz], vec[:, nz]
        return int(np.sum(lam < -tol)), float(lam[0]), vec[:, 0].reshape(R.shape)
    from pelsim.hessian import lowest_modes

    lam, vec = lowest_modes(energy, R, k=k)
    return int(np.sum(lam < -tol)), float(lam[0]), vec[0]


def newton_polish(energy, R0, fmax: float = 1e-10, max_steps: int = 10, trust: float = 0.05):
    """Newton steps dx = -H^-1 g (translations shifted out) to max per-particle |F| <= fmax.

    Converges quadratically to the stationary point the start lies near (saddle or minimum);
    returns (R, E, max|F|, steps). Each step: one dense Hessian (analytic when available) and one
    symmetric solve, no eigendecomposition.
    """
    R = np.array(R0, dtype=float)
    shape = R.shape
    vg = _grad_fn(energy)
    T = _dimer.translation_basis(shape)
    E, fm = 0.0, np.inf
    for it in range(max_steps + 1):
        E, g = vg(jnp.asarray(R))
        g = np.asarray(g).reshape(-1)
        g = g - T @ (T.T @ g)
        fm = _max_atom(g, shape)
        if fm <= fmax or it == max_steps:
            break
        H = hessian_matrix(energy, R)
        if T.shape[1]:
            H = H + (np.abs(np.diag(H)).max() + 1.0) * (T @ T.T)
        dx = -_solve_sym(H, g)
        big = _max_atom(dx, shape)
        if not np.isfinite(big):
            break
        if big > trust:
            dx *= trust / big
        R = R + dx.reshape(shape)
    return R, float(E), float(fm), it


def _dimer_then_newton(energy, R0, n0, fmax, switch_fmax, trust, max_steps, zero_tol, steps0=0):
    """Dimer to ``switch_fmax``, Newton polish to ``fmax``, signature check. If the polish fails
    (the start was outside Newton's basin of the saddle), the dimer continues to
    switch_fmax / 100 and Newton is tried again."""
    R, n, steps = R0, n0, steps0
    for sw in (switch_fmax, switch_fmax * 1e-2):
        d = _dimer.dimer(energy, R, n, fmax=max(fmax, sw), trust=trust, max_steps=max_steps)
        steps += d.steps
        if not d.converged:
            return StationaryResult(d.R, d.energy, d.max_force, 0, d.mode, d.curvature, steps, False, "dimer")
        Rn, E, fm, nsteps = (d.R, d.energy, d.max_force, 0)
        if fm > fmax:
            Rn, E, fm, nsteps = newton_polish(energy, d.R, fmax, trust=trust)
        n_neg, lam0, mode = negative_modes(energy, Rn, zero_tol)
        mode = np.asarray(mode).reshape(np.shape(Rn))
        if mode.reshape(-1) @ np.asarray(d.mode).reshape(-1) < 0:
            mode = -mode
        ok = bool(fm <= fmax and n_neg == 1)
        if ok:
            break
        R, n = d.R, d.mode
    return StationaryResult(Rn, E, fm, n_neg, mode, lam0, steps + nsteps, ok, "dimer")


def refine_saddle(
    energy, R0, direction=None, fmax: float = 1e-10, method: str = "dimer", switch_fmax: float = 1e-3, **kw
) -> StationaryResult:
    """Refine an approximate saddle (e.g. an NEB climbing image) to max|F| <= fmax.

    direction: the NEB tangent at the climbing image is a good initial mode (default: the
    lowest mode from a random start). ``method="dimer"`` (default): dimer walk to
    ``switch_fmax``, Newton polish, signature check, and eigenvector following from R0 if that
    fails; ``method="ef"``: eigenvector following only. ``kw``: ``trust``, ``max_steps``,
    ``zero_tol`` (both routes), ``lambda_floor`` (EF).
    """
    if method not in ("dimer", "ef"):
        raise InputError(f"unknown saddle method {method!r} (expected 'dimer' or 'ef')")
    if method == "dimer":
        trust = kw.get("trust", 0.1)
        r = _dimer_then_newton(
            energy,
            R0,
            direction,
            fmax,
            switch_fmax,
            trust,
            max(kw.get("max_steps", 500), 2000),
            kw.get("zero_tol", 1e-6),
        )
        if r.converged:
            return r
    return eigenvector_following(energy, R0, follow=True, direction=direction, fmax=fmax, **kw)


def refine_minimum(energy, R0, fmax: float = 1e-10, **kw) -> StationaryResult:
    """Newton polish of an approximate minimum (eigenvector following with no followed mode)."""
    return eigenvector_following(energy, R0, follow=False, fmax=fmax, **kw)


def single_ended_search(
    energy,
    R_min,
    mode,
    push: float = 0.05,
    fmax: float = 1e-10,
    trust: float = 0.05,
    max_steps: int = 500,
    method: str = "dimer",
    activation_eig: float = 1e-2,
    switch_fmax: float = 1e-3,
) -> StationaryResult:
    """ART-like search: from a minimum, push along ``mode`` by ``push`` (max particle
    displacement, sigma) and climb to a first-order saddle.

    ``method="dimer"`` (default): ART activation along ``mode`` until the lowest curvature is
    below ``-activation_eig`` (dimer.activate, at most ``max_steps`` pushes of ``trust``), then
    dimer + Newton polish. ``method="ef"``: eigenvector following of that mode on the dense Hessian.
    """
    if method not in ("dimer", "ef"):
        raise InputError(f"unknown saddle method {method!r} (expected 'dimer' or 'ef')")
    mode = np.asarray(mode, dtype=float)
    if mode.size != np.size(R_min) or not np.all(np.isfinite(mode)) or not np.any(mode):
        raise InputError("single-ended search mode must be a finite nonzero array of the shape of R")
    mode = mode / _max_atom(mode, mode.shape)
    if method == "dimer":
        a = _dimer.activate(
            energy,
            R_min,
            mode.reshape(np.shape(R_min)),
            push=push,
            trust=trust,
            activation_eig=activation_eig,
            max_pushes=max_steps,
        )
        if a is None:
            R = np.asarray(R_min, dtype=float) + push * mode.reshape(np.shape(R_min))
            return StationaryResult(
                R, float(energy(jnp.asarray(R))), np.inf, 0, None, None, max_steps, False, "dimer"
            )
        R_act, n_act, _, pushes = a
        return _dimer_then_newton(energy, R_act, n_act, fmax, switch_fmax, trust, 2000, 1e-6, pushes)
    R0 = np.asarray(R_min, dtype=float) + push * mode.reshape(np.shape(R_min))
    return eigenvector_following(
        energy, R0, follow=True, direction=mode, fmax=fmax, trust=trust, max_steps=max_steps
    )
