"""Tests of etm.tunneling: Eq. (4) and the two-parabola splitting from a numerical Schroedinger solve."""

import numpy as np
import pytest
from scipy.optimize import brentq
from scipy.special import pbdv

from etm.errors import InputError
from etm.tunneling import (
    EQ4_ZERO,
    delta0_map,
    delta0_two_parabola,
    delta0_two_parabola_asymptotic,
    delta0_two_parabola_numeric,
    delta0_wkb,
)
from etm.units import HBAR, K_B


def _splitting_parabolic_cylinder(r):
    """Exact double-oscillator splitting (hbar Omega = 1): right-well solution D_nu(sqrt2 (x - a)),
    even states D'_nu(-sqrt2 a) = 0, odd D_nu(-sqrt2 a) = 0, E = nu + 1/2."""
    z = -np.sqrt(2.0) * np.sqrt(2.0 * r)
    nu_even = brentq(lambda nu: pbdv(nu, z)[1], -0.999, 1e-9)
    nu_odd = brentq(lambda nu: pbdv(nu, z)[0], -0.5, 1.0)
    return nu_odd - nu_even


@pytest.mark.parametrize("r", [0.05, 0.5, 2.0, 5.0])
def test_numeric_schroedinger_vs_parabolic_cylinder(r):
    num = delta0_two_parabola_numeric(r * 2.0, 2.0)  # hbar Omega = 2 K
    exact = 2.0 * _splitting_parabolic_cylinder(r)
    assert abs(num / exact - 1) < 1e-5


def test_limits_of_numeric_solution():
    # V0 -> 0: single oscillator, splitting -> hbar Omega
    assert abs(delta0_two_parabola_numeric(0.0, 1.0) - 1.0) < 1e-6
    # large barrier: asymptotic instanton form within 2 % for V0 >= hbar Omega
    for r in (1.0, 3.0, 6.0):
        assert abs(delta0_two_parabola_asymptotic(r, 1.0) / delta0_two_parabola_numeric(r, 1.0) - 1) < 0.02


def test_eq4_regime():
    """Eq. (4) as printed agrees (10 %) with the exact splitting only for 0.27 < V0/hbar Omega < 0.42."""
    inside = np.array([0.28, 0.33, 0.41])
    for r in inside:
        assert abs(delta0_two_parabola(r, 1.0) / delta0_two_parabola_numeric(r, 1.0) - 1) < 0.1
    for r in (0.0, 0.1, 1.0, 2.0):
        assert abs(delta0_two_parabola(r, 1.0) / delta0_two_parabola_numeric(r, 1.0) - 1) > 0.3
    # beyond the zero of the printed bracket (V0/hbar Omega = 9 pi/8) the amplitude is 0, never < 0
    assert delta0_two_parabola(EQ4_ZERO * 1.01, 1.0) == 0.0 < delta0_two_parabola(EQ4_ZERO * 0.99, 1.0)
    assert np.all(delta0_two_parabola(np.linspace(EQ4_ZERO, 50.0, 20), 1.0) == 0.0)
    # scaling: Delta0/hbar Omega is a function of V0/hbar Omega only
    assert np.isclose(delta0_two_parabola(3.0, 10.0), 10 * delta0_two_parabola(0.3, 1.0))


def test_wkb_exponent_matches_two_parabola():
    # For V = min (1/2) m Omega^2 (x -+ a)^2 the WKB exponent (d/hbar) sqrt(2 m V0)
    # with d = a equals 2 V0/hbar Omega
    m = 10 * 1.66053906660e-27
    hw_K = 5.0
    Omega = hw_K * K_B / HBAR
    for V0 in (2.0, 10.0):
        a = np.sqrt(2 * V0 * K_B / (m * Omega**2))
        ratio = delta0_wkb(V0 * K_B, hw_K, a, m, HBAR) / hw_K  # SI for V0, d, m, hbar
        assert np.isclose(np.log(ratio), -2 * V0 / hw_K, rtol=1e-10)
    # and the numeric splitting has the same exponential slope at large barriers
    r1, r2 = 5.0, 6.0
    slope = (np.log(delta0_two_parabola_numeric(r2, 1.0)) - np.log(delta0_two_parabola_numeric(r1, 1.0))) / (
        r2 - r1
    )
    assert abs(slope + 2 - 0.5 * np.log(r2 / r1)) < 0.01  # -2 plus the sqrt(V0) prefactor


def test_delta0_map():
    V0 = np.linspace(0.0, 20.0, 41)
    hw = np.geomspace(1e-1, 10.0, 30)
    grid = delta0_map(V0, hw)
    assert grid.shape == (41, 30)
    assert np.isnan(grid[-1, 0]) and np.isfinite(grid[0, -1])
    assert np.isclose(grid[5, -1], delta0_two_parabola(V0[5], hw[-1]))
    with pytest.raises(InputError):
        delta0_two_parabola(1.0, -1.0)
