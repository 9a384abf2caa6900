"""Tunneling parameter Delta0 of a double-well potential (seed Eqs. 3-4, Fig. 26).

The one implementation of seed Eqs. (3) and (4) in the toolkit: ``pelsim.tunneling`` (DWP
parameters of simulated paths, reduced units) and the ``etm tunneling`` command both call these.
Both take the barrier first: ``(V0, hbar_omega, ...)``.

* :func:`delta0_wkb` - Eq. (3), Delta0 = hbar Omega exp(-(d/hbar) sqrt(2 m V0)), in any
  consistent unit system (SI, or pelsim's reduced units with mass 1 and hbar*).
* :func:`delta0_two_parabola` - Eq. (4) as printed,
  Delta0 = (hbar Omega/2) [3 - sqrt(8 V0/(pi hbar Omega))] exp(-2 V0/hbar Omega),
  for two superimposed parabolic wells V(x) = min_pm m Omega^2 (x -+ a)^2 / 2, V0 = m Omega^2 a^2/2.
  **Outside its range**: the bracket vanishes at V0/hbar Omega = 9 pi/8 (:data:`EQ4_ZERO`) and
  would turn negative beyond; the function returns 0 there (never a negative amplitude).
* :func:`delta0_two_parabola_numeric` - the exact ground-state splitting of that potential from a
  1D Schroedinger solve (second-order finite differences, scipy ``eigh_tridiagonal``).
* :func:`delta0_two_parabola_asymptotic` - the large-barrier (instanton/Merzbacher) limit
  2 hbar Omega sqrt(2 V0/(pi hbar Omega)) exp(-2 V0/hbar Omega).
* :func:`delta0_map` - Eq. (4) on a (V0, hbar Omega) grid for the iso-line map of Fig. 26.

Measured (tests/test_etm_tunneling.py): Eq. (4) as printed agrees with the exact splitting
within 10 % only for 0.27 < V0/hbar Omega < 0.42; it is 1.5x too large at V0 -> 0, 2.3x too
small at V0 = hbar Omega, and 0 (clamped; as printed it is negative) for V0/hbar Omega > 9 pi/8
= 3.53. The asymptotic form is within 2 % of the exact splitting for V0/hbar Omega >= 1. Both
are given; Eq. (4) stays the paper's formula (the CLI's ``etm tunneling`` column).

Units: Eq. (4) and the numeric forms take any one energy unit (K in etm) and return Delta0 in it;
Eq. (3) takes one consistent unit system for V0, d, mass and hbar (SI: J, m, kg, J s) and returns
Delta0 in the unit of hbar_omega.
"""

from __future__ import annotations

import numpy as np

from etm.errors import InputError

#: bracket of Eq. (4) vanishes at V0/hbar Omega = 9 pi / 8
EQ4_ZERO = 9.0 * np.pi / 8.0


def _positive(name, x):
    x = np.asarray(x, float)
    if not np.all(np.isfinite(x)) or np.any(x <= 0):
        raise InputError(f"{name} must be finite and > 0")
    return x


def delta0_wkb(V0, hbar_omega, d, mass, hbar):
    """Eq. (3): Delta0 = hbar Omega exp(-(d/hbar) sqrt(2 m V0)), in the unit of ``hbar_omega``.

    V0 (>= 0), d, mass and hbar in one consistent unit system (SI: J, m, kg, J s; pelsim's
    reduced units: epsilon, sigma, mass 1 along a mass-weighted path, hbar*). Broadcasts.
    """
    hw = _positive("hbar_omega", hbar_omega)
    V0 = np.asarray(V0, float)
    if np.any(V0 < 0) or not np.all(np.isfinite(V0)):
        raise InputError("V0 must be finite and >= 0")
    return hw * np.exp(-(np.asarray(d, float) / hbar) * np.sqrt(2.0 * np.asarray(mass, float) * V0))


def delta0_two_parabola(V0, hbar_omega):
    """Eq. (4) as printed: (hbar Omega/2)[3 - sqrt(8 V0/(pi hbar Omega))] exp(-2 V0/hbar Omega).

    Same unit as the inputs. 0 for V0/hbar Omega >= 9 pi/8, where the printed bracket turns
    negative (outside any validity; see the module docstring). InputError for hbar Omega <= 0
    or V0 < 0.
    """
    hw = _positive("hbar_omega", hbar_omega)
    V0 = np.asarray(V0, float)
    if np.any(V0 < 0) or not np.all(np.isfinite(V0)):
        raise InputError("V0 must be finite and >= 0")
    r = V0 / hw
    return np.maximum(0.5 * hw * (3.0 - np.sqrt(8.0 * r / np.pi)) * np.exp(-2.0 * r), 0.0)


def delta0_two_parabola_asymptotic(V0, hbar_omega):
    """Large-barrier limit of the two-parabola splitting [K].

    2 hbar Omega sqrt(2 V0/(pi hbar Omega)) exp(-2 V0/hbar Omega).
    """
    hw = _positive("hbar_omega", hbar_omega)
    r = np.asarray(V0, float) / hw
    return 2.0 * hw * np.sqrt(2.0 * r / np.pi) * np.exp(-2.0 * r)


def delta0_two_parabola_numeric(V0, hbar_omega, n_grid=20001, margin=12.0):
    """Exact splitting E_1 - E_0 of V = min_pm (1/2) m Omega^2 (x -+ a)^2 [K], scalar V0, hbar Omega.

    Dimensionless units hbar = m = Omega = 1 (a = sqrt(2 V0/hbar Omega)); finite differences on
    [-a - margin, a + margin] with n_grid points (error ~ h^2, ~1e-7 relative at the default).
    """
    from scipy.linalg import eigh_tridiagonal

    hw = float(_positive("hbar_omega", hbar_omega))
    r = float(V0) / hw
    if r < 0:
        raise InputError("V0 must be >= 0 K")
    a = np.sqrt(2.0 * r)
    x = np.linspace(-a - margin, a + margin, int(n_grid))
    h = x[1] - x[0]
    V = 0.5 * np.minimum((x - a) ** 2, (x + a) ** 2)
    diag = 1.0 / h**2 + V
    off = np.full(x.size - 1, -0.5 / h**2)
    w = eigh_tridiagonal(diag, off, select="i", select_range=(0, 1), eigvals_only=True)
    return hw * (w[1] - w[0])


def delta0_map(V0_grid, hw_grid):
    """Eq. (4) on the grid V0_grid x hw_grid [K] -> array (len(V0), len(hw)); NaN beyond 9 pi/8.

    For the Delta0 iso-line map of Fig. 26 (contour it in log10).
    """
    V0 = np.asarray(V0_grid, float)[:, None]
    hw = np.asarray(hw_grid, float)[None, :]
    val = delta0_two_parabola(V0, hw)
    return np.where(val > 0, val, np.nan)
