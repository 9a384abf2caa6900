"""Tunneling parameters of a double-well path profile (seed paper Eqs. 3-4, §8).

Input: a 1D profile V(s) along a mass-weighted coordinate s (mass 1; for a
landscape path s = sum_i sqrt(m_i) |dr_i| in reduced units), energies in reduced
units, and the reduced Planck constant hbar* of a unit preset (:mod:`pelsim.units`).

Output (all reduced energies):
- ``V0``: barrier top above the lower well; ``asymmetry``: V_b - V_a (classical);
- ``d``: distance between the minima along s (or the one given);
- ``hbar_omega_a/b``: hbar * sqrt(V''(s_min)) at each well (mass 1);
- ``splitting``: the tunneling-pair energy E = |E_B0 - E_A0|, where A0 (B0) is the lowest
  eigenstate of -hbar^2/2 d^2/ds^2 + V(s) localised in the left (right) well (probability
  weight > 1/2 on that side of the barrier top); ``splitting_lowest`` = E1 - E0 (they differ
  when |Delta| > hbar*omega of the lower well). Solved with a 10th-order finite-difference
  Hamiltonian on a uniform grid (sparse shift-invert Lanczos), grid doubled until the levels
  and gaps change by less than ``rtol`` relative. The Colbert-Miller sinc DVR (J. Chem. Phys.
  96, 1982 (1992)) is kept as :func:`sinc_dvr_levels` for cross-checks;
- ``Delta``: ground-state asymmetry with zero-point energies,
  (V_b + hbar_omega_b/2) - (V_a + hbar_omega_a/2);
- ``Delta0``: the anticrossing gap of the pair when the asymmetry is tuned by a uniform bias
  force along s (:func:`delta0_anticrossing`; STM E = sqrt(Delta^2 + Delta0^2), seed Eq. 2
  parametrisation); 0 below its numerical floor ``Delta0_floor``;
- ``Delta0_wkb``: seed Eq. 3, hbar Omega exp(-(d/hbar) sqrt(2 m V0)), m = 1;
- ``Delta0_parabola``: seed Eq. 4, (hbar Omega/2) [3 - sqrt(8 V0/(pi hbar Omega))] exp(-2 V0/hbar Omega),
  0 beyond V0 = 9 pi hbar Omega / 8 where the printed bracket turns negative;
  both with hbar Omega = (hbar_omega_a + hbar_omega_b)/2, both from :mod:`etm.tunneling` (the one
  implementation of seed Eqs. 3-4).

Walls: a path that ends at its two minima (an NEB path) is continued beyond each
end by the harmonic wall V_end + k_end (s - s_end)^2 / 2 (k_end the spline
curvature at the end, so V is C^2 at the join) far enough that the ground state
has decayed by exp(-50). A profile that already rises above both wells at its
ends is used as given (the DVR imposes psi = 0 beyond the grid).

Precision: eigenvalues carry an absolute round-off of ~1e-15 x (hbar^2 / dx^2);
splittings below ~1e-12 of hbar*omega are at that floor (``splitting_floor``).
Profiles are read and written as CSV (``x,V`` and the optional ``dVds``, ``d2Vds2`` columns:
:func:`read_profile_columns`, :func:`write_profile_csv`; ``pelsim splitting``, catalogue export).
"""

from __future__ import annotations

import numpy as np
from scipy.interpolate import CubicHermiteSpline, CubicSpline
from scipy.linalg import eigh

from etm.io import atomic_path
from etm.tunneling import delta0_two_parabola, delta0_wkb
from pelsim.device import on_one_blas_thread
from pelsim.errors import CalculationError, InputError


def sinc_dvr_levels(V_grid, dx, hbar, mass=1.0, n_levels=2):
    """Lowest ``n_levels`` eigenvalues of -hbar^2/(2m) d2/dx2 + V on a uniform grid (sinc DVR)."""
    n = V_grid.size
    i = np.arange(n)
    k = i[:, None] - i[None, :]
    with np.errstate(divide="ignore"):
        T = np.where(k == 0, np.pi**2 / 3.0, 2.0 * (-1.0) ** np.abs(k) / np.where(k == 0, 1, k) ** 2)
    H = (hbar**2 / (2.0 * mass * dx**2)) * T
    H[np.diag_indices(n)] += V_grid
    return eigh(H, eigvals_only=True, subset_by_index=[0, n_levels - 1])


