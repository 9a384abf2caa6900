"""Hessians: dense vs finite differences, translational zero modes, Lanczos vs dense, IS check."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from pelsim.hessian import check_minimum, hessian, lowest_modes, participation_ratio
from pelsim.minimize import quench
from pelsim.models import load_model
from pelsim.potentials import energy_fn
from pelsim.prepare import random_configuration


@pytest.fixture(scope="module")
def inherent():
    conf = random_configuration("ka3d", 256, seed=2)
    res = quench(load_model("ka3d"), conf.box, conf.species, conf.positions)
    return energy_fn("ka3d", conf.box, conf.species), res.R


def test_dense_hessian_vs_finite_differences(inherent):
    e, R = inherent
    H = hessian(e, R)
    g = jax.jit(jax.grad(e))
    h = 1e-5
    for col in (0, 100, 500):
        dR = np.zeros(R.size)
        dR[col] = h
        fd = (
            np.asarray(g(jnp.asarray(R + dR.reshape(R.shape, order="C")))).ravel()
            - np.asarray(g(jnp.asarray(R - dR.reshape(R.shape)))).ravel()
        ) / (2 * h)
        np.testing.assert_allclose(H[:, col], fd, atol=1e-6 * np.abs(H).max())
    np.testing.assert_allclose(H, H.T, atol=1e-10)


def test_zero_modes_and_lanczos(inherent):
    e, R = inherent
    w = np.linalg.eigvalsh(hessian(e, R))
    assert np.all(np.abs(w[:3]) < 1e-8)  # three translations
    assert w[3] > 1e-6  # a true minimum: all other eigenvalues positive
    vals, modes = lowest_modes(e, R, k=4)
    np.testing.assert_allclose(vals, w[3:7], rtol=1e-7, atol=1e-9)
    for v, mvec in zip(vals, modes, strict=True):
        assert 0 < participation_ratio(mvec) <= 1
        np.testing.assert_allclose(
            np.asarray(jax.jvp(jax.grad(e), (jnp.asarray(R),), (jnp.asarray(mvec),))[1]), v * mvec, atol=1e-6
        )
    chk = check_minimum(e, R, fmax=1e-9)
    assert chk.is_minimum and chk.n_negative == 0


def test_participation_ratio_limits():
    ext = np.ones((100, 3)) / np.sqrt(300)
    loc = np.zeros((100, 3))
    loc[7] = [1, 0, 0]
    assert abs(participation_ratio(ext) - 1.0) < 1e-12
    assert abs(participation_ratio(loc) - 0.01) < 1e-12


def test_saddle_is_not_a_minimum():
    E = lambda R: jnp.sum((R[:, 0] ** 2 - 1) ** 2 + 2 * R[:, 1] ** 2)
    H = hessian(E, np.array([[0.0, 0.0]]))
    np.testing.assert_allclose(H, [[-4, 0], [0, 4]], atol=1e-12)
    assert np.linalg.eigvalsh(H)[0] < 0  # the barrier top of the double well is a saddle


@pytest.mark.parametrize(
    "model,n,kind", [("ka2d", 64, "smooth"), ("ka2d", 64, "shifted"), ("ka3d", 160, "smooth")]
)
def test_analytic_pair_hessian_matches_autodiff(model, n, kind):
    """Analytic pair Hessian and HVP (pelsim.pair_hessian) = jax.hessian to 1e-10, on the
    all-pairs energy and on the fixed pair list, at an IS and at a strained configuration."""
    from pelsim import pair_hessian as ph
    from pelsim.hessian import hvp_fn
    from pelsim.potentials import fixed_pair_energy

    conf = random_configuration(model, n, seed=4)
    R = quench(load_model(model), conf.box, conf.species, conf.positions).R
    R = R + 0.02 * np.random.default_rng(1).normal(size=R.shape)  # off the minimum: V' terms matter
    v = np.random.default_rng(2).normal(size=R.size)
    e = energy_fn(model, conf.box, conf.species, kind)
    cases = [(e, None)]
    if model == "ka2d":  # the 3D box at N=160 is too small for a pair list with a skin
        ef, _ = fixed_pair_energy(model, conf.box, conf.species, R, 0.5, kind)
        cases.append((ef, ph.pair_list(load_model(model), conf.box, conf.species, R, 0.5)))
    for energy, pairs in cases:
        H_ad = np.asarray(jax.jit(jax.hessian(energy))(jnp.asarray(R))).reshape(R.size, R.size)
        P = ph.pair_hessian(model, conf.box, conf.species, kind, pairs)
        np.testing.assert_allclose(np.asarray(P.dense(jnp.asarray(R))), H_ad, rtol=0, atol=1e-10)
        np.testing.assert_allclose(np.asarray(P.hvp(jnp.asarray(R), v)), H_ad @ v, rtol=0, atol=1e-10)
        # carried on the energy function, used by pelsim.hessian
        ph.attach(energy, P)
        np.testing.assert_allclose(hessian(energy, R), 0.5 * (H_ad + H_ad.T), rtol=0, atol=1e-10)
        Hv = np.asarray(hvp_fn(energy, R)(jnp.asarray(v)))
        np.testing.assert_allclose(Hv, H_ad @ v, rtol=0, atol=1e-10)
