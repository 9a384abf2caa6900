"""Catalogue: DWPs from the three-well surface, TWP triangle, HDF5 round trip, merge, errors."""

import numpy as np
import pytest

import pelsim  # noqa: F401
from pelsim.errors import InputError
from pelsim.landscape import surfaces as S
from pelsim.landscape.catalogue import Catalogue
from pelsim.landscape.connect import connect
from pelsim.landscape.neb import NEBParams
from pelsim.landscape.twp import loop_areas, three_level_spectrum
from pelsim.tunneling import levels

C = 0.5
f3 = lambda R: S.three_well(R, C)


@pytest.fixture(scope="module")
def three_well_catalogue(tmp_path_factory):
    path = tmp_path_factory.mktemp("cat") / "three_well.h5"
    mins, _ = S.three_well_stationary(C)
    cat = Catalogue.open(path, "w", model="analytic:three_well", N=1, dim=2, unit_preset="argon")
    p = NEBParams(fmax=1e-4)
    for i, j in ((0, 1), (1, 2), (2, 0)):
        for st in connect(f3, S.as_position(*mins[i, :2]), S.as_position(*mins[j, :2]), 16, p):
            cat.add_step(st, "is_pair", glass=0, seed=7, provenance={"sample": "three_well"})
    cat.find_twps()
    cat.save()
    return path


def test_dwps_and_twp_of_symmetric_three_well(three_well_catalogue):
    cat = Catalogue.open(three_well_catalogue, "r")
    mins, sads = S.three_well_stationary(C)
    d = cat.dwps()
    assert len(d["id"]) == 3 and len(cat.minima["energy"]) == 3
    assert np.allclose(d["barrier"], sads[0, 2] - mins[0, 2], atol=1e-10)
    assert np.allclose(d["asymmetry"], 0.0, atol=1e-10)
    # d: straight distance between wells at radius r_m, 120 degrees apart: sqrt(3) r_m
    rm = np.hypot(*mins[0, :2])
    assert np.allclose(d["d"], np.sqrt(3) * rm, rtol=1e-8)
    assert np.all(d["n_moving"] == 1) and np.allclose(d["participation_ratio"], 1.0)
    assert np.allclose(d["Delta"], 0.0, atol=1e-9)
    # argon hbar* with V0 ~ 1 eps: WKB Delta0 ~ 1e-46, far below the numerical floor, so Delta0 is
    # reported as 0 (never round-off noise); the pair energy E (splitting) is then the tiny quantum
    # asymmetry left by the spline through the NEB images (~1e-5 of hbar*omega)
    assert np.all(d["Delta0_wkb"] < 1e-40) and np.all(d["Delta0_floor"] > 0)
    assert np.all(d["Delta0"] == 0.0)
    assert np.all(d["splitting"] > 0) and np.all(d["splitting"] < 1e-3 * d["hbar_omega_a"])
    G = cat.graph()
    assert G.number_of_nodes() == 3 and G.number_of_edges() == 3
    t = cat.twps()
    assert len(t["id"]) == 1
    assert np.allclose([t["E1"][0], t["E2"][0], t["E3"][0]], 0.0, atol=1e-9)
    D0 = t["D0"][0]
    assert np.allclose(D0, D0[0], rtol=1e-6)
    # equal wells, equal D0: spectrum E + 2 D0, E - D0 (twice); etm's closed form Eq. 8 agrees
    from etm.hamiltonian import eigenvalues_3ls

    if D0[0] > 0:  # etm's closed form needs D0 != 0
        ev = np.asarray(eigenvalues_3ls(0.0, 0.0, 0.0, D0[0], 0.0))
        assert np.allclose(t["spectrum"][0], ev, atol=1e-12 + 1e-9 * D0[0])
    assert np.allclose(t["spectrum"][0], [-D0[0], -D0[0], 2 * D0[0]], atol=1e-9 * D0[0] + 1e-15)
    # loop area = area of the equilateral triangle of side sqrt(3) r_m
    assert t["loop_area"][0] == pytest.approx(np.sqrt(3) / 4 * 3 * rm * rm, rel=1e-8)
    # profile stored and consistent with the barrier
    s, V = cat.profile(0)
    assert abs(V.max() - d["barrier"][0]) < 1e-10 and s[0] == 0.0


