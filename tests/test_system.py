"""The landscape system as data (pelsim.system): one compiled program per kernel and shape bucket,
whatever glass or pair list; systems of several glasses batched as data."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from pelsim import minimize as M
from pelsim.landscape import neb as NEB
from pelsim.landscape.neb import NEBParams, neb, neb_many, periodic_displacement
from pelsim.potentials import energy_fn, fixed_pair_energy, reference_energy
from pelsim.prepare import random_configuration
from pelsim.system import PairEnergy, Plain, as_pytree, bucket_columns

N = 500  # KA 2D: box 20.4 sigma, room for a pair list with skin 1.5
SKIN = 1.5


@pytest.fixture(scope="module")
def glasses():
    """Three KA 2D inherent structures of N=500 (different species layouts and pair lists)."""
    out = []
    for seed in (1, 2, 3):
        c = random_configuration("ka2d", N, seed=seed)
        e = energy_fn(c.model, c.box, c.species)
        res = M.minimize(e, c.positions, fmax=1e-8)
        out.append((c, res.R))
    return out


def _energies(glasses, min_columns=0):
    return [
        fixed_pair_energy(c.model, c.box, c.species, R, SKIN, min_columns=min_columns) for c, R in glasses
    ]


def test_bucket_ladder():
    assert [bucket_columns(m) for m in (1, 16, 17, 128, 129, 321, 513)] == [16, 16, 32, 128, 160, 352, 576]
    assert all(bucket_columns(m) >= m and bucket_columns(m) < 1.15 * m + 16 for m in range(1, 2000))


def test_energies_of_different_glasses_share_one_program(glasses):
    """The same L-BFGS and NEB programs serve every glass of a bucket: the jit caches grow by one
    entry for the first glass and by none for the others; the results are each glass's own."""
    cols = max(e.kernel.columns for e, _ in _energies(glasses))
    es = _energies(glasses, cols)
    assert len({jax.tree_util.tree_structure(e) for e, _ in es}) == 1
    prog = M._lbfgs_program(10, 0.2, 1e-4, 0.9, 25)
    before = prog._cache_size()
    for (c, R), (e, valid) in zip(glasses, es, strict=True):
        R1 = R + 0.01 * np.random.default_rng(0).normal(size=R.shape)
        res = M.lbfgs(e, R1, fmax=1e-9, valid=valid)
        ref = reference_energy(c.model, c.box, c.species)
        assert res.converged and abs(res.energy - float(ref(jnp.asarray(res.R)))) < 1e-9 * abs(res.energy)
    assert prog._cache_size() == before + 1
    before = NEB._relax_one._cache_size()
    p = NEBParams(fmax=5e-2, max_steps=30)
    disp = periodic_displacement(glasses[0][0].box)
    for (_, R), (e, valid) in zip(glasses, es, strict=True):
        neb(e, R, R + 0.02, 4, p, disp, is_valid=valid)
    assert NEB._relax_one._cache_size() == before + 1


def test_stacked_systems_vmap_like_one_glass_after_another(glasses):
    es = [e for e, _ in _energies(glasses, 0)]
    cols = max(e.kernel.columns for e in es)
    es = [e for e, _ in _energies(glasses, cols)]
    stacked = jax.tree_util.tree_map(lambda *x: jnp.stack(x), *es)
    Rs = jnp.stack([jnp.asarray(R) for _, R in glasses])
    E, G = jax.jit(jax.vmap(jax.value_and_grad(lambda e, R: e(R), argnums=1)))(stacked, Rs)
    for k, e in enumerate(es):
        E1, G1 = jax.value_and_grad(e)(Rs[k])
        assert abs(float(E[k] - E1)) < 1e-12 * abs(float(E1))
        assert float(jnp.max(jnp.abs(G[k] - G1))) < 1e-12


def test_neb_many_over_glasses_equals_neb_per_glass(glasses):
    """Bands of three glasses in one neb_many call (one energy per band) = neb on each glass."""
    cols = max(e.kernel.columns for e, _ in _energies(glasses))
    es = _energies(glasses, cols)
    disp = periodic_displacement(glasses[0][0].box)
    p = NEBParams(fmax=1e-2, max_steps=60)
    A = np.stack([R for _, R in glasses])
    rng = np.random.default_rng(5)
    B = A + 0.03 * rng.normal(size=A.shape)
    energies, valids = [e for e, _ in es], [v for _, v in es]
    for batch in (1, 2):
        many = neb_many(energies, A, B, 4, p, disp, is_valid=valids, batch=batch, chunk=25)
        for k, (e, v) in enumerate(es):
            one = neb(e, A[k], B[k], 4, p, disp, is_valid=v)
            if batch == 1:
                assert many[k].steps == one.steps
                assert np.allclose(many[k].images, one.images, rtol=0, atol=1e-10)
            else:  # vmapped slots round differently: compare the bands after the same work
                assert abs(many[k].steps - one.steps) <= 5
                assert np.allclose(many[k].energies, one.energies, rtol=0, atol=1e-3)
    from pelsim.errors import InputError

    with pytest.raises(InputError, match="energies"):
        neb_many(energies[:2], A, B, 4, p, disp)


def test_plain_functions_stay_hashable_static():
    f = lambda R: jnp.sum(R**2)
    assert as_pytree(f) == as_pytree(f) and hash(as_pytree(f)) == hash(f)
    assert jax.tree_util.tree_leaves(as_pytree(f)) == []
    assert isinstance(as_pytree(f), Plain) and as_pytree(None) is None
    c = random_configuration("ka2d", 64, seed=0)
    e = energy_fn(c.model, c.box, c.species)
    assert isinstance(e, PairEnergy) and as_pytree(e) is e
