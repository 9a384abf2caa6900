"""Tests of etm.heat_capacity: Eq. (15) peak, C_ATS three ways, corrected Eq. (16), limits."""

import numpy as np
import pytest
from scipy.optimize import brentq

from etm.dos import g_ats
from etm.errors import InputError
from etm.free_energy import c_ats_free_energy, c_paramagnetic_free_energy
from etm.heat_capacity import (
    c_ats,
    c_ats_eq14,
    c_ats_eq18,
    c_ats_orientation_numeric,
    c_from_dos,
    c_paramagnetic,
    c_phonon,
    c_stm_linear,
    c_total,
    schottky,
    stm_linear_coefficient,
)
from etm.params import ATSParams
from etm.units import K_B, MU_B_OVER_KB

BAS = ATSParams(D_min=0.49, D0min_qS=4.77e4, D0max_qS=3.09e5)  # Table 2
PN_BAS = 5.19e16  # Table 1
DURAN_M = ATSParams(D_min=5.35e-2, D0min_qS=2.00e5, D0max_qS=2.81e5, B_star=1.63)  # Table 11


def test_schottky_peak():
    # maximum of (x/2)^2 sech^2(x/2) in x = E/T: x tanh(x/2) = 2
    x = brentq(lambda x: x * np.tanh(x / 2) - 2, 1, 4)
    assert abs(x - 2.3994) < 1e-4
    xs = np.linspace(2.0, 2.8, 80001)
    assert abs(xs[np.argmax(schottky(xs, 1.0))] - x) < 1e-4
    assert abs(float(schottky(x, 1.0)) - 0.4392) < 1e-4
    # scaling: C0 depends on E/T only
    assert np.isclose(float(schottky(3.0, 1.5)), float(schottky(2.0, 1.0)))


def test_c_ats_closed_vs_eq14_vs_eq18():
    T = np.array([0.05, 0.6, 0.9, 1.36, 5.0])
    B = np.array([0.1, 0.5, 2.0, 8.0, 1.0])
    fast = c_ats(T, B, BAS, PN_BAS)
    ref = c_ats_eq14(T, B, BAS, PN_BAS)
    printed = c_ats_eq18(T, B, BAS, PN_BAS)
    assert np.max(np.abs(fast / ref - 1)) < 1e-9
    assert np.max(np.abs(printed / ref - 1)) < 1e-9
    # zero field: C = 2 pi Pn k_B ln(D0max/D0min) int_{Dmin/2T}^inf dx x sech^2 x = ... (Eq. 19 at phi = 0)
    I = lambda x: x * np.tanh(x) - np.log(np.cosh(x))
    T0 = 0.6
    expected = (
        2 * np.pi * PN_BAS * K_B * np.log(BAS.D0max_qS / BAS.D0min_qS) * (np.log(2) - I(BAS.D_min / (2 * T0)))
    )
    assert np.isclose(float(c_ats(T0, 0.0, BAS, PN_BAS)), expected, rtol=1e-10)


def test_c_ats_vs_free_energy():
    T = np.array([0.3, 0.9, 2.0])
    B = np.array([0.2, 1.0, 3.0])
    for p in (BAS, DURAN_M):
        cf = c_ats_free_energy(T, B, p, PN_BAS)
        assert np.max(np.abs(c_ats(T, B, p, PN_BAS) / cf - 1)) < 1e-6


def test_c_ats_grid_accuracy_and_magnetic_effect():
    T = np.geomspace(0.05, 5, 12)[:, None]
    B = np.linspace(0, 8, 11)[None, :]
    lo = c_ats(T, B, BAS, 1.0)
    # the fast form against the plain 2D quadrature of the distribution in (ln D, ln D0)
    two_d = c_ats(T, B, BAS, 1.0, n_s=96, n_t=40, method="2d")
    assert np.max(np.abs(lo / two_d - 1)) < 1e-11
    extreme = ATSParams(D_min=1e-3, D0min_qS=1e3, D0max_qS=1e6)
    assert np.max(np.abs(c_ats(T, B, extreme) / c_ats(T, B, extreme, n_s=96, n_t=48) - 1)) < 1e-9
    # at T = 0.6 K a weak field first raises C (states pushed up towards kT), a strong field freezes them out
    Bf = np.array([0.0, 0.5, 8.0, 30.0])
    cB = c_ats(0.6, Bf, BAS, 1.0)
    assert cB[3] < cB[0]


def test_c_ats_from_dos_grid():
    E = np.linspace(1e-4, 40.0, 400001)
    for B in (0.0, 1.0):
        g = g_ats(E, B, BAS, PN_BAS)
        cd = c_from_dos(0.7, E, g)
        assert np.isclose(float(cd), float(c_ats(0.7, B, BAS, PN_BAS)), rtol=2e-5)