def _fd2_coefficients(p: int) -> np.ndarray:
    """Central-difference weights c_0..c_p of d2/dx2 at order 2p (times 1/dx^2)."""
    from math import factorial

    k = np.arange(1, p + 1)
    c = np.array(
        [
            2.0 * (-1.0) ** (kk + 1) * factorial(p) ** 2 / (kk * kk * factorial(p - kk) * factorial(p + kk))
            for kk in k
        ]
    )
    return np.concatenate([[-2.0 * c.sum()], c])


def fd_levels(V_grid, dx, hbar, mass=1.0, n_levels=2, order=10):
    """Lowest levels with an ``order``-th order central finite-difference Laplacian
    (psi = 0 beyond the grid). Banded, so O(n order^2): used for the converged solve."""
    from scipy.linalg import eig_banded

    p = order // 2
    c = _fd2_coefficients(p)
    n = V_grid.size
    band = np.zeros((p + 1, n))  # lower form: band[k, j] = H[j + k, j]
    pref = -(hbar**2) / (2.0 * mass * dx**2)
    band[0] = pref * c[0] + V_grid
    for kk in range(1, p + 1):
        band[kk, : n - kk] = pref * c[kk]
    return eig_banded(band, lower=True, eigvals_only=True, select="i", select_range=(0, n_levels - 1))


@on_one_blas_thread
def levels(V, a, b, hbar, mass=1.0, n_levels=2, rtol=1e-10, n0=None, n_max=200000):
    """Converged lowest levels of V (callable) on [a, b] with psi(a) = psi(b) = 0.

    Solved with the 10th-order finite-difference Hamiltonian (banded, fast); the
    grid is doubled until every level and the gap E1 - E0 change by less than
    ``rtol`` relative (or the absolute round-off floor). Returns (levels, n_points).
    """
    if not b > a:
        raise InputError(f"empty interval [{a}, {b}] for the Schroedinger problem")
    # start coarse: 10th-order FD converges as dx^10 once dx resolves the low levels,
    # so doubling from a small grid is cheaper than guessing from max V (often far above them)
    n0 = n0 or 200
    prev = None
    n = n0
    while True:
        x = np.linspace(a, b, n + 2)[1:-1]
        dx = x[1] - x[0]
        E = fd_levels(V(x), dx, hbar, mass, n_levels)
        if prev is not None:
            floor = 1e-14 * (hbar**2 / (mass * dx**2) + np.max(np.abs(E)))
            gap, gap_prev = E[1] - E[0], prev[1] - prev[0]
            ok = np.all(np.abs(E - prev) <= rtol * np.abs(E) + floor)
            ok &= abs(gap - gap_prev) <= rtol * abs(gap) + floor
            if ok:
                return E, n
        if 2 * n > n_max:
            return E, n
        prev, n = E, 2 * n


def _fd_hamiltonian(V_grid, dx, hbar, mass, order):
    from scipy.sparse import diags

    p = order // 2
    c = _fd2_coefficients(p)
    n = V_grid.size
    pref = -(hbar**2) / (2.0 * mass * dx**2)
    offs = list(range(-p, p + 1))
    bands = [pref * c[abs(k)] * np.ones(n - abs(k)) for k in offs]
    bands[p] = bands[p] + V_grid
    return diags(bands, offs, format="csc"), pref


def fd_count_below(V_grid, dx, hbar, E, mass=1.0, order=10):
    """Number of eigenvalues of the FD Hamiltonian below E (Sylvester's law of inertia).

    H - E = L D L^T by elimination without pivoting (SuperLU, natural order, no
    row interchanges): the number of negative pivots is the number of eigenvalues < E.
    Used to give the index of a state found by a shift-invert window without
    computing every level below it."""
    from scipy.sparse import identity
    from scipy.sparse.linalg import splu

    H, _ = _fd_hamiltonian(V_grid, dx, hbar, mass, order)
    lu = splu(
        (H - E * identity(H.shape[0], format="csc")).tocsc(),
        permc_spec="NATURAL",
        diag_pivot_thresh=0.0,
        options={"SymmetricMode": True},
    )
    return int(np.sum(lu.U.diagonal() < 0))


