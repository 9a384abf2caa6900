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


def _three_well_catalogue(steps, method):
    from pelsim.landscape.catalogue import Catalogue

    cat = Catalogue(None, model="surface", N=1, dim=2)
    for st in steps:
        cat.add_step(st, method)
    return cat


def _assert_symmetric_twp(cat, method):
    """One TWP: the three analytic minima, barriers = saddle energy - minimum energy."""
    mins, sads = S.three_well_stationary(C)
    assert cat.find_twps() == 1
    t = cat.twps()
    assert t["method"][0] == method
    E = np.array(cat.minima["energy"])[t["minima"][0]]
    assert np.allclose(E, mins[:, 2], atol=1e-9)
    d = cat.dwps()
    for k in t["dwps"][0]:
        es = cat.saddles["energy"][d["saddle"][k]]
        assert es == pytest.approx(sads[0, 2], abs=1e-8)  # each edge crosses one of the three saddles
        assert d["barrier"][k] == pytest.approx(es - cat.minima["energy"][d["min_a"][k]], abs=1e-12)
        assert d["V0"][k] == pytest.approx(sads[0, 2] - mins[0, 2], abs=1e-8)
    # symmetric TWP: equal well energies (relative to the lowest) and equal amplitudes D0
    assert np.allclose([t["E1"][0], t["E2"][0], t["E3"][0]], 0.0, atol=1e-9)
    D0 = t["D0"][0]
    assert np.allclose(D0, D0[0], rtol=1e-6, atol=1e-300)


def test_valley_steps_2d_map_closes_the_triangle_around_one_minimum():
    from pelsim.landscape.valleys import valley_steps

    mins, _ = S.three_well_stationary(C)
    R0 = S.as_position(*mins[0, :2])
    # in the plane of the two modes the relaxed map is the surface itself (no complement):
    # its valleys relax into the two neighbour wells
    found, steps = valley_steps(f3, R0, dim=2, q_max=2.4, n=9)
    assert sorted(round(e, 9) for _, e in found) == [round(mins[1, 2], 9)] * 2
    # R0 - valley (twice) and valley - valley: three verified steps, one per saddle
    assert len(steps) == 3
    _assert_symmetric_twp(_three_well_catalogue(steps, "intra_basin"), "intra_basin")


def test_is_pair_plan_deduplicates_and_closes_triangles():
    from pelsim.landscape.connect import connect
    from pelsim.landscape.search import is_pair_plan

    mins, _ = S.three_well_stationary(C)
    m = [(np.asarray(S.as_position(*r[:2])), r[2]) for r in mins]
    # a trajectory A B A B C: the transition A-B is seen three times, connected once
    traj = [m[0], m[1], m[0], m[1], m[2]]
    uniq, pairs = is_pair_plan(traj)
    assert len(uniq) == 3 and [p[:2] for p in pairs] == [(0, 1), (1, 2)]
    d02 = float(np.linalg.norm(m[0][0] - m[2][0]))  # no box: drift removal is void for one particle
    uniq, pairs = is_pair_plan(traj, close_max_displacement=0.5 * d02)
    assert [p[2] for p in pairs] == ["transition", "transition"]  # too far apart to close
    uniq, pairs = is_pair_plan(traj, close_max_displacement=1.01 * d02)
    assert [p for p in pairs if p[2] == "closing"] == [(0, 2, "closing")]
    steps = [s for i, j, _ in pairs for s in connect(f3, uniq[i][0], uniq[j][0], 12, minimize_ends=False)]
    assert len(steps) == 3
    _assert_symmetric_twp(_three_well_catalogue(steps, "is_pair"), "is_pair")


@pytest.mark.parametrize(
    "kw", [{"valley_dim": 3}, {"valley_points": 8}, {"valley_q_max": 0.0}, {"close_max_displacement": -0.1}]
)
def test_search_glass_rejects_bad_route_options(kw):
    from pelsim.errors import InputError
    from pelsim.landscape.search import search_glass
    from pelsim.prepare import random_configuration

    conf = random_configuration("ka2d", 16, seed=0)
    with pytest.raises(InputError, match=next(iter(kw))):
        search_glass(conf, n_modes=0, **kw)


def _washboard(R, V0=1.0, k=50.0):
    """V = V0 (1 - cos 2 pi x) / 2 + k y^2 / 2: minima at integer x (V = 0), saddles at
    half-integer x (V = V0); the soft mode of every minimum is x (curvature V0 2 pi^2 < k)."""
    import jax.numpy as jnp

    x, y = jnp.reshape(R, (-1,))[0], jnp.reshape(R, (-1,))[1]
    return 0.5 * V0 * (1.0 - jnp.cos(2 * jnp.pi * x)) + 0.5 * k * y * y


