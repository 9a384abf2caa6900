"""Neighbourhood exploration (explore.py): breadth-first single-ended searches close triangles."""

import numpy as np
import pytest

import pelsim  # noqa: F401
from pelsim.errors import InputError
from pelsim.landscape import surfaces as S
from pelsim.landscape.explore import (
    edge_random_direction,
    explore_neighbourhood,
    localized_random_direction,
    triangle_statistics,
)

C = 0.5
f3 = lambda R: S.three_well(R, C)


def _check_three_well_twp(cat):
    mins, sads = S.three_well_stationary(C)
    # all three exact minima and saddles, each saddle between the two minima it separates
    got_m = np.array([np.ravel(R) for R in cat.minima["positions"]])
    assert len(got_m) == 3
    for m in mins:
        assert np.min(np.linalg.norm(got_m - m[:2], axis=1)) < 1e-6
    assert np.allclose(cat.minima["energy"], mins[0, 2], atol=1e-10)
    assert len(cat.dwp_rows) == 3
    for r in cat.dwp_rows:
        Rs = np.ravel(cat.saddles["positions"][r["saddle"]])
        k = int(np.argmin(np.linalg.norm(sads[:, :2] - Rs, axis=1)))
        assert np.linalg.norm(sads[k, :2] - Rs) < 1e-6
        assert cat.saddles["energy"][r["saddle"]] == pytest.approx(sads[k, 2], abs=1e-10)
        assert cat.saddles["n_negative_modes"][r["saddle"]] == 1
        # the saddle at angle t separates the wells at t +- 60 degrees
        mid = 0.5 * (got_m[r["min_a"]] + got_m[r["min_b"]])
        assert np.arctan2(mid[1], mid[0]) == pytest.approx(np.arctan2(Rs[1], Rs[0]), abs=1e-6)
    assert len(cat.twp_rows) == 1
    t = cat.twps()
    # three equivalent wells: equal levels; loop area = area of the equilateral triangle of minima
    assert np.allclose([t["E1"][0], t["E2"][0], t["E3"][0]], 0.0, atol=1e-12)
    rm = np.hypot(*mins[0, :2])
    assert t["loop_area"][0] == pytest.approx(3 * np.sqrt(3) / 4 * rm**2, rel=1e-6)
    assert triangle_statistics(cat)["triangles"] == 1


def test_breadth_first_search_from_one_well_finds_the_twp():
    mins, _ = S.three_well_stationary(C)
    cat, st = explore_neighbourhood(
        f3, S.as_position(*mins[0, :2]), max_depth=1, n_modes=1, n_random=0, close=False, start_minima=[0]
    )  # the start repeated: expanded once
    _check_three_well_twp(cat)
    assert st.twps == 1 and st.expanded == 3 and st.minima_new == 2 and st.saddles_new == 3
    assert st.stopped == "exhausted"


def test_closing_connection_finds_the_twp_without_expanding_neighbours():
    # only the start well is expanded (depth 0): it yields the star 0-1, 0-2; the closing
    # connection 1-2 (CI-NEB + refinement) makes the triangle
    mins, _ = S.three_well_stationary(C)
    cat, st = explore_neighbourhood(
        f3,
        S.as_position(*mins[0, :2]),
        max_depth=0,
        n_modes=1,
        n_random=0,
        close=True,
        close_max_displacement=3.0,
    )
    _check_three_well_twp(cat)
    assert st.expanded == 1 and st.closing_attempts == 1 and st.closing_dwps == 1
    assert set(cat.dwps()["method"]) == {"explore", "explore_closing"}


def test_stop_at_twp_and_random_directions():
    mins, _ = S.three_well_stationary(C)
    cat, st = explore_neighbourhood(
        f3,
        S.as_position(*mins[1, :2]),
        max_depth=3,
        n_modes=1,
        n_random=2,
        close=False,
        stop_at_twp=True,
        seed=1,
    )
    assert st.stopped == "twp_found" and len(cat.twp_rows) == 1
    _check_three_well_twp(cat)


def test_localized_random_direction_lives_on_the_soft_mode_particles():
    rng = np.random.default_rng(0)
    modes = np.zeros((30, 2))  # 10 particles in 3D, two "modes" on particles 2, 5 and 7
    modes[3 * 2, 0] = 0.6
    modes[3 * 5 + 1, 0] = 0.8
    modes[3 * 7 + 2, 1] = 1.0
    d = localized_random_direction(modes, (10, 3), rng, n_particles=3)
    assert np.linalg.norm(d) == pytest.approx(1.0)
    assert set(np.flatnonzero(np.linalg.norm(d, axis=1) > 0)) == {2, 5, 7}


def test_edge_random_direction_moves_the_same_particles_sideways():
    rng = np.random.default_rng(2)
    Ra = rng.uniform(0, 5, (20, 3))
    Rb = Ra.copy()
    Rb[4] += [0.3, 0.0, 0.0]  # the DWP moves particles 4 and 11
    Rb[11] += [0.0, -0.2, 0.1]
    d = edge_random_direction(Ra, Rb, np.full(3, 5.0), rng)
    assert np.linalg.norm(d) == pytest.approx(1.0)
    assert set(np.flatnonzero(np.linalg.norm(d, axis=1) > 0)) == {4, 11}
    # orthogonal to the known displacement of the moving particles
    dr = Rb - Ra - (Rb - Ra).mean(axis=0)
    assert abs(np.sum(d[[4, 11]] * dr[[4, 11]])) < 1e-12
    assert edge_random_direction(Ra, Ra, None, rng) is None


