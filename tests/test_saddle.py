"""Saddle refinement, single-ended search, connection verification, identity of minima."""

import numpy as np

import pelsim  # noqa: F401
from pelsim.landscape import surfaces as S
from pelsim.landscape.connect import relax, verify_saddle
from pelsim.landscape.identity import find_minimum, max_displacement, same_minimum
from pelsim.landscape.saddle import normal_modes, refine_saddle, single_ended_search


def test_refine_from_far_start_and_verify_connection():
    s = refine_saddle(S.mueller_brown, S.as_position(-0.75, 0.7))
    assert s.converged and s.n_negative == 1 and s.eigenvalue < 0
    assert np.allclose(s.R.ravel(), S.MUELLER_BROWN_SADDLES[0, :2], atol=1e-6)
    a, b = verify_saddle(S.mueller_brown, s, push=0.01)
    found = sorted([a.energy, b.energy])
    assert np.allclose(found, sorted(S.MUELLER_BROWN_MINIMA[[0, 2], 2]), atol=2e-6)


def test_single_ended_search_from_each_three_well_minimum():
    f = lambda R: S.three_well(R, 0.5)
    mins, sads = S.three_well_stationary(0.5)
    for x, y, _ in mins:
        lam, vec = normal_modes(f, S.as_position(x, y))
        assert np.all(lam > 0)
        for sign in (1.0, -1.0):
            s = single_ended_search(f, S.as_position(x, y), sign * vec[:, 0].reshape(1, 2), push=0.05)
            assert s.converged and s.n_negative == 1
            # the soft mode of a well is tangential: both directions reach a saddle
            assert abs(s.energy - sads[0, 2]) < 1e-12
            assert np.min(np.linalg.norm(sads[:, :2] - s.R.ravel(), axis=1)) < 1e-8


def test_identity_tolerances_periodic():
    rng = np.random.default_rng(0)
    box = np.array([5.0, 5.0, 5.0])
    R = rng.uniform(0, 5, (20, 3))
    # same structure: a uniform translation plus wrapping is not a new minimum
    R2 = np.mod(R + np.array([2.4, -1.0, 0.3]), box)
    assert max_displacement(R, R2, box) < 1e-12
    assert same_minimum(-1.0, R, -1.0 + 5e-7, R2, box)
    # one particle moved by 0.1 sigma: a different minimum (tolerance 0.05)
    R3 = R.copy()
    R3[4, 0] += 0.1
    assert abs(max_displacement(R, R3, box) - 0.1 * np.sqrt(1 - 1 / 20) ** 1) < 0.01
    assert not same_minimum(-1.0, R, -1.0, R3, box)
    # energy beyond tolerance: different
    assert not same_minimum(-1.0, R, -1.0 + 2e-6, R2, box)
    assert find_minimum(-1.0, R2, [-3.0, -1.0], [R3, R], box) == 1
    assert find_minimum(-1.0, R3, [-1.0], [R], box) == -1


def test_relax_reaches_known_minimum():
    m = relax(S.mueller_brown, S.as_position(0.5, 0.1))
    assert m.max_force < 1e-10
    assert np.allclose(m.R.ravel(), S.MUELLER_BROWN_MINIMA[1, :2], atol=1e-6)


def test_bad_inputs_raise_input_error():
    import pytest

    from pelsim.errors import InputError
    from pelsim.landscape.dimer import dimer

    R = S.as_position(0.0, 0.5)
    with pytest.raises(InputError, match="method"):
        refine_saddle(S.mueller_brown, R, method="newton")
    with pytest.raises(InputError, match="mode"):
        single_ended_search(S.mueller_brown, R, np.zeros((1, 2)))
    with pytest.raises(InputError, match="NaN"):
        dimer(S.mueller_brown, np.array([[np.nan, 0.0]]))
    with pytest.raises(InputError, match="direction"):
        dimer(S.mueller_brown, R, np.ones(3))


def test_dimer_and_ef_routes_reach_the_same_three_well_saddle():
    f = lambda R: S.three_well(R, 0.5)
    mins, sads = S.three_well_stationary(0.5)
    x, y, _ = mins[0]
    lam, vec = normal_modes(f, S.as_position(x, y))
    for method in ("dimer", "ef"):
        s = single_ended_search(f, S.as_position(x, y), vec[:, 0].reshape(1, 2), method=method)
        assert s.converged and s.n_negative == 1 and s.method == method
        assert abs(s.energy - sads[0, 2]) < 1e-12


def test_negative_modes_dense_path_matches_lanczos_on_a_ka_minimum():
    """KA 3D N = 270 (R.size 810): negative_modes takes the dense analytic-Hessian path; its lowest
    non-zero eigenvalue is the Lanczos one of pelsim.hessian.lowest_modes (translations projected
    out) and a minimum has no negative mode."""
    from pathlib import Path

    from pelsim.config import Configuration
    from pelsim.hessian import lowest_modes
    from pelsim.landscape.saddle import DENSE_MODES_MAX, negative_modes
    from pelsim.landscape.search import landscape_energy

    d = np.load(Path(__file__).parent / "data" / "ka3d_n270_minima.npz")
    conf = Configuration(d["positions"][0], d["species"], d["box"], "ka3d")
    energy, _ = landscape_energy(conf, "smooth")
    R = conf.positions
    assert 600 < R.size <= DENSE_MODES_MAX
    n_neg, lam0, mode = negative_modes(energy, R)
    lam, _ = lowest_modes(energy, R, k=2)
    assert n_neg == 0
    assert lam0 > 0
    assert abs(lam0 - lam[0]) < 1e-8 * max(1.0, abs(lam[0]))
    assert abs(np.linalg.norm(mode) - 1.0) < 1e-10


def test_one_blas_thread_limits_blas_and_keeps_results():
    from threadpoolctl import threadpool_info

    from pelsim.device import on_one_blas_thread, one_blas_thread

    with one_blas_thread():
        blas = [i for i in threadpool_info() if i.get("user_api") == "blas"]
        assert blas and all(i["num_threads"] == 1 for i in blas)
    A = np.random.default_rng(0).normal(size=(50, 50))
    A = A + A.T
    f = on_one_blas_thread(np.linalg.eigvalsh)
    assert np.allclose(f(A), np.linalg.eigvalsh(A), atol=1e-12)
