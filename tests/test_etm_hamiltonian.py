"""Tests of etm.hamiltonian: Eq. (8) against diagonalisation, Eq. (9) limits, Eqs. (20, 95), averages."""

import numpy as np
import pytest

from etm.errors import InputError
from etm.hamiltonian import (
    d0phi_effective,
    effective_gap,
    eigenvalues_2ls,
    eigenvalues_3ls,
    gap_3ls,
    gap_3ls_small_limit,
    h_2ls,
    h_3ls,
    orientation_averaged_gap_numeric,
)
from etm.params import ATSParams
from etm.units import FLUX_PHASE_PER_T_K_A2


def _random_params(rng, n, traceless=True):
    E = rng.normal(scale=1.5, size=(n, 3))
    if traceless:
        E -= E.mean(axis=1, keepdims=True)
    D0 = rng.uniform(0.1, 3.0, n) * rng.choice([-1.0, 1.0], n)
    phi = rng.uniform(-20.0, 20.0, n)
    return E, D0, phi


def test_eq8_matches_diagonalisation():
    rng = np.random.default_rng(0)
    E, D0, phi = _random_params(rng, 2000)
    exact = np.asarray(eigenvalues_3ls(E[:, 0], E[:, 1], E[:, 2], D0, phi))
    H = np.asarray(h_3ls(E[:, 0], E[:, 1], E[:, 2], D0, phi))
    assert np.allclose(H, np.conj(np.swapaxes(H, -1, -2)))  # Hermitian
    num = np.linalg.eigvalsh(H)
    assert np.max(np.abs(exact - num)) < 1e-10
    assert np.all(np.diff(exact, axis=-1) >= 0)  # ascending


def test_eq8_off_plane_trace_shift():
    rng = np.random.default_rng(1)
    E, D0, phi = _random_params(rng, 200, traceless=False)
    exact = np.asarray(eigenvalues_3ls(E[:, 0], E[:, 1], E[:, 2], D0, phi))
    num = np.linalg.eigvalsh(np.asarray(h_3ls(E[:, 0], E[:, 1], E[:, 2], D0, phi)))
    assert np.max(np.abs(exact - num)) < 1e-10


def test_phi_periodicity_and_reflection():
    rng = np.random.default_rng(2)
    E, D0, phi = _random_params(rng, 300)
    args = (E[:, 0], E[:, 1], E[:, 2], D0)
    base = np.asarray(eigenvalues_3ls(*args, phi))
    assert np.allclose(base, eigenvalues_3ls(*args, phi + 2 * np.pi), atol=1e-10)
    assert np.allclose(base, eigenvalues_3ls(*args, -phi), atol=1e-10)
    # numerically too: H(-phi) = conj(H(phi)) has the same spectrum
    assert np.allclose(base, np.linalg.eigvalsh(np.asarray(h_3ls(*args, -phi))), atol=1e-10)


def test_zero_field_degenerate_ground_state():
    # E_i = 0, phi = 0, D0 > 0: levels -D0, -D0, 2 D0 (Eq. 11: degenerate ground state)
    ev = np.asarray(eigenvalues_3ls(0.0, 0.0, 0.0, 1.3, 0.0))
    assert np.allclose(ev, [-1.3, -1.3, 2.6])


def test_2ls():
    H = np.asarray(h_2ls([0.3, -1.0], [0.4, 2.0]))
    assert np.allclose(np.linalg.eigvalsh(H), eigenvalues_2ls([0.3, -1.0], [0.4, 2.0]))
    assert np.allclose(np.diff(eigenvalues_2ls(0.3, 0.4)), 0.5)


