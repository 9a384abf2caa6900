"""Energies and forces: smooth/shifted pair potentials, four energy routes, finite differences, CLI."""

import json
import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from pelsim import potentials as P
from pelsim.config import Configuration
from pelsim.io import write_extxyz
from pelsim.models import load_model
from pelsim.prepare import random_configuration


@pytest.fixture(scope="module")
def conf():
    return random_configuration("ka3d", 300, seed=3)


def numpy_energy_forces(conf, kind):
    """Independent numpy O(N^2) double loop over pairs (r, not r^2; explicit LJ formula)."""
    m = load_model(conf.model)
    R, L, sp = conf.positions, conf.box, conf.species
    xc = m.rc_factor
    E, F = 0.0, np.zeros_like(R)
    if kind == "shifted":
        c0, c2, c4 = -(xc**-12 - xc**-6), 0.0, 0.0
    else:
        A = np.array([[1, xc**2, xc**4], [0, 2 * xc, 4 * xc**3], [0, 2, 12 * xc**2]])
        b = -np.array([xc**-12 - xc**-6, -12 * xc**-13 + 6 * xc**-7, 156 * xc**-14 - 42 * xc**-8])
        c0, c2, c4 = np.linalg.solve(A, b)
    for i in range(len(R)):
        d = R[i] - R[i + 1 :]
        d -= L * np.round(d / L)
        r = np.linalg.norm(d, axis=1)
        sig, eps = m.sigma[sp[i], sp[i + 1 :]], m.eps[sp[i], sp[i + 1 :]]
        x = r / sig
        inside = x < xc
        x, r, d, sig, eps = x[inside], r[inside], d[inside], sig[inside], eps[inside]
        E += np.sum(4 * eps * (x**-12 - x**-6 + c0 + c2 * x**2 + c4 * x**4))
        dVdr = 4 * eps / sig * (-12 * x**-13 + 6 * x**-7 + 2 * c2 * x + 4 * c4 * x**3)
        f = -(dVdr / r)[:, None] * d
        F[i] += f.sum(0)
        np.add.at(F, np.nonzero(inside)[0] + i + 1, -f)
    return E, F


def test_smooth_cutoff_continuity():
    for eps, sig in [(1.0, 1.0), (1.5, 0.8), (0.5, 0.88)]:
        rc = 2.5 * sig
        V = lambda r, eps=eps, sig=sig: P.pair_potential(r, eps, sig, 2.5, "smooth")
        d1, d2 = jax.grad(V), jax.grad(jax.grad(V))
        for k, f in enumerate((V, d1, d2)):
            # V^(k)(rc - delta) ~ delta^(3-k): vanishes continuously at the cutoff
            for delta in (1e-4, 1e-6):
                assert abs(float(f(rc - delta))) < 100 * delta ** (3 - k)
            assert float(f(rc * (1 + 1e-9))) == 0.0
        assert abs(float(d2(rc - 1e-3))) > 1e-4  # the test can tell a nonzero V'' from zero
    # shifted: V(rc-) = 0 but the force jumps, as in LAMMPS lj/cut + shift yes
    Vs = lambda r: P.pair_potential(r, 1.0, 1.0, 2.5, "shifted")
    assert abs(float(Vs(2.5 - 1e-12))) < 1e-10
    assert abs(float(jax.grad(Vs)(2.5 - 1e-9)) - (24 * 2.5**-7 - 48 * 2.5**-13)) < 1e-8
    # shifted = plain LJ minus its cutoff value
    r = 1.3
    lj = lambda r: 4 * (r**-12 - r**-6)
    assert abs(float(Vs(r)) - (lj(r) - lj(2.5))) < 1e-14


