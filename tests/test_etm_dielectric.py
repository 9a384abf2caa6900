"""Tests of etm.dielectric: STM (Eqs. 32-40) and ATS epsilon'(T, B) (Eqs. 41-51).

Independent routes: scipy adaptive quadrature of the unreduced integrals (Eq. 35 over
(E, tau) or (Delta, Delta0); Eq. 46 over (D, D0) with E eliminated by the delta function),
against the package's reduced forms (Eqs. 47, 48, 50) and fixed-order quadratures.
"""

import math

import numpy as np
import pytest
from scipy import integrate

from etm import dielectric as d
from etm.errors import InputError
from etm.hamiltonian import d0phi_effective
from etm.params import ATSParams

BAS50 = ATSParams(0.015, 2.44e5, 3.08e5)  # Table 5, AlBaSiO 50 mK
BK7 = ATSParams(0.03, 1.668e5, 4.576e5)  # Table 5, BK7 15 mK


def _direct_eq46(T, B, p, sign=+1.0):
    """(alpha1 + sign*alpha0 - alpha(T,0)) / ((pi/2) P* p1^2) by scipy over (ln D, ln D0)."""
    u_per = float(d0phi_effective(B, 1.0, p))

    def f(t, s):
        D = math.exp(s)
        u = u_per * math.exp(t)
        E = math.hypot(D, u)
        return (E * E + sign * u * u) / E**3 * math.tanh(E / (2 * T)) - math.tanh(D / (2 * T)) / D

    s0 = math.log(p.D_min)
    s1 = math.log(max(p.D_min, T) * 1e7)
    val, err = integrate.dblquad(
        f, s0, s1, math.log(p.D0min_qS), math.log(p.D0max_qS), epsabs=0, epsrel=1e-10
    )
    return val


@pytest.mark.parametrize("T,B", [(0.05, 0.01), (0.05, 0.08), (0.12, 0.3)])
def test_ats_reduced_forms_match_direct_integration(T, B):
    # Eq. (51) with reduced forms (47, 48, 50) vs direct integration of Eq. (46) (+ sign)
    red = float(d.deps_ats(T, B, BAS50, 2.0))  # amplitude 2 -> bracket itself
    ref = _direct_eq46(T, B, BAS50)
    assert red == pytest.approx(ref, rel=1e-7, abs=1e-9 * abs(ref))


def test_eq46_printed_sign_contradicts_reduced_forms():
    # Eq. (46) as printed, [E^2 - D0^2 phi^2], is alpha1 - alpha0, not the alpha1 + alpha0 of (47, 48)
    T, B = 0.05, 0.08
    red = float(d.deps_ats(T, B, BAS50, 2.0))
    printed = _direct_eq46(T, B, BAS50, sign=-1.0)
    assert abs(printed - red) > 0.1 * abs(red)


def test_ats_reduced_matches_discrete_systems_route():
    T = np.array([0.05, 0.05, 0.2])
    B = np.array([0.005, 0.2, 1.0])
    D, q, w = d.ats_quadrature_systems(BK7, 1e-5, 0.05)
    a = np.asarray(d.deps_ats(T, B, BK7, 1e-5))
    b = np.asarray(d.deps_ats_from_systems(T, B, D, q, w, BK7))
    np.testing.assert_allclose(a, b, rtol=1e-8, atol=1e-12 * np.abs(a).max())


def test_ats_zero_field_and_quadratic_small_field():
    T = np.array([0.015, 0.05, 0.3])
    assert np.all(np.asarray(d.deps_ats(T, 0.0, BAS50, 1e-5)) == 0.0)
    b = 1e-4
    y1 = np.asarray(d.deps_ats(T, b, BAS50, 1e-5))
    y2 = np.asarray(d.deps_ats(T, 2 * b, BAS50, 1e-5))
    np.testing.assert_allclose(y2 / y1, 4.0, rtol=2e-3)  # even in B: Delta eps ~ B^2
    assert np.all(y1 > 0)  # analytic: d alpha/d(u^2) = sech^2/(4TD^2) + tanh/(2D^3) > 0


