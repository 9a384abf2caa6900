"""etm.levels: observables of discrete 3-level systems against independent routes.

Every quantity is checked against the free energy F = -T ln sum exp(-E/T) of levels from a
direct diagonalisation (numpy eigvalsh) and finite differences: C = -T d2F/dT2,
M = -dF/dx, static susceptibility = -d2F/dF^2; levels against the closed form Eq. (8).
"""

import numpy as np
import pytest

from etm.dielectric import deps_stm_resonant_from_systems
from etm.hamiltonian import eigenvalues_3ls, h_3ls_amplitudes
from etm.levels import (
    free_energy_levels,
    heat_capacity_levels,
    moment_levels,
    spectrum_3ls,
    susceptibility_levels,
    twp_dipole_overlaps,
)

RNG = np.random.default_rng(7)
E_RAND = RNG.normal(0.0, 0.5, (6, 3))
D_RAND = RNG.uniform(0.1, 1.0, (6, 3))
PHI_RAND = RNG.uniform(-3.0, 3.0, 6)


def _F_direct(T, E, D, phi, bias=None, ground=True):
    """F of one system from eigvalsh; bias (3,) adds -bias_i to the well energies.

    ground=False drops the T-independent ground energy (less round-off in d2F/dT2)."""
    H = np.asarray(h_3ls_amplitudes(*E, *D, phi))
    if bias is not None:
        H = H - np.diag(bias)
    ev = np.linalg.eigvalsh(H)
    return ev.min() * ground - T * np.log(np.exp(-(ev - ev.min()) / T).sum())


def test_equal_amplitudes_give_the_closed_form_of_eq8():
    lev, _, _ = spectrum_3ls(E_RAND, np.repeat(D_RAND[:, :1], 3, axis=1), PHI_RAND)
    ref = np.asarray(eigenvalues_3ls(E_RAND[:, 0], E_RAND[:, 1], E_RAND[:, 2], D_RAND[:, 0], PHI_RAND))
    np.testing.assert_allclose(lev, ref, atol=1e-12)


def test_dE_dphi_closed_form_equals_finite_differences():
    lev, _, d = spectrum_3ls(E_RAND, D_RAND, PHI_RAND)
    h = 1e-6
    for i in range(len(PHI_RAND)):
        up = np.linalg.eigvalsh(np.asarray(h_3ls_amplitudes(*E_RAND[i], *D_RAND[i], PHI_RAND[i] + h)))
        dn = np.linalg.eigvalsh(np.asarray(h_3ls_amplitudes(*E_RAND[i], *D_RAND[i], PHI_RAND[i] - h)))
        np.testing.assert_allclose(d[i], (up - dn) / (2 * h), atol=1e-8)
    # the levels depend on phi only through cos phi: flux -> -flux leaves them, flips dE/dphi
    lev2, _, d2 = spectrum_3ls(E_RAND, D_RAND, -PHI_RAND)
    np.testing.assert_allclose(lev2, lev, atol=1e-12)
    np.testing.assert_allclose(d2, -d, atol=1e-12)


def test_dE_dphi_keeps_precision_for_tiny_amplitudes():
    """Simulated TWPs: amplitudes 1e-7 K next to asymmetries of tens of K. The closed form is
    linear in D12 D23 D31 sin(phi): scaling the amplitudes by s scales it by s^3 exactly."""
    E = np.array([23.3, 0.0, 52.6])
    D = np.array([1.5e-7, 3.9e-5, 3.0e-5])
    _, _, d1 = spectrum_3ls(E, D, 1e-6)
    _, _, d2 = spectrum_3ls(E, 10 * D, 1e-6)
    assert np.all(d1 != 0)
    np.testing.assert_allclose(d2, 1000 * d1, rtol=1e-6)


@pytest.mark.parametrize("T", [0.05, 0.3, 2.0])
def test_heat_capacity_and_moment_equal_free_energy_derivatives(T):
    for E, D, phi in zip(E_RAND, D_RAND, PHI_RAND, strict=True):
        lev, _, dphi = spectrum_3ls(E, D, phi)
        h = 1e-3 * T
        F = [_F_direct(t, E, D, phi, ground=False) for t in (T - h, T, T + h)]
        C_fd = -T * (F[0] - 2 * F[1] + F[2]) / h**2
        assert heat_capacity_levels(T, lev) == pytest.approx(C_fd, rel=1e-5, abs=1e-9)
        assert free_energy_levels(T, lev) == pytest.approx(_F_direct(T, E, D, phi), abs=1e-12)
        k = 1e-5
        M_fd = -(_F_direct(T, E, D, phi + k) - _F_direct(T, E, D, phi - k)) / (2 * k)
        assert moment_levels(T, lev, dphi) == pytest.approx(M_fd, abs=1e-8)


@pytest.mark.parametrize("T", [0.1, 0.5, 3.0])
def test_susceptibility_equals_second_derivative_of_F_in_an_electric_field(T):
    """Resonant + relaxation = isothermal -d2F/dF^2, averaged over the field direction e in
    x, y, z (isotropic average = trace / 3) for well dipoles p0 = 1 at 120 degrees in a plane."""
    ang = 2 * np.pi * np.arange(3) / 3
    p = np.stack([np.cos(ang), np.sin(ang), np.zeros(3)], axis=1)  # (well, xyz)
    for E, D, phi in zip(E_RAND, D_RAND, PHI_RAND, strict=True):
        lev, vec, _ = spectrum_3ls(E, D, phi)
        res, rel = susceptibility_levels(T, lev, *twp_dipole_overlaps(vec))
        f, chi = 1e-3, 0.0
        for axis in range(3):
            b = p[:, axis]
            Fs = [_F_direct(T, E, D, phi, s * f * b) for s in (-1, 0, 1)]
            chi += -(Fs[0] - 2 * Fs[1] + Fs[2]) / f**2 / 3
        assert res + rel == pytest.approx(chi, rel=1e-4, abs=1e-9)
        assert res > 0 and rel >= 0


def test_two_level_limit_is_the_2ls_resonant_formula():
    """A third well far above: wells 1, 2 form a 2LS with Delta = E2 - E1, Delta0 = 2 D12 and
    wells sqrt(3) p0 apart, i.e. a 2LS dipole (sqrt 3 / 2) p0: its resonant response is etm's
    Eq. (32) sum with weight 3/4."""
    T = np.geomspace(0.05, 5, 7)
    E = np.array([0.0, 0.4, 1e6])
    D = np.array([0.3, 1e-9, 1e-9])
    lev, vec, _ = spectrum_3ls(E, D, 0.0)
    off2, diag = twp_dipole_overlaps(vec)
    res = np.array([susceptibility_levels(t, lev, off2, diag)[0] for t in T])
    E2 = np.hypot(0.4, 0.6)
    ref = np.asarray(deps_stm_resonant_from_systems(T, np.array([E2]), np.array([0.6]), np.array([0.75])))
    np.testing.assert_allclose(res, ref, rtol=1e-6)
    # and its heat capacity is the Schottky form of the pair
    x = E2 / T
    np.testing.assert_allclose(heat_capacity_levels(T, lev), x**2 / (4 * np.cosh(x / 2) ** 2), rtol=1e-8)