@pytest.mark.parametrize("kind", ["smooth", "shifted"])
def test_energy_routes_agree_with_numpy(conf, kind):
    E_np, F_np = numpy_energy_forces(conf, kind)
    R = jnp.asarray(conf.positions)
    args = (conf.model, conf.box, conf.species, kind)
    e_all = P.energy_fn(*args)
    e_ref = P.reference_energy(*args)
    e_fix, valid = P.fixed_pair_energy(conf.model, conf.box, conf.species, conf.positions, 0.3, kind)
    assert abs(float(jax.jit(e_ref)(R)) - E_np) < 1e-10 * abs(E_np)
    for e in (e_all, e_fix):
        assert abs(float(e(R)) - E_np) < 1e-10 * abs(E_np)
        np.testing.assert_allclose(-np.asarray(jax.grad(e)(R)), F_np, atol=1e-9 * np.abs(F_np).max())
    assert bool(valid(R)) and not bool(valid(R.at[0, 0].add(0.16)))
    # jax-md neighbor lists, both formats
    from pelsim.neighbors import make_neighbor_fn

    e_nl = P.neighbor_list_energy(*args)
    for fmt in ("OrderedSparse", "Dense", "Sparse"):
        nbrs = make_neighbor_fn(conf.model, conf.box, conf.n, 0.3, fmt).allocate(R)
        assert abs(float(e_nl(R, nbrs)) - E_np) < 1e-10 * abs(E_np)


def test_forces_vs_finite_differences(conf):
    e = P.energy_fn(conf.model, conf.box, conf.species, "smooth")
    R = np.asarray(conf.positions)
    g = np.asarray(jax.grad(e)(jnp.asarray(R)))
    h = 1e-3

    def shifted(i, a, x):
        Rs = R.copy()
        Rs[i, a] += x
        return float(e(jnp.asarray(Rs)))

    for i, a in [(0, 0), (17, 2), (250, 1)]:  # five-point stencil, error O(h^4)
        fd = (8 * (shifted(i, a, h) - shifted(i, a, -h)) - (shifted(i, a, 2 * h) - shifted(i, a, -2 * h))) / (
            12 * h
        )
        assert abs(fd - g[i, a]) < 1e-6 * max(1.0, abs(g[i, a]))


def test_2d_model_and_translation_invariance():
    c = random_configuration("ka2d", 120, seed=1)
    e = P.energy_fn(c.model, c.box, c.species)
    E_np, _ = numpy_energy_forces(c, "smooth")
    R = jnp.asarray(c.positions)
    assert abs(float(e(R)) - E_np) < 1e-10 * abs(E_np)
    assert abs(float(e(R + jnp.array([0.37, -1.2]))) - E_np) < 1e-9 * abs(E_np)
    assert np.abs(np.asarray(jnp.sum(jax.grad(e)(R), axis=0))).max() < 1e-9


def test_small_box_rejected():
    from pelsim.errors import InputError

    with pytest.raises(InputError, match="twice the cutoff"):
        P.energy_fn("ka3d", 4.0, np.zeros(50, int))


@pytest.mark.parametrize("kind", ["smooth", "shifted"])
def test_cli_energy_json(conf, kind, tmp_path):
    path = tmp_path / "c.extxyz"
    write_extxyz(path, conf)
    out = subprocess.run(
        [sys.executable, "-m", "pelsim", "energy", str(path), "--potential", kind, "--json"],
        capture_output=True,
        text=True,
        check=True,
    )
    d = json.loads(out.stdout)
    assert set(d) == {"energy", "energy_per_particle", "max_force"}
    E_np, F_np = numpy_energy_forces(conf, kind)
    assert abs(d["energy"] - E_np) < 1e-10 * abs(E_np)
    assert abs(d["energy_per_particle"] - E_np / conf.n) < 1e-12 * abs(E_np)
    assert abs(d["max_force"] - np.linalg.norm(F_np, axis=1).max()) < 1e-9 * np.abs(F_np).max()


def test_cli_bad_input(tmp_path):
    out = subprocess.run(
        [sys.executable, "-m", "pelsim", "energy", str(tmp_path / "none.extxyz"), "--json"],
        capture_output=True,
        text=True,
    )
    assert out.returncode == 2 and out.stderr.startswith("error:") and "Traceback" not in out.stderr
    c = Configuration(np.zeros((2, 3)), [0, 1], [10.0] * 3)
    c.positions[1] = [0.1, 0, 0]
    write_extxyz(tmp_path / "o.extxyz", c)
    out = subprocess.run(
        [sys.executable, "-m", "pelsim", "energy", str(tmp_path / "o.extxyz")], capture_output=True, text=True
    )
    assert out.returncode == 2 and "overlap" in out.stderr