def fd_states(V_grid, dx, hbar, mass=1.0, n_levels=2, order=10, sigma=None):
    """Lowest ``n_levels`` eigenpairs (E, psi[:, i]) of the ``order``-th order FD Hamiltonian.

    With ``sigma``: the ``n_levels`` eigenpairs nearest to sigma instead (a window).

    Sparse shift-invert Lanczos (ARPACK via scipy.sparse.linalg.eigsh, shift below the
    potential minimum): O(n) per solve and orthonormal Ritz vectors even for nearly
    degenerate tunneling pairs. (LAPACK's banded dsbevx with eigenvectors forms the
    dense n x n reduction matrix, O(n^3): minutes at n = 6400.)"""
    from scipy.sparse.linalg import eigsh

    n = V_grid.size
    H, pref = _fd_hamiltonian(V_grid, dx, hbar, mass, order)
    n_levels = min(n_levels, n - 2)
    if sigma is None:
        sigma = float(np.min(V_grid)) - 1e-3 * (abs(float(np.min(V_grid))) + abs(pref))
    v0 = np.random.default_rng(12345).standard_normal(n)  # deterministic ARPACK start
    E, psi = eigsh(
        H, k=n_levels, sigma=sigma, which="LM", tol=0.0, v0=v0, ncv=min(n - 1, max(2 * n_levels + 1, 20))
    )
    order_ = np.argsort(E)
    return E[order_], psi[:, order_]


def _weights_right(psi, x, s_top):
    """Probability weight of each eigenvector psi[:, i] beyond the barrier top s_top."""
    p2 = psi**2
    return p2[x > s_top].sum(axis=0) / p2.sum(axis=0)


class NoLocalisedState(CalculationError):
    """A well of the profile holds no eigenstate localised in it."""


def _lowest_on_side(Vx, x, dx, hbar, mass, s_top, right: bool, k0: int = 8, V_top=None):
    """Lowest eigenstate with more than half its weight on one side of the barrier top.

    Shift-invert window at the bottom of that well: the eigenpairs nearest to it form a
    contiguous window of the spectrum, and no state localised in a well lies below its
    bottom, so the lowest such state in the window is the well's lowest state. The
    window grows until it holds one. This costs O(k) states instead of every level of the
    other well below it (a DWP with asymmetry 5.6 eps and hbar* = 0.03 has ~10^2 of them).
    A state localised in a well lies below the barrier top ``V_top`` (default: the grid
    potential at s_top); once the window reaches above V_top without one, the well holds
    none (barrier below the zero-point energy). Without this stop a KA pair with a
    0.011 eps barrier above a well 3.4 eps higher than the other grew the window to 4096
    states on 10^5-point grids (minutes per DWP, 2026-11-24).
    """
    side = x >= s_top if right else x < s_top
    pref = hbar**2 / (mass * dx**2)
    if V_top is None:
        V_top = float(np.interp(s_top, x, Vx))
    sig = float(np.min(Vx[side])) - 1e-6 * (1.0 + abs(float(np.min(Vx[side]))))
    k = k0
    while True:
        E, psi = fd_states(Vx, dx, hbar, mass, k, sigma=sig)
        wr = _weights_right(psi, x, s_top)
        on = np.flatnonzero(((wr >= 0.5) if right else (wr < 0.5)) & (E < V_top))
        if on.size:
            i = int(on[np.argmin(E[on])])
            return float(E[i]), float(wr[i])
        if np.max(E) >= V_top:
            raise NoLocalisedState(
                "no eigenstate localised in one of the wells below the barrier top "
                "(barrier below the zero-point energy)"
            )
        if k >= min(x.size - 2, 4096) or pref == 0.0:
            raise NoLocalisedState(
                "no eigenstate localised in one of the wells (barrier below the zero-point energy?)"
            )
        k = min(2 * k, x.size - 2)