def test_valley_walk_goes_breadth_first_through_the_chain_of_basins():
    from pelsim.landscape.valleys import valley_walk

    R0 = S.as_position(0.0, 0.0)
    walk = lambda b: valley_walk(_washboard, R0, max_basins=b, n_modes=1, q_max=1.3, n=27, n_images=8)
    # one basin: the two neighbours x = +-1, each joined to x = 0 by one step; the closing
    # connection +1 - -1 passes through x = 0 and cannot close a triangle
    found, steps, st = walk(1)
    assert sorted(round(float(R[0, 0]), 8) for R, _ in found) == [-1.0, 1.0]
    assert (st.basins, st.new_minima, st.connections, st.elementary) == (1, 2, 2, 2)
    # three basins (x = 0, then +1 and -1 in the order found): x = +-2 are reached, the pair
    # (+-1, 0) is not connected twice
    found, steps, st = walk(3)
    xs = sorted(round(float(R[0, 0]), 8) for R, _ in found)
    assert xs == [-2.0, -1.0, 1.0, 2.0]
    assert st.basins == 3 and st.new_minima == 4 and st.connections == 4 and st.elementary == 4
    for s in steps:  # every step crosses one saddle at a half-integer x, V0 above both minima
        assert s.saddle.energy == pytest.approx(1.0, abs=1e-9)
        assert abs(float(s.saddle.R[0, 0]) % 1.0 - 0.5) < 1e-6
        assert abs(abs(float(s.min_a.R[0, 0]) - float(s.min_b.R[0, 0])) - 1.0) < 1e-8
    edges = {tuple(sorted((round(float(s.min_a.R[0, 0])), round(float(s.min_b.R[0, 0]))))) for s in steps}
    assert {(-2, -1), (-1, 0), (0, 1), (1, 2)} <= edges


def test_intra_basin_route_maps_basins_and_refuses_zero():
    from pelsim.errors import InputError
    from pelsim.landscape.routes import IntraBasinParams
    from pelsim.landscape.search import search_glass
    from pelsim.prepare import random_configuration

    assert IntraBasinParams.from_dict({"basins": 4}).search_kwargs()["valley_basins"] == 4
    with pytest.raises(InputError, match="basins"):
        IntraBasinParams.from_dict({"basins": 0})
    with pytest.raises(InputError, match="valley_basins"):
        search_glass(random_configuration("ka2d", 16, seed=0), n_modes=0, valley_basins=0)


def test_relaxed_maps_of_other_basins_and_modes_compile_nothing_new():
    """The constrained energy is a pytree (energy, R0, modes as leaves): a second and third map,
    from another minimum and along another mode, reuse the minimiser's compiled program."""
    import jax

    mins, _ = S.three_well_stationary(C)
    starts = [S.as_position(*m[:2]) for m in mins]
    modes = [normal_modes(f3, R)[1][:, k].reshape(1, 2) for R, k in zip(starts, (0, 1, 0), strict=True)]
    relaxed_profile_1d(f3, starts[0], modes[0], q_max=0.5, n=5)
    compiled = []

    def listen(name, *_a, **_k):
        if "backend_compile" in name:
            compiled.append(name)

    jax.monitoring.register_event_duration_secs_listener(listen)
    try:
        for R, e in zip(starts[1:], modes[1:], strict=True):
            vm = relaxed_profile_1d(f3, R, e, q_max=0.5, n=5)
            assert vm.W[2] == 0.0 and np.all(np.isfinite(vm.W))
    finally:
        unregister = getattr(jax.monitoring, "unregister_event_duration_listener", None)
        if unregister is not None:
            unregister(listen)
    assert compiled == []


def test_joins_directly_tells_a_double_well_from_a_chain():
    from pelsim.landscape.connect import connect, joins_directly

    mins, _ = S.three_well_stationary(C)
    A, B, D = (np.asarray(S.as_position(*m[:2])) for m in mins)
    E = [float(m[2]) for m in mins]
    steps = connect(f3, A, B, 12, minimize_ends=False)
    assert len(steps) == 1
    assert joins_directly(steps, E[0], A, E[1], B) and joins_directly(steps, E[1], B, E[0], A)
    assert not joins_directly(steps, E[0], A, E[2], D)  # the step ends elsewhere
    chain = steps + connect(f3, B, D, 12, minimize_ends=False)
    assert not joins_directly(chain, E[0], A, E[2], D)  # two steps: a chain, not one double well