@pytest.mark.parametrize("kind", ["smooth", "shifted"])
def test_dense_analytic_forces_match_numpy_double_loop(conf, kind):
    """pelsim's dense list + hand-written forces (MD default) against the independent numpy loop."""
    from pelsim.neighbors import make_dense_neighbor_fn

    E_ref, F_ref = numpy_energy_forces(conf, kind)
    e, f = P.dense_neighbor_forces("ka3d", conf.box, conf.species, kind)
    R = jnp.asarray(conf.positions)
    # one list cutoff r_c,max + skin, per-species-pair cutoffs r_c,ab + skin, and those with one
    # matrix per species (the MD list)
    for species, grouped in ((None, False), (conf.species, True), (conf.species, False)):
        fn = make_dense_neighbor_fn("ka3d", conf.box, conf.n, 0.3, species=species, group_rows=grouped)
        nb = fn.allocate(R)
        assert isinstance(nb.idx, tuple) == grouped
        assert not bool(nb.did_buffer_overflow)
        assert abs(float(e(R, nb)) - E_ref) < 1e-10 * abs(E_ref)
        np.testing.assert_allclose(np.asarray(f(R, nb)), F_ref, atol=1e-9 * np.abs(F_ref).max())
    # forces of row blocks (one device's share with MDRunner(devices=2)) are the same rows
    half = conf.n // 2

    class Rows:
        idx = nb.idx[half:]

    np.testing.assert_allclose(
        np.asarray(f(R, Rows, row_start=half)), F_ref[half:], atol=1e-9 * np.abs(F_ref).max()
    )
    # the custom-VJP minimisation energy on a host-built dense list gives the same gradient
    ed, valid = P.dense_pair_energy("ka3d", conf.box, conf.species, kind, 0.3)
    nbd = P.dense_pair_list("ka3d", conf.box, conf.species, conf.positions, 0.3)
    E2, G2 = jax.value_and_grad(ed)(R, nbd)
    assert abs(float(E2) - E_ref) < 1e-10 * abs(E_ref)
    np.testing.assert_allclose(-np.asarray(G2), F_ref, atol=1e-9 * np.abs(F_ref).max())
    assert bool(valid(R.at[:, 0].add(0.14), nbd)) and not bool(valid(R.at[7, 0].add(0.16), nbd))


def test_dense_cell_list_equals_kdtree_pairs():
    """The on-device cell-list build (large boxes) finds exactly the pairs of a periodic KD-tree."""
    from pelsim.neighbors import make_dense_neighbor_fn

    n = 2400  # box 12.6 > 4 cells of r_c + skin = 3.0; uniform positions (overlaps do not matter)
    box = np.full(3, (n / 1.2) ** (1 / 3))
    pos = np.random.default_rng(4).uniform(0, box, (n, 3))
    c = Configuration(pos, np.zeros(n, np.int32), box, "ka3d")
    fn = make_dense_neighbor_fn("ka3d", c.box, c.n, 0.5)
    assert fn.use_cells
    R = jnp.asarray(c.positions)
    nb = fn.allocate(R)
    idx = np.asarray(nb.idx)
    got = {(i, j) for i, row in enumerate(idx) for j in row if j < c.n and i < j}
    from scipy.spatial import cKDTree

    Rw = np.mod(c.positions, c.box)
    want = {tuple(p) for p in cKDTree(Rw, boxsize=c.box).query_pairs(3.0, output_type="ndarray")}
    assert got == want and not bool(nb.did_buffer_overflow)
    # a rebuild triggered on device (one particle moved > skin/2) equals a fresh allocation
    R2 = R.at[5].add(0.3)
    nb2 = jax.jit(lambda r, n_: n_.update(r))(jnp.mod(R2, c.box[0]), nb)
    assert int(nb2.n_builds) == 2
    fresh = np.asarray(fn.allocate(R2 % c.box[0]).idx)
    np.testing.assert_array_equal(np.sort(np.asarray(nb2.idx), 1), np.sort(fresh[:, : idx.shape[1]], 1))


