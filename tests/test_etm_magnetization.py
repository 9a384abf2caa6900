"""Tests of etm.magnetization: Brillouin vs free energy and Curie law; M_ATS = -dF/dB (corrected Eq. 93)."""

import numpy as np
import pytest
from scipy.integrate import quad

from etm.errors import InputError
from etm.free_energy import m_ats_free_energy, m_paramagnetic_free_energy
from etm.hamiltonian import d0phi_effective
from etm.magnetization import (
    curie_susceptibility,
    m_ats,
    m_ats_orientation_numeric,
    m_ats_temperature_dependent,
    m_brillouin,
    m_total,
    params_at_temperature,
)
from etm.params import ATSParams
from etm.units import K_B, MU_B, MU_B_OVER_KB

BAS_M = ATSParams(D_min=8.01e-2, D0min_qS=1.31e5, D0max_qS=2.44e5, B_star=1.02)  # Table 10
BAS_C = ATSParams(D_min=0.49, D0min_qS=4.77e4, D0max_qS=3.09e5)  # Table 2
PN = 5.74e16


@pytest.mark.parametrize("J", [2.0, 2.5])
def test_brillouin_vs_free_energy(J):
    T = np.array([0.05, 2.0, 4.0, 50.0, 300.0])
    B = np.array([0.01, 0.5, 5.0, 1.0, 5.0])
    mb = m_brillouin(T, B, 1.08e17, J)
    mf = m_paramagnetic_free_energy(T, B, 1.08e17, J)
    assert np.max(np.abs(mb / mf - 1)) < 1e-10


def test_brillouin_limits():
    n, J, g = 1e17, 2.5, 2.0
    # Curie law (Eq. 92) at low field
    T = np.array([4.0, 50.0, 300.0])
    B = 1e-3
    assert np.allclose(m_brillouin(T, B, n, J, g) / B, curie_susceptibility(T, n, J, g), rtol=1e-6)
    # saturation n g mu_B J
    assert np.isclose(float(m_brillouin(0.01, 10.0, n, J, g)), n * g * MU_B * J, rtol=1e-12)
    # odd in B, zero at B = 0
    assert float(m_brillouin(1.0, 0.0, n, J)) == 0.0
    assert np.isclose(float(m_brillouin(1.0, -0.3, n, J)), -float(m_brillouin(1.0, 0.3, n, J)))


@pytest.mark.parametrize("params", [BAS_C, BAS_M, ATSParams(0.3, 5e4, 3e5, orientation_average=False)])
def test_m_ats_equals_minus_dF_dB(params):
    T = np.array([0.1, 0.6, 4.0, 20.0, 2.0])
    B = np.array([0.05, 0.5, 1.0, 2.0, 4.0])
    ma = m_ats(T, B, params, PN)
    mf = m_ats_free_energy(T, B, params, PN)
    assert np.max(np.abs(ma / mf - 1)) < 1e-9
    assert np.all(ma > 0)  # the gap grows with |B|: paramagnetic response


def _m_ats_eq93_as_printed(T, B, params, Pn):
    """Eq. (93) literally [A m^2/g].

    pi P* n k_B / B { int_Ec1^Ec2 tanh ln((E^2-u1^2)/Dmin^2) + int_Ec2^inf tanh ln(...) }.
    """
    u1 = float(d0phi_effective(B, params.D0min_qS, params))
    u2 = float(d0phi_effective(B, params.D0max_qS, params))
    Ec1, Ec2 = np.hypot(params.D_min, u1), np.hypot(params.D_min, u2)
    a, _ = quad(
        lambda E: np.tanh(E / (2 * T)) * np.log((E**2 - u1**2) / params.D_min**2), Ec1, Ec2, epsrel=1e-12
    )
    b, _ = quad(
        lambda E: np.tanh(E / (2 * T)) * np.log((E**2 - u1**2) / (E**2 - u2**2)),
        Ec2,
        np.inf,
        epsrel=1e-12,
        limit=400,
    )
    return np.pi * Pn / B * (a + b) * K_B