def test_orientation_average_rule_vs_full_average():
    T = 0.05
    # quadratic regime: <cos^2> = 1/3 makes the phi^2/3 rule exact
    small = 2e-4
    a = float(d.deps_ats(T, small, BAS50, 1e-5))
    f = float(d.deps_ats(T, small, BAS50, 1e-5, full_orientation_average=True))
    assert f == pytest.approx(a, rel=2e-3)
    # beyond it the rule is an approximation: same sign and within a factor 2 at the peak
    B = np.geomspace(1e-3, 1.0, 12)
    a = np.asarray(d.deps_ats(T, B, BAS50, 1e-5))
    f = np.asarray(d.deps_ats(T, B, BAS50, 1e-5, full_orientation_average=True))
    i = np.argmax(a)
    assert np.sign(f[i]) == np.sign(a[i]) and 0.5 < f[i] / a[i] < 2.0
    assert np.max(np.abs(f - a)) > 1e-3 * np.max(np.abs(a))  # the two really differ


def test_table5_shapes_positive_peak_then_negative_saturation():
    # Figs. 8-9: rise at weak field, then a depression that saturates at -alpha(T,0)
    B = np.geomspace(1e-3, 10.0, 60)
    for p, T, amp in ((BAS50, 0.05, 0.89e-5), (BK7, 0.015, 0.089e-5)):
        y = np.asarray(d.deps_ats(T, B, p, amp))
        assert y[0] > 0
        assert y[-1] < 0
        Bpeak = B[np.argmax(y)]
        assert 3e-3 < Bpeak < 0.3
        # high-field value -> -amp/2 * ln(r) int_{Dmin}^inf tanh/E^2
        r = p.D0max_qS / p.D0min_qS
        alpha0 = integrate.quad(lambda E, T=T: math.tanh(E / (2 * T)) / E**2, p.D_min, np.inf)[0]
        big = float(d.deps_ats(T, 200.0, p, amp))
        assert big == pytest.approx(-0.5 * amp * math.log(r) * alpha0, rel=2e-2)


def test_bad_input():
    with pytest.raises(InputError):
        d.deps_ats(-1.0, 0.1, BAS50, 1e-5)
    with pytest.raises(InputError):
        d.deps_stm_resonant(0.1, 1e-3, 1.0, 0.5)


# ----------------------------------------------------------------------------- STM

C = 1e-3
D0MIN = 1e-4
EMAX = 10.0
GAMMA = 1e-8  # s K^3
OMEGA = 2 * math.pi * 1e3


def test_stm_resonant_matches_quad_and_log_slope():
    T = np.array([0.1, 0.2])  # D0min << T << Emax
    ours = np.asarray(d.deps_stm_resonant(T, C, D0MIN, EMAX))
    for t, v in zip(T, ours, strict=True):

        def f(s, t=t):
            return math.tanh(math.exp(s) / (2 * t)) * math.sqrt(max(1 - (D0MIN / math.exp(s)) ** 2, 0))

        ref = 2 * C / 3 * integrate.quad(f, math.log(D0MIN), math.log(EMAX), limit=200, epsrel=1e-11)[0]
        assert v == pytest.approx(ref, rel=1e-9)
    slope = (ours[1] - ours[0]) / math.log(2)
    assert slope == pytest.approx(d.stm_log_slopes(C)[0], rel=2e-3)  # -2C/3


def test_stm_relaxation_prefactor_from_delta_delta0_distribution():
    # Independent of Eq. (40): integrate Eq. (33) over P(Delta, Delta0) = Pbar/Delta0 directly.
    # This fixes the prefactor of Eq. (35, second line) to C/6 (printed: C/3).
    T = 0.05
    ours = float(d.deps_stm_relaxation(T, OMEGA, C, D0MIN, EMAX, GAMMA))

    def f(lnd0, lnE):
        E = math.exp(lnE)
        D0 = math.exp(lnd0)
        if D0 >= E:
            return 0.0
        Dl = math.sqrt(E * E - D0 * D0)
        tau = GAMMA * math.tanh(E / (2 * T)) / (D0 * D0 * E)
        # dDelta dDelta0/Delta0 = (E/Delta) dE dDelta0/Delta0 = (E^2/Delta) dlnE dlnD0
        jac = E * E / Dl
        return jac * C / (3 * T) * Dl**2 / E**2 / math.cosh(E / (2 * T)) ** 2 / (1 + (OMEGA * tau) ** 2)

    ref = integrate.dblquad(
        f, math.log(D0MIN), math.log(min(EMAX, 60 * T)), math.log(D0MIN), lambda lnE: lnE, epsrel=1e-8
    )[0]
    assert ours == pytest.approx(ref, rel=1e-5)