def test_dense_per_species_cutoffs_equal_kdtree_pairs():
    """Cell-list build with per-species-pair cutoffs r_c,ab + skin finds exactly P.pair_list's pairs."""
    from pelsim.neighbors import make_dense_neighbor_fn

    n = 2400
    box = np.full(3, (n / 1.2) ** (1 / 3))
    rng = np.random.default_rng(5)
    pos = rng.uniform(0, box, (n, 3))
    species = (rng.random(n) < 0.2).astype(np.int32)
    fn = make_dense_neighbor_fn("ka3d", box, n, 0.5, species=species)
    assert fn.use_cells
    idx = np.asarray(fn.allocate(jnp.asarray(pos)).idx)
    got = {(i, j) for i, row in enumerate(idx) for j in row if j < n and i < j}
    i, j = P.pair_list("ka3d", box, species, pos, 0.5)
    assert got == set(zip(i.tolist(), j.tolist(), strict=True))
    assert idx.shape[1] < np.asarray(make_dense_neighbor_fn("ka3d", box, n, 0.5).allocate(pos).idx).shape[1]
    # one matrix per species: the same pairs, B rows narrower than A rows
    fg = make_dense_neighbor_fn("ka3d", box, n, 0.5, species=species, group_rows=True)
    nbg = fg.allocate(jnp.asarray(pos))
    blocks = nbg.idx
    assert nbg.pairs() == got
    assert blocks[1].shape[1] < blocks[0].shape[1]


def test_dense_list_rebuild_rule_is_exact(conf):
    """The list is rebuilt once the two largest displacements sum to the skin, and until then it
    still holds every pair inside its cutoff r_c,ab (a pair's distance changes by <= d_i + d_j)."""
    from pelsim.neighbors import make_dense_neighbor_fn

    skin = 0.3
    fn = make_dense_neighbor_fn("ka3d", conf.box, conf.n, skin, species=conf.species, group_rows=True)
    R = jnp.asarray(conf.positions)
    nb = fn.allocate(R)

    def moved(d):  # particles 0 and 1 displaced by d[0], d[1] along x
        return R.at[0, 0].add(d[0]).at[1, 0].add(d[1])

    assert not bool(fn.needs_rebuild(moved((0.2, 0.0)), nb))  # the classic skin/2 rule rebuilds here
    assert not bool(fn.needs_rebuild(moved((0.14, 0.14)), nb))
    assert bool(fn.needs_rebuild(moved((0.16, 0.15)), nb))
    # worst case for the list: random moves with d_1 + d_2 just below the skin, pairs approaching
    rng = np.random.default_rng(3)
    for _ in range(5):
        dR = rng.normal(size=R.shape)
        dR *= 0.999 * 0.5 * skin / np.linalg.norm(dR, axis=1).max()
        R2 = R + dR
        assert not bool(fn.needs_rebuild(R2, nb))
        i, j = P.pair_list("ka3d", conf.box, conf.species, np.asarray(R2), 0.0)
        listed = nb.pairs()
        assert set(zip(i.tolist(), j.tolist(), strict=True)) <= listed
    # tight case: the closest unlisted pair moves straight together by just under the skin
    m = load_model("ka3d")
    Rn = np.asarray(R)
    a, b = P.pair_list("ka3d", conf.box, conf.species, Rn, skin + 0.3)
    unl = [(x, y) for x, y in zip(a.tolist(), b.tolist(), strict=True) if (x, y) not in listed]
    d = Rn[[y for _, y in unl]] - Rn[[x for x, _ in unl]]
    d -= conf.box * np.round(d / conf.box)
    r = np.linalg.norm(d, axis=1)
    gap = r - np.array([m.rc[conf.species[x], conf.species[y]] for x, y in unl])
    k = int(np.argmin(gap))
    x, y = unl[k]
    u = d[k] / r[k]
    R3 = R.at[x].add(0.4999 * skin * u).at[y].add(-0.4999 * skin * u)
    assert not bool(fn.needs_rebuild(R3, nb))
    i, j = P.pair_list("ka3d", conf.box, conf.species, np.asarray(R3), 0.0)
    inside = set(zip(i.tolist(), j.tolist(), strict=True))
    assert inside <= listed
    assert gap[k] - 0.9998 * skin < 0.01  # the moved pair ends within 0.01 sigma of its cutoff
    R4 = R.at[x].add(0.5001 * skin * u).at[y].add(-0.5001 * skin * u)
    assert bool(fn.needs_rebuild(R4, nb))