def test_splitting_of_catalogue_matches_direct_1d_solve(three_well_catalogue):
    cat = Catalogue.open(three_well_catalogue, "r")
    s, V = cat.profile(0)
    hbar = cat.attrs["hbar"]
    # independent: the same profile as a natural cubic spline through its images, harmonic walls
    from scipy.interpolate import CubicSpline

    sp = CubicSpline(s, V, bc_type=((1, 0.0), (1, 0.0)))
    # each wall continues its own well with the well's curvature as the catalogue measured it
    # (hbar omega = hbar sqrt(k), mass-weighted s): the tiny splitting of this symmetric DWP is
    # the zero-point asymmetry, so it is set by the two curvatures
    d = cat.dwps()
    k0, k1 = (d["hbar_omega_a"][0] / hbar) ** 2, (d["hbar_omega_b"][0] / hbar) ** 2
    W = lambda x: np.where(
        x < 0,
        V[0] + 0.5 * k0 * x * x,
        np.where(x > s[-1], V[-1] + 0.5 * k1 * (x - s[-1]) ** 2, sp(np.clip(x, 0, s[-1]))),
    )
    E, _ = levels(W, -1.0, s[-1] + 1.0, hbar, rtol=1e-9)
    # 5 %: the two interpolants (the catalogue's uses the path forces dV/ds, this one only V) give
    # wells of slightly different shape, and this splitting (~1e-5 hbar omega) is all asymmetry
    assert d["splitting"][0] == pytest.approx(E[1] - E[0], rel=5e-2)


def test_merge_dedupes_and_roundtrip(three_well_catalogue, tmp_path):
    a = Catalogue.open(three_well_catalogue, "r")
    b = Catalogue.open(tmp_path / "m.h5", "w", model="analytic:three_well", N=1, dim=2)
    b.merge(a)
    # the same three saddles found again by another method: DWPs deduplicated by
    # (minima pair, saddle identity), the methods that found them are kept
    a2 = Catalogue.open(three_well_catalogue, "r")
    for r in a2.dwp_rows:
        r["method"] = r["methods"] = "single_ended"
    b.merge(a2)
    assert len(b.minima["energy"]) == 3  # minima deduplicated by identity
    d = b.dwps()
    assert len(d["id"]) == 3 and len(b.twps()["id"]) == 1
    assert list(d["methods"]) == ["is_pair,single_ended"] * 3 and np.all(d["n_found"] == 2)
    assert list(d["method"]) == ["is_pair"] * 3  # first finder kept
    # a different saddle between the same minima (moved by 0.2 sigma, higher) is a new DWP
    a3 = Catalogue.open(three_well_catalogue, "r")
    a3.saddles["positions"][0] = a3.saddles["positions"][0] + 0.2
    a3.saddles["energy"][0] = a3.saddles["energy"][0] + 0.1
    b.merge(a3)
    assert len(b.dwps()["id"]) == 4
    b.save()
    c = Catalogue.open(tmp_path / "m.h5", "r")
    assert c.summary()["dwps"] == 4
    assert np.array_equal(c.dwps()["splitting"], b.dwps()["splitting"])
    assert list(c.dwps()["methods"][:3]) == ["is_pair,single_ended"] * 3


def test_loop_area_orientation_and_3d():
    R1 = np.zeros((2, 3))
    R2 = np.array([[1.0, 0, 0], [0, 0, 0]])
    R3 = np.array([[0, 1.0, 0], [0, 0, 0]])
    a = loop_areas(R1, R2, R3)  # drift removed: each particle sees half the loop
    assert a["loop_area"] == pytest.approx(0.25)
    assert np.allclose(three_level_spectrum([0, 1, 2], [0, 0, 0]), [0, 1, 2])


def test_corrupt_file_raises_input_error(tmp_path, three_well_catalogue):
    bad = tmp_path / "bad.h5"
    bad.write_bytes(three_well_catalogue.read_bytes()[:200])
    with pytest.raises(InputError, match="bad.h5"):
        Catalogue.open(bad, "r")
    with pytest.raises(InputError):
        Catalogue.open(tmp_path / "missing.h5", "r")


def test_disconnectivity_superbasins_and_drawing(three_well_catalogue):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from pelsim.landscape.disconnectivity import draw, superbasins

    cat = Catalogue.open(three_well_catalogue, "r")
    mins, sads = S.three_well_stationary(C)
    edges = [(r["min_a"], r["min_b"], cat.saddles["energy"][r["saddle"]]) for r in cat.dwp_rows]
    below, above = superbasins(cat.minima["energy"], edges, [sads[0, 2] - 1e-6, sads[0, 2] + 1e-6])
    assert sorted(len(g) for g in below) == [1, 1, 1]  # below the saddles: three separate basins
    assert [len(g) for g in above] == [3]  # above: one superbasin
    fig, ax = plt.subplots()
    draw(cat, ax)
    assert len(ax.lines) >= 3
    plt.close(fig)


def test_triangle_with_a_well_without_localised_state_is_not_a_twp(three_well_catalogue):
    """A triangle one of whose DWPs has Delta0 = NaN (no localised state in a well) is no
    three-level system: find_twps skips and counts it instead of diagonalising a NaN
    Hamiltonian (which raised and blocked every later TWP)."""
    cat = Catalogue.open(three_well_catalogue, "r")
    cat.twp_rows.clear()
    cat.dwp_rows[1]["Delta0"] = float("nan")
    assert cat.find_twps() == 0 and cat.attrs["triangles_without_tls"] == 1
    assert cat.find_twps() == 0 and cat.attrs["triangles_without_tls"] == 1  # not double counted
    cat.dwp_rows[1]["Delta0"] = 0.0
    assert cat.find_twps() == 1 and cat.attrs["triangles_without_tls"] == 0
