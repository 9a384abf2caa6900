"""Tests of etm.loss: ATS relaxation time (Eq. 55, corrected), distribution (57), loss (52-61).

Independent route: Eq. (54) integrated by scipy over (ln D, ln D0), E eliminated by the
delta function, against the reduced (E, D) form of Eqs. (59-61).
"""

import math

import numpy as np
import pytest
from scipy import integrate

from etm import dielectric as d
from etm import loss as l
from etm.errors import InputError
from etm.hamiltonian import d0phi_effective
from etm.params import ATSParams

BAS77 = ATSParams(0.0209, 1.98e4, 4.96e5)  # Table 7, AlBaSiO 77 mK
GAMMA = 5.0e9  # (s K^5)^-1, Table 7
OMEGA = 2 * math.pi * 1e3  # kHz range (Section 5)
AMP = 1.54e-5


def _direct_eq54(T, B, p, Gamma, omega, amp):
    u_per = float(d0phi_effective(B, 1.0, p))

    def f(t, s):
        D = math.exp(s)
        E = math.hypot(D, u_per * math.exp(t))
        tau = math.tanh(E / (2 * T)) / (Gamma * E**3 * (E * E - D * D / 6))
        wt = omega * tau
        return D * D / (E * E) / math.cosh(E / (2 * T)) ** 2 * wt / (1 + wt * wt)

    val = integrate.dblquad(
        f,
        math.log(p.D_min),
        math.log(p.D_min + 60 * T),
        math.log(p.D0min_qS),
        math.log(p.D0max_qS),
        epsrel=1e-10,
    )[0]
    return amp / (4 * T) * val


@pytest.mark.parametrize("T,B", [(0.077, 0.0), (0.077, 0.01), (0.096, 0.1)])
def test_loss_reduced_matches_direct(T, B):
    red = float(l.dtan_delta_ats(T, B, BAS77, AMP, GAMMA, OMEGA))
    ref = _direct_eq54(T, B, BAS77, GAMMA, OMEGA, AMP)
    assert red == pytest.approx(ref, rel=1e-6)


def test_loss_discrete_systems_route():
    T = np.array([0.077, 0.088])
    B = np.array([0.02, 0.3])
    D, q, w = d.ats_quadrature_systems(BAS77, AMP, 0.08, n_D=300, n_D0=64, D_span=1e3)
    a = np.asarray(l.dtan_delta_ats(T, B, BAS77, AMP, GAMMA, OMEGA))
    b = np.asarray(l.dtan_delta_ats_from_systems(T, B, D, q, w / 2, BAS77, GAMMA, OMEGA))
    np.testing.assert_allclose(a, b, rtol=1e-5)


def test_eq55_units_against_table7():
    # corrected Eq. (55): omega tau ~ 1 for thermal ATS at the paper's T and kHz frequency
    E = np.array([0.5, 1.0, 2.0]) * 0.077
    wt = OMEGA * np.asarray(l.tau_ats(E, 0.5 * E, 0.077, GAMMA))
    assert np.all((wt > 1e-3) & (wt < 1e2))
    # Eq. (55) as printed, tau = Gamma tanh/(E^3 (E^2 - D^2/6)), gives absurd times
    printed = GAMMA * np.tanh(E / (2 * 0.077)) / (E**3 * (E**2 - (0.5 * E) ** 2 / 6))
    assert np.all(OMEGA * printed > 1e15)
    # Eq. (55) identity: D0^2 phi^2 + 5 D^2/6 = E^2 - D^2/6 and tau_min/tau_max = 5/6
    t_min = l.tau_ats(0.1, 0.0, 0.05, GAMMA)
    t_max = l.tau_ats(0.1, 0.1, 0.05, GAMMA)
    assert float(t_min / t_max) == pytest.approx(5 / 6, rel=1e-12)


def test_omega_tau_limits():
    T, B = 0.077, 0.05
    base = float(l.dtan_delta_ats(T, B, BAS77, AMP, GAMMA, OMEGA))
    # omega tau >> 1 everywhere (tiny Gamma): loss ~ 1/(omega tau) ~ Gamma
    lo1 = float(l.dtan_delta_ats(T, B, BAS77, AMP, 1e-2, OMEGA))
    lo2 = float(l.dtan_delta_ats(T, B, BAS77, AMP, 1e-1, OMEGA))
    assert lo2 / lo1 == pytest.approx(10.0, rel=1e-6)
    # omega tau << 1 everywhere (huge Gamma): loss ~ omega tau ~ 1/Gamma
    hi1 = float(l.dtan_delta_ats(T, B, BAS77, AMP, 1e20, OMEGA))
    hi2 = float(l.dtan_delta_ats(T, B, BAS77, AMP, 1e21, OMEGA))
    assert hi1 / hi2 == pytest.approx(10.0, rel=1e-6)
    assert base > max(lo1, hi1)  # the paper's Gamma sits near the loss maximum


def test_tau_distribution_eq57_matches_transformed_D_distribution():
    # number of ATS (density 2 pi P*/(D D0)) at fixed E with D in [Da, Db], two ways
    E, T = 0.1, 0.05
    Da, Db = 0.02, 0.09
    n_D = math.pi / E * (math.log(Db**2 / (E * E - Db**2)) - math.log(Da**2 / (E * E - Da**2)))
    ta = float(l.tau_ats(E, Da, T, GAMMA))
    tb = float(l.tau_ats(E, Db, T, GAMMA))
    n_tau = integrate.quad(lambda t: float(l.ats_tau_distribution(E, t, T, GAMMA)), ta, tb, epsrel=1e-11)[0]
    assert n_tau == pytest.approx(n_D, rel=1e-8)


def test_loss_field_dependence_and_zero_field_reference():
    B = np.array([0.0, 1e-3, 0.05, 0.5, 5.0])
    y = np.asarray(l.dtan_delta_ats(0.077, B, BAS77, AMP, GAMMA, OMEGA))
    assert np.all(y > 0)
    assert y[-1] < 0.05 * y[0]  # ATS pushed out of the thermal window at high field
    rel = np.asarray(l.dtan_delta_ats(0.077, B, BAS77, AMP, GAMMA, OMEGA, relative_to_zero_field=True))
    np.testing.assert_allclose(rel, y - y[0], atol=1e-15)
    with pytest.raises(InputError):
        l.dtan_delta_ats(0.077, 0.1, BAS77, AMP, -1.0, OMEGA)
