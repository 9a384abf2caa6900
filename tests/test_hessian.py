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
