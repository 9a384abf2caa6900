"""Analytic test surfaces: literature / closed-form stationary points are stationary."""

import jax
import numpy as np
import pytest

import pelsim  # noqa: F401  (x64)
from pelsim.landscape import surfaces as S
from pelsim.landscape.saddle import count_negative_modes, refine_minimum, refine_saddle


def _grad(f, x, y):
    return np.asarray(jax.grad(f)(S.as_position(x, y))).ravel()


def _mb_numpy_grad(p):
    """Independent NumPy Mueller-Brown gradient (closed form)."""
    A = np.array([-200.0, -100.0, -170.0, 15.0])
    a = np.array([-1.0, -1.0, -6.5, 0.7])
    b = np.array([0.0, 0.0, 11.0, 0.6])
    c = np.array([-10.0, -10.0, -6.5, 0.7])
    x0 = np.array([1.0, 0.0, -0.5, -1.0])
    y0 = np.array([0.0, 0.5, 1.5, 1.0])
    dx, dy = p[0] - x0, p[1] - y0
    ex = A * np.exp(a * dx**2 + b * dx * dy + c * dy**2)
    return np.array([np.sum(ex * (2 * a * dx + b * dy)), np.sum(ex * (b * dx + 2 * c * dy))])


def test_mueller_brown_literature_points_refine_to_themselves():
    # literature values are rounded to 6 decimals: refined points agree to 1e-6 in
    # position (energies to the literature's last digit, 2e-6), and to 1e-9 with an
    # independent root of the closed-form NumPy gradient.
    from scipy.optimize import root

    for x, y, e in S.MUELLER_BROWN_MINIMA:
        r = refine_minimum(S.mueller_brown, S.as_position(x, y))
        assert r.converged and r.max_force < 1e-10
        assert np.allclose(r.R.ravel(), [x, y], atol=1e-6)
        assert abs(r.energy - e) < 2e-6
        ref = root(_mb_numpy_grad, [x, y], tol=1e-14).x
        assert np.allclose(r.R.ravel(), ref, atol=1e-9)
    for x, y, e in S.MUELLER_BROWN_SADDLES:
        r = refine_saddle(S.mueller_brown, S.as_position(x, y))
        assert r.converged and r.n_negative == 1
        assert np.allclose(r.R.ravel(), [x, y], atol=1e-6)
        assert abs(r.energy - e) < 2e-6
        ref = root(_mb_numpy_grad, [x, y], tol=1e-14).x
        assert np.allclose(r.R.ravel(), ref, atol=1e-9)


def test_three_well_closed_form():
    mins, sads = S.three_well_stationary(0.5)
    f = lambda R: S.three_well(R, 0.5)
    for x, y, e in mins:
        assert np.max(np.abs(_grad(f, x, y))) < 1e-12
        assert abs(float(f(S.as_position(x, y))) - e) < 1e-12
        assert count_negative_modes(f, S.as_position(x, y)) == 0
    for x, y, _e in sads:
        assert np.max(np.abs(_grad(f, x, y))) < 1e-12
        assert count_negative_modes(f, S.as_position(x, y)) == 1
    # three-fold symmetry: all three wells have the same energy, saddles too
    assert np.ptp(mins[:, 2]) == 0 and np.ptp(sads[:, 2]) == 0
    assert sads[0, 2] > mins[0, 2]


@pytest.mark.parametrize("e", [0.0, 0.1])
def test_quartic_double_well(e):
    f = lambda R: S.quartic_double_well(R, 1.0, e)
    r = refine_saddle(f, S.as_position(0.05, 0.01))
    # saddle of V0 (x^2-1)^2 + e x: 4 x (x^2 - 1) + e = 0 near x = e / 4
    x_exact = np.roots([4.0, 0.0, -4.0, e])
    x_exact = x_exact[np.argmin(np.abs(x_exact))].real
    assert abs(r.R[0, 0] - x_exact) < 1e-10 and abs(r.R[0, 1]) < 1e-12
    assert count_negative_modes(f, r.R) == 1
