"""Tests of the free-energy route itself (etm.free_energy): limits, convergence, thermodynamic identities."""

import jax
import numpy as np
import pytest

from etm.free_energy import (
    c_ats_free_energy,
    c_stm_free_energy,
    f_ats,
    f_paramagnetic,
    m_ats_free_energy,
)
from etm.heat_capacity import stm_linear_coefficient
from etm.params import ATSParams
from etm.units import K_B

BAS = ATSParams(D_min=0.49, D0min_qS=4.77e4, D0max_qS=3.09e5)


def test_paramagnetic_zero_field_entropy():
    # B = 0: 2J+1 degenerate levels, F = -n k_B T ln(2J+1), S = n k_B ln(2J+1)
    for J in (2.0, 2.5):
        assert np.isclose(float(f_paramagnetic(1.3, 0.0, 1e17, J)), -1e17 * K_B * 1.3 * np.log(2 * J + 1))
        S = -float(jax.jit(jax.grad(lambda t, J=J: f_paramagnetic(t, 0.0, 1e17, J)))(1.3))
        assert np.isclose(S, 1e17 * K_B * np.log(2 * J + 1))


def test_stm_linear_heat_capacity():
    # constant DOS: C = (pi^2/6) k_B g0 T for T << E_max
    T = np.array([0.01, 0.1, 1.0])
    assert np.allclose(c_stm_free_energy(T, 1e17), stm_linear_coefficient(1e17) * T, rtol=1e-10)


@pytest.mark.slow
def test_ats_free_energy_quadrature_converged(full):
    """Default orders of the F route are converged (C always; M and its D_max cutoff with --full)."""
    T, B = np.array([0.2, 1.5]), np.array([0.3, 3.0])
    c1 = c_ats_free_energy(T, B, BAS)
    c2 = c_ats_free_energy(T, B, BAS, n_s=64, n_t=32)
    assert np.max(np.abs(c1 / c2 - 1)) < 1e-10
    if full:
        m1 = m_ats_free_energy(T, B, BAS)
        m2 = m_ats_free_energy(T, B, BAS, D_max=1e14, n_s=48, n_t=24)
        assert np.max(np.abs(m1 / m2 - 1)) < 1e-10


def test_ats_third_law_and_entropy_sign():
    # S = -dF/dT >= 0 and C -> 0 as T -> 0 (gap >= D_min > 0)
    S = -jax.jit(jax.grad(lambda t: f_ats(t, 0.5, BAS.D_min, BAS.D0min_qS, BAS.D0max_qS)))(0.5)
    assert S > 0
    c_cold = c_ats_free_energy(np.array([0.01, 0.02]), 0.5, BAS)
    assert 0 < c_cold[0] < 1e-8 * c_cold[1]  # exp(-D_min/T) freeze-out