def pair_levels(V, a, b, s_top, hbar, mass=1.0, rtol=1e-10, n0=200, n_max=200000):
    """The tunneling pair of a double well: the lowest eigenstate localised in each well.

    Eigenstates of -hbar^2/2m d2/dx2 + V on [a, b] (10th-order FD, grid doubled until
    the pair energies and E1 - E0 change by < rtol relative) are assigned to the
    left (A) or right (B) well by their probability weight on either side of the
    barrier top s_top (> 1/2 on a side). The lowest state of each well is found in a
    shift-invert window at that well's bottom (``_lowest_on_side``), its index in the
    spectrum by inertia (``fd_count_below``). Returns a dict with E0, E1, E_A, E_B, the
    indices i_A, i_B, w_A (weight of state A beyond the top), w_B (weight of state B
    before it), the grid size and the absolute round-off floor of the energies.
    """
    if not b > a:
        raise InputError(f"empty interval [{a}, {b}] for the Schroedinger problem")
    prev, n = None, n0
    while True:
        x = np.linspace(a, b, n + 2)[1:-1]
        dx = x[1] - x[0]
        Vx = V(x)
        E, _ = fd_states(Vx, dx, hbar, mass, 2)
        EA, wA = _lowest_on_side(Vx, x, dx, hbar, mass, s_top, right=False)
        EB, wB = _lowest_on_side(Vx, x, dx, hbar, mass, s_top, right=True)
        cur = np.array([E[0], E[1], EA, EB])
        floor = 1e-14 * (hbar**2 / (mass * dx**2) + np.max(np.abs(cur)))
        if prev is not None:
            P = prev
            ok = np.all(np.abs(cur - P) <= rtol * np.abs(cur) + floor)
            for g, gp in ((cur[1] - cur[0], P[1] - P[0]), (cur[3] - cur[2], P[3] - P[2])):
                ok &= abs(g - gp) <= rtol * abs(g) + floor
            if ok or 2 * n > n_max:
                break
        elif 2 * n > n_max:
            break
        prev, n = cur, 2 * n
    # index of each pair state in the spectrum (number of eigenvalues below it); a
    # nearly degenerate partner is separated by construction: the upper one is >= lower + 1
    lo, hi = sorted((EA, EB))
    d = 1e-9 * (1.0 + abs(lo))
    i_lo = fd_count_below(Vx, dx, hbar, lo - d, mass)
    i_hi = max(fd_count_below(Vx, dx, hbar, hi - d, mass), i_lo + 1)
    iA, iB = (i_lo, i_hi) if EA <= EB else (i_hi, i_lo)
    return {
        "E0": float(E[0]),
        "E1": float(E[1]),
        "E_A": float(EA),
        "E_B": float(EB),
        "i_A": int(iA),
        "i_B": int(iB),
        "w_A": float(wA),
        "w_B": float(1.0 - wB),
        "grid_points": int(n),
        "floor": float(floor),
    }


def delta0_anticrossing(V, a, b, s_a, s_b, s_top, hbar, pair, mass=1.0, n_points=None, max_iter=12):
    """Delta0 as the anticrossing gap of the tunneling pair under a uniform bias force.

    The profile is tilted, V_lam(x) = V(x) + lam (x - s_top), which shifts the two wells
    against each other (the way a strain or field tunes Delta in the STM while leaving
    Delta0 unchanged to first order; it does not change the well curvatures). lam is
    iterated to resonance: from the two lowest states of the tilted problem, gap E and
    weight w of the lower one beyond the top, the two-state model gives the bias
    delta = E (1 - 2 w) and Delta0 = 2 E sqrt(w (1 - w)); lam -= delta / (s_b - s_a)
    until |delta| < 1e-9 E (or the round-off floor). At resonance Delta0 = E, the minimum
    gap. Returns (Delta0, lam, status): "ok"; "no_resonance" when the tilt destroys a
    well (the two lowest states are not one per well); "unresolved" when the bias cannot
    be tuned finely enough to reach resonance (Delta0 below the resolution; 0 returned).
    """
    n = n_points or pair["grid_points"]
    x = np.linspace(a, b, n + 2)[1:-1]
    dx = x[1] - x[0]
    Vx = V(x)
    span = s_b - s_a
    lam = -(pair["E_B"] - pair["E_A"]) / span
    floor = pair["floor"]
    D0 = 0.0
    for _ in range(max_iter):
        E, psi = fd_states(Vx + lam * (x - s_top), dx, hbar, mass, 2)
        w = _weights_right(psi, x, s_top)
        gap = float(E[1] - E[0])
        if abs(w[0] + w[1] - 1.0) > 0.2:  # both lowest states in one well: no resonance reachable
            return 0.0, lam, "no_resonance"
        w0 = float(w[0])
        D0 = 2.0 * gap * np.sqrt(max(w0 * (1.0 - w0), 0.0))
        delta = gap * (1.0 - 2.0 * w0)
        if abs(delta) <= 1e-9 * gap + floor:
            break
        lam -= delta / span
    if 4.0 * w0 * (1.0 - w0) < 0.5:
        # resonance not reached: |delta| stays above Delta0 because lam cannot be set finer
        # than its round-off, so Delta0 is below the resolution of the construction
        return 0.0, float(lam), "unresolved"
    return float(D0), float(lam), "ok"


