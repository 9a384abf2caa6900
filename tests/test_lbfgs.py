"""pelsim.lbfgs: the one L-BFGS direction (used by the minimisers, the NEB band and the dimer)
against a dense BFGS inverse-Hessian update, and the exact inverse Hessian of a quadratic."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import pelsim  # noqa: F401
from pelsim.lbfgs import lbfgs_direction, store_pair

store = jax.jit(store_pair)
direction = jax.jit(lbfgs_direction)


def _memory(pairs, m, n):
    """Circular memory (S, Y, rho, G) of m slots after storing ``pairs`` in order; newest slot."""
    S, Y, rho, G = jnp.zeros((m, n)), jnp.zeros((m, n)), jnp.zeros(m), jnp.zeros((m, m))
    for k, (s, y) in enumerate(pairs):
        S, Y, rho, G = store(S, Y, rho, G, k % m, jnp.asarray(s), jnp.asarray(y), s @ y, True)
    return (S, Y, rho, G), (len(pairs) - 1) % m


def _dense_bfgs(pairs, g):
    """H g with H from H0 = gamma I (gamma = s.y / y.y of the newest pair) and one BFGS inverse
    update H <- (I - rho s y^T) H (I - rho y s^T) + rho s s^T per pair, oldest first."""
    n = g.size
    if not pairs:
        return g
    s, y = pairs[-1]
    H = (s @ y) / (y @ y) * np.eye(n)
    for s, y in pairs:
        r = 1.0 / (s @ y)
        V = np.eye(n) - r * np.outer(y, s)
        H = V.T @ H @ V + r * np.outer(s, s)
    return H @ g


def test_direction_equals_the_dense_bfgs_update_over_the_newest_pairs():
    rng = np.random.default_rng(0)
    n, m, stored = 9, 4, 7  # 7 pairs in 4 slots: the buffer has wrapped, the newest is slot 2
    A = rng.normal(size=(n, n))
    A = A @ A.T + 0.5 * np.eye(n)  # y = A s: s.y > 0, but the steps are not A-conjugate
    pairs = [(s, A @ s) for s in rng.normal(size=(stored, n))]
    mem, newest = _memory(pairs, m, n)
    S, Y, rho, G = mem
    np.testing.assert_allclose(G, S @ Y.T, rtol=1e-14, atol=1e-12)  # store_pair keeps G = S Y^T
    g = rng.normal(size=n)
    for n_valid in range(m + 1):
        got = direction(jnp.asarray(g), *mem, newest, n_valid)
        ref = _dense_bfgs(pairs[stored - n_valid :], g)
        np.testing.assert_allclose(got, ref, rtol=1e-10, atol=1e-12)
    # a cleared slot (rho = 0, the minimisers' way of forgetting) counts as absent
    rho0 = rho.at[(newest - 3) % m].set(0.0)
    got = lbfgs_direction(jnp.asarray(g), S, Y, rho0, G, newest, m)
    np.testing.assert_allclose(got, _dense_bfgs(pairs[-3:], g), rtol=1e-10, atol=1e-12)
    # any shape of vector (a band (P, N, d)) and jit/vmap over independent memories
    g3 = jnp.asarray(g).reshape(3, 3, 1)
    mem3 = (S.reshape(m, 3, 3, 1), Y.reshape(m, 3, 3, 1), rho, G)
    np.testing.assert_allclose(
        lbfgs_direction(g3, *mem3, newest, m).ravel(), _dense_bfgs(pairs[-m:], g), rtol=1e-10
    )
    batched = jax.jit(jax.vmap(lbfgs_direction, in_axes=(0, None, None, None, None, None, 0)))
    out = batched(jnp.stack([g, 2 * g]), *mem, newest, jnp.array([m, 1]))
    np.testing.assert_allclose(out[1], 2 * _dense_bfgs(pairs[-1:], g), rtol=1e-10)


@pytest.mark.parametrize("n", [3, 6])
def test_memory_that_spans_a_quadratic_gives_its_inverse_hessian(n):
    """E = x.A x / 2: after n A-conjugate steps s_i with y_i = A s_i, BFGS is exact (hereditary
    property), so H g = A^-1 g for every g whatever the initial scale."""
    rng = np.random.default_rng(n)
    Q, _ = np.linalg.qr(rng.normal(size=(n, n)))
    A = Q @ np.diag(rng.uniform(0.1, 10.0, n)) @ Q.T
    steps = Q * rng.uniform(0.5, 2.0, n)  # eigenvectors of A: mutually A-conjugate
    pairs = [(steps[:, i], A @ steps[:, i]) for i in rng.permutation(n)]
    mem, newest = _memory(pairs, n, n)
    for g in rng.normal(size=(3, n)):
        got = direction(jnp.asarray(g), *mem, newest, n)
        np.testing.assert_allclose(got, np.linalg.solve(A, g), rtol=1e-10, atol=1e-12)
    # one pair too few: no longer the inverse (the test can fail)
    got = lbfgs_direction(jnp.asarray(g), *mem, newest, n - 1)
    assert np.abs(got - np.linalg.solve(A, g)).max() > 1e-6