def test_stm_from_systems_reproduce_continuum():
    # deterministic quadrature sample of P = Pbar/Delta0 fed through the discrete-ensemble API
    T = np.array([0.02, 0.08])
    xs, ws = np.polynomial.legendre.leggauss(200)
    lnE = 0.5 * (xs + 1) * (math.log(EMAX) - math.log(D0MIN)) + math.log(D0MIN)
    wE = 0.5 * ws * (math.log(EMAX) - math.log(D0MIN))
    x2, w2 = np.polynomial.legendre.leggauss(60)
    E = np.exp(lnE)[:, None]
    # Delta0 = E sin(th), th in (th_min, pi/2): dDelta dDelta0/Delta0 = E dlnE dth / sin(th) * ... use th
    th_min = np.arcsin(D0MIN / E)
    th = th_min + (np.pi / 2 - th_min) * 0.5 * (x2 + 1)
    wth = (np.pi / 2 - th_min) * 0.5 * w2
    D0 = E * np.sin(th)
    # dDelta dDelta0 / Delta0 with Delta = E cos th, Delta0 = E sin th: E dE dth / (E sin th)
    W = (wE[:, None] * E) * wth / np.sin(th) * C
    res = np.asarray(
        d.deps_stm_resonant_from_systems(T, np.broadcast_to(E, D0.shape).ravel(), D0.ravel(), W.ravel())
    )
    np.testing.assert_allclose(res, np.asarray(d.deps_stm_resonant(T, C, D0MIN, EMAX)), rtol=1e-6)
    rel = np.asarray(
        d.deps_stm_relaxation_from_systems(
            T, OMEGA, np.broadcast_to(E, D0.shape).ravel(), D0.ravel(), W.ravel(), gamma_s_K3=GAMMA
        )
    )
    np.testing.assert_allclose(
        rel, np.asarray(d.deps_stm_relaxation(T, OMEGA, C, D0MIN, EMAX, GAMMA)), rtol=1e-3
    )


def test_stm_relaxation_slope_and_V_minimum():
    # omega tau_min << 1 regime: slope +C (Eq. 37 with the corrected prefactor)
    T = np.array([0.4, 0.8])
    y = np.asarray(d.deps_stm_relaxation(T, OMEGA, C, 1e-6, 1e3, GAMMA))
    slope = (y[1] - y[0]) / math.log(2)
    assert slope == pytest.approx(d.stm_log_slopes(C)[1], rel=2e-2)
    # the V: minimum of the total near T0 = (gamma omega/2)^(1/3)
    T0 = d.stm_T0(GAMMA, OMEGA)
    Tmin = d.stm_minimum_temperature(OMEGA, C, D0MIN, EMAX, GAMMA)
    assert 0.5 < Tmin / T0 < 2.0
    # T0 scales as omega^(1/3): so does the numerical minimum
    Tmin8 = d.stm_minimum_temperature(8 * OMEGA, C, D0MIN, EMAX, GAMMA)
    assert Tmin8 / Tmin == pytest.approx(2.0, rel=0.05)


def test_stm_gamma_from_elastic_units():
    # vitreous silica-like: rho 2200, gamma_l 1 eV, gamma_t 0.65 eV, v_l 5800, v_t 3800
    eV = 1.602176634e-19
    g = d.stm_gamma_from_elastic(2200.0, 1.0 * eV, 0.65 * eV, 5800.0, 3800.0)
    # tau_min at E = 1 K, T -> 0 is of order 1e-8 .. 1e-7 s in silica
    assert 1e-9 < g < 1e-6


def test_high_field_correction_is_a_rescaled_field():
    # Eq. (20), averaged: phi^2 -> phi^2/3 (1 - (B/B*)^2/45) == the uncorrected result at B'
    Bstar = 0.5
    pc = ATSParams(BAS50.D_min, BAS50.D0min_qS, BAS50.D0max_qS, B_star=Bstar)
    B = np.array([0.1, 0.6, 1.5])
    Bp = B * np.sqrt(1.0 - (B / Bstar) ** 2 / 45.0)
    np.testing.assert_allclose(
        np.asarray(d.deps_ats(0.05, B, pc, 1e-5)), np.asarray(d.deps_ats(0.05, Bp, BAS50, 1e-5)), rtol=1e-12
    )