class Profile:
    """A smooth interpolant of a path profile V(s), with harmonic walls when its ends are minima."""

    def __init__(self, s, V, dVds=None):
        s = np.asarray(s, dtype=float)
        V = np.asarray(V, dtype=float)
        if s.ndim != 1 or s.shape != V.shape or s.size < 4:
            raise InputError("a profile needs matching 1D arrays s, V with at least 4 points")
        if not (np.all(np.isfinite(s)) and np.all(np.isfinite(V))):
            raise InputError("profile contains NaN or inf")
        if np.any(np.diff(s) <= 0):
            raise InputError("profile coordinate must be strictly increasing")
        self.s, self.V = s, V
        self.ends_at_minima = bool(V[0] <= V[1] and V[-1] <= V[-2])
        if dVds is not None:
            self.spline = CubicHermiteSpline(s, V, np.asarray(dVds, dtype=float))
        elif self.ends_at_minima:
            self.spline = CubicSpline(s, V, bc_type=((1, 0.0), (1, 0.0)))
        else:
            self.spline = CubicSpline(s, V)
        d2 = self.spline.derivative(2)
        self.k_left, self.k_right = float(d2(s[0])), float(d2(s[-1]))

    def __call__(self, x):
        x = np.asarray(x, dtype=float)
        v = self.spline(np.clip(x, self.s[0], self.s[-1]))
        if self.ends_at_minima:
            left, right = x < self.s[0], x > self.s[-1]
            v = np.where(left, self.V[0] + 0.5 * self.k_left * (x - self.s[0]) ** 2, v)
            v = np.where(right, self.V[-1] + 0.5 * self.k_right * (x - self.s[-1]) ** 2, v)
        return v

    def wells(self):
        """(s_a, V_a, s_b, V_b, s_top, V_top): the two wells either side of the highest barrier."""
        x = np.linspace(self.s[0], self.s[-1], 20001)
        v = self.spline(x)
        inner = np.flatnonzero((v[1:-1] <= v[:-2]) & (v[1:-1] <= v[2:])) + 1
        mins = list(inner)
        if v[0] <= v[1]:
            mins.insert(0, 0)
        if v[-1] <= v[-2]:
            mins.append(len(x) - 1)
        if len(mins) < 2:
            raise InputError("profile has fewer than two wells")
        lo, hi = mins[0], mins[-1]
        top = lo + int(np.argmax(v[lo : hi + 1]))
        ia = lo + int(np.argmin(v[lo : top + 1]))
        ib = top + int(np.argmin(v[top : hi + 1]))
        if ia == top or ib == top:
            raise InputError("profile has no barrier between its wells")
        return (*self._refine(x, ia, 1.0), *self._refine(x, ib, 1.0), *self._refine(x, top, -1.0))

    def _refine(self, x, i, sign):
        """Polish a grid extremum of the spline (sign +1: minimum, -1: maximum) to round-off."""
        from scipy.optimize import minimize_scalar

        if i == 0 or i == len(x) - 1:
            return float(x[i]), float(self.spline(x[i]))
        r = minimize_scalar(
            lambda t: sign * float(self.spline(t)),
            bounds=(x[i - 1], x[i + 1]),
            method="bounded",
            options={"xatol": 1e-13},
        )
        return float(r.x), float(self.spline(r.x))


