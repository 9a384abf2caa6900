"""Intra-basin valley exploration: relaxed landscape W(q) along soft modes."""

import numpy as np
import pytest

import pelsim  # noqa: F401
from pelsim.landscape import surfaces as S
from pelsim.landscape.saddle import normal_modes
from pelsim.landscape.valleys import explore_basin, grid_valleys, relaxed_map_2d, relaxed_profile_1d

C = 0.5
f3 = lambda R: S.three_well(R, C)


def test_relaxed_profile_curvature_is_the_mode_eigenvalue():
    mins, _ = S.three_well_stationary(C)
    R0 = S.as_position(*mins[0, :2])
    lam, vec = normal_modes(f3, R0)
    h = 1e-3
    vm = relaxed_profile_1d(f3, R0, vec[:, 0].reshape(1, 2), q_max=h, n=3, fmax=1e-12)
    # along a Hessian eigenvector the relaxation only enters at O(q^3): W'' (0) = lambda_1
    curv = (vm.W[0] - 2 * vm.W[1] + vm.W[2]) / h**2
    assert curv == pytest.approx(lam[0], rel=1e-5)
    # the relaxed points keep their projection on the mode
    for q, R in zip(vm.q, vm.R, strict=True):
        assert np.dot((R - np.asarray(R0)).ravel(), vec[:, 0]) == pytest.approx(q, abs=1e-12)


def test_valleys_of_three_well_reach_both_neighbours():
    mins, _ = S.three_well_stationary(C)
    R0 = S.as_position(*mins[0, :2])
    maps, found, effective = explore_basin(f3, R0, n_modes=1, dim=1, q_max=2.4, n=25)
    # along the soft (tangential) mode the relaxed landscape has a valley at each neighbour well
    E = sorted(e for _, e in found)
    assert len(found) == 2 and np.allclose(E, mins[1:, 2], atol=1e-9)
    got = sorted(tuple(np.round(R.ravel(), 6)) for R, _ in found)
    want = sorted(tuple(np.round(m[:2], 6)) for m in mins[1:])
    assert np.allclose(got, want, atol=1e-6)
    assert effective == []  # valleys of W with relaxed complement are true minima here


def test_2d_map_and_grid_valleys():
    f = lambda R: S.quartic_double_well(R, 1.0, 0.0, 4.0)
    R0 = S.as_position(-1.0, 0.0)
    modes = np.array([[[1.0, 0.0]], [[0.0, 1.0]]])
    vm = relaxed_map_2d(f, R0, modes, q_max=2.0, n=9)
    # with both coordinates constrained, W is the surface itself
    for idx in [(0, 0), (3, 5), (8, 8)]:
        assert vm.W[idx] == pytest.approx(float(f(R0 + vm.q[idx].reshape(1, 2))) - 0.0, abs=1e-10)
    v = grid_valleys(vm.W, exclude=(4, 4))
    assert v == [] or all(abs(vm.q[i][0] - 1.0) < 0.3 for i in v)
    Wd = np.array([0.0, -1.0, 0.0, -0.5, 0.0])
    assert grid_valleys(Wd) == [(1,), (3,)]