@pytest.mark.parametrize(
    "kw",
    [
        dict(max_depth=-1),
        dict(n_modes=0, n_random=0),
        dict(push=0.0),
        dict(max_searches=1.5),
        dict(close_max_displacement=-1.0),
    ],
)
def test_bad_budget_raises(kw):
    with pytest.raises(InputError):
        explore_neighbourhood(f3, S.as_position(1.0, 0.0), **kw)


@pytest.mark.slow
def test_ka_smoke_every_dwp_is_a_verified_saddle(full):
    """KA 2D N = 64: expanded minima yield DWPs whose saddles are first order, above both minima,
    with relaxed minima at the two ends; the open-triangle statistics match the graph."""
    from pelsim.landscape.search import landscape_energy
    from pelsim.prepare import quench, random_configuration

    IS, res = quench(random_configuration("ka2d", 64, seed=3))
    energy, _ = landscape_energy(IS)
    # reduced: the two searches along the softest mode of the IS; full: two generations + closing
    kw = (
        dict(max_depth=1, max_minima=3, n_modes=2, n_random=1, max_closing=4)
        if full
        else dict(max_depth=0, n_modes=1, n_random=0, close=False)
    )
    cat, st = explore_neighbourhood(energy, IS.positions, IS.box, None, **kw)
    assert st.expanded >= 1 and st.searches >= 2
    assert len(cat.dwp_rows) >= 1 and st.saddles_new + st.closing_dwps == len(cat.dwp_rows)
    assert cat.minima["energy"][0] == pytest.approx(res.energy, abs=1e-9)
    for r in cat.dwp_rows:
        Es = cat.saddles["energy"][r["saddle"]]
        Ea, Eb = cat.minima["energy"][r["min_a"]], cat.minima["energy"][r["min_b"]]
        assert r["min_a"] != r["min_b"] and Es > max(Ea, Eb)
        assert cat.saddles["n_negative_modes"][r["saddle"]] == 1
        assert cat.saddles["max_force"][r["saddle"]] <= 1e-9
        assert max(cat.minima["max_force"][r["min_a"]], cat.minima["max_force"][r["min_b"]]) <= 1e-9
    ts = triangle_statistics(cat)
    deg = np.array([d for _, d in cat.graph().degree()])
    assert ts["open_paths"] + 3 * ts["triangles"] == int(np.sum(deg * (deg - 1) // 2))


def test_a_triangle_without_hamiltonian_does_not_stop_the_exploration(monkeypatch):
    # a DWP whose upper well holds no localised state has Delta0 = NaN; find_twps then raises
    # (eigvalsh of a NaN Hamiltonian): the exploration counts it and goes on
    from pelsim.landscape.catalogue import Catalogue

    def nan_twps(self):
        raise np.linalg.LinAlgError("Eigenvalues did not converge")

    monkeypatch.setattr(Catalogue, "find_twps", nan_twps)
    mins, _ = S.three_well_stationary(C)
    cat, st = explore_neighbourhood(
        f3, S.as_position(*mins[0, :2]), max_depth=1, n_modes=1, n_random=0, close=False
    )
    assert len(cat.dwp_rows) == 3 and st.twp_errors == 3 and st.twps == 0 and st.stopped == "exhausted"


def test_search_glass_runs_the_exploration_route():
    """search_glass(explore=...) (the campaign's [search.explore] stage) runs the exploration from
    the glass IS within its search budget and tags its DWPs; every stored DWP connects two
    distinct minima through a saddle above both."""
    from pelsim.campaign.config import validate
    from pelsim.landscape.search import search_glass
    from pelsim.prepare import quench, random_configuration

    glass, _ = quench(random_configuration("ka2d", 64, seed=3))
    budget = dict(max_depth=0, max_searches=2, n_modes=1, n_random=0, n_edge_random=0, max_barrier=2.0)
    cat, stats = search_glass(glass, n_modes=0, explore=budget)
    assert stats["explore_searches"] == 2 and stats["explore_expanded"] == 1
    d = cat.dwps()
    assert set(d["method"]) <= {"explore", "explore_closing"}
    assert len(d["id"]) == stats["explore_saddles_new"] + stats["explore_closing_dwps"]
    for i in range(len(d["id"])):
        assert d["min_a"][i] != d["min_b"][i]
        assert d["barrier"][i] > 0 and d["barrier"][i] - d["asymmetry"][i] > 0
    # the campaign key block: defaults off, bad values named
    base = {"campaign": {"name": "t"}, "model": {"name": "ka2d", "N": 64}, "glasses": {"count": 1}}
    cfg = validate(base)
    assert cfg["search"]["explore"]["enabled"] is False
    with pytest.raises(InputError, match="search.explore.max_searches"):
        validate(dict(base, search={"explore": {"max_searches": 0}}))