@on_one_blas_thread
def dwp_parameters(s, V, hbar, dVds=None, d=None, curvature=None, rtol=1e-8) -> dict:
    """All DWP parameters of a profile (see module docstring); reduced units.

    d: distance between the minima (default: |s_b - s_a| along the profile).
    curvature: optional exact d2V/ds2 (k_a, k_b) at the two end minima (e.g. from the
    Hessian along the path tangent); it sets hbar*omega and the harmonic walls, which
    is more accurate than the curvature of a spline through a coarse NEB band.
    """
    if not hbar > 0:
        raise InputError(f"hbar must be positive, got {hbar}")
    prof = Profile(s, V, dVds)
    sa, Va, sb, Vb, st, Vt = prof.wells()
    d2 = prof.spline.derivative(2)
    ka, kb = float(d2(sa)), float(d2(sb))
    if prof.ends_at_minima:
        ka = prof.k_left if sa == prof.s[0] else ka
        kb = prof.k_right if sb == prof.s[-1] else kb
    if ka <= 0 or kb <= 0:
        raise InputError("profile curvature at a well is not positive: cannot define hbar*Omega")
    if curvature is not None and prof.ends_at_minima:
        if not (curvature[0] > 0 and curvature[1] > 0):
            raise InputError(f"curvatures at the minima must be positive, got {curvature}")
        prof.k_left, prof.k_right = float(curvature[0]), float(curvature[1])
        ka = prof.k_left if sa == prof.s[0] else ka
        kb = prof.k_right if sb == prof.s[-1] else kb
    hwa, hwb = hbar * np.sqrt(ka), hbar * np.sqrt(kb)
    a, b = prof.s[0], prof.s[-1]
    if prof.ends_at_minima:
        # walls: psi_0 ~ exp(-omega u^2 / (2 hbar)) decays by exp(-50) at u = sqrt(100 hbar / omega)
        a -= np.sqrt(100.0 * hbar / np.sqrt(prof.k_left)) if prof.k_left > 0 else 0.0
        b += np.sqrt(100.0 * hbar / np.sqrt(prof.k_right)) if prof.k_right > 0 else 0.0
    Vlow = min(Va, Vb)
    V0 = float(Vt - Vlow)
    try:
        pair = pair_levels(prof, a, b, st, hbar, 1.0, rtol)
    except NoLocalisedState:
        # one well holds no localised state (its barrier is below the zero-point energy):
        # a classical double well but not a two-level system; quantum entries are NaN
        nan = float("nan")
        pair = {
            "E0": nan,
            "E1": nan,
            "E_A": nan,
            "E_B": nan,
            "i_A": -1,
            "i_B": -1,
            "w_A": nan,
            "w_B": nan,
            "grid_points": 0,
            "floor": nan,
        }
    E_pair = abs(pair["E_B"] - pair["E_A"])
    # resolution of Delta0: energy round-off, and the bias resolution of the anticrossing
    # iteration (relative round-off of lam * (s_b - s_a) ~ E_pair)
    D0_floor = float(pair["floor"] + 1e-15 * (E_pair + abs(Vt) + abs(Vlow)))
    if pair["i_A"] < 0:
        D0, lam, status = float("nan"), float("nan"), "no_localised_state"
    else:
        D0, lam, status = delta0_anticrossing(prof, a, b, sa, sb, st, hbar, pair)
    method = {"unresolved": "unresolved", "no_localised_state": status}.get(status, "anticrossing")
    if status == "no_resonance":
        # the tilt to resonance destroys a well: two-state relation on the untilted pair,
        # Delta0 = 2 E sqrt(w (1 - w)), w = weight of the lower pair state in the other well
        w = pair["w_A"] if pair["E_A"] <= pair["E_B"] else pair["w_B"]
        D0 = 2.0 * E_pair * np.sqrt(max(w * (1.0 - w), 0.0))
        method = "pair_weights"
    D0 = min(D0, E_pair) if status != "no_localised_state" else D0  # gap at resonance <= pair energy
    if D0 < D0_floor:
        D0 = 0.0
    dist = abs(sb - sa) if d is None else float(d)
    Delta = float((Vb + 0.5 * hwb) - (Va + 0.5 * hwa))
    hw = 0.5 * (hwa + hwb)
    return {
        "V0": V0,
        "asymmetry": float(Vb - Va),
        "barrier": float(Vt - Va),
        "d": float(dist),
        "s_a": float(sa),
        "s_b": float(sb),
        "s_top": float(st),
        "hbar_omega_a": float(hwa),
        "hbar_omega_b": float(hwb),
        "E0": pair["E0"],
        "E1": pair["E1"],
        "E_A": pair["E_A"],
        "E_B": pair["E_B"],
        "level_A": pair["i_A"],
        "level_B": pair["i_B"],
        "splitting": float(E_pair),
        "splitting_lowest": float(pair["E1"] - pair["E0"]),
        "Delta": Delta,
        "Delta0": float(D0),
        "Delta0_method": method,
        "Delta0_floor": D0_floor,
        "bias_resonance": float(lam),
        "Delta0_wkb": float(delta0_wkb(V0, hw, dist, 1.0, hbar)),
        "Delta0_parabola": float(delta0_two_parabola(V0, hw)),
        "walls_extended": prof.ends_at_minima,
        "grid_points": int(pair["grid_points"]),
        "splitting_floor": float(pair["floor"]),
    }