@pytest.mark.parametrize("J", [2.0, 2.5])
def test_c_para_vs_free_energy(J):
    T = np.array([0.1, 0.6, 1.36, 4.0, 0.6])
    B = np.array([0.05, 0.5, 2.0, 8.0, 1e-4])
    cp = c_paramagnetic(T, B, 1.06e17, J)
    cf = c_paramagnetic_free_energy(T, B, 1.06e17, J)
    assert np.max(np.abs(cp / cf - 1)) < 1e-10


@pytest.mark.parametrize("J", [2.0, 2.5])
def test_printed_eq16_variable_is_wrong(J):
    """Eq. (16) with the printed z = g mu_B J B/(k_B T) disagrees with the 2J+1-level free energy."""
    T, B, n = 0.6, 0.5, 1e17
    z_printed = 2.0 * MU_B_OVER_KB * J * B / T
    f = lambda a: (a / np.sinh(a)) ** 2
    printed = n * K_B * (f(z_printed / 2) - f((2 * J + 1) * z_printed / 2))
    cf = float(c_paramagnetic_free_energy(T, B, n, J))
    assert abs(printed / cf - 1) > 0.1
    # the printed form is the correct one at field J*B: its peak in B sits J times too low
    Bs = np.linspace(0.01, 3.0, 3000)
    correct = c_paramagnetic(T, Bs, n, J)
    zp = 2.0 * MU_B_OVER_KB * J * Bs / T
    printed_B = f(zp / 2) - f((2 * J + 1) * zp / 2)
    assert np.isclose(Bs[np.argmax(correct)] / Bs[np.argmax(printed_B)], J, rtol=0.01)
    assert np.isclose(float(c_paramagnetic(T, B, n, J)), cf, rtol=1e-10)


def test_c_para_limits():
    n, J, g = 1e17, 2.5, 2.0
    T = 50.0
    B = np.array([0.01, 0.1])
    y = g * MU_B_OVER_KB * B / T
    high_T = n * K_B * J * (J + 1) * y**2 / 3  # high-T expansion of the Zeeman Schottky term
    assert np.allclose(c_paramagnetic(T, B, n, J, g), high_T, rtol=1e-3)
    assert float(c_paramagnetic(1.0, 0.0, n, J)) == 0.0
    assert float(c_paramagnetic(1.0, 1e-9, n, J)) < 1e-20 * n * K_B * 1e5
    # Schottky maximum of a spin-1/2 (J = 1/2): two levels, peak C/n k_B = 0.4392 at g mu_B B/T = 2.3994
    Bpk = 2.3994 / (2.0 * MU_B_OVER_KB)
    assert np.isclose(float(c_paramagnetic(1.0, Bpk, 1.0, 0.5)) / K_B, 0.43922, rtol=1e-4)


def test_stm_and_phonon_and_total():
    T = np.array([0.1, 1.0])
    assert np.allclose(c_stm_linear(T, 2e-6), 2e-6 * T)
    assert np.allclose(c_phonon(T, 3e-6), 3e-6 * T**3)
    E = np.linspace(0, 30, 300001)
    g0 = 1e17
    assert np.isclose(
        float(c_from_dos(0.5, E, np.full_like(E, g0))), stm_linear_coefficient(g0) * 0.5, rtol=1e-6
    )
    tot = c_total(T, 0.3, BAS, PN_BAS, n_fe2=1.06e17, n_fe3=5e16, gamma_2ls=1e-6, gamma_ph=1e-6)
    parts = (
        c_ats(T, 0.3, BAS, PN_BAS)
        + c_paramagnetic(T, 0.3, 1.06e17, 2)
        + c_paramagnetic(T, 0.3, 5e16, 2.5)
        + 1e-6 * T
        + 1e-6 * T**3
    )
    assert np.allclose(tot, parts, rtol=1e-12)


def test_bad_input():
    with pytest.raises(InputError):
        c_ats(0.0, 0.1, BAS)
    with pytest.raises(InputError):
        c_paramagnetic(1.0, 0.1, 1e17, 1.3)
    with pytest.raises(InputError):
        c_ats(1.0, np.nan, BAS)


def test_orientation_average_rule_vs_full_average():
    """phi^2 -> phi^2/3 is exact to O(B^2) at weak field and fails at strong field."""
    B = np.array([0.01, 0.1, 0.5, 8.0])
    rule = c_ats(0.6, B, BAS, PN_BAS)
    full = c_ats_orientation_numeric(0.6, B, BAS, PN_BAS)
    assert np.isclose(full[0], float(c_ats(0.6, 0.0, BAS, PN_BAS)), rtol=1e-6)
    rel = np.abs(rule / full - 1)
    assert rel[0] < 1e-7 and rel[1] < 1e-3  # measured 2e-8, 1.8e-4
    assert 0.01 < rel[2] < 0.05  # measured 2.8 %
    assert rel[3] > 0.5  # measured 87 % at 8 T
    # converged angular quadrature
    assert np.allclose(full, c_ats_orientation_numeric(0.6, B, BAS, PN_BAS, n_nodes=48), rtol=1e-7)
