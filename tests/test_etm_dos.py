"""Tests of etm.dos (Eqs. 12-13) and etm.distributions (Eqs. 2, 10): Monte Carlo, direct integration, sums."""

import numpy as np
import pytest
from scipy.integrate import quad

from etm.distributions import PLANE_BASIS, ats_total_weight, sample_ats, sample_stm
from etm.dos import (
    g_ats,
    g_ats_direct,
    g_ats_from_u,
    g_ats_orientation_numeric,
    g_ats_reduced,
    n_states_below,
)
from etm.errors import InputError
from etm.hamiltonian import d0phi_effective, h_3ls
from etm.params import ATSParams

BAS = ATSParams(D_min=0.49, D0min_qS=4.77e4, D0max_qS=3.09e5)  # Tables 1-2, 0.60 K


def test_sampler_eq10():
    rng = np.random.default_rng(0)
    E, D0 = sample_ats(rng, 100000, 1e-3, 1e-1, 1.0, 10.0)
    assert np.allclose(E.sum(axis=1), 0.0, atol=1e-15)
    D = np.linalg.norm(E, axis=1)
    # log-uniform D <=> density 1/D^2 on the plane: ln D uniform, mean at the middle
    assert abs(np.mean(np.log(D)) - 0.5 * (np.log(1e-3) + np.log(1e-1))) < 0.01
    assert abs(np.mean(np.log(D0)) - 0.5 * np.log(10.0)) < 0.01
    assert np.allclose(PLANE_BASIS @ PLANE_BASIS.T, np.eye(2))
    Delta, Delta0 = sample_stm(rng, 10000, 2.0, 1e-3, 1.0)
    assert abs(Delta).max() <= 2.0 and Delta0.min() >= 1e-3
    with pytest.raises(InputError):
        sample_ats(rng, 10, 1.0, 0.5, 1.0, 2.0)


def test_dos_monte_carlo(full):
    """Histogram of the exact (diagonalised) gap of Eq. (6) over Eq. (10) samples against Eq. (13)."""
    rng = np.random.default_rng(1)
    n = 1_000_000 if full else 300_000
    D_min, D_max, D0_min, D0_max, phi = 1e-3, 3e-2, 1.0, 3.0, 2e-3
    # effective-2LS rescaling of Eq. (9): D_eff = D/sqrt2, E_eff = (sqrt3/2) gap
    E, D0 = sample_ats(rng, n, np.sqrt(2) * D_min, np.sqrt(2) * D_max, D0_min, D0_max)
    ev = np.linalg.eigvalsh(np.asarray(h_3ls(E[:, 0], E[:, 1], E[:, 2], D0, phi)))
    gap = (ev[:, 1] - ev[:, 0]) * np.sqrt(3) / 2
    W = ats_total_weight(1.0, D_min, D_max, D0_min, D0_max)
    bins = np.geomspace(1.5e-3, 2e-2, 16)
    h, _ = np.histogram(gap, bins)
    g_mc = h / np.diff(bins) * W / n
    g_th = np.array(
        [
            quad(lambda e: 2 * np.pi * float(g_ats_from_u(e, D0_min * phi, D0_max * phi, D_min, 3.0)), a, b)[
                0
            ]
            / (b - a)
            for a, b in zip(bins[:-1], bins[1:], strict=False)
        ]
    )
    nonzero = h > 0
    rel_sigma = 1 / np.sqrt(np.maximum(h, 1))
    # both branches of Eq. (13) are sampled (E_c1 = 2.2e-3, E_c2 = 6.1e-3)
    assert g_th[0] < g_th[5]
    assert np.all(np.abs(g_mc[nonzero] / g_th[nonzero] - 1) < 4 * rel_sigma[nonzero] + 0.01)
    # below E_c1 nothing
    assert np.sum(gap < np.hypot(D_min, D0_min * phi) * 0.999) == 0