def test_printed_eq93_prefactor_is_twice_minus_dF_dB():
    for T, B in [(0.5, 0.3), (4.0, 1.0), (20.0, 2.0)]:
        printed = _m_ats_eq93_as_printed(T, B, BAS_C, PN)
        mf = float(m_ats_free_energy(T, B, BAS_C, PN))
        assert np.isclose(printed / mf, 2.0, rtol=1e-7)
        assert np.isclose(float(m_ats(T, B, BAS_C, PN)), printed / 2, rtol=1e-7)


def test_m_ats_limits():
    # M(B=0) = 0, odd in B, linear at small B
    assert float(m_ats(1.0, 0.0, BAS_C, PN)) == 0.0
    assert np.isclose(float(m_ats(1.0, -0.2, BAS_C, PN)), -float(m_ats(1.0, 0.2, BAS_C, PN)))
    small = m_ats(1.0, np.array([1e-4, 2e-4]), BAS_C, PN)
    assert np.isclose(small[1] / small[0], 2.0, rtol=1e-6)


def test_temperature_dependent_parameters():
    p = params_at_temperature(np.array([2.0, 4.0]), BAS_M, 0.42, 2.0)
    assert np.isclose(p["D_min"][0], BAS_M.D_min) and np.isclose(p["B_star"][0], BAS_M.B_star)
    r = np.exp(-0.42 / 4.0 + 0.42 / 2.0)
    assert np.isclose(p["D_min"][1], BAS_M.D_min * r)
    assert np.isclose(p["D0max_qS"][1], BAS_M.D0max_qS * r**3)
    assert np.isclose(p["B_star"][1], BAS_M.B_star / r**2)
    # at T = T0 the T-dependent M equals the plain one
    assert np.isclose(
        float(m_ats_temperature_dependent(2.0, 0.7, BAS_M, PN, 0.42, 2.0)),
        float(m_ats(2.0, 0.7, BAS_M, PN)),
        rtol=1e-12,
    )
    with pytest.raises(InputError):
        params_at_temperature(1.0, BAS_M, 0.42, None)


def test_m_total_sum_and_offset():
    T = np.array([4.0, 10.0])
    B = 1.0
    tot = m_total(T, B, BAS_M, PN, n_fe2=1.08e17, n_fe3=5.01e16, offset_Am2_per_g=-1.04e-5)
    parts = m_ats(T, B, BAS_M, PN) + m_brillouin(T, B, 1.08e17, 2) + m_brillouin(T, B, 5.01e16, 2.5) - 1.04e-5
    assert np.allclose(tot, parts, rtol=1e-12)


def test_bad_input():
    with pytest.raises(InputError):
        m_ats(-1.0, 0.5, BAS_C)
    with pytest.raises(InputError):
        m_brillouin(1.0, 0.5, 1e17, 0.0)
    with pytest.raises(InputError):
        m_ats(1.0, 10.0, BAS_M)  # beyond the validity of Eq. (20) for B* = 1.02 T


def test_units():
    # mu_B/k_B = 0.671714 K/T; Fe2+ (J=2, g=2) saturates at 4 mu_B per ion = 3.71e-23 A m^2
    assert np.isclose(MU_B_OVER_KB, 0.6717138, rtol=1e-6)
    assert np.isclose(float(m_brillouin(1e-3, 10.0, 1.0, 2.0)), 4 * 9.2740100783e-24, rtol=1e-12)
    with pytest.raises(InputError):
        m_ats(np.ones(3), np.ones(4), BAS_C)


def test_m_ats_full_orientation_average():
    B = np.array([0.01, 1.0, 4.0])
    rule = m_ats(1.0, B, BAS_C, PN)
    full = m_ats_orientation_numeric(1.0, B, BAS_C, PN)
    rel = np.abs(rule / full - 1)
    assert rel[0] < 1e-4  # measured 1.6e-5: the rule is exact to O(B^2)
    assert 0.03 < rel[1] < 0.2 and rel[2] > 0.1  # measured 7.8 % at 1 T, 14 % at 4 T
    assert np.allclose(full, m_ats_orientation_numeric(1.0, B, BAS_C, PN, n_nodes=48), rtol=1e-10)