def test_effective_gap_limit_eq9():
    # exact lowest gap -> (2/sqrt3) sqrt(D0^2 phi^2 + D^2/2) for D/D0, phi -> 0
    rng = np.random.default_rng(3)
    for scale in (1e-2, 1e-3):
        psi = rng.uniform(0, 2 * np.pi, 50)
        D = scale * rng.uniform(0.2, 1.0, 50)
        e = D[:, None] * (
            np.cos(psi)[:, None] * np.array([1, -1, 0]) / np.sqrt(2)
            + np.sin(psi)[:, None] * np.array([1, 1, -2]) / np.sqrt(6)
        )
        phi = scale * rng.uniform(0.2, 1.0, 50)
        gap = np.asarray(gap_3ls(e[:, 0], e[:, 1], e[:, 2], 1.0, phi))
        lim = np.asarray(gap_3ls_small_limit(D, phi))
        assert np.max(np.abs(gap / lim - 1)) < 5 * scale
    # rescaled form: D -> D/sqrt2, gap -> gap sqrt3/2
    assert np.isclose(float(effective_gap(3.0, 4.0)), 5.0)
    assert np.isclose(float(gap_3ls_small_limit(np.sqrt(2) * 3.0, 4.0)) * np.sqrt(3) / 2, 5.0)


def test_high_field_gap_eq95():
    # D = 0: exact gap sqrt3/2 * gap = D0 phi sqrt(1 - phi^2/27) + O(phi^5)
    phi = np.array([0.05, 0.1, 0.2, 0.4])
    gap = np.asarray(gap_3ls(0.0, 0.0, 0.0, 1.0, phi)) * np.sqrt(3) / 2
    eq95 = phi * np.sqrt(1 - phi**2 / 27)
    eq9 = phi
    assert np.all(np.abs(gap - eq95) < 1e-3 * phi**5)
    assert np.all(np.abs(gap - eq95) < 0.01 * np.abs(gap - eq9))


def test_d0phi_effective_units_and_averages():
    p = ATSParams(0.5, 5e4, 3e5)
    u = float(d0phi_effective(1.0, 1e5, p))
    assert np.isclose(u, 1.51927e-5 * 1e5 / np.sqrt(3), rtol=1e-5)
    assert np.isclose(FLUX_PHASE_PER_T_K_A2, 1.51927e-5, rtol=1e-5)
    pn = ATSParams(0.5, 5e4, 3e5, orientation_average=False)
    assert np.isclose(float(d0phi_effective(1.0, 1e5, pn)), 1.51927, rtol=1e-5)
    # Eq. (20): average of phi^2 c^2 (1 - phi^2 c^2 / 27) over c = cos theta equals (phi^2/3)(1 - phi^2/45)
    ps = ATSParams(0.5, 5e4, 3e5, B_star=2.0)
    B = 1.5
    x, w = np.polynomial.legendre.leggauss(40)
    c = 0.5 * (x + 1)
    phi = B / 2.0
    avg = np.sum(0.5 * w * (phi * c) ** 2 * (1 - (phi * c) ** 2 / 27))
    u0 = FLUX_PHASE_PER_T_K_A2 * B * 1e5
    assert np.isclose(float(d0phi_effective(B, 1e5, ps)) ** 2, u0**2 * avg / phi**2, rtol=1e-12)
    with pytest.raises(InputError):
        d0phi_effective(20.0, 1e5, ps)
    with pytest.raises(InputError):
        d0phi_effective(-1.0, 1e5, p)


def test_orientation_average_numeric_vs_phi2_over_3():
    D = np.array([10.0, 1.0, 0.0])
    u = 1.0
    num = np.asarray(orientation_averaged_gap_numeric(D, u))
    rule = np.asarray(effective_gap(D, u / np.sqrt(3)))
    # D >> D0 phi: both -> D + u^2/(6D)
    assert abs(num[0] - rule[0]) < 1e-4
    # D = 0: <|cos theta|> = 1/2 against 1/sqrt3 (the rule overestimates the averaged gap by 15 %)
    assert np.isclose(num[2], 0.5, rtol=1e-10)
    assert np.isclose(rule[2] / num[2], 2 / np.sqrt(3), rtol=1e-10)
    assert 1.0 < rule[1] / num[1] < 2 / np.sqrt(3)


def test_bad_D0():
    with pytest.raises(InputError):
        eigenvalues_3ls(0.1, -0.1, 0.0, 0.0, 0.3)