@pytest.mark.parametrize("B", [0.05, 0.3, 1.0, 4.0])
def test_dos_direct_integration(B):
    """Eq. (13) against direct integration of delta(E - sqrt(D^2 + D0^2 phi^2)) over D and D0."""
    u1 = float(d0phi_effective(B, BAS.D0min_qS, BAS))
    u2 = float(d0phi_effective(B, BAS.D0max_qS, BAS))
    ratio = BAS.D0max_qS / BAS.D0min_qS
    Ec1, Ec2 = np.hypot(BAS.D_min, u1), np.hypot(BAS.D_min, u2)
    Es = np.concatenate([np.linspace(Ec1 * 1.0001, Ec2 * 0.9999, 7), np.geomspace(Ec2 * 1.0001, 30 * Ec2, 7)])
    closed = g_ats(Es, B, BAS, Pn=2.0)
    direct = np.array([g_ats_direct(e, u1, u2, BAS.D_min, ratio, Pn=2.0) for e in Es])
    assert np.max(np.abs(closed / direct - 1)) < 1e-9
    assert float(g_ats(0.99 * Ec1, B, BAS)) == 0.0
    # continuity at the branch points
    for Ec in (Ec1, Ec2):
        lo, hi = g_ats(Ec * (1 - 1e-9), B, BAS), g_ats(Ec * (1 + 1e-9), B, BAS)
        assert abs(lo - hi) < 1e-5 * float(g_ats(2 * Ec2, B, BAS))


def test_dos_zero_field_and_large_E():
    ratio = BAS.D0max_qS / BAS.D0min_qS
    E = np.array([0.6, 1.0, 5.0])
    assert np.allclose(g_ats(E, 0.0, BAS), 2 * np.pi * np.log(ratio) / E)
    assert np.all(g_ats(np.array([0.3, 0.48]), 0.0, BAS) == 0)
    # at E >> E_c2 the field-free 1/E law is recovered
    assert np.isclose(float(g_ats(500.0, 1.0, BAS)), 2 * np.pi * np.log(ratio) / 500.0, rtol=1e-4)
    # reduced form
    assert np.isclose(float(g_ats_reduced(5.0, 0.2, 1.2, 0.5)), float(g_ats_from_u(5.0, 0.2, 1.2, 0.5, 6.0)))


@pytest.mark.parametrize("B", [0.0, 0.5, 2.0])
def test_dos_normalisation(B):
    """int_0^Emax g dE = number of states with gap < Emax, counted directly over (D, D0)."""
    E_max = 20.0
    u1 = float(d0phi_effective(B, BAS.D0min_qS, BAS))
    u2 = float(d0phi_effective(B, BAS.D0max_qS, BAS))
    pts = [p for p in (np.hypot(BAS.D_min, u1), np.hypot(BAS.D_min, u2))]
    integral, _ = quad(lambda e: float(g_ats(e, B, BAS)), 1e-6, E_max, points=pts, limit=200, epsrel=1e-11)
    count = (
        n_states_below(E_max, B, BAS)
        if B > 0
        else 2 * np.pi * np.log(BAS.D0max_qS / BAS.D0min_qS) * np.log(E_max / BAS.D_min)
    )
    assert np.isclose(integral, count, rtol=1e-8)
    # states are conserved: the field only shifts them up (Fig. 5)
    if B > 0:
        total0 = 2 * np.pi * np.log(BAS.D0max_qS / BAS.D0min_qS) * np.log(E_max / BAS.D_min)
        assert integral < total0
        assert integral > total0 * (1 - (u2 / E_max) ** 2)


def test_bad_input():
    with pytest.raises(InputError):
        g_ats(-1.0, 0.1, BAS)
    with pytest.raises(InputError):
        g_ats(1.0, -0.1, BAS)
    with pytest.raises(InputError):
        ATSParams(0.5, 3e5, 1e5)


def test_dos_full_orientation_average():
    """Numerical average over the loop orientation vs the phi^2/3 rule."""
    E = np.array([0.5, 0.6, 1.0, 5.0])
    # weak field: identical to O(B^2)
    assert np.allclose(g_ats_orientation_numeric(E[1:], 1e-3, BAS), g_ats(E[1:], 1e-3, BAS), rtol=1e-4)
    # at 2 T the rule's gap E_c1 = 0.80 K is sharp, but loops seen edge-on (cos theta -> 0) keep
    # their zero-field gaps, so the averaged DOS is nonzero right above D_min = 0.49 K
    Ec1_rule = float(np.hypot(BAS.D_min, d0phi_effective(2.0, BAS.D0min_qS, BAS)))
    assert Ec1_rule > 0.6
    assert float(g_ats(0.6, 2.0, BAS)) == 0.0 < float(g_ats_orientation_numeric(0.6, 2.0, BAS))
    # states are conserved by the average too: high-E tail unchanged
    assert np.isclose(
        float(g_ats_orientation_numeric(200.0, 2.0, BAS)), float(g_ats(200.0, 2.0, BAS)), rtol=1e-3
    )