def read_profile_csv(path):
    """Read a CSV with a header naming columns ``x`` and ``V`` -> (x, V) sorted by x."""
    p = read_profile_columns(path)
    return p["x"], p["V"]


def read_profile_columns(path) -> dict:
    """Read a profile CSV (:func:`write_profile_csv`) -> dict x, V, dVds, curvature, sorted by x.

    Columns ``x`` and ``V`` are required. Optional: ``dVds`` (the path force along x at each
    point; absent or any empty cell -> None) and ``d2Vds2`` (d2V/dx2 at the two end points, read
    from the first and last row after sorting; other rows may be empty; absent -> None), the
    inputs ``dVds=`` and ``curvature=`` of :func:`dwp_parameters`.
    """
    import csv

    try:
        with open(path, newline="") as fh:
            rows = list(csv.DictReader(fh))
    except FileNotFoundError:
        raise InputError(f"profile file not found: {path}") from None
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise InputError(f"cannot read profile {path}: {exc}") from None
    if not rows or "x" not in rows[0] or "V" not in rows[0]:
        raise InputError(f"{path}: CSV must have a header with columns x,V")
    try:
        x = np.array([float(r["x"]) for r in rows])
        V = np.array([float(r["V"]) for r in rows])
    except (TypeError, ValueError):
        raise InputError(f"{path}: non-numeric x or V value") from None
    order = np.argsort(x, kind="stable")
    x, V = x[order], V[order]
    if np.any(np.diff(x) == 0):
        raise InputError(f"{path}: repeated x values")
    rows = [rows[i] for i in order]
    out = {"x": x, "V": V, "dVds": None, "curvature": None}
    try:
        if "dVds" in rows[0] and all((r["dVds"] or "").strip() for r in rows):
            out["dVds"] = np.array([float(r["dVds"]) for r in rows])
        if "d2Vds2" in rows[0] and all((r["d2Vds2"] or "").strip() for r in (rows[0], rows[-1])):
            out["curvature"] = (float(rows[0]["d2Vds2"]), float(rows[-1]["d2Vds2"]))
    except (TypeError, ValueError):
        raise InputError(f"{path}: non-numeric dVds or d2Vds2 value") from None
    return out


def write_profile_csv(path, x, V, dVds=None, curvature=None) -> None:
    """Write a path profile as CSV (``%.17g``: read back bit for bit), atomically.

    Columns ``x,V``, plus ``dVds`` when given and ``d2Vds2`` (the two end curvatures
    ``curvature = (k_a, k_b)``, on the first and last row only) when given: exactly the inputs of
    :func:`dwp_parameters`, so that ``pelsim splitting FILE --hbar H`` recomputes the same levels.
    """
    x, V = np.asarray(x, float), np.asarray(V, float)
    cols = [x, V]
    head = ["x", "V"]
    if dVds is not None:
        cols.append(np.asarray(dVds, float))
        head.append("dVds")
    if any(len(c) != len(x) for c in cols):
        raise InputError("profile columns x, V, dVds must have the same length")
    lines = [",".join(head + (["d2Vds2"] if curvature is not None else []))]
    ends = {0: 0, len(x) - 1: 1}
    for k in range(len(x)):
        row = [f"{c[k]:.17g}" for c in cols]
        if curvature is not None:
            row.append(f"{float(curvature[ends[k]]):.17g}" if k in ends else "")
        lines.append(",".join(row))
    with atomic_path(path, ".csv") as tmp, open(tmp, "w") as fh:
        fh.write("\n".join(lines) + "\n")
