"""Fast landscape energies (pelsim.system kernels): all-pairs matrix and fixed dense neighbour rows.

Both carry analytic forces through a custom JVP and evaluate batches one configuration after another.
Checked: energies and forces against the autodiff pair-list route and the independent full-matrix
reference (1e-10 relative), forces against central finite differences, forward-over-reverse
Hessian-vector products and the full Hessian against the analytic pair Hessian, vmap (also nested,
as neb_batch does) against one-by-one evaluation, the row-blocked variants, and the fixed list's
validity (exact within skin/2, flagged beyond).
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from pelsim import pair_hessian as PH
from pelsim import potentials as P
from pelsim.models import load_model
from pelsim.prepare import random_configuration
from pelsim.system import AllPairsKernel, RowsKernel

SKIN = 0.4
N = 250


@pytest.fixture(scope="module")
def conf():
    # N = 250 at rho = 1.2: box 5.93, so a fixed list with skin 0.4 still fits (r_c + skin < L/2)
    return random_configuration("ka3d", N, seed=11)


def _moved(conf, scale, seed=0):
    """Positions displaced by a Gaussian of width ``scale`` (the random start has close contacts)."""
    rng = np.random.default_rng(seed)
    return jnp.asarray(conf.positions + scale * rng.normal(size=conf.positions.shape))


def _rel(a, b):
    return float(jnp.max(jnp.abs(a - b)) / jnp.max(jnp.abs(b)))


@pytest.mark.parametrize("kind", ["smooth", "shifted"])
def test_energy_and_forces_match_autodiff_and_reference(conf, kind):
    args = (conf.model, conf.box, conf.species)
    R = _moved(conf, 0.05)
    fast_all = P.energy_fn(*args, kind)
    fast_fix, valid = P.fixed_pair_energy(*args, conf.positions, SKIN, kind)
    ad, _ = P.pair_list_energy(*args, kind, SKIN)  # autodiff of the padded pair sum (unchanged route)
    pl = P.padded_pair_list(*args, conf.positions, SKIN)
    ref = P.reference_energy(*args, kind)
    assert bool(valid(R))
    E_ref, G_ref = jax.jit(jax.value_and_grad(ref))(R)
    E_ad, G_ad = jax.jit(jax.value_and_grad(ad))(R, pl)
    for fn in (fast_all, fast_fix):
        E, G = jax.jit(jax.value_and_grad(fn))(R)
        assert abs(float(E - E_ref)) < 1e-10 * abs(float(E_ref))
        assert abs(float(E - E_ad)) < 1e-10 * abs(float(E_ref))
        assert _rel(G, G_ref) < 1e-10 and _rel(G, G_ad) < 1e-10
        assert float(jnp.max(jnp.abs(G))) > 1.0  # a configuration with real forces
        E2, F2 = jax.jit(fn.energy_forces)(R)  # the fused kernel: F = -grad
        assert float(E2) == float(E) and _rel(-F2, G) < 1e-14


def test_forces_match_finite_differences(conf):
    args = (conf.model, conf.box, conf.species)
    R = _moved(conf, 0.05, seed=1)
    for fn in (P.energy_fn(*args), P.fixed_pair_energy(*args, conf.positions, SKIN)[0]):
        G = np.asarray(jax.jit(jax.grad(fn))(R))
        e_jit = jax.jit(fn)
        h = 1e-5
        for i, k in [(0, 0), (17, 1), (123, 2), (N - 1, 0)]:
            e = np.zeros(R.shape)
            e[i, k] = h
            fd = (float(e_jit(R + e)) - float(e_jit(R - e))) / (2 * h)
            assert abs(fd - G[i, k]) < 1e-6 * max(1.0, abs(G[i, k])), (i, k, fd, G[i, k])


@pytest.mark.parametrize("kind", ["smooth", "shifted"])
def test_hvp_and_hessian_match_pair_hessian(conf, kind):
    args = (conf.model, conf.box, conf.species)
    R = _moved(conf, 0.05, seed=2)
    v = jnp.asarray(np.random.default_rng(3).normal(size=R.shape))
    ph_all = PH.pair_hessian(*args, kind)
    ph_fix = PH.for_pair_list(*args, conf.positions, SKIN, kind)
    for fn, ph in (
        (P.energy_fn(*args, kind), ph_all),
        (P.fixed_pair_energy(*args, conf.positions, SKIN, kind)[0], ph_fix),
    ):
        hv = jax.jit(lambda x, w, fn=fn: jax.jvp(jax.grad(fn), (x,), (w,))[1])(R, v)
        assert _rel(hv, ph.hvp(R, v)) < 1e-10
        assert _rel(hv, ph_all.hvp(R, v)) < 1e-10  # the fixed list holds every interacting pair
    if kind == "shifted":
        return
    # the full Hessian by forward-over-reverse, on a small 2D system
    c2 = random_configuration("ka2d", 64, seed=4)
    fn = P.energy_fn(c2.model, c2.box, c2.species, kind)
    R2 = jnp.asarray(c2.positions)
    H = jax.jacfwd(jax.grad(lambda x: fn(x.reshape(R2.shape))))(R2.reshape(-1))
    H_ref = PH.pair_hessian(c2.model, c2.box, c2.species, kind).dense(R2)
    assert _rel(H, H_ref) < 1e-10
    assert _rel(H, H.T) < 1e-12


def test_vmap_over_images_and_bands(conf):
    args = (conf.model, conf.box, conf.species)
    bands = jnp.stack([jnp.stack([_moved(conf, 0.03, seed=10 * b + k) for k in range(3)]) for b in range(2)])
    v = jnp.asarray(np.random.default_rng(5).normal(size=conf.positions.shape))
    for fn in (P.energy_fn(*args), P.fixed_pair_energy(*args, conf.positions, SKIN)[0]):
        vg = jax.value_and_grad(fn)
        hvp = lambda x, fn=fn: jax.jvp(jax.grad(fn), (x,), (v,))[1]  # noqa: E731
        E1, G1 = jax.jit(jax.vmap(vg))(bands[0])
        E2, G2 = jax.jit(jax.vmap(jax.vmap(vg)))(bands)  # neb_batch: bands of images
        hv = jax.jit(jax.vmap(hvp))(bands[1])
        vg, hvp = jax.jit(vg), jax.jit(hvp)
        for b in range(2):
            for k in range(3):
                E, G = vg(bands[b, k])
                assert abs(float(E2[b, k] - E)) < 1e-12 * abs(float(E))
                assert _rel(G2[b, k], G) < 1e-13
                if b == 0:
                    assert abs(float(E1[k] - E)) < 1e-12 * abs(float(E)) and _rel(G1[k], G) < 1e-13
                else:
                    assert _rel(hv[k], hvp(bands[b, k])) < 1e-12


def test_batching_rule_of_other_backends(conf, monkeypatch):
    """On GPU/TPU the images of a batch stay one vmap of the kernel (the parallel axis); that
    branch (simulated here) gives the same energies and forces as the CPU one-by-one rule."""
    args = (conf.model, conf.box, conf.species)
    bands = jnp.stack([jnp.stack([_moved(conf, 0.03, seed=10 * b + k) for k in range(3)]) for b in range(2)])
    ref = jax.vmap(jax.vmap(jax.value_and_grad(P.energy_fn(*args))))(bands)
    monkeypatch.setattr(jax, "default_backend", lambda: "gpu")
    E, G = jax.vmap(jax.vmap(jax.value_and_grad(P.energy_fn(*args))))(bands)
    assert np.max(np.abs(np.asarray(E - ref[0]))) < 1e-12 * float(jnp.max(jnp.abs(E)))
    assert _rel(G, ref[1]) < 1e-13


def test_row_blocks_match_single_pass(conf):
    model = load_model(conf.model)
    box, species = np.broadcast_to(np.asarray(conf.box, float), (3,)), conf.species
    R = _moved(conf, 0.05, seed=6)
    n = species.size

    def run(kernel, *data):  # a kernel is static, its system data (pelsim.system)
        return jax.jit(kernel)(R, kernel.system(species, box, *data))

    E_ref, F_ref = run(AllPairsKernel(model, "smooth", n))
    # 250 rows in blocks of 7 rows (36 blocks, the last one padded)
    E_b, F_b = run(AllPairsKernel(model, "smooth", n, block_entries=7 * N))
    assert abs(float(E_b - E_ref)) < 1e-12 * abs(float(E_ref)) and _rel(F_b, F_ref) < 1e-13
    i, j = P.pair_list(model, box, species, conf.positions, SKIN)
    idx = P._dense_rows(i, j, n)
    E_d, F_d = run(RowsKernel(model, "smooth", n, idx.shape[1]), idx)
    E_db, F_db = run(RowsKernel(model, "smooth", n, idx.shape[1], block_slots=1000, max_single=0), idx)
    assert abs(float(E_d - E_ref)) < 1e-10 * abs(float(E_ref)) and _rel(F_d, F_ref) < 1e-10
    assert abs(float(E_db - E_d)) < 1e-12 * abs(float(E_d)) and _rel(F_db, F_d) < 1e-13


def test_fixed_list_valid_within_half_skin_only(conf):
    args = (conf.model, conf.box, conf.species)
    fix, is_valid = P.fixed_pair_energy(*args, conf.positions, SKIN)
    exact = P.energy_fn(*args)
    R0 = jnp.asarray(conf.positions)
    assert bool(is_valid(R0))
    # every particle moved by 0.95 skin/2 in random directions (worst case for the list): still exact
    rng = np.random.default_rng(7)
    d = rng.normal(size=R0.shape)
    d *= 0.95 * 0.5 * SKIN / np.linalg.norm(d, axis=1, keepdims=True)
    R1 = R0 + d
    assert bool(is_valid(R1))
    fix, exact = jax.jit(fix), jax.jit(exact)
    assert abs(float(fix(R1) - exact(R1))) < 1e-10 * abs(float(exact(R1)))
    assert _rel(jax.jit(jax.grad(fix))(R1), jax.jit(jax.grad(exact))(R1)) < 1e-10
    # a periodic image of the same configuration (whole box shifts) is the same configuration
    assert bool(is_valid(R1 + jnp.asarray(conf.box)))
    assert abs(float(fix(R1 + jnp.asarray(conf.box)) - fix(R1))) < 1e-10 * abs(float(fix(R1)))
    # one particle beyond skin/2: flagged, also under vmap
    R2 = R1.at[5].add(jnp.array([0.25, 0.0, 0.0]) - d[5])
    assert not bool(is_valid(R2))
    assert list(np.asarray(jax.vmap(is_valid)(jnp.stack([R0, R1, R2])))) == [True, True, False]
